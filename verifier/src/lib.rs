//! The sub-SIM's server side: what a bank checks before it trusts a login
//! or a transfer signed by the card, and before its CA certifies a key.
//!
//! - [`chain`]: certificate paths to trusted CAs at a given time, CRL
//!   revocation, key usage per [`Role`] (OpenSSL's verifier);
//! - [`crl`]: which of the CRLs held counts (the newest, per issuer);
//! - [`challenge`]: single-use, expiring login challenges bound to a session;
//! - [`statement`]: transfer statements in one canonical encoding, and the
//!   ledger that tells an issued statement from an altered or replayed one;
//! - [`server`]: the two checks end to end ([`Server::login`], [`Server::confirm`]);
//! - [`attest`]: key attestation at issuance (Yubico's PIV format);
//! - [`testca`]: a TEST CA for labs, demos and tests; [`ca_dir`]: its directory.
//!
//! Every refusal is a [`Refusal`], one variant per reason. The clock is
//! always passed in.
//!
//! # Quick start
//!
//! A login end to end, with a P-256 key in memory standing in for the
//! card's 9A key (with a card, `subsim-host`'s `Client::login` signs):
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use openssl::{ec, hash::MessageDigest, nid::Nid, pkey::PKey, sign::Signer};
//! use subsim_verifier::{testca, Refusal, Role, Server, SessionId, TestCa, Verifier};
//!
//! let now = SystemTime::now();
//! let mut ca = TestCa::new("CN=Bank", now, 30)?;
//! let p256 = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
//! let key = PKey::from_ec_key(ec::EcKey::generate(&p256)?)?;
//! let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
//! let (alice, a_day) = (testca::parse_name("CN=Alice")?, Duration::from_secs(86400));
//! let cert = ca.issue_for_key(&alice, &public, Role::Login, now, now + a_day)?;
//!
//! let crl = ca.crl(now, now + a_day)?; // revocation is checked: the server needs the CA's CRL
//! let mut server = Server::new(Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]));
//! let session = SessionId::new("s1")?;
//! let challenge = server.challenge(&session, now);
//! let mut signer = Signer::new(MessageDigest::sha256(), &key)?; // the card's job
//! let signature = signer.sign_oneshot_to_vec(&challenge.bytes)?;
//!
//! let who = server.login(&session, &challenge.bytes, &signature, &cert.to_der()?, now)?;
//! assert!(who.subject.contains("Alice"));
//! // A challenge is good for one login only.
//! let again = server.login(&session, &challenge.bytes, &signature, &cert.to_der()?, now);
//! assert_eq!(again.unwrap_err(), Refusal::ReplayedChallenge);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Next: [`Server::issue_transfer`] and [`Server::confirm`] for a transfer
//! signed with 9C; [`Verifier::crls`] and [`Revocation`] for revocation;
//! [`attest`] to require a card-generated key before [`TestCa::issue`];
//! `subsim ca` and `subsim login --ca` for the same checks from the command
//! line.

#![warn(missing_docs)]

pub mod attest;
pub mod ca_dir;
pub mod chain;
pub mod challenge;
pub mod crl;
pub mod error;
pub mod server;
pub mod session;
pub mod signature;
pub mod statement;
pub mod testca;
pub mod time;

pub use chain::{Revocation, Verified, Verifier};
pub use challenge::{Challenge, ChallengeIssuer};
pub use error::{Field, Refusal, Role};
pub use server::{check_signed, Server};
pub use session::SessionId;
pub use signature::RsaPadding;
pub use statement::{Amount, Currency, Ledger, Payee, Statement, Transfer};
pub use testca::{CaError, TestCa};

/// `N` bytes from OpenSSL's CSPRNG.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b).expect("the operating system's random source works");
    b
}
