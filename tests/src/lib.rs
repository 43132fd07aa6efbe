//! Shared ground for the conformance suite: which card to test and small
//! helpers. Every test body talks to the card only through the transport
//! trait, so the same tests run against any target.
//!
//! The target comes from `SUBSIM_TARGET`: `sim` (the default) is a fresh
//! in-process simulated card per test.

use applet_spec::apdu::{Command, Response};
use applet_spec::Sw;
use subsim_host::{Client, Error, SimTransport, Transport};

pub type Card = Client<Box<dyn Transport>>;

/// Where the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new simulated card in this process for every test.
    Sim,
}

pub fn target() -> Target {
    match std::env::var("SUBSIM_TARGET").as_deref() {
        Err(_) | Ok("") | Ok("sim") => Target::Sim,
        Ok(other) => panic!("SUBSIM_TARGET={other:?}: this build knows only \"sim\""),
    }
}

fn seed() -> u64 {
    // Distinct cards per test thread, reproducible per test name.
    let name = std::thread::current().name().unwrap_or("main").to_string();
    name.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// A factory-fresh card with the applet selected.
pub fn fresh_card() -> Card {
    let transport: Box<dyn Transport> = match target() {
        Target::Sim => Box::new(SimTransport::new(apdu_sim::SimCard::seeded(seed()))),
    };
    let mut card = Client::new(transport);
    card.select().expect("SELECT on a fresh card");
    card
}

/// A fresh card, management key authenticated with the factory key.
pub fn admin_card() -> Card {
    let mut card = fresh_card();
    card.authenticate_default().expect("factory management key");
    card
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
