package org.subsim.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

import org.junit.jupiter.api.Test;

/** The vpcd protocol against a stand-in for vpcd on loopback (no pcscd involved). */
class VpcdLinkTest {

    private static byte[] exchange(OutputStream out, DataInputStream in, byte[] msg) throws IOException {
        byte[] frame = new byte[msg.length + 2];
        frame[0] = (byte) (msg.length >> 8);
        frame[1] = (byte) msg.length;
        System.arraycopy(msg, 0, frame, 2, msg.length);
        out.write(frame);
        out.flush();
        byte[] r = new byte[in.readUnsignedShort()];
        in.readFully(r);
        return r;
    }

    @Test
    void servesTheCardOverTheVpcdProtocolAndStopsCleanly() throws Exception {
        try (ServerSocket vpcd = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            JCardSimCard card = new JCardSimCard(TestApplet.class, Apdus.AID, System.err);
            byte[] atr = Serve.withTck(Serve.ATR);
            VpcdLink link = new VpcdLink(new InetSocketAddress(InetAddress.getLoopbackAddress(), vpcd.getLocalPort()),
                    card, atr, true, System.err);
            Thread t = new Thread(() -> {
                try {
                    link.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            t.start();
            try (Socket s = vpcd.accept()) {
                OutputStream out = s.getOutputStream();
                DataInputStream in = new DataInputStream(s.getInputStream());
                assertArrayEquals(atr, exchange(out, in, new byte[] {VpcdLink.GET_ATR}));
                out.write(new byte[] {0, 1, VpcdLink.POWER_ON}); // no answer to power on
                assertEquals(0x9000, Apdus.sw(exchange(out, in, Apdus.select())));
                assertEquals(0x6700, Apdus.sw(exchange(out, in, new byte[] {0, 1, 2, 3, 9, 1})));
                // A one-byte payload that is no control byte: a malformed APDU, answered.
                assertEquals(0x6700, Apdus.sw(exchange(out, in, new byte[] {0x37})));
                assertEquals(0x6F00, Apdus.sw(exchange(out, in, Apdus.command(TestApplet.INS_THROW, new byte[0]))));
                assertEquals(16 + 2, exchange(out, in, Apdus.command(TestApplet.INS_RANDOM, new byte[0])).length);
            } finally {
                link.stop();
                t.join(5000);
            }
            assertFalse(t.isAlive(), "the link stops when asked");
        }
    }

    @Test
    void theAtrCheckByteIsRight() {
        byte[] atr = Serve.withTck(Serve.ATR);
        byte x = 0;
        for (int i = 1; i < atr.length; i++) {
            x ^= atr[i];
        }
        assertEquals(0, x, "TCK makes T0..TCK XOR to zero (ISO 7816-3, 8.2.5)");
        assertEquals(21, atr.length);
    }

    @Test
    void onlyALoopbackVpcdIsAccepted() throws Exception {
        JCardSimCard card = new JCardSimCard(TestApplet.class, Apdus.AID, System.err);
        assertThrows(IllegalArgumentException.class, () -> new VpcdLink(
                new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 35963), card, new byte[2], true, System.err));
    }
}
