package org.subsim.runner;

import java.io.PrintStream;

import com.licel.jcardsim.base.Simulator;
import javacard.framework.AID;
import javacard.framework.Applet;

/**
 * The applet on jCardSim's simulator, as one card: installed once, answering command APDUs,
 * power-cycled by the reader. Its state lives in this JVM and dies with it.
 *
 * <p>Workarounds of jCardSim's pitfalls live here and in this module's
 * {@code com.licel.jcardsim.crypto} classes, never in the applet: see {@link #WORKAROUNDS}.
 */
public final class JCardSimCard {
    /** Named workarounds, each with its test (JCardSimCardTest, VpcdLinkTest, FreshProcessTest). */
    public static final String[] WORKAROUNDS = {
        "real random source: RandomData seeded from the OS (jCardSim's randomdata.secure), key generation and "
            + "signature nonces from the OS (SecureRandomNullProvider replaced)",
        "fresh ECDSA nonces: every signature draws its own (the replaced SecureRandomNullProvider)",
        "RSA without padding on a full-length block, leading zeros kept (AsymmetricCipherImpl replaced)",
        "an extended Le above 32767 (0000 = 65536) reaches the applet as 32767, what Java Card's "
            + "APDU.setOutgoing answers (jCardSim gave 0)",
        "an EC point off the curve is CryptoException.ILLEGAL_VALUE in KeyAgreement, not a runtime exception "
            + "answered 6F00 (KeyAgreementImpl replaced)",
        "a malformed APDU is always answered: 6700 for bad lengths, 6F00 for anything the simulator throws",
        "no logical channels: a command for channel 1-19, or MANAGE CHANNEL, is answered 6881, not run on the "
            + "basic channel",
        "SELECT of an AID no applet has (or of under 5 bytes) answered 6A82, the selection kept (jCardSim matched "
            + "partial AIDs of any length and answered 6999)",
        "nothing selected: 6D00 (SELECT other than by name 6A86, GET RESPONSE 6985), not jCardSim's 6986",
        "class byte checked first: FF and 001x xxxx answered 6E00",
        "re-selection keeps the applet's session: no deselect() and no CLEAR_ON_DESELECT wipe when the SELECT "
            + "names the selected applet (ReselectingRuntime)",
        "TCP_QUICKACK on the vpcd socket after every read (no 40 ms delayed ACK per APDU)",
        "nothing listens: the runner only connects, to vpcd on a loopback address",
    };

    static {
        // jCardSim's RandomDataImpl seeds its generator from SecureRandom only when asked to.
        System.setProperty("com.licel.jcardsim.randomdata.secure", "1");
    }

    /** Unknown error (ISO 7816-4, 5.6): what a card's OS answers for an uncaught exception. */
    static final byte[] UNKNOWN_ERROR = {0x6F, 0x00};

    private final Simulator sim = new Simulator(new ReselectingRuntime());
    private final byte[] aid;
    private final PrintStream log;
    /** Whether the applet takes extended APDUs (javacardx.apdu.ExtendedLength). */
    private final boolean extendedLength;
    /** Whether the applet is selected (jCardSim does not say). */
    private boolean selected;

    /** Installs {@code applet} under {@code aid} (install parameters empty). */
    public JCardSimCard(Class<? extends Applet> applet, byte[] aid, PrintStream log) {
        this.aid = aid.clone();
        this.log = log;
        this.extendedLength = javacardx.apdu.ExtendedLength.class.isAssignableFrom(applet);
        sim.installApplet(new AID(aid, (short) 0, (byte) aid.length), applet);
    }

    public byte[] aid() {
        return aid.clone();
    }

    /** Power off and on: transient memory cleared, no applet selected, persistent state kept. */
    public void powerCycle() {
        sim.reset();
        selected = false;
    }

    /**
     * The R-APDU for one C-APDU; never empty, never an exception. What a card's operating
     * system does before any applet, in the order of the model's transport layer: the class
     * byte (6E00), its logical channel (6881), the length (6700); then selection.
     */
    public byte[] transmit(byte[] apdu) {
        if (apdu.length == 0) {
            return ApduGuard.WRONG_LENGTH.clone();
        }
        if (!ApduGuard.validClass(apdu[0])) {
            return ApduGuard.NO_CLASS.clone();
        }
        byte[] refusal = ApduGuard.channelRefusal(apdu);
        if (refusal != null) {
            return refusal;
        }
        if (!ApduGuard.wellFormed(apdu)) {
            return ApduGuard.WRONG_LENGTH.clone();
        }
        refusal = ApduGuard.manageChannelRefusal(apdu);
        if (refusal != null) {
            return refusal;
        }
        if (Selection.isSelectByName(apdu)) {
            apdu = ApduGuard.extendedAsShort(apdu);
            if (!Selection.matches(apdu, aid)) {
                return Selection.NOT_FOUND.clone();
            }
            byte[] r = simulate(apdu);
            selected = r.length >= 2 && (r[r.length - 2] == (byte) 0x90 || r[r.length - 2] == 0x61);
            return r;
        }
        if (!selected) {
            return Selection.nothingSelected(apdu);
        }
        return simulate(apdu);
    }

    private byte[] simulate(byte[] apdu) {
        try {
            byte[] r = sim.transmitCommand(
                    extendedLength ? ApduGuard.extendedLeClamped(ApduGuard.fullShortAsExtended(apdu)) : apdu);
            if (r == null || r.length < 2) {
                log.println("runner: the simulator gave no status word; answered 6F00");
                return UNKNOWN_ERROR.clone();
            }
            return r;
        } catch (RuntimeException | Error e) {
            // Only the exception's class: its message may quote card data.
            log.println("runner: the simulator threw " + e.getClass().getName() + " on INS "
                    + String.format("%02X", apdu[1] & 0xFF) + "; answered 6F00");
            return UNKNOWN_ERROR.clone();
        }
    }

    /** Hex to bytes (spaces allowed). */
    public static byte[] hex(String s) {
        String h = s.replace(" ", "");
        if (h.length() % 2 != 0) {
            throw new IllegalArgumentException("odd number of hex digits: " + s);
        }
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    public static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02X", x & 0xFF));
        }
        return s.toString();
    }
}
