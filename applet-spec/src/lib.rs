//! The sub-SIM applet's interface, written once and shared by the simulated
//! card (`apdu-sim`) and the host driver (`subsim-host`).
//!
//! - [`apdu`]: command and response APDUs (ISO 7816-4, short and extended);
//! - [`sw`]: status words and their meaning;
//! - [`ins`]: classes, instructions and the table of commands;
//! - [`piv`]: AIDs, slots, key references, algorithms, objects, PIN encoding;
//! - [`messages`]: every command's data field and every response, both ways.
//! - [`mgm`]: the management key's block cipher (3DES, AES).
//!
//! The human reference is `docs/applet-spec.md`; a test keeps it in step.

pub mod apdu;
pub mod atr;
pub mod ins;
pub mod messages;
pub mod mgm;
pub mod piv;
pub mod sw;
pub mod tlv;

pub use apdu::{Command, Response};
pub use sw::Sw;

/// Bytes that do not decode as the message expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("malformed data: {0}")]
    Malformed(&'static str),
}
