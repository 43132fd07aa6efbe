package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.security.RandomData;
import org.junit.jupiter.api.Test;

/** The keypad's layouts (uniform permutations) and its mapping of taps to the PIN block. */
class KeypadTest {
  private static final byte MIN = 6;
  private static final byte BLOCK = 8;

  /** A reproducible byte source, so the statistics below give the same figure on every run. */
  static final class SeededRandom extends TestRandom {
    private final Random r;

    SeededRandom(long seed) {
      r = new Random(seed);
    }

    @Override
    public short nextBytes(byte[] buf, short off, short len) {
      for (int i = 0; i < len; i++) {
        buf[off + i] = (byte) r.nextInt(256);
      }
      return (short) (off + len);
    }
  }

  /** The same Fisher-Yates, but each index taken modulo the range: what Keypad must not do. */
  static void biasedShuffle(RandomData rng, byte[] layout) {
    byte[] one = new byte[1];
    for (int i = 0; i < 10; i++) {
      layout[i] = (byte) i;
    }
    for (int i = 9; i > 0; i--) {
      rng.nextBytes(one, (short) 0, (short) 1);
      int j = (one[0] & 0xFF) % (i + 1);
      byte t = layout[i];
      layout[i] = layout[j];
      layout[j] = t;
    }
  }

  /** Pearson's chi-square of the position-by-digit counts against 1/10 each (81 degrees of freedom). */
  static double chiSquare(long[][] counts, int layouts) {
    double expected = layouts / 10.0;
    double x = 0;
    for (long[] row : counts) {
      for (long c : row) {
        x += (c - expected) * (c - expected) / expected;
      }
    }
    return x;
  }

  // Layouts per run, and the bound: the chi-square (81 df) quantile at p = 1e-6 (Wilson-Hilferty:
  // 156.8). For the modulo-biased shuffle the exact cell probabilities give a noncentrality of
  // 0.001004 per layout, so 500 000 layouts put its expected statistic at about 583.
  private static final int LAYOUTS = 500_000;
  private static final double BOUND = 156.8;

  static void assertPermutation(byte[] layout, int off) {
    boolean[] seen = new boolean[10];
    for (int p = 0; p < 10; p++) {
      int d = layout[off + p];
      assertTrue(d >= 0 && d < 10, "digit " + d);
      assertFalse(seen[d], "digit " + d + " twice");
      seen[d] = true;
    }
  }

  @Test
  void layouts_are_uniform_and_a_modulo_biased_shuffle_fails_the_same_bound() {
    Keypad keypad = new Keypad(new SeededRandom(17), MIN, BLOCK);
    long[][] counts = new long[10][10];
    byte[] out = new byte[12];
    for (int n = 0; n < LAYOUTS; n++) {
      assertEquals(10, keypad.draw(out, (short) 2));
      for (int p = 0; p < 10; p++) {
        counts[p][out[2 + p]]++;
      }
    }
    assertPermutationCounts(counts);
    double fair = chiSquare(counts, LAYOUTS);

    RandomData rng = new SeededRandom(17);
    long[][] biasedCounts = new long[10][10];
    byte[] layout = new byte[10];
    for (int n = 0; n < LAYOUTS; n++) {
      biasedShuffle(rng, layout);
      for (int p = 0; p < 10; p++) {
        biasedCounts[p][layout[p]]++;
      }
    }
    double biased = chiSquare(biasedCounts, LAYOUTS);
    System.out.printf("keypad uniformity: %d layouts, chi-square (81 df) Keypad %.1f, modulo-biased %.1f, bound %.1f%n",
        LAYOUTS, fair, biased, BOUND);
    assertTrue(fair < BOUND, "Keypad's layouts are not uniform: chi-square " + fair);
    assertTrue(biased > BOUND, "the bound does not catch a modulo-biased shuffle: chi-square " + biased);
  }

  static void assertPermutationCounts(long[][] counts) {
    for (int d = 0; d < 10; d++) {
      long column = 0;
      for (int p = 0; p < 10; p++) {
        column += counts[p][d];
      }
      assertEquals(LAYOUTS, column, "digit " + d + " not once per layout");
    }
  }

  @Test
  void the_cards_random_source_draws_fresh_permutations() {
    Keypad keypad = new Keypad(RandomData.getInstance(RandomData.ALG_SECURE_RANDOM), MIN, BLOCK);
    Set<String> seen = new HashSet<>();
    byte[] out = new byte[10];
    for (int n = 0; n < 200; n++) {
      keypad.draw(out, (short) 0);
      assertPermutation(out, 0);
      seen.add(java.util.Arrays.toString(out));
    }
    assertTrue(seen.size() > 195, "200 draws gave only " + seen.size() + " layouts");
  }

  @Test
  void taps_map_through_the_layout_to_a_padded_pin_block() {
    Keypad keypad = new Keypad(new SeededRandom(3), MIN, BLOCK);
    byte[] layout = new byte[10];
    keypad.draw(layout, (short) 0);
    assertTrue(keypad.isDrawn());
    // Tap where 1, 2, 3, 4, 5, 6 are shown.
    byte[] taps = new byte[9];
    for (int d = 1; d <= 6; d++) {
      for (byte p = 0; p < 10; p++) {
        if (layout[p] == d) {
          taps[2 + d] = p;
        }
      }
    }
    byte[] block = new byte[10];
    keypad.toPinBlock(taps, (short) 3, (short) 6, block, (short) 1);
    assertArrayEquals(new byte[] {0, '1', '2', '3', '4', '5', '6', (byte) 0xFF, (byte) 0xFF, 0}, block);
    assertFalse(keypad.isDrawn(), "one layout per verification");
    ISOException e = assertThrows(ISOException.class, () -> keypad.toPinBlock(taps, (short) 3, (short) 6, block, (short) 1));
    assertEquals(ISO7816.SW_CONDITIONS_NOT_SATISFIED, e.getReason());
  }

  @Test
  void eight_taps_fill_the_block() {
    Keypad keypad = new Keypad(new SeededRandom(4), MIN, BLOCK);
    byte[] layout = new byte[10];
    keypad.draw(layout, (short) 0);
    byte[] taps = {9, 8, 7, 6, 5, 4, 3, 2};
    byte[] block = new byte[8];
    keypad.toPinBlock(taps, (short) 0, (short) 8, block, (short) 0);
    for (int i = 0; i < 8; i++) {
      assertEquals('0' + layout[taps[i]], block[i]);
    }
  }

  @Test
  void bad_taps_are_6a80_and_use_the_layout_up() {
    Keypad keypad = new Keypad(new SeededRandom(5), MIN, BLOCK);
    byte[][] bad = {{0, 1, 2, 3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8}, {0, 1, 2, 3, 4, 10}, {0, 1, 2, 3, 4, (byte) 0xFF}};
    byte[] out = new byte[10];
    for (byte[] taps : bad) {
      keypad.draw(out, (short) 0);
      byte[] block = new byte[8];
      ISOException e = assertThrows(ISOException.class, () -> keypad.toPinBlock(taps, (short) 0, (short) taps.length, block, (short) 0));
      assertEquals(ISO7816.SW_WRONG_DATA, e.getReason());
      assertFalse(keypad.isDrawn());
      for (byte b : block) {
        assertNotEquals((byte) '0', (byte) (b & 0xF0), "no digit of a refused entry is left in the block");
      }
    }
  }

  @Test
  void clear_drops_the_layout() {
    Keypad keypad = new Keypad(new SeededRandom(6), MIN, BLOCK);
    keypad.draw(new byte[10], (short) 0);
    keypad.clear();
    assertFalse(keypad.isDrawn());
    ISOException e = assertThrows(ISOException.class, () -> keypad.toPinBlock(new byte[6], (short) 0, (short) 6, new byte[8], (short) 0));
    assertEquals(ISO7816.SW_CONDITIONS_NOT_SATISFIED, e.getReason());
  }
}
