//! Shared ground for the conformance suite: which card to test and small
//! helpers. Every test body talks to the card only through the transport
//! trait, so the same tests run against any target.
//!
//! The target comes from `SUBSIM_TARGET`:
//! - `sim` (the default): a fresh in-process simulated card for every test;
//! - `pcsc:<reader name or substring>`: the card in that PC/SC reader. Each
//!   test first resets it to factory state (TERMINATE), so a test runs only on
//!   the simulated card behind vpcd (recognised by its ATR) or on a real card
//!   whose serial is listed in `SUBSIM_ALLOW_DESTRUCTIVE` (comma-separated),
//!   checked before anything is written. Other cards: the test is skipped
//!   with a message. PC/SC tests share one card: run them with
//!   `--test-threads=1`.

use applet_spec::apdu::{Command, Response};
use applet_spec::Sw;
use subsim_host::{Client, Error, PcscTransport, ReaderChoice, SimTransport, Transport};

pub type Card = Client<Box<dyn Transport>>;

/// Where the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new simulated card in this process for every test.
    Sim,
    /// The card in the PC/SC reader whose name contains this.
    Pcsc(String),
}

pub fn target() -> Target {
    match std::env::var("SUBSIM_TARGET").as_deref() {
        Err(_) | Ok("") | Ok("sim") => Target::Sim,
        Ok(t) => match t.strip_prefix("pcsc:") {
            Some(reader) => Target::Pcsc(reader.to_string()),
            None => panic!("SUBSIM_TARGET={t:?}: use \"sim\" or \"pcsc:<reader name or substring>\""),
        },
    }
}

/// Says a test is skipped, and why. Written straight to stderr: libtest
/// captures `eprintln!` in passing tests, which would hide the message.
/// scripts/test counts these lines.
pub fn skip(why: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED: {name}: {why}");
}

/// `true` on the in-process target; elsewhere says why the test is skipped.
pub fn sim_only(why: &str) -> bool {
    let sim = target() == Target::Sim;
    if !sim {
        skip(&format!("in-process only on {:?}: {why}", target()));
    }
    sim
}

fn seed() -> u64 {
    // Distinct cards per test thread, reproducible per test name.
    let name = std::thread::current().name().unwrap_or("main").to_string();
    name.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Serials of real cards the suite may wipe, from `SUBSIM_ALLOW_DESTRUCTIVE`.
fn allowed_serials() -> Vec<u32> {
    std::env::var("SUBSIM_ALLOW_DESTRUCTIVE")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Back to factory state: TERMINATE with the factory management key, or, if
/// that key was changed, by blocking PIN and PUK (then anyone may terminate).
fn factory_reset(card: &mut Card) {
    if card.authenticate_default().is_err() {
        for _ in 0..16 {
            match card.verify_pin(b"000000").map_err(|e| e.sw()) {
                Err(Some(Sw::AUTH_METHOD_BLOCKED)) => break,
                _ => continue,
            }
        }
        for _ in 0..16 {
            match card.unblock_pin(b"00000000", b"000000").map_err(|e| e.sw()) {
                Err(Some(Sw::AUTH_METHOD_BLOCKED)) => break,
                _ => continue,
            }
        }
    }
    card.terminate().expect("TERMINATE to reset the card to factory state");
}

/// A factory-fresh card with the applet selected, or `None` (with a message)
/// when the target card may not be wiped. Use through [`fresh_card!`].
pub fn try_fresh_card() -> Option<Card> {
    match target() {
        Target::Sim => {
            let mut card: Card = Client::new(Box::new(SimTransport::new(apdu_sim::SimCard::seeded(seed()))));
            card.select().expect("SELECT on a fresh card");
            Some(card)
        }
        Target::Pcsc(reader) => {
            let t = PcscTransport::connect(&ReaderChoice::Substring(reader.clone()))
                .unwrap_or_else(|e| panic!("SUBSIM_TARGET=pcsc:{reader}: {e}"));
            let simulator = t.atr_info().simulator;
            let mut card: Card = Client::new(Box::new(t));
            card.select().expect("SELECT");
            let serial = card.serial().expect("GET SERIAL");
            if !simulator && !allowed_serials().contains(&serial) {
                skip(&format!(
                    "this test wipes the card, and card {serial} in {reader:?} is a real card not named in \
                     SUBSIM_ALLOW_DESTRUCTIVE (set SUBSIM_ALLOW_DESTRUCTIVE={serial} to allow it)"
                ));
                return None;
            }
            factory_reset(&mut card);
            card.transport_mut().reset().expect("card reset");
            card.select().expect("SELECT after reset");
            Some(card)
        }
    }
}

/// A factory-fresh card with the applet selected; returns from the test
/// (skipping it, with a message) when the target card may not be wiped.
#[macro_export]
macro_rules! fresh_card {
    () => {
        match $crate::try_fresh_card() {
            Some(card) => card,
            None => return,
        }
    };
}

/// A fresh card with the management key authenticated (factory key).
#[macro_export]
macro_rules! admin_card {
    () => {{
        let mut card = $crate::fresh_card!();
        card.authenticate_default().expect("factory management key");
        card
    }};
}

/// Sends raw hex as one APDU, bypassing chaining and GET RESPONSE.
pub fn raw(card: &mut Card, hex_apdu: &str) -> Response {
    let bytes = hex::decode(hex_apdu.replace(' ', "")).expect("test APDU is hex");
    let out = card.transport_mut().transmit(&bytes).expect("transport");
    Response::parse(&out).expect("response has a status word")
}

/// Sends a command through the shared exchange (chaining, GET RESPONSE).
pub fn send(card: &mut Card, cmd: Command) -> Response {
    card.transmit(&cmd).expect("transport")
}

/// The status word of a refused operation.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> Sw {
    match r {
        Err(Error::Status { sw, .. }) => sw,
        other => panic!("expected the card to refuse with a status word, got {other:?}"),
    }
}
