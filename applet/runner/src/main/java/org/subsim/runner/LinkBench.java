package org.subsim.runner;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;

import javacard.framework.APDU;
import javacard.framework.Applet;

/**
 * {@code scripts/applet bench}: the per-APDU round trip through the vpcd protocol, with and
 * without the TCP_QUICKACK workaround, side by side in one run. The peer plays vpcd as vpcd
 * writes: the length and the payload in two writes, Nagle on. Prints medians in ms.
 */
public final class LinkBench {
    private LinkBench() { }

    /** Answers 9000 to everything: the link's cost alone. */
    public static final class Echo extends Applet {
        public static void install(byte[] b, short off, byte len) {
            new Echo().register();
        }

        @Override
        public void process(APDU apdu) {
            // 9000
        }
    }

    static double medianMs(boolean quickAck, int n) throws Exception {
        try (ServerSocket vpcd = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            byte[] aid = JCardSimCard.hex("F0000000FF");
            JCardSimCard card = new JCardSimCard(Echo.class, aid, System.err);
            VpcdLink link = new VpcdLink(new InetSocketAddress(InetAddress.getLoopbackAddress(), vpcd.getLocalPort()),
                    card, Serve.withTck(Serve.ATR), quickAck, System.err);
            Thread t = new Thread(() -> {
                try {
                    link.run();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            });
            t.start();
            try (Socket s = vpcd.accept()) {
                OutputStream out = s.getOutputStream();
                DataInputStream in = new DataInputStream(s.getInputStream());
                byte[] select = new byte[5 + aid.length];
                select[1] = (byte) 0xA4;
                select[2] = 4;
                select[4] = (byte) aid.length;
                System.arraycopy(aid, 0, select, 5, aid.length);
                exchange(out, in, new byte[] {VpcdLink.POWER_ON}, false);
                long[] times = new long[n];
                for (int i = 0; i < n; i++) {
                    long t0 = System.nanoTime();
                    exchange(out, in, select, true);
                    times[i] = System.nanoTime() - t0;
                }
                Arrays.sort(times);
                return times[n / 2] / 1e6;
            } finally {
                link.stop();
                t.join();
            }
        }
    }

    private static void exchange(OutputStream out, DataInputStream in, byte[] msg, boolean answer) throws IOException {
        out.write(new byte[] {(byte) (msg.length >> 8), (byte) msg.length});
        out.flush();
        out.write(msg);
        out.flush();
        if (answer) {
            byte[] r = new byte[in.readUnsignedShort()];
            in.readFully(r);
        }
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        System.setOut(System.err); // jCardSim's chatter
        double without = medianMs(false, n);
        double with = medianMs(true, n);
        System.err.flush();
        java.io.PrintStream o = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true);
        o.printf("vpcd link, median of %d SELECTs: %.2f ms without TCP_QUICKACK, %.2f ms with%n", n, without, with);
    }
}
