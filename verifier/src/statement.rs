//! Transaction statements: what the card signs to confirm a transfer, in
//! one canonical encoding, and the server's ledger of statements it issued.
//!
//! The encoding (version 1) is seven lines of ASCII, each ended by `\n`,
//! in this order and nothing else:
//!
//! ```text
//! subsim transfer statement v1
//! session: 4f1c0e2a9b7d
//! sequence: 1
//! nonce: 00112233445566778899aabbccddeeff
//! payee: DE89370400440532013000
//! amount: 250.00
//! currency: EUR
//! ```
//!
//! - `session`: the [`SessionId`] the server issued the statement to;
//! - `sequence`: the session's transfer counter, from 1;
//! - `nonce`: 16 random bytes from the server, lowercase hex;
//! - `payee`: 1 to 70 printable ASCII characters, no leading or trailing
//!   space (ASCII only, so no look-alike characters slip into what the user
//!   confirms);
//! - `amount`: digits, optionally `.` and 1 to 3 digits; no sign, no
//!   leading zeros (`0.50`, not `00.50`); `250.00` and `250.0` are
//!   different texts;
//! - `currency`: three capital letters (ISO 4217 style).
//!
//! Decoding accepts only this exact form: a text that decodes re-encodes to
//! the same bytes, so one statement has one signature input.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::error::{Field, Refusal};
use crate::session::SessionId;
use crate::time::show;

const HEADER: &str = "subsim transfer statement v1";
/// Length of a statement's nonce, in bytes (128 bits).
pub const NONCE_LEN: usize = 16;

/// Who receives the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee(String);

impl Payee {
    /// `s` as a payee: 1 to 70 printable ASCII characters, not space-padded.
    pub fn new(s: &str) -> Result<Payee, Refusal> {
        let ok = (1..=70).contains(&s.len())
            && s.bytes().all(|b| (0x20..=0x7E).contains(&b))
            && !s.starts_with(' ')
            && !s.ends_with(' ');
        if ok {
            Ok(Payee(s.into()))
        } else {
            Err(Refusal::malformed("payee", format!("{s:?}: 1 to 70 printable ASCII characters, not space-padded")))
        }
    }
}

impl fmt::Display for Payee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount as an integer of its smallest unit and a count of decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    /// The amount in units of 10^-`decimals` (e.g. 25000 for `250.00`).
    pub minor: u64,
    /// Digits after the decimal point, 0 to 3.
    pub decimals: u8,
}

impl Amount {
    /// Parses the canonical decimal text (`250.00`).
    pub fn parse(s: &str) -> Result<Amount, Refusal> {
        let bad = || Refusal::malformed("amount", format!("{s:?}: digits, optionally '.' and 1 to 3 digits"));
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return Err(bad());
        }
        let frac = frac.unwrap_or("");
        if !frac.is_empty() && (!digits(frac) || frac.len() > 3) || s.ends_with('.') {
            return Err(bad());
        }
        let minor = format!("{int}{frac}").parse::<u64>().map_err(|_| bad())?;
        Ok(Amount { minor, decimals: frac.len() as u8 })
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.decimals as u32;
        if d == 0 {
            return write!(f, "{}", self.minor);
        }
        let unit = 10u64.pow(d);
        write!(f, "{}.{:0width$}", self.minor / unit, self.minor % unit, width = d as usize)
    }
}

/// Three capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency([u8; 3]);

impl Currency {
    /// `s` as a currency code: three capital letters (e.g. `EUR`).
    pub fn new(s: &str) -> Result<Currency, Refusal> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Currency([*a, *b, *c])),
            _ => Err(Refusal::malformed("currency", format!("{s:?}: three capital letters"))),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).expect("ASCII letters"))
    }
}

/// What the user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Who receives the money.
    pub payee: Payee,
    /// How much.
    pub amount: Amount,
    /// In which currency.
    pub currency: Currency,
}

impl Transfer {
    /// A transfer from text fields, each checked (see [`Payee::new`], [`Amount::parse`], [`Currency::new`]).
    pub fn new(payee: &str, amount: &str, currency: &str) -> Result<Transfer, Refusal> {
        Ok(Transfer { payee: Payee::new(payee)?, amount: Amount::parse(amount)?, currency: Currency::new(currency)? })
    }
}

/// A transfer as the server issued it for signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The session it was issued to.
    pub session: SessionId,
    /// Its number within the session, from 1.
    pub sequence: u64,
    /// Random and unique: names the statement in the ledger.
    pub nonce: [u8; NONCE_LEN],
    /// What is to be paid.
    pub transfer: Transfer,
}

impl Statement {
    /// The canonical encoding: what the card signs.
    pub fn encode(&self) -> Vec<u8> {
        let t = &self.transfer;
        format!(
            "{HEADER}\nsession: {}\nsequence: {}\nnonce: {}\npayee: {}\namount: {}\ncurrency: {}\n",
            self.session,
            self.sequence,
            hex::encode(self.nonce),
            t.payee,
            t.amount,
            t.currency
        )
        .into_bytes()
    }

    /// Reads a canonical statement; anything else is malformed.
    pub fn decode(bytes: &[u8]) -> Result<Statement, Refusal> {
        let bad = |d: &str| Refusal::malformed("statement", d);
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let body = text.strip_suffix('\n').ok_or_else(|| bad("the last line must end with \\n"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [header, rest @ ..] = lines.as_slice() else { return Err(bad("empty")) };
        if *header != HEADER {
            return Err(bad("the first line must be \"subsim transfer statement v1\""));
        }
        const KEYS: [&str; 6] = ["session", "sequence", "nonce", "payee", "amount", "currency"];
        if rest.len() != KEYS.len() {
            return Err(bad("expected exactly the lines session, sequence, nonce, payee, amount, currency"));
        }
        let mut values = [""; 6];
        for (i, (line, key)) in rest.iter().zip(KEYS).enumerate() {
            values[i] = line
                .strip_prefix(key)
                .and_then(|l| l.strip_prefix(": "))
                .ok_or_else(|| Refusal::malformed("statement", format!("line {} must be \"{key}: ...\"", i + 2)))?;
        }
        let [session, sequence, nonce, payee, amount, currency] = values;
        let sequence = sequence.parse::<u64>().map_err(|_| bad("sequence: not a number"))?;
        let nonce: [u8; NONCE_LEN] =
            hex::decode(nonce).ok().and_then(|n| n.try_into().ok()).ok_or_else(|| bad("nonce: not 16 bytes of hex"))?;
        let s = Statement {
            session: SessionId::new(session)?,
            sequence,
            nonce,
            transfer: Transfer::new(payee, amount, currency)?,
        };
        if s.encode() != bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(s)
    }

    /// The first field in which `other` differs from this statement.
    pub fn first_difference(&self, other: &Statement) -> Option<(Field, String, String)> {
        let (a, b) = (&self.transfer, &other.transfer);
        let fields = [
            (Field::Session, self.session.to_string(), other.session.to_string()),
            (Field::Sequence, self.sequence.to_string(), other.sequence.to_string()),
            (Field::Payee, a.payee.to_string(), b.payee.to_string()),
            (Field::Amount, a.amount.to_string(), b.amount.to_string()),
            (Field::Currency, a.currency.to_string(), b.currency.to_string()),
        ];
        fields.into_iter().find(|(_, x, y)| x != y)
    }
}

struct Entry {
    statement: Statement,
    expires: SystemTime,
    answered: bool,
}

/// The server's ledger: statements issued and not yet confirmed.
///
/// A statement is answered once: the first confirmation attempt spends it,
/// accepted or refused (a transfer altered in transit is cancelled, not
/// retried), and a second one is a replay.
pub struct Ledger {
    lifetime: Duration,
    sequences: HashMap<SessionId, u64>,
    entries: HashMap<[u8; NONCE_LEN], Entry>,
}

impl Ledger {
    /// Statements must be confirmed within `lifetime` of being issued.
    pub fn new(lifetime: Duration) -> Ledger {
        Ledger { lifetime, sequences: HashMap::new(), entries: HashMap::new() }
    }

    /// A new statement of `transfer` for `session`, recorded so one confirmation, and only one, is accepted.
    pub fn issue(&mut self, session: &SessionId, transfer: Transfer, now: SystemTime) -> Statement {
        let keep = self.lifetime;
        self.entries.retain(|_, e| e.expires + keep > now);
        let seq = self.sequences.entry(session.clone()).or_insert(0);
        *seq += 1;
        let statement =
            Statement { session: session.clone(), sequence: *seq, nonce: crate::random::<NONCE_LEN>(), transfer };
        self.entries.insert(
            statement.nonce,
            Entry { statement: statement.clone(), expires: now + self.lifetime, answered: false },
        );
        statement
    }

    /// Matches signed bytes against the statement issued with their nonce
    /// and spends it; the issued statement if they are the same.
    pub fn answer(&mut self, session: &SessionId, signed: &[u8], now: SystemTime) -> Result<Statement, Refusal> {
        let received = Statement::decode(signed)?;
        let nonce = hex::encode(received.nonce);
        let entry = self.entries.get_mut(&received.nonce).ok_or(Refusal::UnknownStatement { nonce: nonce.clone() })?;
        if entry.answered {
            return Err(Refusal::ReplayedStatement { nonce });
        }
        entry.answered = true;
        let issued = &entry.statement;
        if let Some((field, issued, received)) = issued.first_difference(&received) {
            return Err(Refusal::AlteredField { field, issued, received });
        }
        if &issued.session != session {
            return Err(Refusal::WrongSession {
                issued_to: issued.session.to_string(),
                presented_by: session.to_string(),
            });
        }
        if now >= entry.expires {
            return Err(Refusal::StatementExpired { expired_at: show(entry.expires) });
        }
        Ok(issued.clone())
    }
}
