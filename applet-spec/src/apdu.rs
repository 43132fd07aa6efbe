//! ISO 7816-4 command and response APDUs: the four cases, short and extended.
//!
//! Neither the dormant `apdu` crate nor trussed's `iso7816` is used: the latter is
//! built around const-generic `heapless` buffers for `no_std` firmware, and both
//! sides here (simulator and host) need the same owned type that parses every
//! malformed length into one precise error (the card answers it with 6700) and
//! encodes short or extended on request. That is this one small module.

use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// Largest Ne a short APDU can ask for (`Le = 00`).
pub const SHORT_MAX_NE: usize = 256;
/// Largest Ne an extended APDU can ask for (`Le = 0000`).
pub const EXTENDED_MAX_NE: usize = 65536;
/// Largest data field a short APDU can carry.
pub const SHORT_MAX_NC: usize = 255;
/// Largest command data the card takes, chained or extended (a certificate
/// object plus room). It also bounds how deeply a hostile host can nest
/// BER-TLV, which `iso7816-tlv` parses recursively.
pub const MAX_COMMAND_DATA: usize = 4096;

/// Why bytes are not a command APDU. The card answers all of these with 6700.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApduError {
    /// Fewer than the 4 header bytes CLA INS P1 P2 (the count received).
    #[error("an APDU needs at least 4 header bytes, got {0}")]
    TooShort(usize),
    /// Lc/Le encoding does not account for the bytes received (their count), ISO 7816-4 5.1.
    #[error("Lc and Le do not fit the {0} bytes received")]
    LengthMismatch(usize),
    /// Extended Lc `00 0000`: ISO 7816-4 5.1 forbids an extended Lc of zero.
    #[error("an extended Lc of zero is not allowed")]
    ZeroExtendedLc,
}

/// A command APDU. `ne` is the number of response bytes the host expects
/// (Ne): `None` when there is no Le field, `Some(256)` for a short `Le = 00`,
/// `Some(65536)` for an extended `Le = 0000`.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte; bit 0x10 is command chaining ([`crate::ins::CLA_CHAIN`]).
    pub cla: u8,
    /// Instruction byte (see [`crate::ins`]).
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2 (for PIV, usually the key reference or slot).
    pub p2: u8,
    /// Command data field (Nc bytes); wiped on drop.
    pub data: Vec<u8>,
    /// Expected response length Ne, 1 to 65536; `None` when Le is absent.
    pub ne: Option<usize>,
    /// The command arrived (or is to be sent) with extended length fields.
    pub extended: bool,
}

impl std::fmt::Debug for Command {
    // Never prints the data field: it may hold a PIN or key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, ne={:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.ne
        )
    }
}

/// The data field may hold a PIN or key material: wiped when dropped.
impl Drop for Command {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl Command {
    /// A command with no data and no Le (case 1).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command { cla, ins, p1, p2, data: Vec::new(), ne: None, extended: false }
    }
    /// Sets the data field (Nc = its length).
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }
    /// Sets Ne, the response bytes expected (256 encodes as short `Le = 00`).
    pub fn with_ne(mut self, ne: usize) -> Self {
        self.ne = Some(ne);
        self
    }
    /// The header bytes CLA INS P1 P2.
    pub fn header(&self) -> [u8; 4] {
        [self.cla, self.ins, self.p1, self.p2]
    }

    /// Parses one command APDU (ISO 7816-3 12.1.3: the length of the whole
    /// APDU decides the case).
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let n = bytes.len();
        if n < 4 {
            return Err(ApduError::TooShort(n));
        }
        let mut cmd = Command::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        let short_ne = |b: u8| if b == 0 { SHORT_MAX_NE } else { b as usize };
        let ext_ne = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
            0 => EXTENDED_MAX_NE,
            v => v as usize,
        };
        match body {
            [] => {}
            [le] => cmd.ne = Some(short_ne(*le)),
            [0, hi, lo] => {
                cmd.ne = Some(ext_ne(*hi, *lo));
                cmd.extended = true;
            }
            [0, hi, lo, rest @ ..] => {
                let nc = u16::from_be_bytes([*hi, *lo]) as usize;
                if nc == 0 {
                    return Err(ApduError::ZeroExtendedLc);
                }
                cmd.extended = true;
                match rest.len().checked_sub(nc) {
                    Some(0) => {}
                    Some(2) => cmd.ne = Some(ext_ne(rest[nc], rest[nc + 1])),
                    _ => return Err(ApduError::LengthMismatch(n)),
                }
                cmd.data = rest[..nc].to_vec();
            }
            // A short Lc of zero is not a length: only `Le = 00` may start with 0.
            [0, ..] => return Err(ApduError::LengthMismatch(n)),
            [lc, rest @ ..] => {
                let nc = *lc as usize;
                match rest.len().checked_sub(nc) {
                    Some(0) => {}
                    Some(1) => cmd.ne = Some(short_ne(rest[nc])),
                    _ => return Err(ApduError::LengthMismatch(n)),
                }
                cmd.data = rest[..nc].to_vec();
            }
        }
        Ok(cmd)
    }

    /// Whether this command needs extended length fields to be encoded.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_NC || self.ne.is_some_and(|ne| ne > SHORT_MAX_NE)
    }

    /// Encodes the command, extended when `self.extended` is set or the
    /// lengths need it. Data over 65535 bytes or Ne over 65536 cannot be
    /// encoded at all and are clamped by the caller's contract (debug-asserted).
    /// The bytes are wiped when dropped, like the data they hold.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        debug_assert!(self.data.len() <= 65535 && self.ne.unwrap_or(0) <= EXTENDED_MAX_NE);
        let mut out = Zeroizing::new(Vec::with_capacity(self.data.len() + 9));
        out.extend_from_slice(&self.header());
        let nc = self.data.len();
        if self.extended || self.needs_extended() {
            if nc > 0 {
                out.push(0);
                out.extend_from_slice(&(nc as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(ne) = self.ne {
                if nc == 0 {
                    out.push(0);
                }
                out.extend_from_slice(&((ne % EXTENDED_MAX_NE) as u16).to_be_bytes());
            }
        } else {
            if nc > 0 {
                out.push(nc as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(ne) = self.ne {
                out.push((ne % SHORT_MAX_NE) as u8);
            }
        }
        out
    }
}

/// Logical channels the card offers: the basic channel 0 and 1 to 19
/// (ISO 7816-4 (2013) 5.1.1: the most the two class byte codings can name).
pub const CHANNELS: u8 = 20;

/// What a class byte says (ISO 7816-4 (2013) 5.1.1, tables 2 and 3).
///
/// First interindustry coding `0x`/`1x` (and the proprietary `8x`/`9x`, coded
/// alike as GlobalPlatform does): channels 0-3 in b2-b1, secure messaging in
/// b4-b3, chaining in b5. Further interindustry coding `4x`-`7x` (proprietary
/// `Cx`-`Ex`): channels 4-19 as 4 + b4-b1, secure messaging in b6, chaining
/// in b5. `2x`, `3x`, `Ax`, `Bx` and `FF` are not class bytes of either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// b8 set: a proprietary class (the sub-SIM extensions, GlobalPlatform, ARA-M).
    pub proprietary: bool,
    /// The logical channel, 0 to 19.
    pub channel: u8,
    /// b5: more parts of a chained command follow.
    pub chained: bool,
    /// Secure messaging is indicated.
    pub secure_messaging: bool,
}

impl Class {
    /// Reads a class byte; `None` for a value neither coding defines.
    pub fn decode(cla: u8) -> Option<Class> {
        let (proprietary, chained) = (cla & 0x80 != 0, cla & 0x10 != 0);
        match cla & 0x60 {
            _ if cla == 0xFF => None,
            0x00 => Some(Class { proprietary, channel: cla & 0x03, chained, secure_messaging: cla & 0x0C != 0 }),
            0x40 | 0x60 => {
                Some(Class { proprietary, channel: 4 + (cla & 0x0F), chained, secure_messaging: cla & 0x20 != 0 })
            }
            _ => None,
        }
    }

    /// The class byte, in the coding the channel needs; `None` for a
    /// channel above 19. Secure messaging on channels 0-3 is coded `b4-b3 = 01`.
    pub fn encode(self) -> Option<u8> {
        let mut cla = if self.proprietary { 0x80 } else { 0x00 } | if self.chained { 0x10 } else { 0 };
        match self.channel {
            0..=3 => cla |= self.channel | if self.secure_messaging { 0x04 } else { 0 },
            4..=19 => cla |= 0x40 | (self.channel - 4) | if self.secure_messaging { 0x20 } else { 0 },
            _ => return None,
        }
        Some(cla)
    }

    /// `cla` moved to `channel`, everything else kept; `None` when `cla` is
    /// not a class byte or the channel is above 19.
    pub fn on_channel(cla: u8, channel: u8) -> Option<u8> {
        Class { channel, ..Class::decode(cla)? }.encode()
    }
}

/// MANAGE CHANNEL (ISO 7816-4 (2013) 11.1.2): what P1 and P2 ask for, read
/// as the Java Card runtime reads them (JCRE 3.0.5, 4.5.1 and 4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageChannel {
    /// P1 `00`, P2 `00`: open a channel the card picks; it answers its number (1 byte).
    OpenAny,
    /// P1 `00`, P2 1-19: open this channel.
    Open(u8),
    /// P1 `80`, P2 1-19: close this channel.
    Close(u8),
}

impl ManageChannel {
    /// P1 and P2 of a MANAGE CHANNEL: P1 neither `00` nor `80`, or closing
    /// the basic channel or one above 19, is `6A81` (function not
    /// supported); opening a channel above 19 is `6A86`.
    pub fn from_p1p2(p1: u8, p2: u8) -> Result<ManageChannel, crate::Sw> {
        match (p1, p2) {
            (0x00, 0x00) => Ok(ManageChannel::OpenAny),
            (0x00, n) if n < CHANNELS => Ok(ManageChannel::Open(n)),
            (0x00, _) => Err(crate::Sw::INCORRECT_P1_P2),
            (0x80, n) if (1..CHANNELS).contains(&n) => Ok(ManageChannel::Close(n)),
            _ => Err(crate::Sw::FUNCTION_NOT_SUPPORTED),
        }
    }

    /// The command on the basic channel (CLA `00`), Le = 1 for [`ManageChannel::OpenAny`].
    pub fn command(self) -> Command {
        let ins = crate::ins::MANAGE_CHANNEL;
        match self {
            ManageChannel::OpenAny => Command::new(0x00, ins, 0x00, 0x00).with_ne(1),
            ManageChannel::Open(n) => Command::new(0x00, ins, 0x00, n),
            ManageChannel::Close(n) => Command::new(0x00, ins, 0x80, n),
        }
    }
}

/// A response APDU: data then SW1 SW2.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data field (without SW1 SW2).
    pub data: Vec<u8>,
    /// Status word closing the response.
    pub sw: crate::Sw,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} data bytes, {:?})", self.data.len(), self.sw)
    }
}

impl Response {
    /// A response with data and a status word.
    pub fn new(data: Vec<u8>, sw: crate::Sw) -> Self {
        Response { data, sw }
    }
    /// A response with no data, only the status word.
    pub fn status(sw: crate::Sw) -> Self {
        Response { data: Vec::new(), sw }
    }
    /// Splits raw response bytes; `None` when fewer than the two SW bytes arrived.
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let (data, sw) = bytes.split_at(bytes.len().checked_sub(2)?);
        Some(Response { data: data.to_vec(), sw: crate::Sw::from_bytes(sw[0], sw[1]) })
    }
    /// Raw response bytes: data then SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(hex: &[u8]) -> Result<Command, ApduError> {
        Command::parse(hex)
    }

    #[test]
    fn the_four_cases_short() {
        let c = p(&[0, 0x20, 0, 0x80]).unwrap();
        assert_eq!((c.data.len(), c.ne, c.extended), (0, None, false));
        let c = p(&[0, 0x20, 0, 0x80, 0]).unwrap();
        assert_eq!(c.ne, Some(256));
        let c = p(&[0, 0xA4, 4, 0, 2, 0xA0, 0]).unwrap();
        assert_eq!((c.data.clone(), c.ne), (vec![0xA0, 0], None));
        let c = p(&[0, 0xA4, 4, 0, 1, 0xA0, 8]).unwrap();
        assert_eq!((c.data.clone(), c.ne), (vec![0xA0], Some(8)));
    }

    #[test]
    fn the_four_cases_extended() {
        let c = p(&[0, 0x20, 0, 0x80, 0, 0, 0]).unwrap();
        assert_eq!((c.ne, c.extended), (Some(65536), true));
        let c = p(&[0, 0x47, 0, 0x9D, 0, 0, 2, 1, 2]).unwrap();
        assert_eq!((c.data.clone(), c.ne, c.extended), (vec![1, 2], None, true));
        let c = p(&[0, 0x47, 0, 0x9D, 0, 0, 1, 7, 0x01, 0x00]).unwrap();
        assert_eq!((c.data.clone(), c.ne), (vec![7], Some(256)));
    }

    #[test]
    fn malformed_lengths() {
        assert_eq!(p(&[0, 1, 2]), Err(ApduError::TooShort(3)));
        assert_eq!(p(&[0, 1, 2, 3, 2, 9]), Err(ApduError::LengthMismatch(6)));
        assert_eq!(p(&[0, 1, 2, 3, 1, 9, 9, 9]), Err(ApduError::LengthMismatch(8)));
        assert_eq!(p(&[0, 1, 2, 3, 0, 0]), Err(ApduError::LengthMismatch(6)));
        assert_eq!(p(&[0, 1, 2, 3, 0, 0, 0, 5]), Err(ApduError::ZeroExtendedLc));
        assert_eq!(p(&[0, 1, 2, 3, 0, 0, 2, 5]), Err(ApduError::LengthMismatch(8)));
    }

    #[test]
    fn debug_never_shows_the_data() {
        let verify = Command::new(0, 0x20, 0, 0x80).with_data(b"123456\xFF\xFF".to_vec());
        let shown = format!("{verify:?}");
        assert!(!shown.contains("49") && !shown.contains("31") && shown.contains("8 data bytes"), "{shown}");
        let r = Response::new(vec![0x31, 0x32], crate::Sw::OK);
        assert!(!format!("{r:?}").contains("31"));
    }

    #[test]
    fn class_bytes_name_channels_0_to_19() {
        let c = |cla| Class::decode(cla).unwrap();
        assert_eq!((c(0x00).channel, c(0x03).channel, c(0x13).chained, c(0x0C).secure_messaging), (0, 3, true, true));
        assert_eq!((c(0x40).channel, c(0x4F).channel, c(0x5F).chained, c(0x61).secure_messaging), (4, 19, true, true));
        assert_eq!((c(0x81).proprietary, c(0x81).channel, c(0xC3).channel, c(0xC3).proprietary), (true, 1, 7, true));
        for bad in [0x20, 0x3F, 0xA0, 0xBF, 0xFF] {
            assert_eq!(Class::decode(bad), None, "{bad:02X}");
        }
        for ch in 0..CHANNELS {
            for cla in [0x00, 0x10, 0x80, 0x90] {
                let moved = Class::on_channel(cla, ch).unwrap();
                let back = c(moved);
                assert_eq!((back.channel, back.chained, back.proprietary), (ch, cla & 0x10 != 0, cla & 0x80 != 0));
            }
        }
        assert_eq!(Class::on_channel(0x00, 20), None);
        assert_eq!(Class::on_channel(0x80, 5), Some(0xC1));
    }

    #[test]
    fn manage_channel_parameters() {
        use crate::Sw;
        use ManageChannel::*;
        assert_eq!(ManageChannel::from_p1p2(0, 0), Ok(OpenAny));
        assert_eq!(ManageChannel::from_p1p2(0, 19), Ok(Open(19)));
        assert_eq!(ManageChannel::from_p1p2(0x80, 2), Ok(Close(2)));
        assert_eq!(ManageChannel::from_p1p2(0, 20), Err(Sw::INCORRECT_P1_P2));
        for (p1, p2) in [(0x80, 0), (0x80, 20), (0x01, 0), (0x40, 1)] {
            assert_eq!(ManageChannel::from_p1p2(p1, p2), Err(Sw::FUNCTION_NOT_SUPPORTED), "{p1:02X} {p2:02X}");
        }
        assert_eq!(OpenAny.command().to_bytes().as_slice(), [0x00, 0x70, 0x00, 0x00, 0x01]);
        assert_eq!(Close(4).command().to_bytes().as_slice(), [0x00, 0x70, 0x80, 0x04]);
    }

    proptest! {
        #[test]
        fn encode_then_parse_is_identity(
            header in any::<[u8; 4]>(),
            data in proptest::collection::vec(any::<u8>(), 0..600),
            ne in proptest::option::of(1usize..=65536),
            extended in any::<bool>(),
        ) {
            let mut c = Command::new(header[0], header[1], header[2], header[3]).with_data(data);
            c.ne = ne;
            c.extended = extended;
            let back = Command::parse(&c.to_bytes()).unwrap();
            prop_assert_eq!(&back.data, &c.data);
            prop_assert_eq!(back.ne, ne);
            prop_assert_eq!(back.header(), c.header());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Command::parse(&bytes);
        }
    }
}
