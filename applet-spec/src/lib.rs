//! The sub-SIM applet's interface, written once and shared by the simulated
//! card (`apdu-sim`) and the host driver (`subsim-host`).
//!
//! - [`apdu`]: command and response APDUs (ISO 7816-4, short and extended), class byte and logical channels;
//! - [`aram`]: the ARA-M (GlobalPlatform Secure Element Access Control): access rules, their commands;
//! - [`sw`]: status words and their meaning;
//! - [`ins`]: classes, instructions and the table of commands;
//! - [`piv`]: AIDs, slots, key references, algorithms, objects, PIN encoding;
//! - [`messages`]: every command's data field and every response, both ways.
//! - [`mgm`]: the management key's block cipher (3DES, AES).
//! - [`java`]: the Java Card applet's constants (`Spec.java`), generated from all of the above.
//!
//! The human reference is `docs/applet-spec.md`; a test keeps it in step.
//!
//! # Quick start
//!
//! Build the command a host sends to verify the PIN (SP 800-73-4 part 2,
//! 3.2.1), check its bytes, and read the card's answer to a wrong PIN:
//!
//! ```
//! use applet_spec::{ins, piv, Command, Response, Sw};
//!
//! // VERIFY: CLA 00, INS 20, P2 = the PIN's key reference, data = the
//! // PIN padded with FF to 8 bytes.
//! let block = piv::pin_block(b"123456", true).expect("6 to 8 digits");
//! let cmd = Command::new(ins::CLA_ISO, ins::VERIFY, 0x00, piv::KEY_REF_PIN).with_data(block);
//! assert_eq!(
//!     cmd.to_bytes().as_slice(),
//!     [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF]
//! );
//! // The card parses the same bytes back into the same command.
//! assert_eq!(Command::parse(&cmd.to_bytes()).unwrap(), cmd);
//!
//! // A wrong PIN: 63C2, two tries left.
//! let answer = Response::parse(&[0x63, 0xC2]).unwrap();
//! assert_eq!(answer.sw, Sw::tries_left(2));
//! assert_eq!(answer.sw.retries(), Some(2));
//! ```
//!
//! Next: [`messages`] for every command's data field (e.g.
//! [`messages::DynamicAuth`] for GENERAL AUTHENTICATE), `subsim-host`'s
//! `Client` for a typed API that sends these, and `apdu-sim` for a card that
//! answers them.

#![warn(missing_docs)]

pub mod apdu;
pub mod aram;
pub mod atr;
pub mod ins;
pub mod java;
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
    /// A TLV or fixed field is missing, misplaced or of the wrong length; the text names which.
    #[error("malformed data: {0}")]
    Malformed(&'static str),
}
