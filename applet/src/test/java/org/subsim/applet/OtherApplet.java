package org.subsim.applet;

import javacard.framework.APDU;
import javacard.framework.Applet;

/** A second applet on the test card: selecting it deselects the sub-SIM. */
public final class OtherApplet extends Applet {
  public static void install(byte[] b, short off, byte len) {
    new OtherApplet().register();
  }

  public void process(APDU apdu) {}
}
