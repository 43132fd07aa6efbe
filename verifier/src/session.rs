//! Session identifiers: what a challenge or a statement is bound to.

use std::fmt;

use crate::error::Refusal;

/// A server session's identifier: 1 to 64 characters from `A-Z a-z 0-9 . _ -`
/// (so it prints and encodes without escaping).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// `id` as a session identifier; refused unless 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub fn new(id: &str) -> Result<SessionId, Refusal> {
        let ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(SessionId(id.to_string()))
        } else {
            Err(Refusal::malformed("session id", format!("{id:?}: use 1 to 64 of A-Z a-z 0-9 . _ -")))
        }
    }

    /// A fresh random identifier (128 bits, hex).
    pub fn random() -> SessionId {
        SessionId(hex::encode(crate::random::<16>()))
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
