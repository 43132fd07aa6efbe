//! The phone's view of a card: what an Android app gets from the Open
//! Mobile API (OMAPI, `android.se.omapi`), in front of any [`Transport`].
//!
//! An app never has the card to itself. The basic channel belongs to the
//! modem; an app opens a session, and `openLogicalChannel(aid)` has the
//! phone's access control enforcer (ACE) read the card's ARA-M rules
//! (GlobalPlatform SEAC 1.1), look up the rule for the app's signing
//! certificate and the applet, and only then open a logical channel
//! (MANAGE CHANNEL) and SELECT the applet on it. Every APDU the app sends
//! goes through the rule's APDU filters and gets the channel's class byte.
//! Closing the channel (or the session) sends MANAGE CHANNEL close.
//!
//! [`Phone`] is that enforcer over one card; [`Phone::open_channel`] gives a
//! [`PhoneChannel`], itself a [`Transport`], so a [`crate::Client`] runs over
//! it as over a reader. Several channels, for several apps, share the card.
//! Refusals carry the text an app developer sees in OMAPI's
//! `SecurityException` ([`TransportKind::AccessDenied`]).
//!
//! What differs from a phone: an app may SELECT its own applet again on its
//! channel (OMAPI forbids SELECT by DF name; this lets one client run
//! unchanged), and `reset` closes and reopens the channel (an app cannot
//! reset a SIM; a new channel is what it gets instead).

use std::cell::RefCell;
use std::rc::Rc;

use applet_spec::apdu::{Class, Command, ManageChannel, Response};
use applet_spec::aram::{self, ApduRule, Rule, StoreCommand, ARAM_AID};
use applet_spec::ins::{CLA_PROPRIETARY, GET_RESPONSE, MANAGE_CHANNEL, SELECT};
use applet_spec::Sw;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, TransportKind};
use crate::exchange::exchange;
use crate::transport::{Capabilities, Transport};

/// An Android app as the ACE names it: the hashes of its signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// SHA-1 (20 bytes) and SHA-256 (32 bytes) of the DER certificate.
    pub hashes: Vec<Vec<u8>>,
}

impl App {
    /// The app signed with this certificate (DER).
    pub fn from_certificate(der: &[u8]) -> App {
        App { hashes: vec![sha1::Sha1::digest(der).to_vec(), Sha256::digest(der).to_vec()] }
    }
    /// The SHA-256 of its certificate, as rules usually name it.
    pub fn sha256(&self) -> &[u8] {
        self.hashes.iter().find(|h| h.len() == 32).map_or(&[][..], |h| h.as_slice())
    }
}

fn denied(message: impl Into<String>) -> Error {
    Error::transport(
        TransportKind::AccessDenied,
        format!("java.lang.SecurityException: {}", message.into()),
        Some("the card's access rules (ARA-M) do not let this app reach the applet: see `subsim rules list`"),
    )
}

/// What a channel carries, to whom.
struct Session {
    channel: u8,
    aid: Vec<u8>,
    apdu: ApduRule,
}

impl Session {
    /// The app's APDU on the channel: OMAPI's checks, then the channel's
    /// class byte (whatever channel bits the app set are overwritten, as
    /// OMAPI does; a byte that is no class byte goes as it is, for the card
    /// to refuse).
    fn outgoing(&self, apdu: &[u8]) -> Result<Vec<u8>> {
        // A malformed APDU (OMAPI would throw IllegalArgumentException) goes
        // to the card as it is, for the card's own word: only its header is checked.
        let Some(&[cla, ins, p1, p2]) = apdu.get(..4).map(|h| <&[u8; 4]>::try_from(h).expect("4 bytes")) else {
            let mut out = apdu.to_vec();
            if let Some(cla) = out.first_mut() {
                *cla = Class::on_channel(*cla, self.channel).unwrap_or(*cla);
            }
            return Ok(out);
        };
        let data = Command::parse(apdu).map(|c| c.data.clone()).unwrap_or_default();
        let interindustry = cla & CLA_PROPRIETARY == 0;
        if interindustry && ins == MANAGE_CHANNEL {
            return Err(denied("MANAGE CHANNEL command not allowed"));
        }
        let own_select = interindustry && ins == SELECT && p1 == 0x04 && data == self.aid;
        if interindustry && ins == SELECT && p1 == 0x04 && !own_select {
            return Err(denied("SELECT by DF name command not allowed"));
        }
        // GET RESPONSE is the phone's own (OMAPI fetches 61xx answers itself).
        let phones_own = interindustry && ins == GET_RESPONSE || own_select;
        if !phones_own {
            // Filters are written for the basic channel, without the chain bit.
            let cla = Class::on_channel(cla, 0).unwrap_or(cla) & !applet_spec::ins::CLA_CHAIN;
            let header = [cla, ins, p1, p2];
            let allowed = match &self.apdu {
                ApduRule::Always => true,
                ApduRule::Never => false,
                ApduRule::Filters(filters) => filters.iter().any(|f| f.passes(header)),
            };
            if !allowed {
                return Err(denied(format!(
                    "Access Control Enforcer: APDU {:02X} {:02X} {:02X} {:02X} not allowed by the access rule",
                    header[0], header[1], header[2], header[3]
                )));
            }
        }
        let mut out = apdu.to_vec();
        out[0] = Class::on_channel(cla, self.channel).unwrap_or(cla);
        Ok(out)
    }
}

/// The phone's access control enforcer over one card.
pub struct Phone<T: Transport> {
    card: Rc<RefCell<T>>,
}

impl<T: Transport> Clone for Phone<T> {
    fn clone(&self) -> Self {
        Phone { card: self.card.clone() }
    }
}

/// Sends one command on the basic channel and collects its answer.
fn basic(card: &mut dyn Transport, cmd: &Command) -> Result<Response> {
    exchange(card, cmd)
}

fn status(command: &'static str, r: &Response) -> Result<()> {
    if r.sw.is_ok() {
        Ok(())
    } else {
        Err(Error::Status { command, sw: r.sw })
    }
}

/// Opens a logical channel (the card picks it): its number.
fn open_channel_on(card: &mut dyn Transport) -> Result<u8> {
    let r = basic(card, &ManageChannel::OpenAny.command())?;
    if r.sw == Sw::LOGICAL_CHANNEL_NOT_SUPPORTED || r.sw == Sw::INS_NOT_SUPPORTED || r.sw == Sw::CLA_NOT_SUPPORTED {
        return Err(Error::transport(
            TransportKind::Other,
            format!("{}: the card has no logical channels ({})", card.describe(), r.sw),
            Some(
                "an Android phone reaches a SIM applet only on a logical channel: this card cannot be a sub-SIM there",
            ),
        ));
    }
    if r.sw == Sw::FUNCTION_NOT_SUPPORTED {
        return Err(Error::transport(
            TransportKind::Other,
            "java.io.IOException: no logical channel is free on the card (6A81)",
            Some("close another app's channel (session) first"),
        ));
    }
    status("MANAGE CHANNEL", &r)?;
    match r.data.as_slice() {
        [n] if (1..applet_spec::apdu::CHANNELS).contains(n) => Ok(*n),
        _ => Err(Error::Malformed {
            command: "MANAGE CHANNEL",
            source: applet_spec::SpecError::Malformed("one channel number, 1 to 19"),
        }),
    }
}

fn close_channel_on(card: &mut dyn Transport, channel: u8) -> Result<()> {
    status("MANAGE CHANNEL", &basic(card, &ManageChannel::Close(channel).command())?)
}

/// Runs `f` with the ARA-M selected on a channel of its own, then closes it.
fn with_aram<R>(card: &mut dyn Transport, f: impl FnOnce(&mut dyn Transport, u8) -> Result<R>) -> Result<R> {
    let channel = open_channel_on(card)?;
    let select = Command::new(0x00, SELECT, 0x04, 0x00).with_data(ARAM_AID.to_vec());
    let out = on_channel(card, channel, &select).and_then(|r| {
        if r.sw == Sw::FILE_NOT_FOUND {
            return Err(denied("Access Control Enforcer: no ARA-M on the card: access denied"));
        }
        status("SELECT ARA-M", &r)?;
        f(card, channel)
    });
    let closed = close_channel_on(card, channel);
    let out = out?;
    closed?;
    Ok(out)
}

/// One command on `channel` through the exchange layer (chaining, 61xx).
fn on_channel(card: &mut dyn Transport, channel: u8, cmd: &Command) -> Result<Response> {
    let session = Session { channel, aid: Vec::new(), apdu: ApduRule::Always };
    let mut view = ChannelView { card, session: &session, app: false };
    exchange(&mut view, cmd)
}

/// Reads every rule: GET DATA [all], then [next] until the whole answer is in.
fn read_rules(card: &mut dyn Transport, channel: u8) -> Result<Vec<Rule>> {
    let first = on_channel(card, channel, &Command::new(0x80, aram::INS_GET_DATA, 0xFF, 0x40).with_ne(256))?;
    // No rules: an empty FF40, or 6A88 (both seen on ARA-Ms).
    if first.sw == Sw::REFERENCE_NOT_FOUND {
        return Ok(Vec::new());
    }
    status("GET DATA [all]", &first)?;
    let total = aram::all_rules_len(&first.data)
        .ok_or(Error::Malformed { command: "GET DATA [all]", source: applet_spec::SpecError::Malformed("not FF40") })?;
    let mut all = first.data;
    while all.len() < total {
        let next = on_channel(card, channel, &Command::new(0x80, aram::INS_GET_DATA, 0xFF, 0x60).with_ne(256))?;
        status("GET DATA [next]", &next)?;
        if next.data.is_empty() || all.len() + next.data.len() > total {
            return Err(Error::Malformed {
                command: "GET DATA [next]",
                source: applet_spec::SpecError::Malformed("blocks do not add up"),
            });
        }
        all.extend(next.data);
    }
    aram::parse_all_rules(&all).map_err(|source| Error::Malformed { command: "GET DATA [all]", source })
}

impl<T: Transport> Phone<T> {
    /// A phone holding this card.
    pub fn new(card: T) -> Phone<T> {
        Phone { card: Rc::new(RefCell::new(card)) }
    }

    /// The card's access rules, as the ACE reads them (on a channel of its own).
    pub fn rules(&self) -> Result<Vec<Rule>> {
        let mut card = self.card.borrow_mut();
        with_aram(&mut *card, read_rules)
    }

    /// `openLogicalChannel(aid)` for `app`: the rule for it (else the
    /// `SecurityException` an app sees), a new channel, SELECT of the applet there.
    pub fn open_channel(&self, app: &App, aid: &[u8]) -> Result<PhoneChannel<T>> {
        let mut card = self.card.borrow_mut();
        let rules = with_aram(&mut *card, read_rules)?;
        let apdu = match aram::rule_for(&rules, aid, &app.hashes) {
            None => {
                return Err(denied(
                    "Access Control Enforcer: no APDU access allowed! (no access rule for this app and applet)",
                ))
            }
            Some(Rule { apdu: ApduRule::Never, .. }) => {
                return Err(denied(
                    "Access Control Enforcer: no APDU access allowed! (the rule for this app denies it)",
                ))
            }
            Some(rule) => rule.apdu.clone(),
        };
        let channel = open_channel_on(&mut *card)?;
        let session = Session { channel, aid: aid.to_vec(), apdu };
        let select = Command::new(0x00, SELECT, 0x04, 0x00).with_data(aid.to_vec()).with_ne(256);
        let selected = {
            let mut view = ChannelView { card: &mut *card, session: &session, app: false };
            exchange(&mut view, &select)
        };
        match selected {
            Ok(r) if r.sw.is_ok() => {}
            Ok(r) => {
                close_channel_on(&mut *card, channel)?;
                return Err(if r.sw == Sw::FILE_NOT_FOUND {
                    Error::transport(
                        TransportKind::Other,
                        "java.util.NoSuchElementException: the applet is not on the card (SELECT: 6A82)",
                        None,
                    )
                } else {
                    Error::Status { command: "SELECT", sw: r.sw }
                });
            }
            Err(e) => {
                let _ = close_channel_on(&mut *card, channel);
                return Err(e);
            }
        }
        drop(card);
        Ok(PhoneChannel { card: self.card.clone(), session: Some(session), name: describe_app(app) })
    }

    /// Writes rules as the issuer: on a channel of its own, GENERAL
    /// AUTHENTICATE 9B to the ARA-M with the card's management key (via
    /// `authenticate`, which runs the exchange on the transport it is given),
    /// then STORE DATA.
    pub fn store_rules(
        &self,
        command: &StoreCommand,
        authenticate: &mut dyn FnMut(&mut dyn Transport) -> Result<()>,
    ) -> Result<()> {
        let mut card = self.card.borrow_mut();
        with_aram(&mut *card, |card, channel| {
            let session = Session { channel, aid: Vec::new(), apdu: ApduRule::Always };
            let mut view = ChannelView { card, session: &session, app: false };
            authenticate(&mut view)?;
            let store = Command::new(0x80, aram::INS_STORE_DATA, aram::STORE_P1, 0x00).with_data(command.encode());
            status("STORE DATA", &exchange(&mut view, &store)?)
        })
    }

    /// The card, for what the modem does on the basic channel.
    pub fn card(&self) -> std::cell::RefMut<'_, T> {
        self.card.borrow_mut()
    }
}

fn describe_app(app: &App) -> String {
    format!("app {}", hex::encode(&app.sha256()[..app.sha256().len().min(8)]))
}

/// A transport that puts one session's channel on every APDU: the app's
/// APDUs go through the session's checks first; the phone's own do not.
struct ChannelView<'a> {
    card: &'a mut dyn Transport,
    session: &'a Session,
    /// The app's APDUs (checked), not the phone's own.
    app: bool,
}

impl Transport for ChannelView<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let out = if self.app {
            self.session.outgoing(apdu)?
        } else {
            let mut out = apdu.to_vec();
            if let Some(cla) = out.first_mut() {
                *cla = Class::on_channel(*cla, self.session.channel).unwrap_or(*cla);
            }
            out
        };
        self.card.transmit(&out)
    }
    fn capabilities(&self) -> Capabilities {
        self.card.capabilities()
    }
    fn describe(&self) -> String {
        format!("{} (channel {})", self.card.describe(), self.session.channel)
    }
    fn reset(&mut self) -> Result<()> {
        Err(Error::Invalid("a phone app cannot reset the card".into()))
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

/// One app's logical channel to one applet (`android.se.omapi.Channel`).
/// Dropping it closes the channel.
pub struct PhoneChannel<T: Transport> {
    card: Rc<RefCell<T>>,
    /// `None` once closed.
    session: Option<Session>,
    name: String,
}

impl<T: Transport> PhoneChannel<T> {
    /// The logical channel it holds.
    pub fn channel(&self) -> Option<u8> {
        self.session.as_ref().map(|s| s.channel)
    }
    /// `Channel.close()`: MANAGE CHANNEL close.
    pub fn close(&mut self) -> Result<()> {
        match self.session.take() {
            Some(s) => close_channel_on(&mut *self.card.borrow_mut(), s.channel),
            None => Ok(()),
        }
    }
    fn session(&self) -> Result<&Session> {
        self.session.as_ref().ok_or_else(|| Error::Invalid("java.lang.IllegalStateException: channel is closed".into()))
    }
}

impl<T: Transport> Drop for PhoneChannel<T> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl<T: Transport> Transport for PhoneChannel<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let out = self.session()?.outgoing(apdu)?;
        self.card.borrow_mut().transmit(&out)
    }
    fn capabilities(&self) -> Capabilities {
        self.card.borrow().capabilities()
    }
    fn describe(&self) -> String {
        let channel = self.channel().map_or("closed".to_string(), |c| format!("channel {c}"));
        format!("{} through the phone ({}, {channel})", self.card.borrow().describe(), self.name)
    }
    /// A new channel to the same applet: what an app gets instead of a reset.
    fn reset(&mut self) -> Result<()> {
        let Some(old) = self.session.take() else { return Err(self.session().err().expect("closed")) };
        let mut card = self.card.borrow_mut();
        close_channel_on(&mut *card, old.channel)?;
        let channel = open_channel_on(&mut *card)?;
        let session = Session { channel, ..old };
        let select = Command::new(0x00, SELECT, 0x04, 0x00).with_data(session.aid.clone()).with_ne(256);
        let r = exchange(&mut ChannelView { card: &mut *card, session: &session, app: false }, &select)?;
        self.session = Some(session);
        status("SELECT", &r)
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        let session = self.session()?;
        let mut card = self.card.borrow_mut();
        card.exclusive(&mut |inner| {
            let mut view = ChannelView { card: inner, session, app: true };
            f(&mut view)
        })
    }
}
