//! Host errors: each says what failed and, where one helps, what to do.

use applet_spec::{SpecError, Sw};

/// Why a transport could not carry an APDU: distinct, so callers can act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// pcscd is not running.
    NoService,
    /// No reader, or not the one asked for.
    NoReader,
    /// The reader is there but holds no (working) card.
    NoCard,
    /// The card was pulled out during the exchange.
    CardRemoved,
    /// Another process holds the card exclusively.
    SharingViolation,
    /// The reader was unplugged.
    ReaderUnavailable,
    /// Another process reset the card: its security state (PIN, management
    /// key) is lost. The driver reconnected and re-selected the applet; it
    /// re-sends nothing on its own.
    CardReset,
    /// The reader refused an extended-length APDU (nothing reached the card).
    ExtendedRejected,
    /// The card or reader answered something that is not an R-APDU.
    Protocol,
    /// The phone's access control (the card's ARA-M rules) refused the app
    /// or this APDU; the message is OMAPI's `SecurityException`.
    AccessDenied,
    /// Any other PC/SC failure; the message has the details.
    Other,
}

/// Everything a card operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport could not carry the APDU.
    #[error("{message}")]
    Transport {
        /// What kind of failure, for callers that act on it.
        kind: TransportKind,
        /// What happened, for a person.
        message: String,
        /// What to do about it, when known.
        hint: Option<&'static str>,
    },
    /// The card answered a status word the operation does not accept.
    #[error("{command} failed: card answered {sw}")]
    Status {
        /// The command's name, as in traces (e.g. "VERIFY").
        command: &'static str,
        /// The status word the card answered.
        sw: Sw,
    },
    /// The card's answer does not decode as the interface defines.
    #[error("{command}: unexpected answer from the card: {source}")]
    Malformed {
        /// The command's name, as in traces.
        command: &'static str,
        /// What did not decode.
        source: SpecError,
    },
    /// The caller's input cannot be sent (a PIN of the wrong length, say).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// A transport error of `kind`, with an optional hint for a person.
    pub fn transport(kind: TransportKind, message: impl Into<String>, hint: Option<&'static str>) -> Error {
        Error::Transport { kind, message: message.into(), hint }
    }
    /// The status word, when the card refused.
    pub fn sw(&self) -> Option<Sw> {
        match self {
            Error::Status { sw, .. } => Some(*sw),
            _ => None,
        }
    }
    /// The kind of transport failure, when it is one.
    pub fn transport_kind(&self) -> Option<TransportKind> {
        match self {
            Error::Transport { kind, .. } => Some(*kind),
            _ => None,
        }
    }
    /// A one-line hint for a person, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Transport { hint, .. } => *hint,
            Error::Status { sw, .. } => match *sw {
                Sw::SECURITY_STATUS_NOT_SATISFIED => {
                    Some("verify the PIN, or authenticate with the management key, first")
                }
                Sw::AUTH_METHOD_BLOCKED => Some("blocked: unblock the PIN with the PUK, or terminate the card"),
                Sw::CONDITIONS_NOT_SATISFIED => {
                    Some("a precondition is missing (keypad layout, device binding, or keypad-only policy)")
                }
                sw if sw.retries().is_some() => Some("wrong value; mind the tries left"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A result with the host's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
