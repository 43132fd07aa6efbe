package org.subsim.applet;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.security.CryptoException;
import javacard.security.ECPublicKey;
import javacard.security.KeyBuilder;
import javacard.security.PrivateKey;
import javacard.security.PublicKey;
import javacard.security.RSAPublicKey;
import javacard.security.RandomData;
import javacard.security.Signature;

/**
 * ATTEST's certificate (Yubico's PIV attestation, as apdu-sim/src/attestation.rs makes it):
 * an X.509 v3 certificate (RFC 5280) for a slot's public key, issued by the F9 key under the
 * subject name and with the validity of the F9 certificate, signed with the F9 key.
 *
 * <pre>
 * TBSCertificate:
 *   version v3, serialNumber 16 random bytes (first byte 01xxxxxx: positive, 16 bytes long),
 *   signature sha256WithRSAEncryption (NULL parameters) | ecdsa-with-SHA256 (P-256 F9 key)
 *             | ecdsa-with-SHA384 (P-384 F9 key),
 *   issuer    = the F9 certificate's subject (its bytes copied),
 *   validity  = the F9 certificate's validity (its bytes copied),
 *   subject   CN=subsim PIV Attestation &lt;slot in two lower-case hex digits&gt; (UTF8String),
 *   subjectPublicKeyInfo rsaEncryption (NULL) | id-ecPublicKey with the named curve,
 *   extensions (none critical), in this order:
 *     1.3.6.1.4.1.41482.3.3 firmware version (the 3 bytes raw)
 *     1.3.6.1.4.1.41482.3.7 the card's serial (a DER INTEGER)
 *     1.3.6.1.4.1.41482.3.8 PIN policy, touch policy (2 bytes raw)
 *     1.3.6.1.4.1.41482.3.9 form factor (1 byte raw)
 * </pre>
 *
 * The TBSCertificate is byte-identical to the model's for the same serial number; with an RSA
 * F9 key (PKCS#1 v1.5 is deterministic) the whole certificate is. ECDSA signatures differ (the
 * model signs per RFC 6979, the card with its own random k), and verify alike.
 *
 * <p>Allocates at construction only: a {@link Der} writer (6 levels, 12 bytes of transient
 * RAM) and the Signature objects the platform has.
 */
public final class Attestation {
  // DER contents of the OIDs (X.690 8.19).
  private static final byte[] OID_YUBICO_FIRMWARE = {
      (byte) 0x2B, (byte) 0x06, (byte) 0x01, (byte) 0x04, (byte) 0x01, (byte) 0x82, (byte) 0xC4, (byte) 0x0A,
      (byte) 0x03, (byte) 0x03,
  };
  private static final byte[] OID_YUBICO_SERIAL = {
      (byte) 0x2B, (byte) 0x06, (byte) 0x01, (byte) 0x04, (byte) 0x01, (byte) 0x82, (byte) 0xC4, (byte) 0x0A,
      (byte) 0x03, (byte) 0x07,
  };
  private static final byte[] OID_YUBICO_POLICY = {
      (byte) 0x2B, (byte) 0x06, (byte) 0x01, (byte) 0x04, (byte) 0x01, (byte) 0x82, (byte) 0xC4, (byte) 0x0A,
      (byte) 0x03, (byte) 0x08,
  };
  private static final byte[] OID_YUBICO_FORM_FACTOR = {
      (byte) 0x2B, (byte) 0x06, (byte) 0x01, (byte) 0x04, (byte) 0x01, (byte) 0x82, (byte) 0xC4, (byte) 0x0A,
      (byte) 0x03, (byte) 0x09,
  };
  private static final byte[] OID_COMMON_NAME = {(byte) 0x55, (byte) 0x04, (byte) 0x03};
  private static final byte[] OID_RSA_ENCRYPTION = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0x86, (byte) 0xF7, (byte) 0x0D, (byte) 0x01, (byte) 0x01,
      (byte) 0x01,
  };
  private static final byte[] OID_SHA256_WITH_RSA = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0x86, (byte) 0xF7, (byte) 0x0D, (byte) 0x01, (byte) 0x01,
      (byte) 0x0B,
  };
  private static final byte[] OID_EC_PUBLIC_KEY = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0xCE, (byte) 0x3D, (byte) 0x02, (byte) 0x01,
  };
  private static final byte[] OID_ECDSA_SHA256 = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0xCE, (byte) 0x3D, (byte) 0x04, (byte) 0x03, (byte) 0x02,
  };
  private static final byte[] OID_ECDSA_SHA384 = {
      (byte) 0x2A, (byte) 0x86, (byte) 0x48, (byte) 0xCE, (byte) 0x3D, (byte) 0x04, (byte) 0x03, (byte) 0x03,
  };
  /** "subsim PIV Attestation " in ASCII; the slot's two hex digits follow. */
  private static final byte[] SUBJECT_PREFIX = {
      (byte) 's', (byte) 'u', (byte) 'b', (byte) 's', (byte) 'i', (byte) 'm', (byte) ' ', (byte) 'P',
      (byte) 'I', (byte) 'V', (byte) ' ', (byte) 'A', (byte) 't', (byte) 't', (byte) 'e', (byte) 's',
      (byte) 't', (byte) 'a', (byte) 't', (byte) 'i', (byte) 'o', (byte) 'n', (byte) ' ',
  };
  private static final byte[] HEX = {
      (byte) '0', (byte) '1', (byte) '2', (byte) '3', (byte) '4', (byte) '5', (byte) '6', (byte) '7',
      (byte) '8', (byte) '9', (byte) 'a', (byte) 'b', (byte) 'c', (byte) 'd', (byte) 'e', (byte) 'f',
  };

  private static final byte SEQUENCE = 0x30;
  private static final byte SET = 0x31;
  private static final byte INTEGER = 0x02;
  private static final byte BIT_STRING = 0x03;
  private static final byte OCTET_STRING = 0x04;
  private static final byte OID = 0x06;
  private static final byte UTF8_STRING = 0x0C;
  private static final byte EXPLICIT_0 = (byte) 0xA0;
  private static final byte EXPLICIT_3 = (byte) 0xA3;
  private static final short SERIAL_LEN = 16;

  private final RandomData rng;
  private final byte[] firmware;
  private final byte touchPolicy;
  private final byte formFactor;
  private final Der der;
  private final Signature rsaSha256;
  private final Signature ecdsaSha256;
  private final Signature ecdsaSha384;

  /**
   * A builder drawing certificate serials from {@code rng}; {@code firmware} (3 bytes, the
   * version GET VERSION answers), {@code touchPolicy} and {@code formFactor} go into every
   * certificate's extensions. The Signature objects the platform lacks stay null: attesting
   * with such an F9 key is 6A81. Call at install.
   */
  public Attestation(RandomData rng, byte[] firmware, byte touchPolicy, byte formFactor) {
    this.rng = rng;
    this.firmware = firmware;
    this.touchPolicy = touchPolicy;
    this.formFactor = formFactor;
    der = new Der((short) 6);
    rsaSha256 = signature(Signature.ALG_RSA_SHA_256_PKCS1);
    ecdsaSha256 = signature(Signature.ALG_ECDSA_SHA_256);
    ecdsaSha384 = signature(Signature.ALG_ECDSA_SHA_384);
  }

  private static Signature signature(byte alg) {
    try {
      return Signature.getInstance(alg, false);
    } catch (CryptoException e) {
      return null;
    }
  }

  /**
   * Writes the attestation certificate (DER) for {@code key} (an initialised RSAPublicKey, or
   * an ECPublicKey on P-256 or P-384) in slot {@code slotRef} to {@code out} from {@code outOff},
   * never at or past {@code outLimit}, and returns its length.
   *
   * @param pinPolicy the slot key's PIN policy code (Yubico's: 1 never, 2 once, 3 always)
   * @param cardSerial the card's serial, 4 bytes big-endian at {@code serialOff}
   * @param f9Key the attestation key: RSA (CRT or not) or EC P-256/P-384
   * @param f9Cert the F9 certificate's DER (the content of tag 70 of object 5FFF01); it must
   *     not overlap {@code out}'s region
   * @throws ISOException 6985 if the F9 certificate does not parse (as the model answers),
   *     6A81 if the platform lacks the signature algorithm or a key is of another kind,
   *     6A84 if the certificate does not fit before {@code outLimit}
   */
  public short attest(
      PublicKey key,
      byte slotRef,
      byte pinPolicy,
      byte[] cardSerial,
      short serialOff,
      PrivateKey f9Key,
      byte[] f9Cert,
      short f9Off,
      short f9Len,
      byte[] out,
      short outOff,
      short outLimit) {
    // Locate the F9 certificate's validity and subject: Certificate > TBSCertificate >
    // [0] version, serialNumber, signature, issuer, validity, subject.
    short limit = (short) (f9Off + f9Len);
    short certContent = content(f9Cert, f9Off, limit, SEQUENCE);
    short tbsEnd = Der.skip(f9Cert, certContent, limit);
    if (tbsEnd < 0) {
      malformed();
    }
    short p = content(f9Cert, certContent, tbsEnd, SEQUENCE);
    if (p >= tbsEnd) {
      malformed();
    }
    if (f9Cert[p] == EXPLICIT_0) {
      p = next(f9Cert, p, tbsEnd);
    }
    p = next(f9Cert, p, tbsEnd); // serialNumber
    p = next(f9Cert, p, tbsEnd); // signature
    p = next(f9Cert, p, tbsEnd); // issuer
    short validity = p;
    p = next(f9Cert, p, tbsEnd);
    short subject = p;
    short subjectEnd = next(f9Cert, p, tbsEnd);
    if (f9Cert[validity] != SEQUENCE || f9Cert[subject] != SEQUENCE) {
      malformed();
    }

    Signature signer = signerFor(f9Key);
    der.start(out, outOff, outLimit);
    der.begin(SEQUENCE); // Certificate
    short tbsOff = der.offset();
    der.begin(SEQUENCE); // TBSCertificate
    der.begin(EXPLICIT_0);
    der.writeByte(INTEGER);
    der.writeByte((byte) 1);
    der.writeByte((byte) 2); // v3
    der.end();
    der.writeByte(INTEGER);
    der.writeByte((byte) SERIAL_LEN);
    short serialAt = der.reserve(SERIAL_LEN);
    rng.nextBytes(out, serialAt, SERIAL_LEN);
    out[serialAt] = (byte) ((out[serialAt] & 0x7F) | 0x40); // positive, minimal, 16 bytes
    signatureAlgorithm(signer);
    der.raw(f9Cert, subject, (short) (subjectEnd - subject)); // issuer
    der.raw(f9Cert, validity, (short) (subject - validity));
    subjectName(slotRef);
    publicKeyInfo(key);
    der.begin(EXPLICIT_3);
    der.begin(SEQUENCE);
    extension(OID_YUBICO_FIRMWARE, firmware, (short) 0, (short) firmware.length);
    der.begin(SEQUENCE);
    der.tlv(OID, OID_YUBICO_SERIAL, (short) 0, (short) OID_YUBICO_SERIAL.length);
    der.begin(OCTET_STRING);
    der.unsignedInteger(cardSerial, serialOff, (short) 4);
    der.end();
    der.end();
    der.begin(SEQUENCE);
    der.tlv(OID, OID_YUBICO_POLICY, (short) 0, (short) OID_YUBICO_POLICY.length);
    der.begin(OCTET_STRING);
    der.writeByte(pinPolicy);
    der.writeByte(touchPolicy);
    der.end();
    der.end();
    der.begin(SEQUENCE);
    der.tlv(OID, OID_YUBICO_FORM_FACTOR, (short) 0, (short) OID_YUBICO_FORM_FACTOR.length);
    der.begin(OCTET_STRING);
    der.writeByte(formFactor);
    der.end();
    der.end();
    der.end();
    der.end(); // extensions
    der.end(); // TBSCertificate
    short tbsLen = (short) (der.offset() - tbsOff);

    signatureAlgorithm(signer);
    der.begin(BIT_STRING);
    der.writeByte((byte) 0); // no unused bits
    short room = signer == rsaSha256 ? (short) (f9Key.getSize() / 8) : (short) 110;
    short sigAt = der.reserve(room);
    signer.init(f9Key, Signature.MODE_SIGN);
    short sigLen = signer.sign(out, tbsOff, tbsLen, out, sigAt);
    der.unreserve((short) (room - sigLen));
    der.end();
    der.end(); // Certificate
    return (short) (der.offset() - outOff);
  }

  private Signature signerFor(PrivateKey k) {
    Signature s = null;
    byte t = k.getType();
    if (t == KeyBuilder.TYPE_RSA_CRT_PRIVATE || t == KeyBuilder.TYPE_RSA_PRIVATE) {
      s = rsaSha256;
    } else if (t == KeyBuilder.TYPE_EC_FP_PRIVATE) {
      short bits = k.getSize();
      s = bits == KeyBuilder.LENGTH_EC_FP_256 ? ecdsaSha256 : bits == KeyBuilder.LENGTH_EC_FP_384 ? ecdsaSha384 : null;
    }
    if (s == null) {
      ISOException.throwIt(ISO7816.SW_FUNC_NOT_SUPPORTED);
    }
    return s;
  }

  private void signatureAlgorithm(Signature s) {
    der.begin(SEQUENCE);
    if (s == rsaSha256) {
      der.tlv(OID, OID_SHA256_WITH_RSA, (short) 0, (short) OID_SHA256_WITH_RSA.length);
      der.nul();
    } else if (s == ecdsaSha256) {
      der.tlv(OID, OID_ECDSA_SHA256, (short) 0, (short) OID_ECDSA_SHA256.length);
    } else {
      der.tlv(OID, OID_ECDSA_SHA384, (short) 0, (short) OID_ECDSA_SHA384.length);
    }
    der.end();
  }

  private void subjectName(byte slotRef) {
    der.begin(SEQUENCE);
    der.begin(SET);
    der.begin(SEQUENCE);
    der.tlv(OID, OID_COMMON_NAME, (short) 0, (short) OID_COMMON_NAME.length);
    der.begin(UTF8_STRING);
    der.raw(SUBJECT_PREFIX, (short) 0, (short) SUBJECT_PREFIX.length);
    der.writeByte(HEX[(short) ((slotRef >> 4) & 0x0F)]);
    der.writeByte(HEX[(short) (slotRef & 0x0F)]);
    der.end();
    der.end();
    der.end();
    der.end();
  }

  private void publicKeyInfo(PublicKey key) {
    der.begin(SEQUENCE);
    der.begin(SEQUENCE);
    byte t = key.getType();
    if (t == KeyBuilder.TYPE_RSA_PUBLIC) {
      RSAPublicKey k = (RSAPublicKey) key;
      der.tlv(OID, OID_RSA_ENCRYPTION, (short) 0, (short) OID_RSA_ENCRYPTION.length);
      der.nul();
      der.end();
      der.begin(BIT_STRING);
      der.writeByte((byte) 0);
      der.begin(SEQUENCE);
      short size = (short) (k.getSize() / 8);
      der.begin(INTEGER);
      short at = der.reserve(size);
      der.unreserve((short) (size - k.getModulus(buffer(), at)));
      der.makeUnsigned(at);
      der.end();
      der.begin(INTEGER);
      at = der.reserve(size);
      der.unreserve((short) (size - k.getExponent(buffer(), at)));
      der.makeUnsigned(at);
      der.end();
      der.end();
      der.end();
    } else if (t == KeyBuilder.TYPE_EC_FP_PUBLIC) {
      ECPublicKey k = (ECPublicKey) key;
      byte[] curve = EcCurves.oid(k.getSize());
      if (curve == null) {
        ISOException.throwIt(ISO7816.SW_FUNC_NOT_SUPPORTED);
      }
      der.tlv(OID, OID_EC_PUBLIC_KEY, (short) 0, (short) OID_EC_PUBLIC_KEY.length);
      der.tlv(OID, curve, (short) 0, (short) curve.length);
      der.end();
      der.begin(BIT_STRING);
      der.writeByte((byte) 0);
      short size = (short) (2 * EcCurves.fieldBytes(k.getSize()) + 1);
      short at = der.reserve(size);
      der.unreserve((short) (size - k.getW(buffer(), at)));
      der.end();
    } else {
      ISOException.throwIt(ISO7816.SW_FUNC_NOT_SUPPORTED);
    }
    der.end();
  }

  private byte[] buffer() {
    return der.buffer();
  }

  private void extension(byte[] oid, byte[] value, short off, short len) {
    der.begin(SEQUENCE);
    der.tlv(OID, oid, (short) 0, (short) oid.length);
    der.tlv(OCTET_STRING, value, off, len);
    der.end();
  }

  /** The content offset of the TLV at {@code off}, which must have tag {@code tag}; else 6985. */
  private static short content(byte[] in, short off, short limit, byte tag) {
    short c = Der.contentOffset(in, off, limit);
    if (c < 0 || in[off] != tag) {
      malformed();
    }
    return c;
  }

  private static short next(byte[] in, short off, short limit) {
    short n = Der.skip(in, off, limit);
    if (n < 0 || n >= limit) {
      malformed();
    }
    return n;
  }

  private static void malformed() {
    ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
  }
}
