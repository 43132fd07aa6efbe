package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import org.junit.jupiter.api.Test;

/** The DER writer and reader (X.690 8.1.3: definite lengths, 10.1: in the fewest bytes). */
class DerTest {
  private static byte[] written(Der der, byte[] buf, int from) {
    return Arrays.copyOfRange(buf, from, der.offset());
  }

  @Test
  void lengths_take_the_fewest_bytes_at_every_boundary() {
    int[] sizes = {0, 1, 127, 128, 255, 256, 1000, 32000};
    for (int n : sizes) {
      byte[] buf = new byte[32767];
      Der der = new Der((short) 2);
      der.start(buf, (short) 3, (short) buf.length);
      der.begin((byte) 0x30);
      der.reserve((short) n);
      der.end();
      byte[] head = n < 128 ? new byte[] {0x30, (byte) n}
          : n < 256 ? new byte[] {0x30, (byte) 0x81, (byte) n}
          : new byte[] {0x30, (byte) 0x82, (byte) (n >> 8), (byte) n};
      byte[] out = written(der, buf, 3);
      assertEquals(head.length + n, out.length, "size " + n);
      assertArrayEquals(head, Arrays.copyOf(out, head.length), "size " + n);
      assertEquals(3 + out.length, Der.skip(buf, (short) 3, (short) buf.length));
      assertEquals(n, Der.contentLength(buf, (short) 3));
    }
  }

  @Test
  void nested_content_moves_down_intact() {
    byte[] buf = new byte[600];
    Der der = new Der((short) 3);
    der.start(buf, (short) 0, (short) buf.length);
    der.begin((byte) 0x30);
    der.begin((byte) 0x04);
    byte[] payload = new byte[300];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = (byte) i;
    }
    der.raw(payload, (short) 0, (short) 300);
    der.end();
    der.begin((byte) 0x31);
    der.nul();
    der.end();
    der.end();
    byte[] out = written(der, buf, 0);
    byte[] expected = new byte[4 + 4 + 300 + 4];
    System.arraycopy(new byte[] {0x30, (byte) 0x82, 0x01, 0x34, 0x04, (byte) 0x82, 0x01, 0x2C}, 0, expected, 0, 8);
    System.arraycopy(payload, 0, expected, 8, 300);
    System.arraycopy(new byte[] {0x31, 0x02, 0x05, 0x00}, 0, expected, 308, 4);
    assertArrayEquals(expected, out);
  }

  @Test
  void integers_are_minimal_and_positive() {
    byte[][][] cases = {
        {{0x00, 0x00, 0x7F}, {0x02, 0x01, 0x7F}},
        {{(byte) 0x80}, {0x02, 0x02, 0x00, (byte) 0x80}},
        {{0x00, 0x00}, {0x02, 0x01, 0x00}},
        {{0x01, 0x00, 0x01}, {0x02, 0x03, 0x01, 0x00, 0x01}},
        {{0x00, (byte) 0xFF, 0x00}, {0x02, 0x03, 0x00, (byte) 0xFF, 0x00}},
    };
    for (byte[][] c : cases) {
      byte[] buf = new byte[16];
      Der der = new Der((short) 2);
      der.start(buf, (short) 0, (short) 16);
      der.unsignedInteger(c[0], (short) 0, (short) c[0].length);
      assertArrayEquals(c[1], written(der, buf, 0), Arrays.toString(c[0]));
      // The same through makeUnsigned, as a key object writing into the buffer.
      der.start(buf, (short) 0, (short) 16);
      der.begin((byte) 0x02);
      short at = der.reserve((short) c[0].length);
      System.arraycopy(c[0], 0, buf, at, c[0].length);
      der.makeUnsigned(at);
      der.end();
      assertArrayEquals(c[1], written(der, buf, 0), "makeUnsigned " + Arrays.toString(c[0]));
    }
  }

  @Test
  void running_out_of_room_is_6a84_and_writes_nothing_past_the_limit() {
    byte[] buf = new byte[20];
    Arrays.fill(buf, (byte) 0xEE);
    Der der = new Der((short) 1);
    der.start(buf, (short) 0, (short) 10);
    der.begin((byte) 0x30);
    assertEquals(ISO7816.SW_FILE_FULL, assertThrows(ISOException.class, () -> der.raw(new byte[7], (short) 0, (short) 7)).getReason());
    assertEquals(ISO7816.SW_FILE_FULL, assertThrows(ISOException.class, () -> der.begin((byte) 0x30)).getReason(), "depth");
    for (int i = 10; i < 20; i++) {
      assertEquals((byte) 0xEE, buf[i]);
    }
    der.end();
    assertEquals(ISO7816.SW_FILE_FULL, assertThrows(ISOException.class, der::end).getReason(), "end without begin");
  }

  @Test
  void the_reader_refuses_what_is_not_der() {
    byte[][] bad = {
        {0x30}, // no length
        {0x30, (byte) 0x80, 0x00, 0x00}, // indefinite
        {0x30, (byte) 0x81, 0x05, 1, 2, 3, 4, 5}, // 81 for a length under 128
        {0x30, (byte) 0x82, 0x00, (byte) 0x90}, // 82 for a length under 256
        {0x30, 0x05, 1, 2}, // runs past the end
        {0x1F, 0x01, 0x00}, // multi-byte tag
        {0x30, (byte) 0x83, 0, 0, 1, 0}, // three length bytes
    };
    for (byte[] b : bad) {
      assertEquals(-1, Der.skip(b, (short) 0, (short) b.length), Arrays.toString(b));
    }
    byte[] good = {0x30, (byte) 0x81, (byte) 0x80};
    assertEquals(3, Der.contentOffset(good, (short) 0, (short) 3));
    assertEquals(-1, Der.skip(good, (short) 0, (short) 3), "content missing");
  }
}
