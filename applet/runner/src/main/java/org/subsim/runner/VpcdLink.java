package org.subsim.runner;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import jdk.net.ExtendedSocketOptions;

/**
 * The card side of vsmartcard's vpcd protocol: we connect to vpcd (it listens), every message
 * is a 2-byte big-endian length and a payload; one-byte payloads are control (00 power off,
 * 01 power on, 02 reset, 04 get ATR: answered with the ATR), longer ones are C-APDUs answered
 * with their R-APDU. Reconnects (with a backoff) while pcscd restarts, until stopped.
 */
public final class VpcdLink {
    static final int POWER_OFF = 0x00;
    static final int POWER_ON = 0x01;
    static final int RESET = 0x02;
    static final int GET_ATR = 0x04;

    private final InetSocketAddress vpcd;
    private final JCardSimCard card;
    private final byte[] atr;
    private final boolean quickAck;
    private final PrintStream log;
    private final AtomicBoolean stop = new AtomicBoolean();
    private volatile Socket socket;

    /**
     * @param quickAck the TCP_QUICKACK workaround (off only to measure what it saves)
     */
    public VpcdLink(InetSocketAddress vpcd, JCardSimCard card, byte[] atr, boolean quickAck, PrintStream log) {
        InetAddress a = vpcd.getAddress();
        if (a == null || !a.isLoopbackAddress()) {
            throw new IllegalArgumentException("vpcd must be on a loopback address, not " + vpcd);
        }
        this.vpcd = vpcd;
        this.card = card;
        this.atr = atr.clone();
        this.quickAck = quickAck;
        this.log = log;
    }

    /** Stops {@link #run} from another thread (the SIGTERM hook). */
    public void stop() {
        stop.set(true);
        Socket s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing to wake the reader: nothing more to do
            }
        }
    }

    /** Serves the card until {@link #stop}. */
    public void run() throws InterruptedException {
        long backoff = 100;
        boolean announced = false;
        while (!stop.get()) {
            try (Socket s = new Socket()) {
                s.setTcpNoDelay(true);
                s.connect(vpcd, 2000);
                socket = s;
                if (stop.get()) {
                    break;
                }
                if (!announced) {
                    log.println("runner: connected to vpcd at " + vpcd.getHostString() + ":" + vpcd.getPort());
                    announced = true;
                }
                backoff = 100;
                serve(s);
            } catch (IOException e) {
                if (stop.get()) {
                    break;
                }
                Thread.sleep(backoff);
                backoff = Math.min(backoff * 2, 2000);
            } finally {
                socket = null;
            }
        }
    }

    private void serve(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (!stop.get()) {
            byte[] msg = readFrame(s, in);
            if (msg == null) {
                return;
            }
            if (msg.length == 1) {
                switch (msg[0] & 0xFF) {
                    case POWER_OFF, POWER_ON, RESET -> card.powerCycle();
                    case GET_ATR -> send(out, atr);
                    // Not a control byte: a one-byte APDU, malformed (ISO 7816-3, 12.1.3).
                    default -> send(out, ApduGuard.WRONG_LENGTH);
                }
            } else {
                send(out, card.transmit(msg));
            }
        }
    }

    private byte[] readFrame(Socket s, InputStream in) throws IOException {
        byte[] len = new byte[2];
        if (!readFully(s, in, len, true)) {
            return null;
        }
        byte[] msg = new byte[((len[0] & 0xFF) << 8) | (len[1] & 0xFF)];
        readFully(s, in, msg, false);
        return msg;
    }

    /** False when the peer closed before the first byte of a frame. */
    private boolean readFully(Socket s, InputStream in, byte[] b, boolean frameStart) throws IOException {
        int got = 0;
        while (got < b.length) {
            int n;
            try {
                n = in.read(b, got, b.length - got);
            } catch (SocketTimeoutException e) {
                continue;
            }
            if (n < 0) {
                if (got == 0 && frameStart) {
                    return false;
                }
                throw new EOFException("vpcd closed mid-message");
            }
            got += n;
            ackNow(s);
        }
        return true;
    }

    /**
     * vpcd writes a message's length and its payload separately; with Nagle on its side and
     * delayed ACKs on ours, each APDU waited about 40 ms for our ACK of the length. Linux
     * clears TCP_QUICKACK after use, so it is set again after every read.
     */
    private void ackNow(Socket s) {
        if (!quickAck) {
            return;
        }
        try {
            s.setOption(ExtendedSocketOptions.TCP_QUICKACK, true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not Linux: delayed ACKs stay, answers still arrive
        }
    }

    private static void send(OutputStream out, byte[] payload) throws IOException {
        if (payload.length > 0xFFFF) {
            payload = ApduGuard.WRONG_LENGTH;
        }
        byte[] frame = new byte[payload.length + 2];
        frame[0] = (byte) (payload.length >> 8);
        frame[1] = (byte) payload.length;
        System.arraycopy(payload, 0, frame, 2, payload.length);
        out.write(frame);
        out.flush();
    }
}
