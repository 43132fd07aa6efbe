//! ISO 7816-4 status words, with the meaning this applet gives each.

use std::fmt;

/// A status word (SW1 SW2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sw(pub u16);

impl Sw {
    /// `9000`: success.
    pub const OK: Sw = Sw(0x9000);
    /// `61xx`: more response data waiting; fetch it with GET RESPONSE.
    pub const fn bytes_remaining(n: u8) -> Sw {
        Sw(0x6100 | n as u16)
    }
    /// `63Cx`: verification failed, `x` tries left.
    pub const fn tries_left(n: u8) -> Sw {
        Sw(0x63C0 | (n & 0x0F) as u16)
    }
    /// `6300`: authentication failed (GlobalPlatform EXTERNAL AUTHENTICATE:
    /// the host cryptogram or its MAC did not verify).
    pub const AUTHENTICATION_FAILED: Sw = Sw(0x6300);
    /// `6200`: warning, state unchanged (MANAGE CHANNEL closing a channel that is not open).
    pub const WARNING_UNCHANGED: Sw = Sw(0x6200);
    /// `6700`: wrong length (Lc, Le or the data field's size).
    pub const WRONG_LENGTH: Sw = Sw(0x6700);
    /// `6881`: logical channel not supported: the channel CLA names is not open
    /// (or the card has no logical channels).
    pub const LOGICAL_CHANNEL_NOT_SUPPORTED: Sw = Sw(0x6881);
    /// `6882`: secure messaging is not supported.
    pub const SECURE_MESSAGING_NOT_SUPPORTED: Sw = Sw(0x6882);
    /// `6883`: a chain was broken off; the last command of the chain was expected.
    pub const LAST_COMMAND_OF_CHAIN_EXPECTED: Sw = Sw(0x6883);
    /// `6982`: security status not satisfied (PIN, management key or binding missing).
    pub const SECURITY_STATUS_NOT_SATISFIED: Sw = Sw(0x6982);
    /// `6983`: authentication method blocked (no tries left).
    pub const AUTH_METHOD_BLOCKED: Sw = Sw(0x6983);
    /// `6985`: conditions of use not satisfied (e.g. keypad-only PIN sent in plain VERIFY).
    pub const CONDITIONS_NOT_SATISFIED: Sw = Sw(0x6985);
    /// `6A80`: incorrect data field.
    pub const INCORRECT_DATA: Sw = Sw(0x6A80);
    /// `6A81`: function not supported: MANAGE CHANNEL with no channel free,
    /// P1 not `00` or `80`, or closing the basic channel.
    pub const FUNCTION_NOT_SUPPORTED: Sw = Sw(0x6A81);
    /// `6984`: reference data not usable: the ARA-M's rules changed between
    /// GET DATA [all] and [next]; read them again.
    pub const DATA_NOT_USABLE: Sw = Sw(0x6984);
    /// `6A89`: a rule for this applet and app exists already (ARA-M STORE DATA).
    pub const ALREADY_EXISTS: Sw = Sw(0x6A89);
    /// `6A82`: file or application not found (SELECT, GET DATA on an empty object).
    pub const FILE_NOT_FOUND: Sw = Sw(0x6A82);
    /// `6A84`: not enough memory (object larger than [`crate::piv::MAX_OBJECT_LEN`]).
    pub const NOT_ENOUGH_MEMORY: Sw = Sw(0x6A84);
    /// `6A86`: incorrect P1 or P2.
    pub const INCORRECT_P1_P2: Sw = Sw(0x6A86);
    /// `6A88`: referenced data not found (e.g. an empty key slot).
    pub const REFERENCE_NOT_FOUND: Sw = Sw(0x6A88);
    /// `6D00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: Sw = Sw(0x6D00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: Sw = Sw(0x6E00);
    /// `6F00`: no precise diagnosis.
    pub const UNKNOWN_ERROR: Sw = Sw(0x6F00);

    /// The status word of SW1 and SW2.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Sw {
        Sw(u16::from_be_bytes([sw1, sw2]))
    }
    /// SW1 and SW2, as sent after the data.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
    /// SW1, the high byte.
    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// SW2, the low byte.
    pub fn sw2(self) -> u8 {
        self.0 as u8
    }
    /// Whether this is exactly `9000`.
    pub fn is_ok(self) -> bool {
        self == Sw::OK
    }
    /// Tries left, when this is a `63Cx` answer.
    pub fn retries(self) -> Option<u8> {
        (self.0 & 0xFFF0 == 0x63C0).then_some((self.0 & 0x0F) as u8)
    }
    /// Bytes still waiting, when this is a `61xx` answer (`6100` reads as 256).
    pub fn remaining(self) -> Option<usize> {
        (self.sw1() == 0x61).then(|| match self.sw2() {
            0 => 256,
            n => n as usize,
        })
    }

    /// What the status word means, in the words of ISO 7816-4 and of this applet.
    pub fn meaning(self) -> String {
        if let Some(n) = self.remaining() {
            return format!("{n} more bytes available (GET RESPONSE)");
        }
        if let Some(n) = self.retries() {
            return format!("verification failed, {n} tries left");
        }
        let text = match self {
            Sw::OK => "success",
            Sw::WARNING_UNCHANGED => "warning: nothing changed",
            Sw::AUTHENTICATION_FAILED => "authentication failed",
            Sw::WRONG_LENGTH => "wrong length",
            Sw::LOGICAL_CHANNEL_NOT_SUPPORTED => "logical channel not supported",
            Sw::SECURE_MESSAGING_NOT_SUPPORTED => "secure messaging not supported",
            Sw::LAST_COMMAND_OF_CHAIN_EXPECTED => "last command of the chain expected",
            Sw::SECURITY_STATUS_NOT_SATISFIED => "security status not satisfied",
            Sw::AUTH_METHOD_BLOCKED => "authentication method blocked",
            Sw::CONDITIONS_NOT_SATISFIED => "conditions of use not satisfied",
            Sw::INCORRECT_DATA => "incorrect data in the command",
            Sw::FUNCTION_NOT_SUPPORTED => "function not supported",
            Sw::FILE_NOT_FOUND => "file or application not found",
            Sw::DATA_NOT_USABLE => "reference data not usable",
            Sw::ALREADY_EXISTS => "data object already exists",
            Sw::NOT_ENOUGH_MEMORY => "not enough memory",
            Sw::INCORRECT_P1_P2 => "incorrect parameters P1-P2",
            Sw::REFERENCE_NOT_FOUND => "referenced data not found",
            Sw::INS_NOT_SUPPORTED => "instruction not supported",
            Sw::CLA_NOT_SUPPORTED => "class not supported",
            Sw::UNKNOWN_ERROR => "no precise diagnosis",
            _ => "unknown status word",
        };
        text.to_string()
    }
}

impl fmt::Debug for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sw({:04X})", self.0)
    }
}

impl fmt::Display for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.0, self.meaning())
    }
}

/// Every status word the applet and its transport layer can return, for the
/// reference document and its drift test. `61xx` and `63Cx` stand for families.
pub const ALL_STATUS_WORDS: &[Sw] = &[
    Sw::OK,
    Sw(0x6100),
    Sw(0x63C0),
    Sw::WARNING_UNCHANGED,
    Sw::AUTHENTICATION_FAILED,
    Sw::WRONG_LENGTH,
    Sw::LOGICAL_CHANNEL_NOT_SUPPORTED,
    Sw::SECURE_MESSAGING_NOT_SUPPORTED,
    Sw::LAST_COMMAND_OF_CHAIN_EXPECTED,
    Sw::SECURITY_STATUS_NOT_SATISFIED,
    Sw::AUTH_METHOD_BLOCKED,
    Sw::CONDITIONS_NOT_SATISFIED,
    Sw::INCORRECT_DATA,
    Sw::FUNCTION_NOT_SUPPORTED,
    Sw::FILE_NOT_FOUND,
    Sw::DATA_NOT_USABLE,
    Sw::ALREADY_EXISTS,
    Sw::NOT_ENOUGH_MEMORY,
    Sw::INCORRECT_P1_P2,
    Sw::REFERENCE_NOT_FOUND,
    Sw::INS_NOT_SUPPORTED,
    Sw::CLA_NOT_SUPPORTED,
    Sw::UNKNOWN_ERROR,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_decode() {
        assert_eq!(Sw(0x63C2).retries(), Some(2));
        assert_eq!(Sw(0x6300).retries(), None);
        assert_eq!(Sw(0x6100).remaining(), Some(256));
        assert_eq!(Sw(0x6108).remaining(), Some(8));
        assert_eq!(Sw::tries_left(3), Sw(0x63C3));
        assert_eq!(Sw::from_bytes(0x6A, 0x82), Sw::FILE_NOT_FOUND);
        assert!(Sw(0x6A82).to_string().contains("not found"));
    }
}
