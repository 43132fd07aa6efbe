package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.*;
import static org.subsim.applet.Card.hex;
import static org.subsim.applet.PivCoreTest.concat;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Yubico's management commands and the class-80 sub-SIM extensions. */
class YubicoAndSubsimTest {
  Card card;

  @BeforeEach
  void fresh() {
    card = new Card(hex("7000" + "00BC614E"));
    assertEquals(0x9000, card.select().sw);
  }

  /** GET STATUS's value for a tag (flat TLV, one-byte lengths). */
  static byte[] item(byte[] status, int tag) {
    for (int i = 0; i < status.length; ) {
      int t = status[i] & 0xFF;
      int l = status[i + 1] & 0xFF;
      if (t == tag) {
        return Arrays.copyOfRange(status, i + 2, i + 2 + l);
      }
      i += 2 + l;
    }
    return null;
  }

  byte[] status() {
    Card.Answer a = card.cmd(0x80, 0x3A, 0, 0, (byte[]) null);
    assertEquals(0x9000, a.sw);
    return a.data;
  }

  @Test
  void version_serial_from_install_parameters_and_metadata() {
    assertArrayEquals(Spec.VERSION, card.cmd(0, 0xFD, 0, 0, (byte[]) null).data);
    assertEquals("00BC614E", hex(card.cmd(0, 0xF8, 0, 0, (byte[]) null).data));
    assertEquals(0x6A86, card.cmd(0, 0xF8, 0, 1, (byte[]) null).sw);
    assertEquals(0x6700, card.cmd(0, 0xFD, 0, 0, "00").sw);
    assertEquals("01 01 FF 05 01 01 06 02 03 03".replace(" ", ""), hex(card.cmd(0, 0xF7, 0, 0x80, (byte[]) null).data));
    assertEquals("01 01 03 02 02 00 01 05 01 01".replace(" ", ""), hex(card.cmd(0, 0xF7, 0, 0x9B, (byte[]) null).data));
    assertEquals(0x6A88, card.cmd(0, 0xF7, 0, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A88, card.cmd(0, 0xF7, 0, 0x96, (byte[]) null).sw);
    assertEquals(0x6A86, card.cmd(0, 0xF7, 1, 0x80, (byte[]) null).sw);
  }

  @Test
  void set_pin_retries_and_reset() throws Exception {
    assertEquals(0x6982, card.cmd(0, 0xFA, 5, 6, (byte[]) null).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6982, card.cmd(0, 0xFA, 5, 6, (byte[]) null).sw, "needs the PIN too");
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x6A86, card.cmd(0, 0xFA, 16, 6, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0xFA, 5, 6, (byte[]) null).sw);
    assertEquals("0505", hex(Arrays.copyOfRange(card.cmd(0, 0xF7, 0, 0x80, (byte[]) null).data, 8, 10)));
    assertEquals("0606", hex(Arrays.copyOfRange(card.cmd(0, 0xF7, 0, 0x81, (byte[]) null).data, 8, 10)));
    assertEquals(0x63C5, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw, "verified state gone");
    assertEquals(0x6985, card.cmd(0, 0xFB, 0, 0, (byte[]) null).sw, "RESET only when PIN and PUK are blocked");
    for (int i = 0; i < 5; i++) {
      card.verify("000000");
    }
    for (int i = 0; i < 6; i++) {
      card.cmd(0, 0x2C, 0, 0x80, concat(Card.pinBlock("00000000"), Card.pinBlock("111111")));
    }
    byte[] before = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FFF20").data;
    assertEquals(0x9000, card.cmd(0, 0xFB, 0, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals("0303", hex(Arrays.copyOfRange(card.cmd(0, 0xF7, 0, 0x80, (byte[]) null).data, 8, 10)));
    byte[] after = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FFF20").data;
    assertArrayEquals(Arrays.copyOf(before, 8), Arrays.copyOf(after, 8), "serial kept");
    assertEquals(new BigInteger(1, Arrays.copyOfRange(before, 10, 14)).add(BigInteger.ONE),
        new BigInteger(1, Arrays.copyOfRange(after, 10, 14)), "change counter moves on");
  }

  @Test
  void import_keys_and_attest() throws Exception {
    java.security.KeyPairGenerator kpg = java.security.KeyPairGenerator.getInstance("RSA");
    kpg.initialize(2048);
    java.security.interfaces.RSAPrivateCrtKey k = (java.security.interfaces.RSAPrivateCrtKey) kpg.generateKeyPair().getPrivate();
    byte[] data = concat(concat(concat(tlv(1, k.getPrimeP()), tlv(2, k.getPrimeQ())), concat(tlv(3, k.getPrimeExponentP()),
        tlv(4, k.getPrimeExponentQ()))), tlv(5, k.getCrtCoefficient()));
    assertEquals(0x6982, card.cmd(0, 0xFE, 0x07, 0x9D, data).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A80, card.cmd(0, 0xFE, 0x07, 0x9D, concat(data, hex("0900"))).sw);
    byte[] broken = data.clone();
    broken[broken.length - 1] ^= 1;
    assertEquals(0x6A80, card.cmd(0, 0xFE, 0x07, 0x9D, broken).sw, "inconsistent CRT parts");
    assertEquals(0x9000, card.cmd(0, 0xFE, 0x07, 0x9D, data).sw);
    Card.Answer md = card.cmd(0, 0xF7, 0, 0x9D, (byte[]) null);
    assertEquals(0x9000, md.sw);
    assertEquals("010107020202010301020482010981820100", hex(Arrays.copyOf(md.data, 18)));
    assertEquals(k.getModulus(), new BigInteger(1, Arrays.copyOfRange(md.data, 18, 18 + 256)));
    // EC import: the public point is derived on the card.
    java.security.KeyPairGenerator ekpg = java.security.KeyPairGenerator.getInstance("EC");
    ekpg.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
    java.security.KeyPair ek = ekpg.generateKeyPair();
    BigInteger s = ((java.security.interfaces.ECPrivateKey) ek.getPrivate()).getS();
    assertEquals(0x9000, card.cmd(0, 0xFE, 0x11, 0x82, tlv(6, s)).sw);
    md = card.cmd(0, 0xF7, 0, 0x82, (byte[]) null);
    java.security.spec.ECPoint w = ((java.security.interfaces.ECPublicKey) ek.getPublic()).getW();
    int at = hex(md.data).indexOf("044386410" + "4") / 2 + 4;
    assertEquals(w.getAffineX(), new BigInteger(1, Arrays.copyOfRange(md.data, at + 1, at + 33)));
    // Key history counts the retired key without a certificate.
    Card.Answer kh = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC10C");
    assertEquals("5308C10100C20101FE00", hex(kh.data));
    // ATTEST: only generated keys; the F9 key and certificate come from the issuer.
    assertEquals(0x6A80, card.cmd(0, 0xF9, 0x9D, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw);
    assertEquals(0x6A88, card.cmd(0, 0xF9, 0x9A, 0, (byte[]) null).sw, "no F9 key");
    Card.Answer f9 = card.cmd(0, 0x47, 0, 0xF9, "AC03800111");
    assertEquals(0x9000, f9.sw);
    assertEquals(0x6985, card.cmd(0, 0xF9, 0x9A, 0, (byte[]) null).sw, "no F9 certificate");
    byte[] ca = readCaCertificate();
    byte[] obj = concat(concat(hex("70820" + String.format("%03X", ca.length)), ca), hex("710100FE00"));
    byte[] put = concat(concat(hex("5C035FFF0153820" + String.format("%03X", obj.length)), new byte[0]), obj);
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, put).sw);
    Card.Answer att = card.cmd(0, 0xF9, 0x9A, 0, (byte[]) null);
    assertEquals(0x9000, att.sw, att.toString());
    X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(att.data));
    c.verify(PivCoreTest.ecPublic(Arrays.copyOfRange(f9.data, 5, 70), "secp256r1"));
    assertEquals(0x6A86, card.cmd(0, 0xF9, 0xF9, 0, (byte[]) null).sw, "F9 is the attesting key, not attested");
    assertEquals(0x6A86, card.cmd(0, 0xF9, 0x9B, 0, (byte[]) null).sw);
  }

  @Test
  void pin_policies_move_key_and_f9_signing() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A80, card.cmd(0, 0x47, 0, 0x9C, "AC06800111AA0102").sw, "9C takes only always");
    assertEquals(0x6A80, card.cmd(0, 0x47, 0, 0x9A, "AC06800111AA0104").sw, "match-once: no sensor");
    assertEquals(0x6A80, card.cmd(0, 0x47, 0, 0x9A, "AC06800111AB0102").sw, "touch: no button");
    assertEquals(0x6A80, card.cmd(0, 0x47, 0, 0x9A, "AC06800111AC0100").sw, "unknown item in AC");
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC09800111AA0101AB0100").sw);
    assertEquals("02020101", hex(Arrays.copyOfRange(card.cmd(0, 0xF7, 0, 0x9A, (byte[]) null).data, 3, 7)),
        "the policy in force: never");
    card.sim.reset();
    card.select();
    byte[] req = PivCoreTest.concat(hex("7C248200" + "8120"), new byte[32]);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x11, 0x9A, req).sw, "PIN policy never: no PIN");
    assertEquals(0x6982, card.cmd(0, 0xF6, 0x9D, 0x9A, (byte[]) null).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6985, card.cmd(0, 0xF6, 0x9C, 0x9A, (byte[]) null).sw, "a never key may not go to 9C");
    assertEquals(0x6A86, card.cmd(0, 0xF6, 0xF9, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A86, card.cmd(0, 0xF6, 0x9A, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A88, card.cmd(0, 0xF6, 0x9A, 0x9D, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0xF6, 0x82, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A88, card.cmd(0, 0xF7, 0, 0x9A, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0xF7, 0, 0x82, (byte[]) null).sw);
    assertEquals("5308C10100C20101FE00", hex(card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC10C").data));
    assertEquals(0x9000, card.cmd(0, 0xF6, 0xFF, 0x82, (byte[]) null).sw);
    assertEquals("5308C10100C20100FE00", hex(card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC10C").data));
    // F9 signs only with 9B.
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0xF9, "AC03800111").sw);
    card.sim.reset();
    card.select();
    assertEquals(0x6982, card.cmd(0, 0x87, 0x11, 0xF9, req).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x11, 0xF9, req).sw);
  }

  @Test
  void rsa_4096_import_sign_metadata_and_3072_generate() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    java.security.KeyPairGenerator kpg = java.security.KeyPairGenerator.getInstance("RSA");
    kpg.initialize(4096);
    java.security.interfaces.RSAPrivateCrtKey k = (java.security.interfaces.RSAPrivateCrtKey) kpg.generateKeyPair().getPrivate();
    byte[] data = concat(concat(concat(tlv2(1, k.getPrimeP()), tlv2(2, k.getPrimeQ())), concat(tlv2(3, k.getPrimeExponentP()),
        tlv2(4, k.getPrimeExponentQ()))), tlv2(5, k.getCrtCoefficient()));
    assertEquals(0x9000, card.cmd(0, 0xFE, 0x16, 0x9E, data).sw);
    byte[] block = new byte[512];
    block[5] = 9;
    Card.Answer s = card.cmd(0, 0x87, 0x16, 0x9E, concat(hex("7C8202068200" + "81820200"), block));
    assertEquals(0x9000, s.sw);
    BigInteger sig = new BigInteger(1, Arrays.copyOfRange(s.data, 8, s.data.length));
    assertEquals(new BigInteger(1, block), sig.modPow(BigInteger.valueOf(65537), k.getModulus()));
    Card.Answer md = card.cmd(0, 0xF7, 0, 0x9E, (byte[]) null);
    assertEquals(0x9000, md.sw);
    assertEquals(3 + 4 + 3 + 4 + 4 + 512 + 5 + 3, md.data.length);
    Card.Answer g = card.cmd(0, 0x47, 0, 0x9D, "AC03800105");
    assertEquals(0x9000, g.sw);
    assertEquals("7F4982018981820180", hex(Arrays.copyOf(g.data, 9)));
  }

  static byte[] tlv2(int tag, BigInteger v) {
    byte[] b = v.toByteArray();
    if (b[0] == 0 && b.length > 1) {
      b = Arrays.copyOfRange(b, 1, b.length);
    }
    byte[] h;
    if (b.length < 128) {
      h = new byte[] {(byte) tag, (byte) b.length};
    } else if (b.length < 256) {
      h = new byte[] {(byte) tag, (byte) 0x81, (byte) b.length};
    } else {
      h = new byte[] {(byte) tag, (byte) 0x82, (byte) (b.length >> 8), (byte) b.length};
    }
    return concat(h, b);
  }

  static byte[] readCaCertificate() throws Exception {
    java.nio.file.Path p = java.nio.file.Paths.get("..", "apdu-sim", "manufacturer", "test-manufacturer-ca.pem");
    String pem = new String(java.nio.file.Files.readAllBytes(p), "US-ASCII");
    String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return java.util.Base64.getDecoder().decode(b64);
  }

  static byte[] tlv(int tag, BigInteger v) {
    byte[] b = v.toByteArray();
    if (b[0] == 0 && b.length > 1) {
      b = Arrays.copyOfRange(b, 1, b.length);
    }
    byte[] h = b.length < 128 ? new byte[] {(byte) tag, (byte) b.length} : new byte[] {(byte) tag, (byte) 0x81, (byte) b.length};
    return concat(h, b);
  }

  @Test
  void keypad_policy_and_verify_keypad() throws Exception {
    Card.Answer k = card.cmd(0x80, 0x30, 0, 0, (byte[]) null);
    assertEquals(0x9000, k.sw);
    assertEquals(10, k.data.length);
    byte[] positions = new byte[6];
    String pin = "123456";
    for (int i = 0; i < 6; i++) {
      for (int p = 0; p < 10; p++) {
        if (k.data[p] == pin.charAt(i) - '0') {
          positions[i] = (byte) p;
        }
      }
    }
    assertEquals(0x9000, card.cmd(0x80, 0x32, 0, 0x80, positions).sw);
    assertEquals(0x6985, card.cmd(0x80, 0x32, 0, 0x80, positions).sw, "one layout per verification");
    card.cmd(0x80, 0x30, 0, 0, (byte[]) null);
    assertEquals(0x6A86, card.cmd(0x80, 0x32, 0, 0x81, positions).sw);
    assertEquals(0x6985, card.cmd(0x80, 0x32, 0, 0x80, positions).sw, "the layout went with the 6A86");
    assertEquals(0x6982, card.cmd(0x80, 0x34, 1, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A86, card.cmd(0x80, 0x34, 2, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0x80, 0x34, 1, 0, (byte[]) null).sw);
    assertEquals(0x6985, card.verify("123456").sw, "keypad only");
    assertEquals(1, item(status(), 0x83)[0]);
  }

  @Test
  void binding_present_counts_and_guards_private_keys() throws Exception {
    assertEquals(0x6A88, card.cmd(0x80, 0x38, 0, 0, new byte[16]).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A80, card.cmd(0x80, 0x36, 0, 0, new byte[15]).sw);
    assertEquals(0x6700, card.cmd(0x80, 0x36, 1, 0, new byte[16]).sw);
    byte[] value = new byte[32];
    Arrays.fill(value, (byte) 0x42);
    assertEquals(0x9000, card.cmd(0x80, 0x36, 0, 0, value).sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9E, "AC03800111").sw);
    byte[] req = concat(hex("7C248200" + "8120"), new byte[32]);
    assertEquals(0x6985, card.cmd(0, 0x87, 0x11, 0x9E, req).sw, "binding not presented");
    assertEquals(1, item(status(), 0x84)[0]);
    assertEquals(0x63C4, card.cmd(0x80, 0x38, 0, 0, new byte[32]).sw);
    assertEquals(4, item(status(), 0x85)[0]);
    assertEquals(0x9000, card.cmd(0x80, 0x38, 0, 0, value).sw);
    assertEquals(2, item(status(), 0x84)[0]);
    assertEquals(5, item(status(), 0x85)[0]);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x11, 0x9E, req).sw);
    for (int i = 4; i >= 0; i--) {
      assertEquals(0x63C0 | i, card.cmd(0x80, 0x38, 0, 0, new byte[16]).sw);
    }
    assertEquals(0x6983, card.cmd(0x80, 0x38, 0, 0, value).sw);
    assertEquals(3, item(status(), 0x84)[0]);
  }

  @Test
  void status_import_policy_and_terminate() throws Exception {
    byte[] s = status();
    assertEquals("8101038201038301008401008501008601008701008804000000008901038A01008B0100", hex(s));
    assertEquals(0x6982, card.cmd(0x80, 0x3C, 0, 0, (byte[]) null).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0x80, 0x3E, 1, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A86, card.cmd(0x80, 0x3E, 2, 0x9A, (byte[]) null).sw);
    assertEquals(0x6A86, card.cmd(0x80, 0x3E, 1, 0x80, (byte[]) null).sw);
    assertEquals(0x6985, card.cmd(0, 0xFE, 0x11, 0x9A, "060101").sw);
    assertEquals(1, item(status(), 0x8B)[0]);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw);
    assertEquals(1, item(status(), 0x86)[0]);
    assertEquals("00000001", hex(item(status(), 0x88)));
    assertEquals(0x9000, card.cmd(0x80, 0x3C, 0, 0, (byte[]) null).sw);
    assertEquals("8101038201038301008401008501008601008701008804000000028901038A01008B0100", hex(status()));
    assertEquals(0x6982, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw, "9B state went with TERMINATE");
  }
}
