package org.subsim.applet;

import javacard.security.CryptoException;
import javacard.security.ECKey;
import javacard.security.KeyBuilder;

/**
 * The NIST curves P-256 and P-384 (FIPS 186-4 D.1.2.3 and D.1.2.4; SEC 2 secp256r1 and
 * secp384r1): Java Card 3.0.5 has no named curves, so every EC key object gets its domain
 * parameters set here before it is generated or loaded.
 *
 * <p>{@link #set} sets field, a, b, G (uncompressed), the order r and the cofactor 1 on a
 * key built with {@code KeyBuilder.TYPE_EC_FP_PUBLIC/PRIVATE} of length
 * {@code LENGTH_EC_FP_256} or {@code LENGTH_EC_FP_384}. The arrays are static and
 * persistent (about 0.4 KB in the CAP's static image); nothing is allocated.
 */
public final class EcCurves {
  private EcCurves() {}

  /** DER content of the OID prime256v1 (1.2.840.10045.3.1.7), for an SPKI's parameters. */
  static final byte[] P256_OID = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0xCE, (byte) 0x3D, (byte) 0x03, (byte) 0x01, (byte) 0x07,
  };
  /** DER content of the OID secp384r1 (1.3.132.0.34). */
  static final byte[] P384_OID = {
      (byte) 0x2B, (byte) 0x81, (byte) 0x04, (byte) 0x00, (byte) 0x22,
  };

  private static final byte[] P256_P = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x01,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
  };
  private static final byte[] P256_A = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x01,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFC,
  };
  private static final byte[] P256_B = {
      (byte) 0x5A, (byte) 0xC6, (byte) 0x35, (byte) 0xD8, (byte) 0xAA, (byte) 0x3A, (byte) 0x93, (byte) 0xE7,
      (byte) 0xB3, (byte) 0xEB, (byte) 0xBD, (byte) 0x55, (byte) 0x76, (byte) 0x98, (byte) 0x86, (byte) 0xBC,
      (byte) 0x65, (byte) 0x1D, (byte) 0x06, (byte) 0xB0, (byte) 0xCC, (byte) 0x53, (byte) 0xB0, (byte) 0xF6,
      (byte) 0x3B, (byte) 0xCE, (byte) 0x3C, (byte) 0x3E, (byte) 0x27, (byte) 0xD2, (byte) 0x60, (byte) 0x4B,
  };
  private static final byte[] P256_G = {
      (byte) 0x04, (byte) 0x6B, (byte) 0x17, (byte) 0xD1, (byte) 0xF2, (byte) 0xE1, (byte) 0x2C, (byte) 0x42,
      (byte) 0x47, (byte) 0xF8, (byte) 0xBC, (byte) 0xE6, (byte) 0xE5, (byte) 0x63, (byte) 0xA4, (byte) 0x40,
      (byte) 0xF2, (byte) 0x77, (byte) 0x03, (byte) 0x7D, (byte) 0x81, (byte) 0x2D, (byte) 0xEB, (byte) 0x33,
      (byte) 0xA0, (byte) 0xF4, (byte) 0xA1, (byte) 0x39, (byte) 0x45, (byte) 0xD8, (byte) 0x98, (byte) 0xC2,
      (byte) 0x96, (byte) 0x4F, (byte) 0xE3, (byte) 0x42, (byte) 0xE2, (byte) 0xFE, (byte) 0x1A, (byte) 0x7F,
      (byte) 0x9B, (byte) 0x8E, (byte) 0xE7, (byte) 0xEB, (byte) 0x4A, (byte) 0x7C, (byte) 0x0F, (byte) 0x9E,
      (byte) 0x16, (byte) 0x2B, (byte) 0xCE, (byte) 0x33, (byte) 0x57, (byte) 0x6B, (byte) 0x31, (byte) 0x5E,
      (byte) 0xCE, (byte) 0xCB, (byte) 0xB6, (byte) 0x40, (byte) 0x68, (byte) 0x37, (byte) 0xBF, (byte) 0x51,
      (byte) 0xF5,
  };
  private static final byte[] P256_R = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xBC, (byte) 0xE6, (byte) 0xFA, (byte) 0xAD, (byte) 0xA7, (byte) 0x17, (byte) 0x9E, (byte) 0x84,
      (byte) 0xF3, (byte) 0xB9, (byte) 0xCA, (byte) 0xC2, (byte) 0xFC, (byte) 0x63, (byte) 0x25, (byte) 0x51,
  };

  private static final byte[] P384_P = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFE,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
  };
  private static final byte[] P384_A = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFE,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00,
      (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0x00, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFC,
  };
  private static final byte[] P384_B = {
      (byte) 0xB3, (byte) 0x31, (byte) 0x2F, (byte) 0xA7, (byte) 0xE2, (byte) 0x3E, (byte) 0xE7, (byte) 0xE4,
      (byte) 0x98, (byte) 0x8E, (byte) 0x05, (byte) 0x6B, (byte) 0xE3, (byte) 0xF8, (byte) 0x2D, (byte) 0x19,
      (byte) 0x18, (byte) 0x1D, (byte) 0x9C, (byte) 0x6E, (byte) 0xFE, (byte) 0x81, (byte) 0x41, (byte) 0x12,
      (byte) 0x03, (byte) 0x14, (byte) 0x08, (byte) 0x8F, (byte) 0x50, (byte) 0x13, (byte) 0x87, (byte) 0x5A,
      (byte) 0xC6, (byte) 0x56, (byte) 0x39, (byte) 0x8D, (byte) 0x8A, (byte) 0x2E, (byte) 0xD1, (byte) 0x9D,
      (byte) 0x2A, (byte) 0x85, (byte) 0xC8, (byte) 0xED, (byte) 0xD3, (byte) 0xEC, (byte) 0x2A, (byte) 0xEF,
  };
  private static final byte[] P384_G = {
      (byte) 0x04, (byte) 0xAA, (byte) 0x87, (byte) 0xCA, (byte) 0x22, (byte) 0xBE, (byte) 0x8B, (byte) 0x05,
      (byte) 0x37, (byte) 0x8E, (byte) 0xB1, (byte) 0xC7, (byte) 0x1E, (byte) 0xF3, (byte) 0x20, (byte) 0xAD,
      (byte) 0x74, (byte) 0x6E, (byte) 0x1D, (byte) 0x3B, (byte) 0x62, (byte) 0x8B, (byte) 0xA7, (byte) 0x9B,
      (byte) 0x98, (byte) 0x59, (byte) 0xF7, (byte) 0x41, (byte) 0xE0, (byte) 0x82, (byte) 0x54, (byte) 0x2A,
      (byte) 0x38, (byte) 0x55, (byte) 0x02, (byte) 0xF2, (byte) 0x5D, (byte) 0xBF, (byte) 0x55, (byte) 0x29,
      (byte) 0x6C, (byte) 0x3A, (byte) 0x54, (byte) 0x5E, (byte) 0x38, (byte) 0x72, (byte) 0x76, (byte) 0x0A,
      (byte) 0xB7, (byte) 0x36, (byte) 0x17, (byte) 0xDE, (byte) 0x4A, (byte) 0x96, (byte) 0x26, (byte) 0x2C,
      (byte) 0x6F, (byte) 0x5D, (byte) 0x9E, (byte) 0x98, (byte) 0xBF, (byte) 0x92, (byte) 0x92, (byte) 0xDC,
      (byte) 0x29, (byte) 0xF8, (byte) 0xF4, (byte) 0x1D, (byte) 0xBD, (byte) 0x28, (byte) 0x9A, (byte) 0x14,
      (byte) 0x7C, (byte) 0xE9, (byte) 0xDA, (byte) 0x31, (byte) 0x13, (byte) 0xB5, (byte) 0xF0, (byte) 0xB8,
      (byte) 0xC0, (byte) 0x0A, (byte) 0x60, (byte) 0xB1, (byte) 0xCE, (byte) 0x1D, (byte) 0x7E, (byte) 0x81,
      (byte) 0x9D, (byte) 0x7A, (byte) 0x43, (byte) 0x1D, (byte) 0x7C, (byte) 0x90, (byte) 0xEA, (byte) 0x0E,
      (byte) 0x5F,
  };
  private static final byte[] P384_R = {
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
      (byte) 0xC7, (byte) 0x63, (byte) 0x4D, (byte) 0x81, (byte) 0xF4, (byte) 0x37, (byte) 0x2D, (byte) 0xDF,
      (byte) 0x58, (byte) 0x1A, (byte) 0x0D, (byte) 0xB2, (byte) 0x48, (byte) 0xB0, (byte) 0xA7, (byte) 0x7A,
      (byte) 0xEC, (byte) 0xEC, (byte) 0x19, (byte) 0x6A, (byte) 0xCC, (byte) 0xC5, (byte) 0x29, (byte) 0x73,
  };

  /** Sets P-256's domain parameters on {@code key} (a public or private EC key). */
  public static void setP256(ECKey key) {
    setAll(key, P256_P, P256_A, P256_B, P256_G, P256_R);
  }

  /** Sets P-384's domain parameters on {@code key}. */
  public static void setP384(ECKey key) {
    setAll(key, P384_P, P384_A, P384_B, P384_G, P384_R);
  }

  /**
   * Sets the curve that matches the key's size (256 or 384 bits); any other size is
   * CryptoException ILLEGAL_VALUE.
   */
  public static void set(ECKey key, short bits) {
    if (bits == KeyBuilder.LENGTH_EC_FP_256) {
      setP256(key);
    } else if (bits == KeyBuilder.LENGTH_EC_FP_384) {
      setP384(key);
    } else {
      CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
    }
  }

  /**
   * The DER content of the named curve's OID for a field of {@code bits} (256 or 384), or
   * null for any other size.
   */
  public static byte[] oid(short bits) {
    if (bits == KeyBuilder.LENGTH_EC_FP_256) {
      return P256_OID;
    }
    if (bits == KeyBuilder.LENGTH_EC_FP_384) {
      return P384_OID;
    }
    return null;
  }

  /** Field size in bytes for {@code bits} (32 or 48). */
  public static short fieldBytes(short bits) {
    return (short) ((short) (bits + 7) / 8);
  }

  private static void setAll(ECKey key, byte[] p, byte[] a, byte[] b, byte[] g, byte[] r) {
    key.setFieldFP(p, (short) 0, (short) p.length);
    key.setA(a, (short) 0, (short) a.length);
    key.setB(b, (short) 0, (short) b.length);
    key.setG(g, (short) 0, (short) g.length);
    key.setR(r, (short) 0, (short) r.length);
    key.setK((short) 1);
  }
}
