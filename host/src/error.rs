//! Host errors: each says what failed and, where one helps, what to do.

use applet_spec::{SpecError, Sw};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport could not carry the APDU.
    #[error("{message}")]
    Transport { message: String, hint: Option<&'static str> },
    /// The card answered a status word the operation does not accept.
    #[error("{command} failed: card answered {sw}")]
    Status { command: &'static str, sw: Sw },
    /// The card's answer does not decode as the interface defines.
    #[error("{command}: unexpected answer from the card: {source}")]
    Malformed { command: &'static str, source: SpecError },
    /// The caller's input cannot be sent (a PIN of the wrong length, say).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The status word, when the card refused.
    pub fn sw(&self) -> Option<Sw> {
        match self {
            Error::Status { sw, .. } => Some(*sw),
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

pub type Result<T> = std::result::Result<T, Error>;
