package org.subsim.runner;

import com.licel.jcardsim.base.ApduCase;
import com.licel.jcardsim.base.SimulatorRuntime;
import javacard.framework.AID;

/**
 * Workaround "re-selection keeps the applet's session": on every SELECT, jCardSim deselected
 * the current applet first, even when the SELECT was for that same applet, so the applet's
 * deselect() ran and its CLEAR_ON_DESELECT memory was wiped (the PIN's verified state with
 * it). A Java Card runtime re-selecting the selected applet calls its select() only, with
 * reSelectingApplet() true, and neither deselect() nor clears its transient memory (Java Card
 * 3.0.5 API, Applet.deselect and Applet.reSelectingApplet; JCRE 3.0.5, 4.2). Here the
 * deselection is skipped when the SELECT names the selected applet. (reSelectingApplet()
 * itself stays false: jCardSim answers it without asking the runtime.)
 */
final class ReselectingRuntime extends SimulatorRuntime {
    /** The applet the SELECT being processed names, between finding it and deselecting. */
    private AID selecting;

    @Override
    protected AID findAppletForSelectApdu(byte[] apdu, ApduCase apduCase) {
        selecting = super.findAppletForSelectApdu(apdu, apduCase);
        return selecting;
    }

    @Override
    protected void deselect(ApplicationInstance instance) {
        AID next = selecting;
        selecting = null;
        AID current = getAID();
        if (instance != null && next != null && next.equals(current)) {
            return; // re-selection: no deselect(), CLEAR_ON_DESELECT memory kept
        }
        super.deselect(instance);
    }
}
