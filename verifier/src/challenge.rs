//! Login challenges: random, single-use, expiring, bound to a session.
//!
//! The server issues a challenge to a session; the card signs it; the
//! first verification consumes it, whatever its outcome, so a recorded
//! login cannot be played again. A used or expired challenge is remembered
//! for one more lifetime, so a late replay is still named as a replay.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::error::Refusal;
use crate::session::SessionId;
use crate::time::show;

/// Challenge length: 32 random bytes (256 bits).
pub const CHALLENGE_LEN: usize = 32;

/// A challenge as issued: the card signs `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The random bytes the card signs.
    pub bytes: [u8; CHALLENGE_LEN],
    /// The session it was issued to; only that session may answer it.
    pub session: SessionId,
    /// When it stops being accepted.
    pub expires: SystemTime,
}

struct Entry {
    session: SessionId,
    expires: SystemTime,
    used: bool,
}

/// Issues and consumes challenges. Time is always passed in.
pub struct ChallengeIssuer {
    lifetime: Duration,
    entries: HashMap<[u8; CHALLENGE_LEN], Entry>,
}

impl ChallengeIssuer {
    /// Challenges valid for `lifetime` after they are issued.
    pub fn new(lifetime: Duration) -> ChallengeIssuer {
        ChallengeIssuer { lifetime, entries: HashMap::new() }
    }

    /// A fresh random challenge for `session`, valid from `now` for the issuer's lifetime.
    pub fn issue(&mut self, session: &SessionId, now: SystemTime) -> Challenge {
        self.forget_old(now);
        let bytes = crate::random::<CHALLENGE_LEN>();
        let expires = now + self.lifetime;
        self.entries.insert(bytes, Entry { session: session.clone(), expires, used: false });
        Challenge { bytes, session: session.clone(), expires }
    }

    /// Spends the challenge for `session`: Ok only the first time, in time,
    /// for the session it was issued to. Any attempt spends it.
    pub fn consume(&mut self, session: &SessionId, challenge: &[u8], now: SystemTime) -> Result<(), Refusal> {
        let key: [u8; CHALLENGE_LEN] = challenge.try_into().map_err(|_| Refusal::UnknownChallenge)?;
        let entry = self.entries.get_mut(&key).ok_or(Refusal::UnknownChallenge)?;
        if entry.used {
            return Err(Refusal::ReplayedChallenge);
        }
        entry.used = true;
        if &entry.session != session {
            return Err(Refusal::WrongSession {
                issued_to: entry.session.to_string(),
                presented_by: session.to_string(),
            });
        }
        if now >= entry.expires {
            return Err(Refusal::ChallengeExpired { expired_at: show(entry.expires) });
        }
        Ok(())
    }

    /// How many challenges are remembered (pending, used or expired).
    pub fn remembered(&self) -> usize {
        self.entries.len()
    }

    fn forget_old(&mut self, now: SystemTime) {
        let keep = self.lifetime;
        self.entries.retain(|_, e| e.expires + keep > now);
    }
}
