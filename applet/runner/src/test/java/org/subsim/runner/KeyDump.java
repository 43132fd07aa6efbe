package org.subsim.runner;

import com.licel.jcardsim.base.Simulator;
import javacard.framework.AID;

/**
 * Run in a fresh JVM by FreshProcessTest: installs the test applet, prints one line with a
 * P-256 public key, an RSA-1024 modulus and 16 random bytes. "stock" uses jCardSim as it
 * ships (the control); otherwise the runner's card with its workarounds.
 */
public final class KeyDump {
    private KeyDump() { }

    public static void main(String[] args) {
        StringBuilder out = new StringBuilder();
        if (args.length > 0 && args[0].equals("stock")) {
            Simulator sim = new Simulator();
            AID aid = new AID(Apdus.AID, (short) 0, (byte) Apdus.AID.length);
            sim.installApplet(aid, TestApplet.class);
            sim.selectApplet(aid);
            for (int ins : new int[] {TestApplet.INS_EC_GENERATE, TestApplet.INS_RSA_GENERATE}) {
                out.append(JCardSimCard.hex(sim.transmitCommand(Apdus.command(ins, new byte[0])))).append(' ');
            }
        } else {
            JCardSimCard card = Apdus.selectedCard();
            for (int ins : new int[] {TestApplet.INS_EC_GENERATE, TestApplet.INS_RSA_GENERATE, TestApplet.INS_RANDOM}) {
                out.append(JCardSimCard.hex(card.transmit(Apdus.command(ins, new byte[0])))).append(' ');
            }
        }
        System.out.println(out.toString().trim());
    }
}
