//! The sub-SIM's server side: what a bank checks before it trusts a login
//! or a transfer signed by the card, and before its CA certifies a key.
//!
//! - [`chain`]: certificate paths to trusted CAs at a given time, CRL
//!   revocation, key usage per [`Role`] (OpenSSL's verifier);
//! - [`challenge`]: single-use, expiring login challenges bound to a session;
//! - [`statement`]: transfer statements in one canonical encoding, and the
//!   ledger that tells an issued statement from an altered or replayed one;
//! - [`server`]: the two checks end to end ([`Server::login`], [`Server::confirm`]);
//! - [`attest`]: key attestation at issuance (Yubico's PIV format);
//! - [`testca`]: a TEST CA for labs, demos and tests.
//!
//! Every refusal is a [`Refusal`], one variant per reason. The clock is
//! always passed in.

pub mod attest;
pub mod chain;
pub mod challenge;
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
