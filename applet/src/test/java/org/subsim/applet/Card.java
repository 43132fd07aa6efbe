package org.subsim.applet;

import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.utils.AIDUtil;
import java.io.ByteArrayOutputStream;
import javacard.framework.AID;

/** The applet installed on a fresh jCardSim card, with short-APDU helpers for tests. */
final class Card {
  final Simulator sim = new Simulator();
  final AID aid = AIDUtil.create(Spec.PIV_AID);

  Card() {
    this(new byte[0]);
  }

  /** Installs with GlobalPlatform-shaped install data: AID, no privileges, parameters. */
  Card(byte[] params) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(Spec.PIV_AID.length);
    b.write(Spec.PIV_AID, 0, Spec.PIV_AID.length);
    b.write(0);
    b.write(params.length);
    b.write(params, 0, params.length);
    byte[] data = b.toByteArray();
    sim.installApplet(aid, SubSimApplet.class, data, (short) 0, (byte) data.length);
  }

  static byte[] hex(String s) {
    s = s.replace(" ", "");
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }

  static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) {
      s.append(String.format("%02X", x & 0xFF));
    }
    return s.toString();
  }

  /** One raw APDU. */
  Rapdu raw(byte[] apdu) {
    return new Rapdu(sim.transmitCommand(apdu));
  }

  /** A response APDU. */
  static final class Rapdu {
    final byte[] bytes;

    Rapdu(byte[] bytes) {
      this.bytes = bytes;
    }

    int getSW() {
      return ((bytes[bytes.length - 2] & 0xFF) << 8) | (bytes[bytes.length - 1] & 0xFF);
    }

    int getSW1() {
      return bytes[bytes.length - 2] & 0xFF;
    }

    int getSW2() {
      return bytes[bytes.length - 1] & 0xFF;
    }

    byte[] getData() {
      return java.util.Arrays.copyOf(bytes, bytes.length - 2);
    }
  }

  Rapdu raw(String hexApdu) {
    return raw(hex(hexApdu));
  }

  /** Case 1-4 short APDU; data null for none; le -1 for none (0 = 256). */
  Rapdu send(int cla, int ins, int p1, int p2, byte[] data, int le) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(cla);
    b.write(ins);
    b.write(p1);
    b.write(p2);
    if (data != null && data.length > 0) {
      b.write(data.length);
      b.write(data, 0, data.length);
    }
    if (le >= 0) {
      b.write(le);
    }
    return raw(b.toByteArray());
  }

  /** A command of any length: chained in 255-byte parts, the answer fetched with GET RESPONSE. */
  Answer cmd(int cla, int ins, int p1, int p2, byte[] data) {
    if (data == null) {
      data = new byte[0];
    }
    int off = 0;
    while (data.length - off > 255) {
      byte[] part = java.util.Arrays.copyOfRange(data, off, off + 255);
      Rapdu r = send(cla | 0x10, ins, p1, p2, part, -1);
      if (r.getSW() != 0x9000) {
        return new Answer(r.getData(), r.getSW());
      }
      off += 255;
    }
    byte[] last = java.util.Arrays.copyOfRange(data, off, data.length);
    // jCardSim 3.0.6.0 answers 6F00, without calling the applet, to a short APDU of 255 data
    // bytes and an Le (261 bytes: its APDU buffer is shorter); such a part goes without Le.
    Rapdu r = send(cla, ins, p1, p2, last, last.length == 255 ? -1 : 0);
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    got.write(r.getData(), 0, r.getData().length);
    while (r.getSW1() == 0x61) {
      r = send(0x00, 0xC0, 0, 0, null, r.getSW2());
      got.write(r.getData(), 0, r.getData().length);
    }
    return new Answer(got.toByteArray(), r.getSW());
  }

  Answer cmd(int cla, int ins, int p1, int p2, String hexData) {
    return cmd(cla, ins, p1, p2, hex(hexData));
  }

  Answer select() {
    return cmd(0x00, 0xA4, 0x04, 0x00, Spec.PIV_AID);
  }

  static byte[] pinBlock(String pin) {
    byte[] b = new byte[8];
    java.util.Arrays.fill(b, (byte) 0xFF);
    byte[] p = pin.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    System.arraycopy(p, 0, b, 0, p.length);
    return b;
  }

  Answer verify(String pin) {
    return cmd(0x00, 0x20, 0x00, 0x80, pinBlock(pin));
  }

  /** Mutual authentication with the management key (3DES or AES), as a host does. */
  Answer authenticate(byte alg, byte[] key) throws Exception {
    Answer a = cmd(0x00, 0x87, alg, 0x9B, hex("7C028000"));
    if (a.sw != 0x9000) {
      return a;
    }
    int bl = alg == Spec.ALG_3DES || alg == 0 ? 8 : 16;
    byte[] enc = java.util.Arrays.copyOfRange(a.data, 4, 4 + bl);
    byte[] witness = crypt(alg, key, enc, false);
    byte[] challenge = new byte[bl];
    new java.security.SecureRandom().nextBytes(challenge);
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x7C);
    b.write(4 + 2 * bl);
    b.write(0x80);
    b.write(bl);
    b.write(witness, 0, bl);
    b.write(0x81);
    b.write(bl);
    b.write(challenge, 0, bl);
    Answer r = cmd(0x00, 0x87, alg, 0x9B, b.toByteArray());
    if (r.sw == 0x9000) {
      byte[] expect = crypt(alg, key, challenge, true);
      if (!java.util.Arrays.equals(expect, java.util.Arrays.copyOfRange(r.data, 4, 4 + bl))) {
        throw new AssertionError("card's answer to the challenge is wrong");
      }
    }
    return r;
  }

  Answer authenticate() throws Exception {
    return authenticate(Spec.ALG_3DES, Spec.DEFAULT_MGM_KEY);
  }

  static byte[] crypt(byte alg, byte[] key, byte[] block, boolean encrypt) throws Exception {
    javax.crypto.Cipher c;
    java.security.Key k;
    if (alg == Spec.ALG_3DES || alg == 0) {
      c = javax.crypto.Cipher.getInstance("DESede/ECB/NoPadding");
      k = new javax.crypto.spec.SecretKeySpec(key, "DESede");
    } else {
      c = javax.crypto.Cipher.getInstance("AES/ECB/NoPadding");
      k = new javax.crypto.spec.SecretKeySpec(key, "AES");
    }
    c.init(encrypt ? javax.crypto.Cipher.ENCRYPT_MODE : javax.crypto.Cipher.DECRYPT_MODE, k);
    return c.doFinal(block);
  }

  /** An answer: all its data (GET RESPONSE done) and the final status word. */
  static final class Answer {
    final byte[] data;
    final int sw;

    Answer(byte[] data, int sw) {
      this.data = data;
      this.sw = sw;
    }

    @Override
    public String toString() {
      return String.format("%04X %s", sw, hex(data));
    }
  }
}
