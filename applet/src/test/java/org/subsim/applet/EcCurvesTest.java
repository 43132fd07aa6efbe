package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.MessageDigest;
import java.security.spec.ECField;
import java.security.spec.ECFieldFp;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.util.Arrays;
import javacard.security.CryptoException;
import javacard.security.ECPrivateKey;
import javacard.security.ECPublicKey;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;
import javacard.security.Signature;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** EcCurves' parameters against the JDK's named curves, and keys made with them on jCardSim. */
class EcCurvesTest {
  private static ECParameterSpec jdkCurve(String name) throws Exception {
    AlgorithmParameters p = AlgorithmParameters.getInstance("EC", "SunEC");
    p.init(new ECGenParameterSpec(name));
    return p.getParameterSpec(ECParameterSpec.class);
  }

  private static BigInteger get(java.util.function.BiFunction<byte[], Short, Short> getter, int len) {
    byte[] b = new byte[len];
    short n = getter.apply(b, (short) 0);
    return new BigInteger(1, Arrays.copyOf(b, n));
  }

  @ParameterizedTest
  @CsvSource({"256, secp256r1, SHA256withECDSA, 33", "384, secp384r1, SHA384withECDSA, 34"})
  void parameters_are_the_named_curves_and_signatures_verify_on_the_jdk(short bits, String name, String jdkAlg, byte jcAlg)
      throws Exception {
    ECParameterSpec spec = jdkCurve(name);
    KeyPair pair = new KeyPair(KeyPair.ALG_EC_FP, bits);
    ECPublicKey pub = (ECPublicKey) pair.getPublic();
    ECPrivateKey priv = (ECPrivateKey) pair.getPrivate();
    EcCurves.set(pub, bits);
    EcCurves.set(priv, bits);
    int len = bits / 8;
    ECField field = spec.getCurve().getField();
    assertEquals(((ECFieldFp) field).getP(), get((b, o) -> pub.getField(b, o), len));
    assertEquals(spec.getCurve().getA().mod(((ECFieldFp) field).getP()), get((b, o) -> pub.getA(b, o), len));
    assertEquals(spec.getCurve().getB(), get((b, o) -> pub.getB(b, o), len));
    assertEquals(spec.getOrder(), get((b, o) -> pub.getR(b, o), len));
    byte[] g = new byte[2 * len + 1];
    pub.getG(g, (short) 0);
    assertEquals(spec.getGenerator().getAffineX(), new BigInteger(1, Arrays.copyOfRange(g, 1, 1 + len)));
    assertEquals(spec.getGenerator().getAffineY(), new BigInteger(1, Arrays.copyOfRange(g, 1 + len, 1 + 2 * len)));
    assertEquals(1, pub.getK());

    // A key generated on these parameters signs what the JDK's named curve verifies.
    pair.genKeyPair();
    byte[] w = new byte[2 * len + 1];
    pub.getW(w, (short) 0);
    java.security.PublicKey jdkKey = TestKeys.jdkEcPublic(w);
    Signature s = Signature.getInstance(jcAlg, false);
    s.init(priv, Signature.MODE_SIGN);
    byte[] msg = "subsim".getBytes("US-ASCII");
    byte[] sig = new byte[120];
    short n = s.sign(msg, (short) 0, (short) msg.length, sig, (short) 0);
    java.security.Signature v = java.security.Signature.getInstance(jdkAlg, "SunEC");
    v.initVerify(jdkKey);
    v.update(msg);
    assertTrue(v.verify(Arrays.copyOf(sig, n)));
  }

  @Test
  void oids_are_the_named_curves_and_other_sizes_are_refused() throws Exception {
    assertArrayEquals(java.util.Base64.getDecoder().decode("KoZIzj0DAQc="), EcCurves.oid(KeyBuilder.LENGTH_EC_FP_256));
    assertArrayEquals(new byte[] {0x2B, (byte) 0x81, 0x04, 0x00, 0x22}, EcCurves.oid(KeyBuilder.LENGTH_EC_FP_384));
    assertEquals(null, EcCurves.oid((short) 521));
    ECPublicKey k = (ECPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PUBLIC, KeyBuilder.LENGTH_EC_FP_256, false);
    assertEquals(CryptoException.ILLEGAL_VALUE, assertThrows(CryptoException.class, () -> EcCurves.set(k, (short) 224)).getReason());
    MessageDigest.getInstance("SHA-256"); // the JDK is whole
  }
}
