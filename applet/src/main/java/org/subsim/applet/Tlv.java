package org.subsim.applet;

/**
 * Reading the TLV the commands carry, as applet-spec reads it: BER-TLV (ISO 7816-4 5.2;
 * tags of 1 to 3 bytes, definite lengths) for GET/PUT DATA and GENERAL AUTHENTICATE, and
 * the "flat" TLV of PIV containers (one-byte tags, lengths 00-7F, 81 xx, 82 xx xx) for
 * GENERATE, IMPORT KEY and certificate objects. Static, no state, no allocation: each
 * reader returns offsets, or -1 when the bytes are malformed (the caller answers 6A80).
 *
 * <p>A parsed item is described by {@link #tag}, {@link #tagLen}, {@link #valOff}, {@link
 * #valLen} of the last successful {@link #ber} or {@link #flat} call, kept in a short[] the
 * applet allocates once (transient).
 */
final class Tlv {
  private Tlv() {}

  /** Result slots of the last read, in {@code r}. */
  static final short TAG = 0; // first two tag bytes (one-byte tags: in the low byte)

  static final short TAG_LEN = 1;
  static final short VAL_OFF = 2;
  static final short VAL_LEN = 3;
  static final short NEXT = 4;
  static final short THIRD = 5; // third tag byte of a 3-byte tag
  static final short SIZE = 6;

  /** Reads the length at {@code off}; writes VAL_OFF and VAL_LEN; false if malformed. */
  private static boolean length(byte[] b, short off, short end, short[] r, boolean ber) {
    if (off >= end) {
      return false;
    }
    short first = (short) (b[off] & 0xFF);
    short len;
    if (first < 0x80) {
      len = first;
      off++;
    } else {
      // As iso7816-tlv reads it: 80 + n, then n (at most 4) big-endian bytes; 80 itself is
      // a length of zero. Anything longer than a short is longer than any command.
      // The flat TLV of PIV containers (applet-spec's tlv::flat) takes only 81 and 82.
      short n = (short) (first & 0x7F);
      if (!ber && n != 1 && n != 2) {
        return false;
      }
      if (n > 4 || (short) (off + 1 + n) > end) {
        return false;
      }
      off++;
      len = 0;
      for (short i = 0; i < n; i++) {
        if (len > 0x7F) {
          return false;
        }
        len = (short) ((short) (len << 8) | (short) (b[off] & 0xFF));
        off++;
      }
      if (len < 0) {
        return false;
      }
    }
    if (len > (short) (end - off)) {
      return false;
    }
    r[VAL_OFF] = off;
    r[VAL_LEN] = len;
    r[NEXT] = (short) (off + len);
    return true;
  }

  /** One BER-TLV at {@code off} (before {@code end}); false if malformed. */
  static boolean ber(byte[] b, short off, short end, short[] r) {
    if (off >= end) {
      return false;
    }
    byte first = b[off];
    short n = 1;
    r[THIRD] = 0;
    if ((first & 0x1F) == 0x1F) {
      // Subsequent tag bytes: bit 8 set on all but the last; at most 3 bytes in all.
      if ((short) (off + 1) >= end) {
        return false;
      }
      byte second = b[(short) (off + 1)];
      n = 2;
      if ((second & 0x80) != 0) {
        if ((short) (off + 2) >= end || (b[(short) (off + 2)] & 0x80) != 0) {
          return false;
        }
        r[THIRD] = (short) (b[(short) (off + 2)] & 0xFF);
        n = 3;
      }
      r[TAG] = (short) (((first & 0xFF) << 8) | (second & 0xFF));
    } else {
      r[TAG] = (short) (first & 0xFF);
    }
    r[TAG_LEN] = n;
    return length(b, (short) (off + n), end, r, true);
  }

  /** One flat (PIV container) TLV at {@code off}: a one-byte tag; false if malformed. */
  static boolean flat(byte[] b, short off, short end, short[] r) {
    if (off >= end) {
      return false;
    }
    r[TAG] = (short) (b[off] & 0xFF);
    r[TAG_LEN] = 1;
    r[THIRD] = 0;
    return length(b, (short) (off + 1), end, r, false);
  }

  /** Whether [off, end) is a sequence of flat TLVs, every byte used. */
  static boolean flatSequence(byte[] b, short off, short end, short[] r) {
    while (off < end) {
      if (!flat(b, off, end, r)) {
        return false;
      }
      off = r[NEXT];
    }
    return true;
  }

  /**
   * Finds the first flat item with {@code tag} in [off, end) (which must be a well-formed
   * sequence); leaves its value in r and answers true, or false when absent.
   */
  static boolean flatFind(byte[] b, short off, short end, byte tag, short[] r) {
    while (off < end) {
      if (!flat(b, off, end, r)) {
        return false;
      }
      if (b[off] == tag) {
        return true;
      }
      off = r[NEXT];
    }
    return false;
  }

  /**
   * Whether b[off, off+len) is a complete BER tag of 1 to 3 bytes (applet-spec's
   * ObjectTag::from_bytes).
   */
  static boolean completeTag(byte[] b, short off, short len) {
    if (len < 1 || len > 3) {
      return false;
    }
    byte first = b[off];
    if (len == 1) {
      return (first & 0x1F) != 0x1F;
    }
    if ((first & 0x1F) != 0x1F) {
      return false;
    }
    short last = (short) (off + len - 1);
    if ((b[last] & 0x80) != 0) {
      return false;
    }
    for (short i = (short) (off + 1); i < last; i++) {
      if ((b[i] & 0x80) == 0) {
        return false;
      }
    }
    return true;
  }

  /** Bytes a BER length of {@code len} takes. */
  static short lenSize(short len) {
    return len < 0x80 ? (short) 1 : (len < 0x100 ? (short) 2 : (short) 3);
  }

  /** Writes a minimal BER length at off; returns the offset after it. */
  static short putLen(byte[] b, short off, short len) {
    if (len < 0x80) {
      b[off++] = (byte) len;
    } else if (len < 0x100) {
      b[off++] = (byte) 0x81;
      b[off++] = (byte) len;
    } else {
      b[off++] = (byte) 0x82;
      b[off++] = (byte) (len >> 8);
      b[off++] = (byte) len;
    }
    return off;
  }

  /** Writes a one-byte tag and a length; returns the offset of the value. */
  static short header(byte[] b, short off, byte tag, short len) {
    b[off++] = tag;
    return putLen(b, off, len);
  }
}
