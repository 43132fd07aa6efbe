//! The PC/SC transport: cards in readers, through `pcscd`.
//!
//! - Readers are found by exact name, by substring, or by the serial of the
//!   card in them (the applet is selected on each card present to ask).
//! - [`Transport::exclusive`] is a PC/SC transaction: multi-APDU operations
//!   never interleave with another process's commands.
//! - Receive buffers are `MAX_BUFFER_SIZE_EXTENDED`, as pcsc-lite allows.
//!   A failed transmit is never retried blindly: it may have run.
//! - Extended APDUs are used when the ATR advertises them; when the reader
//!   refuses one, the transport stops offering them and the exchange layer
//!   chains instead.
//! - A card reset by another process is reported as [`TransportKind::CardReset`]
//!   once; the transport then reconnects and re-selects the applet by itself,
//!   but never re-sends a PIN.

use std::ffi::CString;
use std::mem::ManuallyDrop;

use zeroize::Zeroizing;

use applet_spec::atr::{self, AtrInfo};
use applet_spec::piv;
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State, MAX_BUFFER_SIZE_EXTENDED};

use crate::client::Client;
use crate::error::{Error, Result, TransportKind};
use crate::transport::{Capabilities, Transport};

/// A reader as PC/SC sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Reader name as PC/SC reports it (e.g. "Virtual PCD 00 00").
    pub name: String,
    /// Whether a card sits in the reader.
    pub card_present: bool,
    /// The card's ATR, when one is present.
    pub atr: Vec<u8>,
}

/// Which reader to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderChoice {
    /// The reader with exactly this name.
    Exact(String),
    /// The only reader whose name contains this (first one with a card, if several).
    Substring(String),
    /// The reader holding the card with this serial (GET SERIAL).
    Serial(u32),
}

fn map_err(e: pcsc::Error, reader: &str) -> Error {
    use pcsc::Error as P;
    let (kind, message, hint): (TransportKind, String, Option<&'static str>) = match e {
        P::NoService | P::ServiceStopped => (
            TransportKind::NoService,
            "pcscd is not running".into(),
            Some("start it (`pcscd`, or `systemctl start pcscd.socket`)"),
        ),
        P::NoReadersAvailable => (
            TransportKind::NoReader,
            "no smart card reader found".into(),
            Some("connect a reader; for the simulated card, run `apdu-sim vpcd` beside pcscd and vsmartcard-vpcd"),
        ),
        P::UnknownReader => {
            (TransportKind::NoReader, format!("reader {reader:?} not found"), Some("list readers with `pcsc_scan`"))
        }
        P::NoSmartcard | P::UnpoweredCard | P::UnresponsiveCard | P::UnsupportedCard => (
            TransportKind::NoCard,
            format!("no working card in {reader:?} ({e})"),
            Some("insert the card, or reinsert it"),
        ),
        P::RemovedCard => (
            TransportKind::CardRemoved,
            format!("the card was removed from {reader:?}"),
            Some("reinsert it and check the card's state: the last command may or may not have run"),
        ),
        P::SharingViolation => (
            TransportKind::SharingViolation,
            format!("the card in {reader:?} is in use by another process"),
            Some("close the other program using it (scdaemon, another subsim), or retry"),
        ),
        P::ReaderUnavailable => (
            TransportKind::ReaderUnavailable,
            format!("reader {reader:?} was unplugged or is unavailable"),
            Some("reconnect the reader"),
        ),
        P::ResetCard => (
            TransportKind::CardReset,
            format!(
                "the card in {reader:?} was reset by another process: PIN and management key authentication are lost"
            ),
            Some("verify the PIN (and authenticate) again; nothing was re-sent"),
        ),
        other => (TransportKind::Other, format!("{reader}: {other}"), None),
    };
    Error::transport(kind, message, hint)
}

/// Every reader, with card presence and ATR.
pub fn list_readers() -> Result<Vec<ReaderInfo>> {
    let ctx = Context::establish(Scope::User).map_err(|e| map_err(e, ""))?;
    list_with(&ctx)
}

fn list_with(ctx: &Context) -> Result<Vec<ReaderInfo>> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_err(e, "")),
    };
    let mut states: Vec<ReaderState> = names.into_iter().map(|n| ReaderState::new(n, State::UNAWARE)).collect();
    ctx.get_status_change(std::time::Duration::ZERO, &mut states).map_err(|e| map_err(e, ""))?;
    Ok(states
        .iter()
        .map(|s| ReaderInfo {
            name: s.name().to_string_lossy().into_owned(),
            card_present: s.event_state().contains(State::PRESENT),
            atr: if s.event_state().contains(State::PRESENT) { s.atr().to_vec() } else { Vec::new() },
        })
        .collect())
}

/// A card in a PC/SC reader.
pub struct PcscTransport {
    /// Dropped by hand, with `Disposition::LeaveCard` (see `Drop`).
    card: ManuallyDrop<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
    extended: bool,
    /// Another process reset the card; reconnect before the next command.
    reset_seen: bool,
    /// Receive buffer; wiped when dropped (it may hold a keypad layout).
    buf: Zeroizing<Vec<u8>>,
    // Dropped last: the card handle needs its context.
    _ctx: Context,
}

impl PcscTransport {
    /// Connects to the reader `choice` names, in shared mode.
    ///
    /// ```no_run
    /// use subsim_host::{Client, PcscTransport, ReaderChoice};
    ///
    /// let reader = PcscTransport::connect(&ReaderChoice::Substring("Virtual PCD".into()))?;
    /// let mut card = Client::new(reader);
    /// card.select()?;
    /// println!("serial {}", card.serial()?);
    /// # Ok::<(), subsim_host::Error>(())
    /// ```
    pub fn connect(choice: &ReaderChoice) -> Result<PcscTransport> {
        let ctx = Context::establish(Scope::User).map_err(|e| map_err(e, ""))?;
        let readers = list_with(&ctx)?;
        if readers.is_empty() {
            return Err(map_err(pcsc::Error::NoReadersAvailable, ""));
        }
        let name = match choice {
            ReaderChoice::Exact(name) => readers
                .iter()
                .find(|r| &r.name == name)
                .map(|r| r.name.clone())
                .ok_or_else(|| map_err(pcsc::Error::UnknownReader, name))?,
            ReaderChoice::Substring(part) => {
                let matching: Vec<&ReaderInfo> = readers.iter().filter(|r| r.name.contains(part.as_str())).collect();
                let pick = matching.iter().find(|r| r.card_present).or(matching.first());
                pick.map(|r| r.name.clone()).ok_or_else(|| map_err(pcsc::Error::UnknownReader, part))?
            }
            ReaderChoice::Serial(serial) => {
                for r in readers.iter().filter(|r| r.card_present) {
                    if let Ok(t) = PcscTransport::open(&ctx, &r.name) {
                        let mut c = Client::new(t);
                        if c.select().is_ok() && c.serial().ok() == Some(*serial) {
                            return Ok(c.into_transport());
                        }
                    }
                }
                return Err(Error::transport(
                    TransportKind::NoCard,
                    format!("no card with serial {serial} in any reader"),
                    Some("`subsim readers` lists the serials present"),
                ));
            }
        };
        PcscTransport::open(&ctx, &name)
    }

    fn open(ctx: &Context, name: &str) -> Result<PcscTransport> {
        let cname = CString::new(name).map_err(|_| Error::Invalid(format!("reader name {name:?}")))?;
        let card = ctx.connect(&cname, ShareMode::Shared, Protocols::ANY).map_err(|e| map_err(e, name))?;
        let atr = card.status2_owned().map_err(|e| map_err(e, name))?.atr().to_vec();
        let info = atr::parse(&atr);
        Ok(PcscTransport {
            card: ManuallyDrop::new(card),
            reader: name.to_string(),
            atr,
            extended: info.extended_length,
            reset_seen: false,
            buf: Zeroizing::new(vec![0; MAX_BUFFER_SIZE_EXTENDED]),
            _ctx: ctx.clone(),
        })
    }

    /// The PC/SC reader this transport is connected through.
    pub fn reader(&self) -> &str {
        &self.reader
    }
    /// The card's ATR as the reader reported it at connection.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
    /// What the ATR says: extended length, chaining, whether it is the simulator.
    pub fn atr_info(&self) -> AtrInfo {
        atr::parse(&self.atr)
    }

    /// After another process reset the card: reconnect and select the applet
    /// again. Security state is gone and stays gone.
    fn recover(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.reset_seen) {
            return Ok(());
        }
        self.card
            .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
            .map_err(|e| map_err(e, &self.reader))?;
        let select = [&[0x00, 0xA4, 0x04, 0x00, piv::PIV_AID.len() as u8][..], &piv::PIV_AID].concat();
        pcsc_transmit(&self.card, &self.reader, &mut self.buf, &select, &mut self.reset_seen).map(drop)
    }
}

/// One transmit; `ResetCard` sets `reset_seen`; an extended APDU the reader
/// refuses (pcsc-lite's insufficient buffer on send) becomes `ExtendedRejected`.
fn pcsc_transmit(
    card: &pcsc::Card,
    reader: &str,
    buf: &mut [u8],
    apdu: &[u8],
    reset_seen: &mut bool,
) -> Result<Vec<u8>> {
    match card.transmit(apdu, buf) {
        // pcscd hands back an empty answer when the card vanished mid-command.
        Ok(r) if r.len() < 2 => Err(Error::transport(
            TransportKind::CardRemoved,
            format!("the card in {reader:?} stopped answering during the command (removed?)"),
            Some("reinsert it and check the card's state: the last command may or may not have run"),
        )),
        Ok(r) => Ok(r.to_vec()),
        Err(pcsc::Error::ResetCard) => {
            *reset_seen = true;
            Err(map_err(pcsc::Error::ResetCard, reader))
        }
        Err(pcsc::Error::InsufficientBuffer | pcsc::Error::InvalidParameter) if is_extended(apdu) => {
            Err(Error::transport(
                TransportKind::ExtendedRejected,
                format!("reader {reader:?} refused an extended-length APDU"),
                None,
            ))
        }
        Err(e) => Err(map_err(e, reader)),
    }
}

fn is_extended(apdu: &[u8]) -> bool {
    apdu.len() >= 7 && apdu[4] == 0
}

/// The card inside a PC/SC transaction.
struct InTransaction<'a> {
    card: &'a pcsc::Card,
    reader: &'a str,
    buf: &'a mut [u8],
    extended: &'a mut bool,
    reset_seen: &'a mut bool,
}

impl Transport for InTransaction<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let r = pcsc_transmit(self.card, self.reader, self.buf, apdu, self.reset_seen);
        if r.as_ref().err().and_then(Error::transport_kind) == Some(TransportKind::ExtendedRejected) {
            *self.extended = false;
        }
        r
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { extended_length: *self.extended }
    }
    fn describe(&self) -> String {
        self.reader.to_string()
    }
    fn reset(&mut self) -> Result<()> {
        Err(Error::Invalid("cannot reset the card inside a transaction".into()))
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

impl Transport for PcscTransport {
    /// One APDU on its own needs no transaction: pcscd runs it whole.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.recover()?;
        let r = pcsc_transmit(&self.card, &self.reader, &mut self.buf, apdu, &mut self.reset_seen);
        if r.as_ref().err().and_then(Error::transport_kind) == Some(TransportKind::ExtendedRejected) {
            self.extended = false;
        }
        r
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { extended_length: self.extended }
    }
    fn describe(&self) -> String {
        self.reader.clone()
    }
    /// A warm reset of the card (its transient state is lost), then SELECT.
    fn reset(&mut self) -> Result<()> {
        self.card
            .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard)
            .map_err(|e| map_err(e, &self.reader))?;
        Ok(())
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        self.recover()?;
        let PcscTransport { card, reader, extended, reset_seen, buf, .. } = self;
        let tx = match card.transaction() {
            Ok(tx) => tx,
            Err(pcsc::Error::ResetCard) => {
                *reset_seen = true;
                return Err(map_err(pcsc::Error::ResetCard, reader));
            }
            Err(e) => return Err(map_err(e, reader)),
        };
        let mut inside = InTransaction { card: &tx, reader, buf, extended, reset_seen };
        let result = f(&mut inside);
        // Ending fails only if the card went away; the result already says so.
        let _ = tx.end(Disposition::LeaveCard);
        result
    }
}

impl Drop for PcscTransport {
    /// Leaves the card as it is. The `pcsc` crate's own drop resets it,
    /// which would log every other application on the card out.
    fn drop(&mut self) {
        // SAFETY: the handle is taken exactly once, here, and never used again.
        let card = unsafe { ManuallyDrop::take(&mut self.card) };
        let _ = card.disconnect(Disposition::LeaveCard);
    }
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport").field("reader", &self.reader).field("extended", &self.extended).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pcsc_failure_gets_its_kind_and_a_hint() {
        use pcsc::Error as P;
        let cases = [
            (P::NoService, TransportKind::NoService),
            (P::ServiceStopped, TransportKind::NoService),
            (P::NoReadersAvailable, TransportKind::NoReader),
            (P::UnknownReader, TransportKind::NoReader),
            (P::NoSmartcard, TransportKind::NoCard),
            (P::UnresponsiveCard, TransportKind::NoCard),
            (P::RemovedCard, TransportKind::CardRemoved),
            (P::SharingViolation, TransportKind::SharingViolation),
            (P::ReaderUnavailable, TransportKind::ReaderUnavailable),
            (P::ResetCard, TransportKind::CardReset),
        ];
        for (e, kind) in cases {
            let err = map_err(e, "Some Reader 00 00");
            assert_eq!(err.transport_kind(), Some(kind), "{e:?}");
            assert!(err.hint().is_some(), "{e:?} has no hint");
        }
        assert!(map_err(P::NoService, "").to_string().contains("pcscd is not running"));
        assert!(map_err(P::SharingViolation, "R 00").to_string().contains("R 00"));
        assert_eq!(map_err(P::Timeout, "R").transport_kind(), Some(TransportKind::Other));
    }

    #[test]
    fn extended_apdus_are_recognised() {
        assert!(is_extended(&[0, 0xCB, 0x3F, 0xFF, 0, 0, 0]));
        assert!(!is_extended(&[0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E]));
        assert!(!is_extended(&[0, 0xC0, 0, 0, 0]));
    }
}
