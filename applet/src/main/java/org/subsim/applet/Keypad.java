package org.subsim.applet;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.RandomData;

/**
 * The sub-SIM's random keypad (docs/applet-spec.md, GET KEYPAD and VERIFY KEYPAD): a layout
 * of the ten digits drawn from the card's secure random source, held in transient memory for
 * exactly one VERIFY KEYPAD, and the mapping of the positions the user tapped to the PIN block.
 *
 * <p>The layout is a uniform random permutation: Fisher-Yates, each index drawn with rejection
 * sampling (a random byte at or above the largest multiple of the range is drawn again), so no
 * layout is likelier than another (no modulo bias). Transient memory: 10 bytes of layout, 16
 * bytes of random scratch, one flag (CLEAR_ON_DESELECT: re-SELECT and reset drop the layout).
 */
public final class Keypad {
  /** Positions on the keypad, one per digit. */
  public static final short KEYS = 10;

  private static final short SCRATCH = 16;

  private final RandomData rng;
  private final byte minDigits;
  private final byte blockLen;
  private final byte[] layout;
  private final byte[] scratch;
  /** [0]: a layout is drawn and not used up; [1]: bytes of scratch already used. */
  private final short[] state;

  /**
   * A keypad drawing from {@code rng} (RandomData.ALG_SECURE_RANDOM or better); VERIFY KEYPAD
   * takes {@code minDigits} to {@code blockLen} positions and yields a PIN block of
   * {@code blockLen} bytes padded with FF (SP 800-73-4 part 2, 2.4.3). Allocates its
   * transient arrays: call at install.
   */
  public Keypad(RandomData rng, byte minDigits, byte blockLen) {
    this.rng = rng;
    this.minDigits = minDigits;
    this.blockLen = blockLen;
    layout = JCSystem.makeTransientByteArray(KEYS, JCSystem.CLEAR_ON_DESELECT);
    scratch = JCSystem.makeTransientByteArray(SCRATCH, JCSystem.CLEAR_ON_DESELECT);
    state = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_DESELECT);
  }

  /**
   * GET KEYPAD: draws a fresh layout (replacing any earlier one), copies its 10 bytes (the
   * digit shown at positions 0-9) to {@code out} at {@code off} and returns 10.
   */
  public short draw(byte[] out, short off) {
    state[0] = 0;
    state[1] = SCRATCH; // scratch empty: draw fresh bytes
    for (short i = 0; i < KEYS; i++) {
      layout[i] = (byte) i;
    }
    for (short i = (short) (KEYS - 1); i > 0; i--) {
      short j = uniform((short) (i + 1));
      byte t = layout[i];
      layout[i] = layout[j];
      layout[j] = t;
    }
    Util.arrayFillNonAtomic(scratch, (short) 0, SCRATCH, (byte) 0);
    state[0] = 1;
    Util.arrayCopyNonAtomic(layout, (short) 0, out, off, KEYS);
    return KEYS;
  }

  /** Whether a layout is waiting for VERIFY KEYPAD. */
  public boolean isDrawn() {
    return state[0] != 0;
  }

  /** Drops the layout (a VERIFY KEYPAD refused before its positions were looked at). */
  public void clear() {
    state[0] = 0;
    Util.arrayFillNonAtomic(layout, (short) 0, KEYS, (byte) 0);
  }

  /**
   * VERIFY KEYPAD: maps the tapped positions to ASCII digits through the current layout and
   * writes the PIN block (the digits, then FF up to the block length) to {@code block} at
   * {@code blockOff}. The layout is used up whatever the outcome. Throws ISOException 6985
   * (no layout) or 6A80 (not minDigits..blockLen positions, or a position above 9), in the
   * model's order (apdu-sim/src/applet/pin.rs, verify_keypad).
   */
  public void toPinBlock(byte[] positions, short off, short len, byte[] block, short blockOff) {
    boolean drawn = isDrawn();
    state[0] = 0;
    if (!drawn) {
      ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
    }
    if (len < minDigits || len > blockLen) {
      clear();
      ISOException.throwIt(ISO7816.SW_WRONG_DATA);
    }
    for (short i = 0; i < len; i++) {
      short p = (short) (positions[(short) (off + i)] & 0xFF);
      if (p >= KEYS) {
        clear();
        Util.arrayFillNonAtomic(block, blockOff, blockLen, (byte) 0xFF);
        ISOException.throwIt(ISO7816.SW_WRONG_DATA);
      }
      block[(short) (blockOff + i)] = (byte) ('0' + layout[p]);
    }
    Util.arrayFillNonAtomic(block, (short) (blockOff + len), (short) (blockLen - len), (byte) 0xFF);
    clear();
  }

  /** A uniform index in [0, n) for 1 <= n <= 256: a random byte, drawn again while >= the largest multiple of n. */
  private short uniform(short n) {
    short limit = (short) (256 - (short) (256 % n));
    short r;
    do {
      r = nextByte();
    } while (r >= limit);
    return (short) (r % n);
  }

  private short nextByte() {
    if (state[1] >= SCRATCH) {
      rng.nextBytes(scratch, (short) 0, SCRATCH);
      state[1] = 0;
    }
    short r = (short) (scratch[state[1]] & 0xFF);
    state[1]++;
    return r;
  }
}
