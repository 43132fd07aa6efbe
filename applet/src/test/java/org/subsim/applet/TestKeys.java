package org.subsim.applet;

import java.math.BigInteger;
import java.util.Arrays;
import javacard.security.ECPrivateKey;
import javacard.security.ECPublicKey;
import javacard.security.KeyBuilder;
import javacard.security.RSAPrivateCrtKey;
import javacard.security.RSAPublicKey;

/** Java Card key objects (jCardSim's) made from test values. */
final class TestKeys {
  private TestKeys() {}

  static byte[] hex(String s) {
    byte[] b = new byte[s.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }

  /** The magnitude of {@code v} in exactly {@code len} bytes, big-endian. */
  static byte[] fixed(BigInteger v, int len) {
    byte[] b = v.toByteArray();
    if (b.length > len) {
      return Arrays.copyOfRange(b, b.length - len, b.length);
    }
    byte[] out = new byte[len];
    System.arraycopy(b, 0, out, len - b.length, b.length);
    return out;
  }

  /** An RSA CRT private key from its primes and public exponent. */
  static RSAPrivateCrtKey rsaPrivate(byte[] pBytes, byte[] qBytes, byte[] eBytes) {
    BigInteger p = new BigInteger(1, pBytes);
    BigInteger q = new BigInteger(1, qBytes);
    BigInteger e = new BigInteger(1, eBytes);
    int bits = p.multiply(q).bitLength();
    int half = bits / 16;
    BigInteger d = e.modInverse(p.subtract(BigInteger.ONE).multiply(q.subtract(BigInteger.ONE)));
    RSAPrivateCrtKey k = (RSAPrivateCrtKey) KeyBuilder.buildKey(KeyBuilder.TYPE_RSA_CRT_PRIVATE, (short) bits, false);
    byte[] v = fixed(p, half);
    k.setP(v, (short) 0, (short) v.length);
    v = fixed(q, half);
    k.setQ(v, (short) 0, (short) v.length);
    v = fixed(d.mod(p.subtract(BigInteger.ONE)), half);
    k.setDP1(v, (short) 0, (short) v.length);
    v = fixed(d.mod(q.subtract(BigInteger.ONE)), half);
    k.setDQ1(v, (short) 0, (short) v.length);
    v = fixed(q.modInverse(p), half);
    k.setPQ(v, (short) 0, (short) v.length);
    return k;
  }

  static RSAPublicKey rsaPublic(byte[] n, byte[] e) {
    RSAPublicKey k = (RSAPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_RSA_PUBLIC, (short) (n.length * 8), false);
    k.setModulus(n, (short) 0, (short) n.length);
    k.setExponent(e, (short) 0, (short) e.length);
    return k;
  }

  static ECPrivateKey ecPrivate(short bits, byte[] s) {
    ECPrivateKey k = (ECPrivateKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PRIVATE, bits, false);
    EcCurves.set(k, bits);
    k.setS(s, (short) 0, (short) s.length);
    return k;
  }

  static ECPublicKey ecPublic(short bits, byte[] w) {
    ECPublicKey k = (ECPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PUBLIC, bits, false);
    EcCurves.set(k, bits);
    k.setW(w, (short) 0, (short) w.length);
    return k;
  }

  /** The JDK's form of an uncompressed P-256 or P-384 point. */
  static java.security.PublicKey jdkEcPublic(byte[] w) throws Exception {
    int len = (w.length - 1) / 2;
    java.security.AlgorithmParameters p = java.security.AlgorithmParameters.getInstance("EC", "SunEC");
    p.init(new java.security.spec.ECGenParameterSpec(len == 32 ? "secp256r1" : "secp384r1"));
    java.security.spec.ECParameterSpec spec = p.getParameterSpec(java.security.spec.ECParameterSpec.class);
    java.security.spec.ECPoint point = new java.security.spec.ECPoint(
        new BigInteger(1, Arrays.copyOfRange(w, 1, 1 + len)), new BigInteger(1, Arrays.copyOfRange(w, 1 + len, w.length)));
    return java.security.KeyFactory.getInstance("EC", "SunEC").generatePublic(new java.security.spec.ECPublicKeySpec(point, spec));
  }
}
