package org.subsim.applet;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * A DER writer over a caller's byte buffer (ITU-T X.690, 10.1: definite lengths in the
 * fewest bytes), and the few reading helpers a certificate builder needs.
 *
 * <p>Writing: {@link #start} sets the buffer and its bounds; {@link #begin} opens a TLV whose
 * length is not known yet (three length bytes are reserved), {@link #end} closes the innermost
 * one, writes its length in the fewest bytes and moves the content down over the unused
 * reservation. Nesting depth is fixed at construction. Nothing is allocated after the
 * constructor, and writing touches only transient memory (besides the caller's buffer); all
 * arithmetic is on shorts. Lengths up to 32767 (a Java Card array's limit)
 * are written; the encoding itself (81 xx, 82 xx xx) covers 65535.
 *
 * <p>Tags are single bytes (every tag of an X.509 certificate is). Running past the end of
 * the buffer, or ending more than was begun, throws ISOException 6A84 (not enough memory):
 * the answer would not fit, nothing is half-written outside the caller's buffer.
 */
public final class Der {
  /** Bytes a {@link #begin} reserves for tag and length: tag, 82, two length bytes. */
  private static final short RESERVED = 4;

  // The writer's state lives in transient memory: a card's instance fields are persistent, and
  // a write per byte into EEPROM would be slow and wear it out.
  private static final short POS = 0;
  private static final short END = 1;
  private static final short DEPTH = 2;
  private static final short STACK = 3;

  /** POS, END, DEPTH, then the offsets of the open TLVs (CLEAR_ON_DESELECT). */
  private final short[] st;
  /** The buffer being written (CLEAR_ON_DESELECT). */
  private final Object[] target;

  /**
   * A writer for TLVs nested up to {@code maxDepth} deep. Its state is transient
   * (CLEAR_ON_DESELECT): 2 bytes per level plus 6, and one reference.
   */
  public Der(short maxDepth) {
    st = JCSystem.makeTransientShortArray((short) (STACK + maxDepth), JCSystem.CLEAR_ON_DESELECT);
    target = JCSystem.makeTransientObjectArray((short) 1, JCSystem.CLEAR_ON_DESELECT);
  }

  /** Starts writing into {@code buffer} at {@code off}; nothing is written at or past {@code limit}. */
  public void start(byte[] buffer, short off, short limit) {
    target[0] = buffer;
    st[POS] = off;
    st[END] = limit;
    st[DEPTH] = 0;
  }

  /** The offset where the next byte goes. */
  public short offset() {
    return st[POS];
  }

  /** The buffer being written (for key objects that write straight into it at a {@link #reserve}d offset). */
  public byte[] buffer() {
    return (byte[]) target[0];
  }

  /** How many TLVs are open. */
  public short depth() {
    return st[DEPTH];
  }

  /** Leaves {@code len} bytes for the caller to fill (e.g. Signature.sign's output) and returns their offset. */
  public short reserve(short len) {
    room(len);
    short at = st[POS];
    st[POS] = (short) (at + len);
    return at;
  }

  /** Gives back the last {@code len} bytes written or reserved (after a shorter signature than reserved). */
  public void unreserve(short len) {
    short depth = st[DEPTH];
    short floor = depth > 0 ? (short) (st[(short) (STACK + depth - 1)] + RESERVED) : 0;
    if (len < 0 || (short) (st[POS] - len) < floor) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    st[POS] -= len;
  }

  /** Opens a TLV with tag {@code tag}; its content is what is written until the matching {@link #end}. */
  public void begin(byte tag) {
    short depth = st[DEPTH];
    if ((short) (STACK + depth) >= (short) st.length) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    room(RESERVED);
    short pos = st[POS];
    st[(short) (STACK + depth)] = pos;
    st[DEPTH] = (short) (depth + 1);
    buffer()[pos] = tag;
    st[POS] = (short) (pos + RESERVED);
  }

  /** Closes the innermost open TLV: its length in the fewest bytes, its content moved down to follow it. */
  public void end() {
    short depth = st[DEPTH];
    if (depth == 0) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    depth--;
    st[DEPTH] = depth;
    byte[] buf = buffer();
    short at = st[(short) (STACK + depth)];
    short content = (short) (at + RESERVED);
    short len = (short) (st[POS] - content);
    short header = (short) (1 + lengthSize(len));
    writeLength(buf, (short) (at + 1), len);
    if (header != RESERVED) {
      Util.arrayCopyNonAtomic(buf, content, buf, (short) (at + header), len);
      st[POS] = (short) (at + header + len);
    }
  }

  /** Writes one byte. */
  public void writeByte(byte b) {
    room((short) 1);
    short pos = st[POS];
    buffer()[pos] = b;
    st[POS] = (short) (pos + 1);
  }

  /** Writes bytes as they are (already DER, or the content of an open TLV). */
  public void raw(byte[] src, short off, short len) {
    room(len);
    st[POS] = Util.arrayCopyNonAtomic(src, off, buffer(), st[POS], len);
  }

  /** Writes a primitive TLV with the given content. */
  public void tlv(byte tag, byte[] src, short off, short len) {
    room((short) (1 + lengthSize(len) + len));
    byte[] buf = buffer();
    short pos = st[POS];
    buf[pos++] = tag;
    pos = writeLength(buf, pos, len);
    st[POS] = Util.arrayCopyNonAtomic(src, off, buf, pos, len);
  }

  /** Writes NULL (05 00). */
  public void nul() {
    room((short) 2);
    short pos = st[POS];
    Util.setShort(buffer(), pos, (short) 0x0500);
    st[POS] = (short) (pos + 2);
  }

  /**
   * Writes an INTEGER for the unsigned big-endian magnitude in {@code src}: leading zero bytes
   * dropped, one 00 put back where the top bit is set (X.690 8.3.2). An all-zero or empty
   * magnitude is the INTEGER 0.
   */
  public void unsignedInteger(byte[] src, short off, short len) {
    while (len > 1 && src[off] == 0) {
      off++;
      len--;
    }
    byte[] buf = buffer();
    if (len == 0 || (len == 1 && src[off] == 0)) {
      room((short) 3);
      short pos = st[POS];
      buf[pos] = 0x02;
      buf[(short) (pos + 1)] = 0x01;
      buf[(short) (pos + 2)] = 0x00;
      st[POS] = (short) (pos + 3);
      return;
    }
    boolean pad = (src[off] & 0x80) != 0;
    short contentLen = pad ? (short) (len + 1) : len;
    room((short) (1 + lengthSize(contentLen) + contentLen));
    short pos = st[POS];
    buf[pos++] = 0x02;
    pos = writeLength(buf, pos, contentLen);
    if (pad) {
      buf[pos++] = 0x00;
    }
    st[POS] = Util.arrayCopyNonAtomic(src, off, buf, pos, len);
  }

  /**
   * Turns bytes already written at {@code at} (up to the current offset) into an unsigned
   * INTEGER's content in place: leading zeros dropped, a 00 inserted where the top bit is
   * set. For values a key object writes straight into the buffer (getModulus, getExponent)
   * after the caller opened an INTEGER with {@link #begin}. Needs one spare byte.
   */
  public void makeUnsigned(short at) {
    byte[] buf = buffer();
    short len = (short) (st[POS] - at);
    short skip = 0;
    while ((short) (len - skip) > 1 && buf[(short) (at + skip)] == 0) {
      skip++;
    }
    if (skip > 0) {
      Util.arrayCopyNonAtomic(buf, (short) (at + skip), buf, at, (short) (len - skip));
      st[POS] -= skip;
      len -= skip;
    }
    if (len == 0) {
      writeByte((byte) 0);
    } else if ((buf[at] & 0x80) != 0) {
      room((short) 1);
      Util.arrayCopyNonAtomic(buf, at, buf, (short) (at + 1), len);
      buf[at] = 0;
      st[POS]++;
    }
  }

  /** Bytes the length field of a TLV of content length {@code len} takes. */
  public static short lengthSize(short len) {
    if (len < 0) {
      return 3; // 32768-65535 seen as unsigned
    }
    return len < 0x80 ? (short) 1 : len < 0x100 ? (short) 2 : (short) 3;
  }

  private static short writeLength(byte[] buf, short at, short len) {
    short n = lengthSize(len);
    if (n == 1) {
      buf[at++] = (byte) len;
    } else if (n == 2) {
      buf[at++] = (byte) 0x81;
      buf[at++] = (byte) len;
    } else {
      buf[at++] = (byte) 0x82;
      buf[at++] = (byte) (len >> 8);
      buf[at++] = (byte) len;
    }
    return at;
  }

  private void room(short len) {
    if (len < 0 || (short) (st[END] - st[POS]) < len) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
  }

  // ---- reading ------------------------------------------------------------------------

  /**
   * The offset of the content of the TLV at {@code off}, or -1 if the header is malformed,
   * not minimal DER in its length form, or runs past {@code limit}. Single-byte tags only.
   */
  public static short contentOffset(byte[] in, short off, short limit) {
    if (off < 0 || (short) (limit - off) < 2 || (in[off] & 0x1F) == 0x1F) {
      return -1;
    }
    short b = (short) (in[(short) (off + 1)] & 0xFF);
    if (b < 0x80) {
      return (short) (off + 2);
    }
    if (b == 0x81 && (short) (limit - off) >= 3 && (in[(short) (off + 2)] & 0xFF) >= 0x80) {
      return (short) (off + 3);
    }
    if (b == 0x82 && (short) (limit - off) >= 4 && in[(short) (off + 2)] != 0 && in[(short) (off + 2)] > 0) {
      return (short) (off + 4);
    }
    return -1; // indefinite, non-minimal, over 32767, or truncated
  }

  /** The content length of the TLV at {@code off} (whose header {@link #contentOffset} accepted). */
  public static short contentLength(byte[] in, short off) {
    short b = (short) (in[(short) (off + 1)] & 0xFF);
    if (b < 0x80) {
      return b;
    }
    if (b == 0x81) {
      return (short) (in[(short) (off + 2)] & 0xFF);
    }
    return Util.getShort(in, (short) (off + 2));
  }

  /**
   * The offset just past the TLV at {@code off}, or -1 if it is malformed or does not end at
   * or before {@code limit}.
   */
  public static short skip(byte[] in, short off, short limit) {
    short c = contentOffset(in, off, limit);
    if (c < 0) {
      return -1;
    }
    short len = contentLength(in, off);
    if ((short) (limit - c) < len) {
      return -1;
    }
    return (short) (c + len);
  }
}
