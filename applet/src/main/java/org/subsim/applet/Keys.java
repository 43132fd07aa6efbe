package org.subsim.applet;

import javacard.framework.ISOException;
import javacard.framework.Util;
import javacard.security.CryptoException;
import javacard.security.ECPrivateKey;
import javacard.security.ECPublicKey;
import javacard.security.KeyAgreement;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;
import javacard.security.PrivateKey;
import javacard.security.PublicKey;
import javacard.security.RSAPrivateCrtKey;
import javacard.security.RSAPublicKey;
import javacard.security.RandomData;
import javacard.security.Signature;
import javacardx.crypto.Cipher;

/**
 * The slots' asymmetric keys. A slot's key lives as a record in the {@link Heap}:
 * {@code alg, origin, PIN policy}, then RSA {@code n, p, q, dp, dq, qinv} (each half
 * the modulus length but n) or EC {@code W (04 x y), S}. For each operation the record is
 * loaded into one working key object per algorithm, allocated at install, so 25 slots
 * need six key pairs of RAM-less key objects, not 25. Algorithms the platform lacks (RSA
 * 3072/4096 on many chips) are found at install and refused as applet-spec refuses an
 * unknown algorithm.
 */
final class Keys {
  static final short REC_ALG = 0;
  static final short REC_ORIGIN = 1;
  static final short REC_PIN_POLICY = 2;
  static final short REC_BODY = 3;

  private static final short ALGS = Spec.KEY_ALGS_COUNT;

  private final RSAPrivateCrtKey[] rsaPriv = new RSAPrivateCrtKey[ALGS];
  private final RSAPublicKey[] rsaPub = new RSAPublicKey[ALGS];
  private final ECPrivateKey[] ecPriv = new ECPrivateKey[ALGS];
  private final ECPublicKey[] ecPub = new ECPublicKey[ALGS];
  private final KeyPair[] pair = new KeyPair[ALGS];
  private final boolean[] supported = new boolean[ALGS];
  private final Cipher rsaRaw;
  private final Signature[] ecdsa = new Signature[ALGS];
  private final KeyAgreement ecdh;
  private final KeyAgreement ecdhXY;
  private final RandomData rng;
  private final Signature rsaCheck;

  Keys(RandomData rng) {
    this.rng = rng;
    rsaRaw = Cipher.getInstance(Cipher.ALG_RSA_NOPAD, false);
    rsaCheck = Signature.getInstance(Signature.ALG_RSA_SHA_256_PKCS1, false);
    ecdh = KeyAgreement.getInstance(KeyAgreement.ALG_EC_SVDP_DH_PLAIN, false);
    KeyAgreement xy = null;
    try {
      xy = KeyAgreement.getInstance(KeyAgreement.ALG_EC_SVDP_DH_PLAIN_XY, false);
    } catch (CryptoException e) {
      xy = null; // EC import then cannot derive the public point: refused (6A80)
    }
    ecdhXY = xy;
    for (short i = 0; i < ALGS; i++) {
      short rsa = Spec.KEY_ALG_RSA_BYTES[i];
      if (rsa == 0 && Spec.KEY_ALG_EC_BYTES[i] == 0) {
        supported[i] = false; // Ed25519, X25519: not in Java Card 3.0.5
        continue;
      }
      try {
        if (rsa != 0) {
          short bits = (short) (rsa * 8);
          rsaPriv[i] = (RSAPrivateCrtKey) KeyBuilder.buildKey(KeyBuilder.TYPE_RSA_CRT_PRIVATE, bits, false);
          rsaPub[i] = (RSAPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_RSA_PUBLIC, bits, false);
          pair[i] = new KeyPair(rsaPub[i], rsaPriv[i]);
        } else {
          short bits = (short) (Spec.KEY_ALG_EC_BYTES[i] * 8);
          ecPriv[i] = (ECPrivateKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PRIVATE, bits, false);
          ecPub[i] = (ECPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PUBLIC, bits, false);
          EcCurves.set(ecPriv[i], bits);
          EcCurves.set(ecPub[i], bits);
          pair[i] = new KeyPair(ecPub[i], ecPriv[i]);
          ecdsa[i] =
              Signature.getInstance(
                  bits == KeyBuilder.LENGTH_EC_FP_256 ? Signature.ALG_ECDSA_SHA_256 : Signature.ALG_ECDSA_SHA_384,
                  false);
        }
        supported[i] = true;
      } catch (CryptoException e) {
        supported[i] = false;
      }
    }
  }

  /** The index of an algorithm id in Spec.KEY_ALGS that this platform has, or -1. */
  short index(byte alg) {
    for (short i = 0; i < ALGS; i++) {
      if (Spec.KEY_ALGS[i] == alg) {
        return supported[i] ? i : (short) -1;
      }
    }
    return -1;
  }

  boolean isSupported(byte alg) {
    return index(alg) >= 0;
  }

  static boolean isRsa(short i) {
    return Spec.KEY_ALG_RSA_BYTES[i] != 0;
  }

  /** RSA modulus or EC field length in bytes. */
  static short size(short i) {
    return isRsa(i) ? Spec.KEY_ALG_RSA_BYTES[i] : Spec.KEY_ALG_EC_BYTES[i];
  }

  static short recordLength(short i) {
    short n = size(i);
    return isRsa(i) ? (short) (REC_BODY + n + 5 * (short) (n / 2)) : (short) (REC_BODY + 1 + 3 * n);
  }

  /** The index of the record's algorithm (the record was written by this class). */
  short recordIndex(byte[] rec, short o) {
    short i = index(rec[(short) (o + REC_ALG)]);
    if (i < 0) {
      ISOException.throwIt(Spec.SW_UNKNOWN_ERROR);
    }
    return i;
  }

  // ---- writing records ------------------------------------------------------------

  /** Copies src (len bytes) right-aligned into dst[off, off+width), zero-padded on the left. */
  private static void leftPad(byte[] src, short sOff, short len, byte[] dst, short off, short width) {
    short pad = (short) (width - len);
    Util.arrayFillNonAtomic(dst, off, pad, (byte) 0);
    Util.arrayCopyNonAtomic(src, sOff, dst, (short) (off + pad), len);
  }

  /**
   * Generates a key pair of algorithm i into the record body at rec[o..]. tmp must hold
   * 512 bytes. The record's header is the caller's.
   */
  void generate(short i, byte[] rec, short o, byte[] tmp) {
    short n = size(i);
    short b = (short) (o + REC_BODY);
    if (isRsa(i)) {
      rsaPub[i].setExponent(Spec.RSA_EXPONENT, (short) 0, (short) Spec.RSA_EXPONENT.length);
      pair[i].genKeyPair();
      RSAPrivateCrtKey k = rsaPriv[i];
      short h = (short) (n / 2);
      short l = rsaPub[i].getModulus(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, n);
      b += n;
      l = k.getP(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, h);
      b += h;
      l = k.getQ(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, h);
      b += h;
      l = k.getDP1(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, h);
      b += h;
      l = k.getDQ1(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, h);
      b += h;
      l = k.getPQ(tmp, (short) 0);
      leftPad(tmp, (short) 0, l, rec, b, h);
    } else {
      pair[i].genKeyPair();
      short w = ecPub[i].getW(tmp, (short) 0);
      if (w != (short) (1 + 2 * n)) {
        CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
      }
      Util.arrayCopyNonAtomic(tmp, (short) 0, rec, b, w);
      b += w;
      short s = ecPriv[i].getS(tmp, (short) 0);
      leftPad(tmp, (short) 0, s, rec, b, n);
    }
    Util.arrayFillNonAtomic(tmp, (short) 0, (short) 512, (byte) 0);
  }

  // ---- reading records ------------------------------------------------------------

  /** The public key's items (81 n 82 e, or 86 W), as GET METADATA's 04 holds them. */
  short publicInner(byte[] rec, short o, byte[] out, short off) {
    short i = recordIndex(rec, o);
    short n = size(i);
    short b = (short) (o + REC_BODY);
    if (isRsa(i)) {
      off = Tlv.header(out, off, Spec.TAG_MODULUS, n);
      off = Util.arrayCopyNonAtomic(rec, b, out, off, n);
      off = Tlv.header(out, off, Spec.TAG_EXPONENT, (short) Spec.RSA_EXPONENT.length);
      return Util.arrayCopyNonAtomic(Spec.RSA_EXPONENT, (short) 0, out, off, (short) Spec.RSA_EXPONENT.length);
    }
    short w = (short) (1 + 2 * n);
    off = Tlv.header(out, off, Spec.TAG_EC_POINT, w);
    return Util.arrayCopyNonAtomic(rec, b, out, off, w);
  }

  static short publicInnerLength(short i) {
    short n = size(i);
    if (isRsa(i)) {
      short e = (short) Spec.RSA_EXPONENT.length;
      return (short) (1 + Tlv.lenSize(n) + n + 1 + Tlv.lenSize(e) + e);
    }
    short w = (short) (1 + 2 * n);
    return (short) (1 + Tlv.lenSize(w) + w);
  }

  /** 7F49 { public items }: GENERATE's answer. */
  short publicTemplate(byte[] rec, short o, byte[] out, short off) {
    short inner = publicInnerLength(recordIndex(rec, o));
    out[off++] = (byte) (Spec.TAG_PUBLIC_KEY >> 8);
    out[off++] = (byte) Spec.TAG_PUBLIC_KEY;
    off = Tlv.putLen(out, off, inner);
    return publicInner(rec, o, out, off);
  }

  /** The record's public key in a working key object (for ATTEST). */
  PublicKey loadPublic(byte[] rec, short o) {
    short i = recordIndex(rec, o);
    short n = size(i);
    short b = (short) (o + REC_BODY);
    if (isRsa(i)) {
      rsaPub[i].setModulus(rec, b, n);
      rsaPub[i].setExponent(Spec.RSA_EXPONENT, (short) 0, (short) Spec.RSA_EXPONENT.length);
      return rsaPub[i];
    }
    ecPub[i].setW(rec, b, (short) (1 + 2 * n));
    return ecPub[i];
  }

  /** The record's private key in a working key object. */
  PrivateKey loadPrivate(byte[] rec, short o) {
    short i = recordIndex(rec, o);
    short n = size(i);
    short b = (short) (o + REC_BODY);
    if (isRsa(i)) {
      short h = (short) (n / 2);
      RSAPrivateCrtKey k = rsaPriv[i];
      b += n;
      k.setP(rec, b, h);
      b += h;
      k.setQ(rec, b, h);
      b += h;
      k.setDP1(rec, b, h);
      b += h;
      k.setDQ1(rec, b, h);
      b += h;
      k.setPQ(rec, b, h);
      return k;
    }
    ecPriv[i].setS(rec, (short) (b + 1 + 2 * n), n);
    return ecPriv[i];
  }

  /** Unsigned big-endian a < b, both len bytes. */
  static boolean less(byte[] a, short aOff, byte[] b, short bOff, short len) {
    for (short k = 0; k < len; k++) {
      short x = (short) (a[(short) (aOff + k)] & 0xFF);
      short y = (short) (b[(short) (bOff + k)] & 0xFF);
      if (x != y) {
        return x < y;
      }
    }
    return false;
  }

  /** Whether block (the modulus length) is below the record's modulus. */
  boolean belowModulus(byte[] rec, short o, byte[] in, short inOff) {
    short n = size(recordIndex(rec, o));
    return less(in, inOff, rec, (short) (o + REC_BODY), n);
  }

  /** Raw RSA with the private key: out = in^d mod n. */
  short rsaPrivate(byte[] rec, short o, byte[] in, short inOff, byte[] out, short outOff) {
    short n = size(recordIndex(rec, o));
    rsaRaw.init(loadPrivate(rec, o), Cipher.MODE_DECRYPT);
    return rsaRaw.doFinal(in, inOff, n, out, outOff);
  }

  /**
   * ECDSA over a hash computed off-card: the leftmost field-length bytes of the hash, left
   * zero-padded when shorter (FIPS 186-4 6.4), as applet-spec's model does. tmp: 48 bytes.
   */
  short ecSign(byte[] rec, short o, byte[] hash, short hOff, short hLen, byte[] tmp, byte[] out, short outOff) {
    short i = recordIndex(rec, o);
    short n = size(i);
    if (hLen >= n) {
      Util.arrayCopyNonAtomic(hash, hOff, tmp, (short) 0, n);
    } else {
      leftPad(hash, hOff, hLen, tmp, (short) 0, n);
    }
    Signature s = ecdsa[i];
    s.init(loadPrivate(rec, o), Signature.MODE_SIGN);
    return s.signPreComputedHash(tmp, (short) 0, n, out, outOff);
  }

  /** ECDH: the x coordinate of S * point; 6A80 for a point the platform refuses. */
  short ecdh(byte[] rec, short o, byte[] point, short pOff, short pLen, byte[] out, short outOff) {
    short n = size(recordIndex(rec, o));
    if (pLen != (short) (1 + 2 * n) || point[pOff] != 0x04) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    try {
      ecdh.init(loadPrivate(rec, o));
      return ecdh.generateSecret(point, pOff, pLen, out, outOff);
    } catch (CryptoException e) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    return 0;
  }

  // ---- import ------------------------------------------------------------------------

  /** Strips leading zeros; answers the length left (src at sOff moved by the caller). */
  private static short significant(byte[] src, short sOff, short len) {
    short k = 0;
    while (k < len && src[(short) (sOff + k)] == 0) {
      k++;
    }
    return k;
  }

  /** Places an unsigned integer (any leading zeros) right-aligned in width bytes; false if too big. */
  private static boolean fit(byte[] src, short sOff, short len, byte[] dst, short off, short width) {
    short z = significant(src, sOff, len);
    short l = (short) (len - z);
    if (l > width) {
      return false;
    }
    leftPad(src, (short) (sOff + z), l, dst, off, width);
    return true;
  }

  /** out[0, 2h) = a * b, both h bytes, big-endian (schoolbook, 16-bit arithmetic). */
  private static void multiply(byte[] a, short aOff, byte[] b, short bOff, short h, byte[] out, short outOff) {
    Util.arrayFillNonAtomic(out, outOff, (short) (2 * h), (byte) 0);
    for (short i = (short) (h - 1); i >= 0; i--) {
      short ai = (short) (a[(short) (aOff + i)] & 0xFF);
      short carry = 0;
      for (short j = (short) (h - 1); j >= 0; j--) {
        short pos = (short) (outOff + i + j + 1);
        short t = (short) (ai * (short) (b[(short) (bOff + j)] & 0xFF) + (short) (out[pos] & 0xFF) + carry);
        out[pos] = (byte) t;
        carry = (short) ((short) (t >> 8) & 0xFF);
      }
      out[(short) (outOff + i)] = (byte) carry;
    }
  }

  /**
   * An RSA key of algorithm i from its CRT parts (p, q, dp, dq, qinv at the given offsets
   * of src) into the record body. n = p * q must have exactly the modulus length, and the
   * parts must agree: a signature made with the CRT key verifies with (n, e) (else 6A80).
   * tmp: 32 + the modulus length.
   */
  void importRsa(
      short i, byte[] src, short[] partOff, short[] partLen, byte[] rec, short o, byte[] tmp, short t) {
    short n = size(i);
    short h = (short) (n / 2);
    short b = (short) (o + REC_BODY);
    short parts = (short) (b + n);
    for (short k = 0; k < 5; k++) {
      if (!fit(src, partOff[k], partLen[k], rec, (short) (parts + k * h), h)) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
    }
    multiply(rec, parts, rec, (short) (parts + h), h, rec, b);
    if (rec[b] == 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    try {
      // Sign a random message with the CRT key, verify it with (n, e): any part that
      // does not belong to n fails the check (a PKCS#1 signature, which every platform
      // has, rather than a raw public operation on a full block).
      short msg = 32;
      short sig = (short) (t + msg);
      rng.nextBytes(tmp, t, msg);
      rsaPub[i].setModulus(rec, b, n);
      rsaPub[i].setExponent(Spec.RSA_EXPONENT, (short) 0, (short) Spec.RSA_EXPONENT.length);
      rsaCheck.init(loadPrivate(rec, o), Signature.MODE_SIGN);
      short sl = rsaCheck.sign(tmp, t, msg, tmp, sig);
      rsaCheck.init(rsaPub[i], Signature.MODE_VERIFY);
      if (!rsaCheck.verify(tmp, t, msg, tmp, sig, sl)) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
    } catch (CryptoException e) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    } finally {
      Util.arrayFillNonAtomic(tmp, t, (short) (2 * n), (byte) 0);
    }
  }

  /**
   * An EC key of algorithm i from its scalar (left-padded to the field length; it must be in
   * [1, r-1], else 6A80) into the record body; W = S * G. tmp: 2 * 97 bytes.
   */
  void importEc(short i, byte[] src, short sOff, short sLen, byte[] rec, short o, byte[] tmp) {
    short n = size(i);
    short b = (short) (o + REC_BODY);
    short sAt = (short) (b + 1 + 2 * n);
    if (sLen > n || ecdhXY == null) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    leftPad(src, sOff, sLen, rec, sAt, n);
    ECPrivateKey k = ecPriv[i];
    k.getR(tmp, (short) 0);
    boolean zero = significant(rec, sAt, n) == n;
    if (zero || !less(rec, sAt, tmp, (short) 0, n)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    try {
      k.setS(rec, sAt, n);
      short g = k.getG(tmp, (short) 0);
      ecdhXY.init(k);
      short w = ecdhXY.generateSecret(tmp, (short) 0, g, tmp, g);
      if (w != (short) (1 + 2 * n)) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
      Util.arrayCopyNonAtomic(tmp, g, rec, b, w);
    } catch (CryptoException e) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    } finally {
      Util.arrayFillNonAtomic(tmp, (short) 0, (short) (2 + 4 * n), (byte) 0);
    }
  }

  /** Forgets whatever the working keys hold (TERMINATE, RESET); curves set again. */
  void clearWorking() {
    for (short i = 0; i < ALGS; i++) {
      if (!supported[i]) {
        continue;
      }
      if (isRsa(i)) {
        rsaPriv[i].clearKey();
        rsaPub[i].clearKey();
      } else {
        short bits = (short) (size(i) * 8);
        ecPriv[i].clearKey();
        ecPub[i].clearKey();
        EcCurves.set(ecPriv[i], bits);
        EcCurves.set(ecPub[i], bits);
      }
    }
  }
}
