//! The sub-SIM host driver.
//!
//! - [`Transport`]: how the host reaches a card: [`PcscTransport`] through
//!   pcscd, [`SimTransport`] in-process;
//! - [`exchange`](mod@exchange): chaining and GET RESPONSE, shared by every transport;
//! - [`gp`]: a GlobalPlatform client (the card manager, SCP03) over any transport;
//!   [`cap`]: CAP files and the load file data block LOAD carries;
//! - [`Client`]: the typed API, the same over every transport;
//! - [`padding`]: PKCS#1 v1.5 and PSS, applied host-side;
//! - [`trace`]: APDU traces for people, secrets redacted;
//! - [`profile`]: which feature sets a card has (`piv`, `yubico`, `subsim`);
//! - [`metered`]: a transport that counts APDUs and bytes;
//! - [`phone`]: the card as an Android app reaches it (OMAPI: access rules,
//!   a logical channel per session, APDU filters);
//! - [`x509`]: certificate requests and certificates signed on the card, a test CA.
//!
//! # Quick start
//!
//! The same [`Client`] drives the simulated card in this process and a card
//! in a PC/SC reader. Generate a key on the card and check its signature:
//!
//! ```
//! use subsim_host::applet_spec::piv::Slot;
//! use subsim_host::apdu_sim::SimCard;
//! use subsim_host::rsa::sha2::{Digest, Sha256};
//! use subsim_host::rsa::Pkcs1v15Sign;
//! use subsim_host::{Client, Hash, Padding, PinState, SimTransport};
//!
//! let mut card = Client::new(SimTransport::new(SimCard::seeded(1)));
//! card.select()?;
//! card.authenticate_default()?; // factory management key: key generation needs it
//! let public_key = card.generate(Slot::Signature)?; // RSA-2048 in 9C
//! assert_eq!(card.pin_state()?, PinState::NotVerified { tries_left: 3 });
//! card.verify_pin(b"123456")?; // 9C needs it before every signature
//! let signature = card.sign(Slot::Signature, b"pay 10 EUR", Hash::Sha256, Padding::Pkcs1v15)?;
//! public_key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"pay 10 EUR"), &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A card behind pcscd (a real reader, or the simulator through vpcd) only
//! changes the transport:
//!
//! ```no_run
//! use subsim_host::{Client, PcscTransport, ReaderChoice};
//!
//! let reader = ReaderChoice::Substring("Virtual PCD".into());
//! let mut card = Client::new(PcscTransport::connect(&reader)?);
//! println!("{:?}", card.select()?);
//! # Ok::<(), subsim_host::Error>(())
//! ```
//!
//! Next: the methods of [`Client`]; [`Error::sw`] and [`Error::hint`] to
//! explain a refusal; [`trace::Tracing`] to see every APDU; `subsim-verifier`
//! for the server's side of a login or a signed transfer. In your own
//! project, build dependencies optimised (`[profile.dev.package."*"]
//! opt-level = 3`): unoptimised RSA is about 20 times slower.

#![warn(missing_docs)]

pub mod cap;
pub mod client;
pub mod error;
pub mod exchange;
pub mod gp;
pub mod metered;
pub mod padding;
pub mod pcsc;
pub mod phone;
pub mod profile;
pub mod relay;
pub mod sim;
pub mod trace;
pub mod transport;
pub mod x509;

pub use client::{AppInfo, CardInfo, CertCache, Client, LoginProof, PinState};
pub use error::{Error, Result, TransportKind};
pub use padding::{Hash, Padding};
pub use pcsc::{list_readers, PcscTransport, ReaderChoice, ReaderInfo};
pub use phone::{App, Phone, PhoneChannel};
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
