package org.subsim.runner;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

import javacard.framework.Applet;

/**
 * {@code scripts/applet serve}: the applet on jCardSim, connected to the vpcd on
 * 127.0.0.1:PORT, until SIGTERM. The card's state lives as long as this process.
 *
 * <pre>
 * java -cp RUNNER:APPLET:JCARDSIM org.subsim.runner.Serve --port PORT --applet CLASS --aid HEX
 *      [--host 127.0.0.1] [--atr HEX] [--no-quickack]
 * </pre>
 */
public final class Serve {
    /**
     * T=1, historical bytes in compact-TLV (ISO 7816-4, 8.1.1): card capabilities {@code 73 80
     * 00 80} (selection by DF name, command chaining; no logical channels: jCardSim has none).
     * Extended length is not offered, so hosts that read the ATR send short APDUs, though the
     * applet takes extended ones too (javacardx.apdu.ExtendedLength) from hosts that send them
     * anyway (ykman, by the card's version) and issuer data {@code 57 "subsim" 01}: kind 01, the
     * applet on jCardSim (kind 00 is the Rust simulator). The layout of applet-spec's
     * SIMULATOR_ATR.
     */
    public static final String ATR = "3B9D138131FE15" + "80" + "73800080" + "57" + "73756273696D" + "01";

    private Serve() { }

    /** The ATR with its check byte (XOR of T0 to the last byte, ISO 7816-3, 8.2.5). */
    static byte[] withTck(String hex) {
        byte[] a = JCardSimCard.hex(hex);
        byte[] out = new byte[a.length + 1];
        System.arraycopy(a, 0, out, 0, a.length);
        byte tck = 0;
        for (int i = 1; i < a.length; i++) {
            tck ^= a[i];
        }
        out[a.length] = tck;
        return out;
    }

    public static void main(String[] args) throws Exception {
        System.setOut(System.err); // jCardSim's chatter stays off stdout
        String host = "127.0.0.1";
        String appletClass = null;
        String aid = null;
        String atr = null;
        int port = -1;
        boolean quickAck = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--host" -> host = args[++i];
                case "--applet" -> appletClass = args[++i];
                case "--aid" -> aid = args[++i];
                case "--atr" -> atr = args[++i];
                case "--no-quickack" -> quickAck = false;
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (port <= 0 || port > 65535 || appletClass == null || aid == null) {
            usage("give --port, --applet and --aid");
        }
        InetAddress addr = InetAddress.getByName(host);
        if (!addr.isLoopbackAddress()) {
            usage("--host " + host + " is not a loopback address");
        }
        Class<? extends Applet> k = Class.forName(appletClass).asSubclass(Applet.class);
        JCardSimCard card = new JCardSimCard(k, JCardSimCard.hex(aid), System.err);
        byte[] atrBytes = atr != null ? JCardSimCard.hex(atr) : withTck(ATR);
        VpcdLink link = new VpcdLink(new InetSocketAddress(addr, port), card, atrBytes, quickAck, System.err);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            link.stop();
            try {
                done.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            System.err.println("runner: stopped (the card's state is gone with the process)");
            System.err.flush();
            Runtime.getRuntime().halt(0); // a clean stop, not the JVM's 143 for SIGTERM
        }));
        System.err.println("runner: " + appletClass + " installed as " + aid.toUpperCase()
                + " on jCardSim; serving vpcd at " + host + ":" + port + (quickAck ? "" : " (no TCP_QUICKACK)"));
        for (String w : JCardSimCard.WORKAROUNDS) {
            System.err.println("runner: workaround: " + w);
        }
        try {
            link.run();
        } finally {
            done.countDown();
        }
    }

    private static void usage(String why) {
        System.err.println("runner: " + why);
        System.err.println("usage: Serve --port PORT --applet CLASS --aid HEX [--host 127.0.0.1] [--atr HEX] [--no-quickack]");
        System.exit(2);
    }
}
