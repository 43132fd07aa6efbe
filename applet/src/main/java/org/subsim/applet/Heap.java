package org.subsim.applet;

import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * The applet's persistent store: one byte array allocated at install, holding every data
 * object and every slot's key record, each in one block named by an entry (offset, length).
 * Nothing is allocated after install.
 *
 * <p>How a value changes atomically: the new value is written into free space (outside any
 * transaction: free space means nothing to anyone), then the entry is switched inside a
 * JCSystem transaction, together with whatever else must change with it. A power cut
 * before the commit leaves the old entry and some garbage in free space. Blocks freed or
 * allocated during the current command are reserved until it ends, so a block the
 * transaction would give back on abort is never overwritten. Free space is the gaps
 * between blocks, found first-fit; there is no compaction (a fragmented heap answers 6A84).
 */
final class Heap {
  final byte[] mem;
  private final short[] off;
  private final short[] len;
  /** Regions held during one command: offset, length pairs. */
  private final short[] reserved;

  private static final short RESERVED = 6;

  Heap(short size, short entries) {
    mem = new byte[size];
    off = new short[entries];
    len = new short[entries];
    reserved = JCSystem.makeTransientShortArray((short) (2 * RESERVED), JCSystem.CLEAR_ON_DESELECT);
  }

  short entries() {
    return (short) off.length;
  }

  boolean present(short id) {
    return len[id] != 0;
  }

  short offset(short id) {
    return off[id];
  }

  short length(short id) {
    return len[id];
  }

  /** Bytes in use (blocks of every entry). */
  short used() {
    short sum = 0;
    for (short i = 0; i < (short) len.length; i++) {
      sum += len[i];
    }
    return sum;
  }

  /** Forgets the command's reservations (at the start of each command). */
  void endCommand() {
    for (short i = 0; i < (short) reserved.length; i++) {
      reserved[i] = 0;
    }
  }

  private boolean overlaps(short start, short n, short o, short l) {
    return l != 0 && start < (short) (o + l) && o < (short) (start + n);
  }

  private boolean free(short start, short n) {
    if (start < 0 || (short) (start + n) > (short) mem.length || (short) (start + n) < start) {
      return false;
    }
    for (short i = 0; i < (short) len.length; i++) {
      if (overlaps(start, n, off[i], len[i])) {
        return false;
      }
    }
    for (short i = 0; i < (short) reserved.length; i += 2) {
      if (overlaps(start, n, reserved[i], reserved[(short) (i + 1)])) {
        return false;
      }
    }
    return true;
  }

  private void reserve(short o, short l) {
    for (short i = 0; i < (short) reserved.length; i += 2) {
      if (reserved[(short) (i + 1)] == 0) {
        reserved[i] = o;
        reserved[(short) (i + 1)] = l;
        return;
      }
    }
    ISOException.throwIt(Spec.SW_NOT_ENOUGH_MEMORY);
  }

  /** A free block of n bytes, reserved for this command; 6A84 when none is left. */
  short allocate(short n) {
    if (free((short) 0, n)) {
      reserve((short) 0, n);
      return 0;
    }
    for (short i = 0; i < (short) len.length; i++) {
      if (len[i] != 0) {
        short start = (short) (off[i] + len[i]);
        if (free(start, n)) {
          reserve(start, n);
          return start;
        }
      }
    }
    for (short i = 0; i < (short) reserved.length; i += 2) {
      if (reserved[(short) (i + 1)] != 0) {
        short start = (short) (reserved[i] + reserved[(short) (i + 1)]);
        if (free(start, n)) {
          reserve(start, n);
          return start;
        }
      }
    }
    ISOException.throwIt(Spec.SW_NOT_ENOUGH_MEMORY);
    return -1;
  }

  /**
   * Points entry id at [o, o+l) (l = 0: empty), inside the caller's transaction. The old
   * block stays reserved until the command ends.
   */
  void set(short id, short o, short l) {
    if (len[id] != 0) {
      reserve(off[id], len[id]);
    }
    off[id] = o;
    len[id] = l;
  }

  /** Zeroes every block given back in this command (after the commit: key material). */
  void wipeFreed() {
    for (short i = 0; i < (short) reserved.length; i += 2) {
      short o = reserved[i];
      short l = reserved[(short) (i + 1)];
      if (l != 0 && stillFree(o, l)) {
        Util.arrayFillNonAtomic(mem, o, l, (byte) 0);
      }
    }
  }

  /** Empties entry id inside the caller's transaction, without reserving its block. */
  void clear(short id) {
    off[id] = 0;
    len[id] = 0;
  }

  /** Zeroes all free space (after TERMINATE or RESET committed). */
  void wipeAllFree() {
    short p = 0;
    short size = (short) mem.length;
    while (p < size) {
      // The entry covering p, if any: jump past it.
      short next = size;
      boolean covered = false;
      for (short i = 0; i < (short) len.length; i++) {
        if (len[i] == 0) {
          continue;
        }
        short o = off[i];
        short e = (short) (o + len[i]);
        if (o <= p && p < e) {
          p = e;
          covered = true;
          break;
        }
        if (o > p && o < next) {
          next = o;
        }
      }
      if (!covered) {
        Util.arrayFillNonAtomic(mem, p, (short) (next - p), (byte) 0);
        p = next;
      }
    }
  }

  private boolean stillFree(short start, short n) {
    for (short i = 0; i < (short) len.length; i++) {
      if (overlaps(start, n, off[i], len[i])) {
        return false;
      }
    }
    return true;
  }
}
