package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licel.jcardsim.base.SimulatorRuntime;
import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.utils.AIDUtil;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.util.Arrays;
import javacard.framework.AID;
import javacard.framework.Applet;
import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Assumptions;
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
  /** The applet class (h/applet). */
  static final String APPLET = "org.subsim.applet.SubSimApplet";

  static final long TRANSIENT_GOAL = 1536;

  static final byte[] PIV_AID = {(byte) 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 0};
  static final byte[] FACTORY_MGM_KEY = {
      1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
  };

  /** jCardSim's runtime with the installed applet instance in reach. */
  static final class Runtime extends SimulatorRuntime {
    Applet applet(AID aid) {
      return getApplet(aid);
    }
  }

  private Simulator card;

  /** An answer: data and status word. */
  static final class Answer {
    final byte[] data;
    final int sw;

    Answer(byte[] data, int sw) {
      this.data = data;
      this.sw = sw;
    }
  }

  private static byte[] apdu(int cla, int ins, int p1, int p2, byte[] data) {
    if (data == null) {
      return new byte[] {(byte) cla, (byte) ins, (byte) p1, (byte) p2, 0};
    }
    byte[] a = new byte[5 + data.length + 1];
    a[0] = (byte) cla;
    a[1] = (byte) ins;
    a[2] = (byte) p1;
    a[3] = (byte) p2;
    a[4] = (byte) data.length;
    System.arraycopy(data, 0, a, 5, data.length);
    return a; // Le 00 last
  }

  /** One command, its 61xx answers followed with GET RESPONSE. */
  private Answer send(int cla, int ins, int p1, int p2, byte[] data) {
    byte[] r = card.transmitCommand(apdu(cla, ins, p1, p2, data));
    ByteArrayOutputStream whole = new ByteArrayOutputStream();
    while (true) {
      whole.write(r, 0, r.length - 2);
      if (r[r.length - 2] != 0x61) {
        break;
      }
      r = card.transmitCommand(new byte[] {0x00, (byte) 0xC0, 0, 0, r[r.length - 1]});
    }
    return new Answer(whole.toByteArray(), ((r[r.length - 2] & 0xFF) << 8) | (r[r.length - 1] & 0xFF));
  }

  /** Sends {@code data} chained in parts of 255 bytes (ISO 7816-4 5.3.3), returning the last answer. */
  private Answer sendChained(int ins, int p1, int p2, byte[] data) {
    for (int off = 0; ; off += 255) {
      int n = Math.min(255, data.length - off);
      boolean last = off + n >= data.length;
      Answer r = send(last ? 0x00 : 0x10, ins, p1, p2, Arrays.copyOfRange(data, off, off + n));
      if (last || r.sw != 0x9000) {
        return r;
      }
    }
  }

  private static void ok(Answer r, String what) {
    assertEquals(0x9000, r.sw, what + ": SW " + Integer.toHexString(r.sw));
  }

  /** 9B mutual authentication with the factory 3DES key (docs/applet-spec.md, GENERAL AUTHENTICATE). */
  private void authenticateManagementKey() throws Exception {
    Cipher des = Cipher.getInstance("DESede/ECB/NoPadding", "SunJCE");
    des.init(Cipher.DECRYPT_MODE, new SecretKeySpec(FACTORY_MGM_KEY, "DESede"));
    Answer r = send(0x00, 0x87, 0x03, 0x9B, new byte[] {0x7C, 0x02, (byte) 0x80, 0x00});
    ok(r, "9B step 1");
    byte[] witness = des.doFinal(Arrays.copyOfRange(r.data, 4, 12));
    byte[] step2 = new byte[22];
    step2[0] = 0x7C;
    step2[1] = 0x14;
    step2[2] = (byte) 0x80;
    step2[3] = 8;
    System.arraycopy(witness, 0, step2, 4, 8);
    step2[12] = (byte) 0x81;
    step2[13] = 8;
    ok(send(0x00, 0x87, 0x03, 0x9B, step2), "9B step 2");
  }

  /** PUT DATA of a certificate object of about 2 KB: 53 { 70 <DER-shaped 2032 bytes> 71 01 00 FE 00 }. */
  private void putCertificate(int tag) {
    byte[] cert = new byte[2032];
    cert[0] = 0x30;
    cert[1] = (byte) 0x82;
    cert[2] = (byte) ((cert.length - 4) >> 8);
    cert[3] = (byte) (cert.length - 4);
    int inner = 4 + cert.length + 3 + 2;
    ByteArrayOutputStream d = new ByteArrayOutputStream();
    d.write(new byte[] {0x5C, 0x03, 0x5F, (byte) 0xC1, (byte) tag}, 0, 5);
    d.write(new byte[] {0x53, (byte) 0x82, (byte) (inner >> 8), (byte) inner}, 0, 4);
    d.write(new byte[] {0x70, (byte) 0x82, (byte) (cert.length >> 8), (byte) cert.length}, 0, 4);
    d.write(cert, 0, cert.length);
    d.write(new byte[] {0x71, 0x01, 0x00, (byte) 0xFE, 0x00}, 0, 5);
    ok(sendChained(0xDB, 0x3F, 0xFF, d.toByteArray()), "PUT DATA 5FC1" + Integer.toHexString(tag));
  }

  @Test
  void install_and_personalisation_fit_the_goal() throws Exception {
    Class<? extends Applet> cls;
    try {
      cls = Class.forName(APPLET).asSubclass(Applet.class);
    } catch (ClassNotFoundException e) {
      System.out.println("SKIPPED: MemoryFootprintTest: the applet class " + APPLET + " (merge h/applet)");
      Assumptions.abort("needs " + APPLET);
      return;
    }
    Runtime runtime = new Runtime();
    card = new Simulator(runtime);
    AID aid = AIDUtil.create(PIV_AID);
    card.installApplet(aid, cls);
    Applet applet = runtime.applet(aid);
    Class<?>[] classes = mainClasses();
    MemoryFootprint atInstall = MemoryFootprint.of(applet).withStatics(classes);

    assertTrue(card.selectApplet(aid), "SELECT");
    authenticateManagementKey();
    for (int slot : new int[] {0x9A, 0x9C, 0x9D, 0x9E}) {
      ok(send(0x00, 0x47, 0x00, slot, new byte[] {(byte) 0xAC, 0x03, (byte) 0x80, 0x01, 0x07}),
          "GENERATE RSA-2048 in " + Integer.toHexString(slot));
    }
    putCertificate(0x05); // 9A's certificate
    putCertificate(0x0A); // 9C's certificate
    MemoryFootprint personalised = MemoryFootprint.of(applet).withStatics(classes);

    System.out.println("memory at install:        " + atInstall);
    System.out.println("memory fully personalised: " + personalised);
    System.out.println("class files: " + classFileBytes() + " bytes (not a CAP file: no converter resolves)");
    assertTrue(personalised.transientBytes() < TRANSIENT_GOAL,
        "transient RAM " + personalised.transientBytes() + " bytes, goal under " + TRANSIENT_GOAL);
    assertEquals(atInstall.transientBytes(), personalised.transientBytes(), "transient memory allocated after install");
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
