package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.security.KeyBuilder;
import javacard.security.PrivateKey;
import javacard.security.PublicKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The applet's attestation certificates against the model's
 * (attestation-reference.txt, written and kept current by
 * apdu-sim/tests/attestation_reference.rs).
 */
class AttestationTest {
  private static final byte[] FIRMWARE = Spec.VERSION; // the model's VERSION, as in the reference
  private static final byte TOUCH_NEVER = 1;
  private static final byte FORM_FACTOR_UNKNOWN = 0;

  /** Answers the bytes it was given, as the card's RNG would have drawn them. */
  static final class FixedRandom extends TestRandom {
    private final byte[] bytes;

    FixedRandom(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override
    public short nextBytes(byte[] buf, short off, short len) {
      System.arraycopy(bytes, 0, buf, off, len);
      return (short) (off + len);
    }
  }

  static Map<String, Map<String, String>> reference() throws IOException {
    Map<String, Map<String, String>> cases = new LinkedHashMap<>();
    try (InputStream in = AttestationTest.class.getResourceAsStream("attestation-reference.txt")) {
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      byte[] chunk = new byte[4096];
      for (int n; (n = in.read(chunk)) > 0; ) {
        bytes.write(chunk, 0, n);
      }
      String text = new String(bytes.toByteArray(), StandardCharsets.US_ASCII);
      Map<String, String> current = null;
      for (String line : text.split("\n")) {
        if (line.startsWith("[")) {
          current = new LinkedHashMap<>();
          cases.put(line.substring(1, line.length() - 1), current);
        } else if (current != null && line.contains("=")) {
          current.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
        }
      }
    }
    return cases;
  }

  /** The TLV at {@code off} of {@code der}, whole. */
  static byte[] tlvAt(byte[] der, int off) {
    short end = Der.skip(der, (short) off, (short) der.length);
    return Arrays.copyOfRange(der, off, end);
  }

  /** TBSCertificate of a certificate. */
  static byte[] tbs(byte[] cert) {
    return tlvAt(cert, Der.contentOffset(cert, (short) 0, (short) cert.length));
  }

  /** The 16 serial-number bytes of a certificate (after [0] version). */
  static byte[] serial(byte[] cert) {
    byte[] tbs = tbs(cert);
    short p = Der.contentOffset(tbs, (short) 0, (short) tbs.length);
    p = Der.skip(tbs, p, (short) tbs.length); // [0] version
    short c = Der.contentOffset(tbs, p, (short) tbs.length);
    return Arrays.copyOfRange(tbs, c, c + Der.contentLength(tbs, p));
  }

  static PrivateKey f9Key(Map<String, String> c) {
    if (c.containsKey("f9.rsa.p")) {
      return TestKeys.rsaPrivate(TestKeys.hex(c.get("f9.rsa.p")), TestKeys.hex(c.get("f9.rsa.q")), TestKeys.hex(c.get("f9.rsa.e")));
    }
    if (c.containsKey("f9.p256.s")) {
      return TestKeys.ecPrivate(KeyBuilder.LENGTH_EC_FP_256, TestKeys.hex(c.get("f9.p256.s")));
    }
    return TestKeys.ecPrivate(KeyBuilder.LENGTH_EC_FP_384, TestKeys.hex(c.get("f9.p384.s")));
  }

  static PublicKey slotKey(Map<String, String> c) {
    if (c.containsKey("key.rsa.n")) {
      return TestKeys.rsaPublic(TestKeys.hex(c.get("key.rsa.n")), TestKeys.hex(c.get("key.rsa.e")));
    }
    if (c.containsKey("key.ec256.w")) {
      return TestKeys.ecPublic(KeyBuilder.LENGTH_EC_FP_256, TestKeys.hex(c.get("key.ec256.w")));
    }
    return TestKeys.ecPublic(KeyBuilder.LENGTH_EC_FP_384, TestKeys.hex(c.get("key.ec384.w")));
  }

  static byte[] attest(Map<String, String> c, byte[] serialBytes, byte[] f9Cert, byte[] out, int outLimit) {
    Attestation a = new Attestation(new FixedRandom(serialBytes), FIRMWARE, TOUCH_NEVER, FORM_FACTOR_UNKNOWN);
    byte[] cardSerial = TestKeys.hex(c.get("serial"));
    short len = a.attest(slotKey(c), TestKeys.hex(c.get("slot"))[0], TestKeys.hex(c.get("pin_policy"))[0],
        cardSerial, (short) 0, f9Key(c), f9Cert, (short) 0, (short) f9Cert.length, out, (short) 7, (short) outLimit);
    return Arrays.copyOfRange(out, 7, 7 + len);
  }

  @ParameterizedTest
  @ValueSource(strings = {"rsa2048-by-rsa2048", "p384-by-rsa2048", "p256-by-p256", "rsa2048-by-p256", "p256-by-p384"})
  void the_certificate_is_the_models(String name) throws Exception {
    Map<String, String> c = reference().get(name);
    byte[] expected = TestKeys.hex(c.get("cert"));
    byte[] f9Cert = TestKeys.hex(c.get("f9.cert"));
    byte[] cert = attest(c, serial(expected), f9Cert, new byte[2048], 2048);

    assertArrayEquals(tbs(expected), tbs(cert), "TBSCertificate differs from the model's");
    if (c.containsKey("f9.rsa.p")) {
      // PKCS#1 v1.5 is deterministic: the whole certificate is the model's.
      assertArrayEquals(expected, cert);
    } else {
      // ECDSA: the card's k is random, the model's is RFC 6979's: the signatures differ, both verify.
      // r and s are DER INTEGERs of 1 to n+1 bytes: lengths differ by a few bytes at most.
      assertTrue(Math.abs(expected.length - cert.length) <= 4, "about the model's length: " + expected.length + " vs " + cert.length);
    }
    // Both verify under the F9 key with the JDK's X.509 code. (The reference's F9 keys other than
    // the manufactured P-256 one sign under its certificate's name: ATTEST reads only its subject
    // and validity.)
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    X509Certificate issuer = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(f9Cert));
    java.security.PublicKey f9Public;
    String provider; // by name: jCardSim puts Bouncy Castle first, which refuses the JDK's keys
    if (c.containsKey("f9.rsa.p")) {
      java.math.BigInteger n = new java.math.BigInteger(1, TestKeys.hex(c.get("f9.rsa.p")))
          .multiply(new java.math.BigInteger(1, TestKeys.hex(c.get("f9.rsa.q"))));
      f9Public = java.security.KeyFactory.getInstance("RSA", "SunRsaSign").generatePublic(
          new java.security.spec.RSAPublicKeySpec(n, new java.math.BigInteger(1, TestKeys.hex(c.get("f9.rsa.e")))));
      provider = "SunRsaSign";
    } else {
      f9Public = TestKeys.jdkEcPublic(TestKeys.hex(c.get("f9.ec.w")));
      provider = "SunEC";
    }
    for (byte[] der : new byte[][] {expected, cert}) {
      X509Certificate x = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der));
      x.verify(f9Public, provider);
      assertEquals(issuer.getSubjectX500Principal(), x.getIssuerX500Principal());
      assertEquals(issuer.getNotAfter(), x.getNotAfter());
    }
  }

  @Test
  void a_malformed_f9_certificate_is_6985_as_in_the_model() throws Exception {
    Map<String, String> c = reference().get("p256-by-p256");
    byte[] f9Cert = TestKeys.hex(c.get("f9.cert"));
    byte[] serial = new byte[16];
    for (int cut : new int[] {0, 1, 3, 40, f9Cert.length / 2}) {
      byte[] truncated = Arrays.copyOf(f9Cert, cut);
      ISOException e = assertThrows(ISOException.class, () -> attest(c, serial, truncated, new byte[2048], 2048));
      assertEquals(ISO7816.SW_CONDITIONS_NOT_SATISFIED, e.getReason(), "cut at " + cut);
    }
    byte[] wrongTag = f9Cert.clone();
    wrongTag[0] = 0x31;
    ISOException e = assertThrows(ISOException.class, () -> attest(c, serial, wrongTag, new byte[2048], 2048));
    assertEquals(ISO7816.SW_CONDITIONS_NOT_SATISFIED, e.getReason());
  }

  @Test
  void a_window_too_small_is_6a84_and_nothing_is_written_past_it() throws Exception {
    Map<String, String> c = reference().get("rsa2048-by-rsa2048");
    byte[] f9Cert = TestKeys.hex(c.get("f9.cert"));
    int full = TestKeys.hex(c.get("cert")).length;
    for (int limit : new int[] {7, 50, 7 + full - 300, 7 + full - 1}) {
      byte[] out = new byte[2048];
      Arrays.fill(out, (byte) 0xEE);
      ISOException e = assertThrows(ISOException.class, () -> attest(c, new byte[16], f9Cert, out, limit));
      assertEquals(ISO7816.SW_FILE_FULL, e.getReason());
      for (int i = limit; i < out.length; i++) {
        assertEquals((byte) 0xEE, out[i], "byte " + i + " past the limit " + limit);
      }
    }
    byte[] out = new byte[2048];
    assertEquals(full, attest(c, new byte[16], f9Cert, out, 7 + full).length, "fits exactly");
  }

  @Test
  void the_serial_is_positive_and_16_bytes_whatever_is_drawn() throws Exception {
    Map<String, String> c = reference().get("rsa2048-by-rsa2048");
    byte[] f9Cert = TestKeys.hex(c.get("f9.cert"));
    for (byte first : new byte[] {0, (byte) 0x80, (byte) 0xFF, 0x3F}) {
      byte[] drawn = new byte[16];
      drawn[0] = first;
      byte[] serial = serial(attest(c, drawn, f9Cert, new byte[2048], 2048));
      assertEquals(16, serial.length);
      assertEquals(0x40, serial[0] & 0xC0);
      assertTrue(Arrays.equals(Arrays.copyOfRange(drawn, 1, 16), Arrays.copyOfRange(serial, 1, 16)));
    }
  }

  /** The value of a certificate's extension, unwrapped from the JDK's OCTET STRING. */
  static byte[] extension(X509Certificate x, String oid) {
    byte[] v = x.getExtensionValue(oid);
    short c = Der.contentOffset(v, (short) 0, (short) v.length);
    return Arrays.copyOfRange(v, c, v.length);
  }

  @Test
  void attest_on_the_installed_applet_is_signed_by_its_f9_key() throws Exception {
    Card card = new Card();
    assertEquals(0x9000, card.select().sw);
    assertEquals(0x9000, card.authenticate().sw);
    // The issuer's F9 key (generated on the card) under the reference F9 certificate's name.
    Card.Answer f9 = card.cmd(0x00, 0x47, 0x00, 0xF9, Card.hex("AC03800111"));
    assertEquals(0x9000, f9.sw, "GENERATE P-256 into F9");
    byte[] f9Point = Arrays.copyOfRange(f9.data, 5, 5 + 65); // 7F49 43 { 86 41 <point> }
    byte[] f9Cert = TestKeys.hex(reference().get("p256-by-p256").get("f9.cert"));
    java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
    int inner = 4 + f9Cert.length + 5;
    o.write(Card.hex("5C035FFF01"), 0, 5);
    o.write(new byte[] {0x53, (byte) 0x82, (byte) (inner >> 8), (byte) inner}, 0, 4);
    o.write(new byte[] {0x70, (byte) 0x82, (byte) (f9Cert.length >> 8), (byte) f9Cert.length}, 0, 4);
    o.write(f9Cert, 0, f9Cert.length);
    o.write(Card.hex("710100FE00"), 0, 5);
    assertEquals(0x9000, card.cmd(0x00, 0xDB, 0x3F, 0xFF, o.toByteArray()).sw, "PUT DATA 5FFF01");
    Card.Answer key = card.cmd(0x00, 0x47, 0x00, 0x9A, Card.hex("AC03800107"));
    assertEquals(0x9000, key.sw, "GENERATE RSA-2048 into 9A");
    Card.Answer serial = card.cmd(0x00, 0xF8, 0x00, 0x00, (byte[]) null);
    assertEquals(0x9000, serial.sw, "GET SERIAL");

    Card.Answer attest = card.cmd(0x00, 0xF9, 0x9A, 0x00, (byte[]) null);
    assertEquals(0x9000, attest.sw, "ATTEST 9A");
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    X509Certificate x = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(attest.data));
    x.verify(TestKeys.jdkEcPublic(f9Point), "SunEC");
    X509Certificate issuer = (X509Certificate) cf.generateCertificate(new ByteArrayInputStream(f9Cert));
    assertEquals(issuer.getSubjectX500Principal(), x.getIssuerX500Principal());
    assertEquals("CN=subsim PIV Attestation 9a", x.getSubjectX500Principal().getName());
    assertEquals(issuer.getNotBefore(), x.getNotBefore());
    assertArrayEquals(Spec.VERSION, extension(x, "1.3.6.1.4.1.41482.3.3"));
    byte[] serialInteger = extension(x, "1.3.6.1.4.1.41482.3.7");
    assertEquals(new java.math.BigInteger(1, serial.data),
        new java.math.BigInteger(Arrays.copyOfRange(serialInteger, 2, serialInteger.length)));
    assertArrayEquals(new byte[] {2, TOUCH_NEVER}, extension(x, "1.3.6.1.4.1.41482.3.8"), "9A: PIN once, touch never");
    assertArrayEquals(new byte[] {FORM_FACTOR_UNKNOWN}, extension(x, "1.3.6.1.4.1.41482.3.9"));
    java.math.BigInteger modulus = ((java.security.interfaces.RSAPublicKey) x.getPublicKey()).getModulus();
    // 7F49 { 81 <modulus> 82 <exponent> }: read from the tag's second byte (the reader takes one-byte tags).
    short n = Der.contentOffset(key.data, (short) 1, (short) key.data.length);
    byte[] inside = Arrays.copyOfRange(key.data, n, key.data.length);
    short m = Der.contentOffset(inside, (short) 0, (short) inside.length);
    assertEquals(new java.math.BigInteger(1, Arrays.copyOfRange(inside, m, m + Der.contentLength(inside, (short) 0))), modulus);
  }
}
