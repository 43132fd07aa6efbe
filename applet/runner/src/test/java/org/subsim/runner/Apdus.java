package org.subsim.runner;

import java.util.Arrays;

/** Small helpers for the tests: command APDUs, status words, answers' data. */
final class Apdus {
    static final byte[] AID = JCardSimCard.hex("F00000000101");

    private Apdus() { }

    static byte[] select() {
        return select(AID);
    }

    static byte[] select(byte[] aid) {
        byte[] a = new byte[5 + aid.length];
        a[1] = (byte) 0xA4;
        a[2] = 0x04;
        a[4] = (byte) aid.length;
        System.arraycopy(aid, 0, a, 5, aid.length);
        return a;
    }

    static byte[] command(int ins, byte[] data) {
        byte[] a = new byte[5 + data.length + 1];
        a[0] = (byte) 0x80;
        a[1] = (byte) ins;
        a[4] = (byte) data.length;
        System.arraycopy(data, 0, a, 5, data.length);
        a[a.length - 1] = 0; // Le 256
        if (data.length == 0) {
            return new byte[] {(byte) 0x80, (byte) ins, 0, 0, 0};
        }
        return a;
    }

    static int sw(byte[] r) {
        return ((r[r.length - 2] & 0xFF) << 8) | (r[r.length - 1] & 0xFF);
    }

    static byte[] data(byte[] r) {
        return Arrays.copyOf(r, r.length - 2);
    }

    static JCardSimCard selectedCard() {
        JCardSimCard c = new JCardSimCard(TestApplet.class, AID, System.err);
        if (sw(c.transmit(select())) != 0x9000) {
            throw new AssertionError("SELECT of the test applet");
        }
        return c;
    }
}
