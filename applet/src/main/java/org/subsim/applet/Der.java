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
 * constructor; all arithmetic is on shorts. Lengths up to 32767 (a Java Card array's limit)
 * are written; the encoding itself (81 xx, 82 xx xx) covers 65535.
 *
 * <p>Tags are single bytes (every tag of an X.509 certificate is). Running past the end of
 * the buffer, or ending more than was begun, throws ISOException 6A84 (not enough memory):
 * the answer would not fit, nothing is half-written outside the caller's buffer.
 */
public final class Der {
  /** Bytes a {@link #begin} reserves for tag and length: tag, 82, two length bytes. */
  private static final short RESERVED = 4;

  private final short[] opened;
  private byte[] buf;
  private short pos;
  private short end;
  private short depth;

  /**
   * A writer for TLVs nested up to {@code maxDepth} deep. Its stack of open offsets is
   * transient (CLEAR_ON_DESELECT, 2 bytes per level).
   */
  public Der(short maxDepth) {
    opened = JCSystem.makeTransientShortArray(maxDepth, JCSystem.CLEAR_ON_DESELECT);
  }

  /** Starts writing into {@code buffer} at {@code off}; nothing is written at or past {@code limit}. */
  public void start(byte[] buffer, short off, short limit) {
    buf = buffer;
    pos = off;
    end = limit;
    depth = 0;
  }

  /** The offset where the next byte goes. */
  public short offset() {
    return pos;
  }

  /** The buffer being written (for key objects that write straight into it at a {@link #reserve}d offset). */
  public byte[] buffer() {
    return buf;
  }

  /** How many TLVs are open. */
  public short depth() {
    return depth;
  }

  /** Leaves {@code len} bytes for the caller to fill (e.g. Signature.sign's output) and returns their offset. */
  public short reserve(short len) {
    room(len);
    short at = pos;
    pos += len;
    return at;
  }

  /** Gives back the last {@code len} bytes written or reserved (after a shorter signature than reserved). */
  public void unreserve(short len) {
    if (len < 0 || (short) (pos - len) < (depth > 0 ? (short) (opened[(short) (depth - 1)] + RESERVED) : 0)) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    pos -= len;
  }

  /** Opens a TLV with tag {@code tag}; its content is what is written until the matching {@link #end}. */
  public void begin(byte tag) {
    if (depth >= (short) opened.length) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    room(RESERVED);
    opened[depth] = pos;
    depth++;
    buf[pos] = tag;
    pos += RESERVED;
  }

  /** Closes the innermost open TLV: its length in the fewest bytes, its content moved down to follow it. */
  public void end() {
    if (depth == 0) {
      ISOException.throwIt(ISO7816.SW_FILE_FULL);
    }
    depth--;
    short at = opened[depth];
    short content = (short) (at + RESERVED);
    short len = (short) (pos - content);
    short header = (short) (1 + lengthSize(len));
    writeLength((short) (at + 1), len);
    if (header != RESERVED) {
      Util.arrayCopyNonAtomic(buf, content, buf, (short) (at + header), len);
      pos = (short) (at + header + len);
    }
  }

  /** Writes one byte. */
  public void writeByte(byte b) {
    room((short) 1);
    buf[pos++] = b;
  }

  /** Writes bytes as they are (already DER, or the content of an open TLV). */
  public void raw(byte[] src, short off, short len) {
    room(len);
    pos = Util.arrayCopyNonAtomic(src, off, buf, pos, len);
  }

  /** Writes a primitive TLV with the given content. */
  public void tlv(byte tag, byte[] src, short off, short len) {
    room((short) (1 + lengthSize(len) + len));
    buf[pos++] = tag;
    pos = writeLength(pos, len);
    pos = Util.arrayCopyNonAtomic(src, off, buf, pos, len);
  }

  /** Writes NULL (05 00). */
  public void nul() {
    room((short) 2);
    buf[pos++] = 0x05;
    buf[pos++] = 0x00;
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
    if (len == 0 || (len == 1 && src[off] == 0)) {
      room((short) 3);
      buf[pos++] = 0x02;
      buf[pos++] = 0x01;
      buf[pos++] = 0x00;
      return;
    }
    boolean pad = (src[off] & 0x80) != 0;
    short contentLen = pad ? (short) (len + 1) : len;
    room((short) (1 + lengthSize(contentLen) + contentLen));
    buf[pos++] = 0x02;
    pos = writeLength(pos, contentLen);
    if (pad) {
      buf[pos++] = 0x00;
    }
    pos = Util.arrayCopyNonAtomic(src, off, buf, pos, len);
  }

  /**
   * Turns bytes already written at {@code at} (up to the current offset) into an unsigned
   * INTEGER's content in place: leading zeros dropped, a 00 inserted where the top bit is
   * set. For values a key object writes straight into the buffer (getModulus, getExponent)
   * after the caller opened an INTEGER with {@link #begin}. Needs one spare byte.
   */
  public void makeUnsigned(short at) {
    short len = (short) (pos - at);
    short skip = 0;
    while ((short) (len - skip) > 1 && buf[(short) (at + skip)] == 0) {
      skip++;
    }
    if (skip > 0) {
      Util.arrayCopyNonAtomic(buf, (short) (at + skip), buf, at, (short) (len - skip));
      pos -= skip;
      len -= skip;
    }
    if (len == 0) {
      writeByte((byte) 0);
    } else if ((buf[at] & 0x80) != 0) {
      room((short) 1);
      Util.arrayCopyNonAtomic(buf, at, buf, (short) (at + 1), len);
      buf[at] = 0;
      pos++;
    }
  }

  /** Bytes the length field of a TLV of content length {@code len} takes. */
  public static short lengthSize(short len) {
    if (len < 0) {
      return 3; // 32768-65535 seen as unsigned
    }
    return len < 0x80 ? (short) 1 : len < 0x100 ? (short) 2 : (short) 3;
  }

  private short writeLength(short at, short len) {
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
    if (len < 0 || (short) (end - pos) < len) {
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
