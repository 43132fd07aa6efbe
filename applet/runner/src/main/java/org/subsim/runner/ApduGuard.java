package org.subsim.runner;

/**
 * Workaround "a malformed APDU is always answered": jCardSim threw on command APDUs whose
 * length bytes do not add up (ISO 7816-3, 12.1.3: the case is decided by the APDU's length),
 * and its vpcd bridge then sent no answer at all, so the host hung. On a card this is the
 * operating system's job, before any applet: it answers 6700 (wrong length), as the model's
 * transport layer does (applet-spec's Command::parse).
 */
final class ApduGuard {
    /** Wrong length (ISO 7816-4, 5.6). */
    static final byte[] WRONG_LENGTH = {0x67, 0x00};
    /** Logical channel not supported (ISO 7816-4, 5.6). */
    static final byte[] NO_CHANNEL = {0x68, (byte) 0x81};

    private ApduGuard() { }

    /**
     * Workaround "no logical channels": jCardSim has none and ran a command for channel 1-19
     * on the basic channel, as if it were for channel 0, and MANAGE CHANNEL reached the applet.
     * A card without logical channels answers 6881 (ISO 7816-4, 5.6; the class byte's channel
     * bits: 5.4.1), as the runner's ATR says it has none. In the model's order: a command for
     * another channel is refused before its length is read ({@link #channelRefusal}), MANAGE
     * CHANNEL only once it is a well-formed command ({@link #manageChannelRefusal}).
     * Each returns the refusal, or null.
     */
    static byte[] channelRefusal(byte[] a) {
        int cla = a[0] & 0xFF;
        if (!validClass(a[0])) {
            return null;
        }
        int channel = (cla & 0x40) == 0 ? cla & 0x03 : 4 + (cla & 0x0F);
        return channel != 0 ? NO_CHANNEL.clone() : null;
    }

    static byte[] manageChannelRefusal(byte[] a) {
        boolean manageChannel = a.length > 1 && (a[0] & 0x80) == 0 && (a[1] & 0xFF) == 0x70;
        // Secure messaging is refused first (6882), by the applet or with nothing selected.
        return manageChannel && !secureMessaging(a[0]) ? NO_CHANNEL.clone() : null;
    }

    /** The class byte asks for secure messaging (ISO 7816-4, 5.4.1: b4-b3, or b6 further on). */
    static boolean secureMessaging(byte b) {
        int cla = b & 0xFF;
        return (cla & 0x40) == 0 ? (cla & 0x0C) != 0 : (cla & 0x20) != 0;
    }

    /** Class not supported (ISO 7816-4, 5.6). */
    static final byte[] NO_CLASS = {0x6E, 0x00};

    /**
     * A class byte of ISO 7816-4's codings (5.4.1): not FF (invalid), not 001x xxxx (reserved
     * for future use), nor its proprietary twin 101x xxxx. The card's operating system refuses
     * the others first (6E00), as the model's transport layer does.
     */
    static boolean validClass(byte b) {
        int cla = b & 0xFF;
        return cla != 0xFF && (cla & 0x60) != 0x20;
    }

    /** Whether the bytes are one well-formed command APDU, short or extended. */
    static boolean wellFormed(byte[] a) {
        int n = a.length;
        if (n < 4) {
            return false;
        }
        int body = n - 4;
        if (body <= 1) {
            return true; // case 1, or case 2 short
        }
        int b0 = a[4] & 0xFF;
        if (b0 != 0) {
            // case 3 or 4 short: Lc, data, maybe Le
            return body == 1 + b0 || body == 2 + b0;
        }
        if (body == 3) {
            return true; // case 2 extended: 00 Le Le
        }
        if (body < 3) {
            return false; // a short Lc of zero is not a length
        }
        int nc = ((a[5] & 0xFF) << 8) | (a[6] & 0xFF);
        if (nc == 0) {
            return false;
        }
        return body == 3 + nc || body == 5 + nc;
    }

    /**
     * Workaround "260-byte APDU buffer": jCardSim's buffer for short APDUs holds 260 bytes, so
     * a short case-4 command with 255 data bytes and an Le (261 bytes, ISO 7816-4, 5.1) got
     * 6F00 before the applet ran. The extended form of the same command (Lc 00 00 FF, the Le in
     * two bytes, short Le 00 = 256 = 01 00) has the same header, Nc, data and Ne, and goes
     * through jCardSim's extended buffer: for an applet that takes extended APDUs
     * (javacardx.apdu.ExtendedLength). Any other command comes back as it is.
     */
    static byte[] fullShortAsExtended(byte[] a) {
        if (a.length != 261 || (a[4] & 0xFF) != 255) {
            return a;
        }
        byte[] e = new byte[4 + 3 + 255 + 2];
        System.arraycopy(a, 0, e, 0, 4);
        e[6] = (byte) 0xFF;
        System.arraycopy(a, 5, e, 7, 255);
        int le = a[260] & 0xFF;
        e[262] = (byte) (le == 0 ? 0x01 : 0x00);
        e[263] = (byte) le;
        return e;
    }

    /**
     * Workaround "extended Le of 65536": jCardSim's APDU.setOutgoing gave 0 for an extended Le
     * of 0000 (Ne = 65536, ISO 7816-4, 5.1) and a negative number for one above 7FFF, where the
     * Java Card 3.0.5 API's setOutgoing answers 32767 (APDU: "if the expected length is greater
     * than 32767, returns 32767"). An extended command's Le above 32767 goes as 7FFF, the same
     * Ne for the applet; any other command comes back as it is.
     */
    static byte[] extendedLeClamped(byte[] a) {
        if (a.length < 7 || a[4] != 0 || !wellFormed(a)) {
            return a;
        }
        int body = a.length - 4;
        int nc = body == 3 ? 0 : ((a[5] & 0xFF) << 8) | (a[6] & 0xFF);
        boolean hasLe = body == 3 || body == 5 + nc;
        if (!hasLe) {
            return a;
        }
        int at = a.length - 2;
        int le = ((a[at] & 0xFF) << 8) | (a[at + 1] & 0xFF);
        if (le != 0 && le <= 0x7FFF) {
            return a;
        }
        byte[] c = a.clone();
        c[at] = 0x7F;
        c[at + 1] = (byte) 0xFF;
        return c;
    }

    /**
     * Workaround "extended SELECT": jCardSim selects only on a short SELECT and passed an
     * extended one to the selected applet, or answered 6986 with none. An extended command
     * with Nc at most 255 goes in short form (ISO 7816-4, 5.1), an Ne over 256 as 256 (the
     * rest of a longer answer then comes by 61xx and GET RESPONSE); any other comes back as
     * it is. Used for SELECT, whose answer is short.
     */
    static byte[] extendedAsShort(byte[] a) {
        if (a.length < 7 || a[4] != 0 || !wellFormed(a)) {
            return a;
        }
        int body = a.length - 4;
        if (body == 3) { // case 2: 00 Le Le
            int ne = ((a[5] & 0xFF) << 8) | (a[6] & 0xFF);
            return new byte[] {a[0], a[1], a[2], a[3], (byte) (ne == 0 || ne > 256 ? 0 : ne)};
        }
        int nc = ((a[5] & 0xFF) << 8) | (a[6] & 0xFF);
        boolean hasLe = body == 5 + nc;
        int ne = hasLe ? ((a[7 + nc] & 0xFF) << 8) | (a[8 + nc] & 0xFF) : 0;
        if (nc > 255) {
            return a;
        }
        byte[] s = new byte[5 + nc + (hasLe ? 1 : 0)];
        System.arraycopy(a, 0, s, 0, 4);
        s[4] = (byte) nc;
        System.arraycopy(a, 7, s, 5, nc);
        if (hasLe) {
            s[5 + nc] = (byte) (ne == 0 || ne > 256 ? 0 : ne); // 256 is 00
        }
        return s;
    }
}
