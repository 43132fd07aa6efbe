package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.base.SimulatorRuntime;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import javacard.framework.AID;
import javacard.framework.Applet;
import org.junit.jupiter.api.Test;

/**
 * docs/applet.md's memory figures (issue 17, item 8): what the applet allocates at install and
 * once fully personalised (9A, 9C, 9D and 9E RSA-2048, two 2 KB certificates), counted from its
 * object graph by {@link MemoryFootprint}, and the goal "transient RAM under 1.5 KB" checked.
 * Personalisation goes through APDUs only, as a personalisation bureau's would.
 *
 * <p>Prints its figures; run it alone with
 * {@code cd applet && mvn -q -B test -Dtest=MemoryFootprintTest}.
 */
class MemoryFootprintTest {
  static final long TRANSIENT_GOAL = 1536;

  /** The installed applet object, from jCardSim's runtime (Simulator.runtime, SimulatorRuntime.getApplet). */
  static Applet appletOf(Card card) throws Exception {
    Field f = Simulator.class.getDeclaredField("runtime");
    f.setAccessible(true);
    SimulatorRuntime runtime = (SimulatorRuntime) f.get(card.sim);
    Method m = SimulatorRuntime.class.getDeclaredMethod("getApplet", AID.class);
    m.setAccessible(true);
    return (Applet) m.invoke(runtime, card.aid);
  }

  /** Bytes of the applet's persistent store (Heap) in use, and its size. */
  static short[] heapUse(Applet applet) throws Exception {
    Field f = applet.getClass().getDeclaredField("heap");
    f.setAccessible(true);
    Heap heap = (Heap) f.get(applet);
    return new short[] {heap.used(), (short) heap.mem.length};
  }

  private static void ok(Card.Answer a, String what) {
    assertEquals(0x9000, a.sw, what + ": SW " + Integer.toHexString(a.sw));
  }

  /** A certificate object of about 2 KB: 53 { 70 <2032 bytes, DER-shaped> 71 01 00 FE 00 }. */
  static byte[] certificateObject(int tag) {
    byte[] cert = new byte[2032];
    cert[0] = 0x30;
    cert[1] = (byte) 0x82;
    cert[2] = (byte) ((cert.length - 4) >> 8);
    cert[3] = (byte) (cert.length - 4);
    int inner = 4 + cert.length + 5;
    ByteArrayOutputStream d = new ByteArrayOutputStream();
    d.write(new byte[] {0x5C, 0x03, 0x5F, (byte) 0xC1, (byte) tag}, 0, 5);
    d.write(new byte[] {0x53, (byte) 0x82, (byte) (inner >> 8), (byte) inner}, 0, 4);
    d.write(new byte[] {0x70, (byte) 0x82, (byte) (cert.length >> 8), (byte) cert.length}, 0, 4);
    d.write(cert, 0, cert.length);
    d.write(new byte[] {0x71, 0x01, 0x00, (byte) 0xFE, 0x00}, 0, 5);
    return d.toByteArray();
  }

  @Test
  void install_and_personalisation_fit_the_goal() throws Exception {
    Card card = new Card(); // installed with empty install parameters: the default heap
    Applet applet = appletOf(card);
    Class<?>[] classes = mainClasses();
    MemoryFootprint atInstall = MemoryFootprint.of(applet).withStatics(classes);
    short[] heapAtInstall = heapUse(applet);

    ok(card.select(), "SELECT");
    ok(card.authenticate(), "9B mutual authentication with the factory key");
    for (int slot : new int[] {0x9A, 0x9C, 0x9D, 0x9E}) {
      ok(card.cmd(0x00, 0x47, 0x00, slot, new byte[] {(byte) 0xAC, 0x03, (byte) 0x80, 0x01, 0x07}),
          "GENERATE RSA-2048 in " + Integer.toHexString(slot));
    }
    ok(card.cmd(0x00, 0xDB, 0x3F, 0xFF, certificateObject(0x05)), "PUT DATA 5FC105 (9A's certificate)");
    ok(card.cmd(0x00, 0xDB, 0x3F, 0xFF, certificateObject(0x0A)), "PUT DATA 5FC10A (9C's certificate)");
    MemoryFootprint personalised = MemoryFootprint.of(applet).withStatics(classes);
    short[] heapPersonalised = heapUse(applet);

    System.out.println("memory at install:         " + atInstall);
    System.out.println("memory fully personalised: " + personalised);
    System.out.println("transient bytes by field: " + personalised.transientByField);
    System.out.println("store (Heap, inside the persistent figure) in use: " + heapAtInstall[0] + " of " + heapAtInstall[1]
        + " bytes at install, " + heapPersonalised[0] + " fully personalised");
    System.out.println("class files: " + classFileBytes() + " bytes in " + classes.length
        + " classes (not a CAP file: no converter resolves)");
    assertTrue(personalised.transientBytes() < TRANSIENT_GOAL,
        "transient RAM " + personalised.transientBytes() + " bytes, goal under " + TRANSIENT_GOAL);
    assertEquals(atInstall.transientBytes(), personalised.transientBytes(), "transient memory allocated after install");
    assertEquals(atInstall.persistent, personalised.persistent, "persistent memory allocated after install");
    assertTrue(heapPersonalised[0] >= heapAtInstall[0] + 2 * 2045 + 4 * 5 * 128,
        "the keys and certificates are not in the store: " + heapPersonalised[0]);
  }

  /** The applet's main classes (target/classes), for their static arrays. */
  static Class<?>[] mainClasses() throws ClassNotFoundException {
    File dir = new File("target/classes/org/subsim/applet");
    java.util.List<Class<?>> out = new java.util.ArrayList<>();
    for (String f : dir.list()) {
      if (f.endsWith(".class")) {
        out.add(Class.forName("org.subsim.applet." + f.substring(0, f.length() - 6)));
      }
    }
    return out.toArray(new Class<?>[0]);
  }

  /** Total size of the applet's class files (target/classes/org/subsim/applet). */
  static long classFileBytes() {
    long n = 0;
    for (File f : new File("target/classes/org/subsim/applet").listFiles()) {
      if (f.getName().endsWith(".class")) {
        n += f.length();
      }
    }
    return n;
  }
}
