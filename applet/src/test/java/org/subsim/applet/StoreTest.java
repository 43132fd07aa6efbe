package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.*;
import static org.subsim.applet.Card.hex;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The heap store under random writes, rewrites and deletes: every object reads back as last written. */
class StoreTest {
  @Test
  void random_object_writes_read_back() throws Exception {
    Card card = new Card(hex("4000")); // a 16 KB heap
    card.select();
    assertEquals(0x9000, card.authenticate().sw);
    Random r = new Random(5);
    Map<Integer, byte[]> model = new HashMap<>();
    int full = 0;
    for (int step = 0; step < 400; step++) {
      int tag = 0x5FC101 + r.nextInt(0x23);
      if (tag == 0x5FC102 || tag == 0x5FC107 || tag == 0x5FC10C) {
        continue; // CHUID and CCC from manufacture, key history the card's
      }
      int len = r.nextInt(5) == 0 ? 0 : 1 + r.nextInt(r.nextBoolean() ? 40 : 1500);
      byte[] v = new byte[len];
      r.nextBytes(v);
      byte[] put = PivCoreTest.concat(hex(String.format("5C03%06X53820%03X", tag, len)), v);
      int sw = card.cmd(0, 0xDB, 0x3F, 0xFF, put).sw;
      if (sw == 0x6A84) {
        full++;
      } else {
        assertEquals(0x9000, sw, String.format("step %d tag %06X len %d", step, tag, len));
        if (len == 0) {
          model.remove(tag);
        } else {
          model.put(tag, v);
        }
      }
      if (step % 50 == 49) {
        for (int t = 0x5FC101; t <= 0x5FC123; t++) {
          if (t == 0x5FC102 || t == 0x5FC107 || t == 0x5FC10C) {
            continue;
          }
          if (t == 0x5FC103 || t == 0x5FC108 || t == 0x5FC109 || t == 0x5FC121 || t == 0x5FC123) {
            card.verify("123456");
          }
          Card.Answer a = card.cmd(0, 0xCB, 0x3F, 0xFF, String.format("5C03%06X", t));
          byte[] want = model.get(t);
          if (want == null) {
            assertEquals(0x6A82, a.sw, String.format("%06X", t));
          } else {
            assertEquals(0x9000, a.sw);
            int h = want.length < 128 ? 2 : (want.length < 256 ? 3 : 4);
            assertArrayEquals(want, Arrays.copyOfRange(a.data, h, a.data.length), String.format("%06X", t));
          }
        }
      }
    }
    assertTrue(full > 0, "a 16 KB heap fills up: 6A84, nothing half-written");
    assertEquals(0x9000, card.cmd(0x80, 0x3C, 0, 0, (byte[]) null).sw);
    assertEquals(0x6A82, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC105").sw);
    assertEquals(0x9000, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC102").sw, "CHUID kept");
  }
}
