//! The sub-SIM host driver.
//!
//! - [`Transport`]: how the host reaches a card: [`PcscTransport`] through
//!   pcscd, [`SimTransport`] in-process;
//! - [`exchange`](mod@exchange): chaining and GET RESPONSE, shared by every transport;
//! - [`Client`]: the typed API, the same over every transport;
//! - [`padding`]: PKCS#1 v1.5 and PSS, applied host-side;
//! - [`trace`]: APDU traces for people, secrets redacted;
//! - [`profile`]: which feature sets a card has (`piv`, `yubico`, `subsim`);
//! - [`metered`]: a transport that counts APDUs and bytes;
//! - [`x509`]: certificate requests and certificates signed on the card, a test CA.

pub mod client;
pub mod error;
pub mod exchange;
pub mod metered;
pub mod padding;
pub mod pcsc;
pub mod profile;
pub mod sim;
pub mod trace;
pub mod transport;
pub mod x509;

pub use client::{AppInfo, CardInfo, CertCache, Client, LoginProof, PinState};
pub use error::{Error, Result, TransportKind};
pub use padding::{Hash, Padding};
pub use pcsc::{list_readers, PcscTransport, ReaderChoice, ReaderInfo};
pub use profile::{CardProfile, Profile};
pub use sim::SimTransport;
pub use transport::{Capabilities, Transport};

// What a program needs beside the client: slots and messages, the simulated
// card, and RSA to check signatures, without adding them by hand.
pub use apdu_sim;
pub use applet_spec;
pub use rsa;

/// The README's Rust example, run as a doctest.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
