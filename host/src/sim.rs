//! The in-process transport: a [`apdu_sim::SimCard`] in this process.

use apdu_sim::SimCard;

use crate::error::{Error, Result, TransportKind};
use crate::transport::{Capabilities, Transport};

/// The in-process transport: the host talks to a [`SimCard`] in this process, no pcscd needed.
pub struct SimTransport {
    card: SimCard,
    extended_length: bool,
}

impl SimTransport {
    /// A transport to `card`, with extended-length APDUs.
    pub fn new(card: SimCard) -> SimTransport {
        SimTransport { card, extended_length: true }
    }
    /// Makes the host use command chaining instead of extended APDUs, as it
    /// must with readers that mishandle them.
    pub fn without_extended_length(mut self) -> SimTransport {
        self.extended_length = false;
        self
    }
    /// The card, for inspection.
    pub fn card(&self) -> &SimCard {
        &self.card
    }
    /// The card itself, for fault injection and inspection in tests.
    pub fn card_mut(&mut self) -> &mut SimCard {
        &mut self.card
    }
    /// Gives the card back (e.g. to save or hand to another transport).
    pub fn into_card(self) -> SimCard {
        self.card
    }
}

impl Transport for SimTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let answer = self.card.transmit(apdu);
        if answer.is_empty() {
            // A write its file could not take: the card has stopped for good.
            if let Some(why) = self.card.failure() {
                return Err(Error::transport(
                    TransportKind::CardRemoved,
                    format!("the simulated card stopped without answering: {why}"),
                    Some("the command's writes were not saved; fix the cause (space, permissions) and run it again"),
                ));
            }
            // Otherwise only a power cut (fault injection) leaves the card silent.
            return Err(Error::transport(
                TransportKind::CardRemoved,
                "the simulated card lost power during the command",
                Some("power it up again (reset) and check its state"),
            ));
        }
        Ok(answer)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { extended_length: self.extended_length }
    }
    fn describe(&self) -> String {
        "simulated card (in-process)".into()
    }
    fn reset(&mut self) -> Result<()> {
        self.card.power_cycle();
        Ok(())
    }
    /// In-process, nobody else can reach the card.
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}
