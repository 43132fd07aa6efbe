package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import javacard.framework.JCSystem;
import javacard.framework.OwnerPIN;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;
import javacard.security.RandomData;
import org.junit.jupiter.api.Test;

/** MemoryFootprint counts what a known object graph allocated, no more and no less. */
class MemoryFootprintSelfTest {
  /** A stand-in for an applet: fields of every kind the counter must see. */
  static final class Holder {
    final byte[] store = new byte[100];
    final byte[] session = JCSystem.makeTransientByteArray((short) 50, JCSystem.CLEAR_ON_DESELECT);
    final short[] counters = JCSystem.makeTransientShortArray((short) 10, JCSystem.CLEAR_ON_RESET);
    final byte[] alias = store; // the same array twice counts once
    final Object[] slots = new Object[] {new byte[7], null};
    final KeyPair pair = new KeyPair(KeyPair.ALG_RSA_CRT, KeyBuilder.LENGTH_RSA_2048);
    final RandomData rng = RandomData.getInstance(RandomData.ALG_SECURE_RANDOM);
    short flags;
  }

  @Test
  void a_known_graph_is_counted_exactly() {
    MemoryFootprint f = MemoryFootprint.of(new Holder());
    // fields: 7 references (2 bytes each) + a short = 16; store 100; slots 2 references = 4, and 7;
    // key pair: 2 references = 4, RSA-2048 public 256 + 4, CRT private 5 x 128 = 640.
    assertEquals(16 + 100 + 4 + 7 + 4 + 260 + 640, f.persistent);
    assertEquals(50, f.clearOnDeselect);
    assertEquals(20, f.clearOnReset);
    assertEquals(1, f.engines);
    assertEquals(Integer.valueOf(1), f.keys.get("RSA-CRT-private-2048(empty)"));
  }

  @Test
  void owner_pin_and_the_library_classes_are_counted_from_their_arrays() {
    OwnerPIN pin = new OwnerPIN((byte) 3, (byte) 8);
    MemoryFootprint f = MemoryFootprint.of(pin);
    System.out.println("OwnerPIN(3, 8) on jCardSim: " + f);
    assertEquals(true, f.persistent >= 8, "the PIN value is persistent");

    Keypad k = new Keypad(RandomData.getInstance(RandomData.ALG_SECURE_RANDOM), (byte) 6, (byte) 8);
    MemoryFootprint kf = MemoryFootprint.of(k);
    assertEquals(10 + 16 + 4, kf.clearOnDeselect);
    assertEquals(0, kf.clearOnReset);
  }

  @Test
  void an_object_it_cannot_size_fails_the_count() {
    assertThrows(IllegalStateException.class, () -> MemoryFootprint.of(new Object[] {new java.util.ArrayList<Object>()}));
  }
}
