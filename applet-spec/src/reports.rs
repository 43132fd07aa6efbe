//! What a card reports about itself, decoded field by field and tolerantly:
//! GET VERSION's answer, the Discovery Object (7E) and the Key History
//! object (5FC10C). Cards we did not write (YubiKeys, PivApplet, Nitrokey's
//! piv-authenticator) answer each a little differently; a field we do not
//! know is kept with its bytes and a departure from the tables is listed as
//! an oddity, so a command that shows these never fails because of them.
//! Only bytes that cannot be split into fields at all are an error.

use std::fmt;

use crate::messages::{TAG_AID, TAG_KH_OFF_CARD, TAG_KH_ON_CARD, TAG_KH_URL, TAG_PIN_USAGE_POLICY};
use crate::piv::{aid_matches, ObjectTag, PIV_AID};
use crate::tlv::{self, flat};
use crate::SpecError;

// ---- GET VERSION ---------------------------------------------------------------

/// The newest YubiKey firmware line this toolchain knows (5.7).
const NEWEST_KNOWN_MAJOR: u8 = 5;

/// GET VERSION's answer (Yubico's PIV extension, INS FD): major, minor and
/// patch, one byte each. YubiKeys send three bytes (5.7.1; NEOs 1.0.x);
/// PivApplet sends three (5.0.0) but cuts them to a smaller Le;
/// piv-authenticator makes up 6.6.6. Fewer bytes leave the missing
/// numbers 0, more are kept in `extra`; both are oddities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch (a missing one is 0).
    pub numbers: [u8; 3],
    /// How many of the three the card sent (1 to 3).
    pub sent: usize,
    /// Bytes after the third, kept as the card sent them.
    pub extra: Vec<u8>,
}

impl Version {
    /// Decodes GET VERSION's data; only an empty answer is an error (a card
    /// that answers 9000 with no data does not tell a version).
    pub fn decode(data: &[u8]) -> Result<Version, SpecError> {
        if data.is_empty() {
            return Err(SpecError::Malformed("GET VERSION answered no data"));
        }
        let mut numbers = [0u8; 3];
        let sent = data.len().min(3);
        numbers[..sent].copy_from_slice(&data[..sent]);
        Ok(Version { numbers, sent, extra: data[sent..].to_vec() })
    }

    /// Departures from the three bytes YubiKeys send, in words.
    pub fn oddities(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.sent < 3 {
            out.push(format!("GET VERSION sent {} of 3 bytes (the rest taken as 0)", self.sent));
        }
        if !self.extra.is_empty() {
            out.push(format!(
                "GET VERSION sent {} bytes after major.minor.patch ({}), ignored",
                self.extra.len(),
                hex_upper(&self.extra)
            ));
        }
        if self.numbers[0] > NEWEST_KNOWN_MAJOR {
            out.push(format!(
                "version {self} is newer than any YubiKey firmware known here (5.7): features are probed, not assumed"
            ));
        }
        out
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.numbers;
        write!(f, "{a}.{b}.{c}")
    }
}

// ---- the Discovery Object ---------------------------------------------------------

/// The PIN Usage Policy (5F2F) of the Discovery Object, SP 800-73-4 Part 1,
/// 3.3.2, table 18: two bytes, the first a set of bits, the second the
/// cardholder's primary PIN where there are two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinUsagePolicy(pub [u8; 2]);

/// The primary PIN named by the PIN Usage Policy's second byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryPin {
    /// `00`: none named (YubiKeys and our card: one PIN only).
    NotNamed,
    /// `10`: the PIV Card Application PIN (piv-authenticator sends it).
    PivPin,
    /// `20`: the Global PIN.
    GlobalPin,
    /// Any other byte, kept.
    Unknown(u8),
}

impl PinUsagePolicy {
    /// Bit 7 of the first byte: the PIV Card Application PIN satisfies the PIV ACRs.
    pub fn piv_pin(&self) -> bool {
        self.0[0] & 0x40 != 0
    }
    /// Bit 6: the Global PIN satisfies the PIV ACRs.
    pub fn global_pin(&self) -> bool {
        self.0[0] & 0x20 != 0
    }
    /// Bit 5: on-card biometric comparison satisfies the PIV ACRs.
    pub fn occ(&self) -> bool {
        self.0[0] & 0x10 != 0
    }
    /// Bit 4: the virtual contact interface is implemented.
    pub fn vci(&self) -> bool {
        self.0[0] & 0x08 != 0
    }
    /// Bit 3: a VCI is established without the pairing code.
    pub fn vci_without_pairing_code(&self) -> bool {
        self.0[0] & 0x04 != 0
    }
    /// Bits 8, 2 and 1 of the first byte, which the table leaves reserved (0).
    pub fn reserved_bits(&self) -> u8 {
        self.0[0] & 0x83
    }
    /// The second byte.
    pub fn primary(&self) -> PrimaryPin {
        match self.0[1] {
            0x00 => PrimaryPin::NotNamed,
            0x10 => PrimaryPin::PivPin,
            0x20 => PrimaryPin::GlobalPin,
            b => PrimaryPin::Unknown(b),
        }
    }
    /// The verification methods the first byte names, in words.
    pub fn methods(&self) -> Vec<&'static str> {
        let bits: [(bool, &'static str); 4] = [
            (self.piv_pin(), "PIV PIN"),
            (self.global_pin(), "Global PIN"),
            (self.occ(), "on-card biometric comparison"),
            (self.vci(), "virtual contact interface"),
        ];
        bits.into_iter().filter(|(set, _)| *set).map(|(_, w)| w).collect()
    }
}

impl fmt::Display for PinUsagePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods = self.methods();
        write!(f, "{}", if methods.is_empty() { "no method named".into() } else { methods.join(", ") })?;
        if self.vci() && self.vci_without_pairing_code() {
            write!(f, " (VCI without pairing code)")?;
        }
        match self.primary() {
            PrimaryPin::NotNamed => Ok(()),
            PrimaryPin::PivPin => write!(f, "; primary PIN: PIV PIN"),
            PrimaryPin::GlobalPin => write!(f, "; primary PIN: Global PIN"),
            PrimaryPin::Unknown(b) => write!(f, "; primary PIN: unknown ({b:02X})"),
        }
    }
}

/// The Discovery Object (GET DATA 7E; SP 800-73-4 Part 1, 3.3.2, table 18):
/// `7E { 4F <PIV AID>, 5F2F <PIN Usage Policy> }`, both mandatory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Tag 4F: the PIV Card Application AID.
    pub aid: Option<Vec<u8>>,
    /// Tag 5F2F, when it has its two bytes.
    pub pin_policy: Option<PinUsagePolicy>,
    /// Tag 5F2F of another length than 2, kept.
    pub odd_pin_policy: Option<Vec<u8>>,
    /// Other tags (their encoding and value), kept.
    pub unknown: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Discovery {
    /// Decodes the whole object as GET DATA 7E returns it (`7E ...`).
    pub fn decode(data: &[u8]) -> Result<Discovery, SpecError> {
        let outer = tlv::parse_one(data)?;
        let items = tlv::children(&outer, ObjectTag::DISCOVERY.0)
            .map_err(|_| SpecError::Malformed("discovery object must be the template 7E"))?;
        let mut d = Discovery { aid: None, pin_policy: None, odd_pin_policy: None, unknown: Vec::new() };
        for item in items {
            let value = item.value();
            let bytes = match value {
                iso7816_tlv::ber::Value::Primitive(v) => v.clone(),
                iso7816_tlv::ber::Value::Constructed(_) => item.to_vec(),
            };
            if tlv::is(item, TAG_AID) && d.aid.is_none() {
                d.aid = Some(bytes);
            } else if tlv::is(item, TAG_PIN_USAGE_POLICY) && d.pin_policy.is_none() && d.odd_pin_policy.is_none() {
                match <[u8; 2]>::try_from(bytes.as_slice()) {
                    Ok(b) => d.pin_policy = Some(PinUsagePolicy(b)),
                    Err(_) => d.odd_pin_policy = Some(bytes),
                }
            } else {
                d.unknown.push((item.tag().to_bytes().to_vec(), bytes));
            }
        }
        Ok(d)
    }

    /// Departures from table 18, in words.
    pub fn oddities(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.aid {
            None => out.push("discovery object without 4F (mandatory, SP 800-73-4 Part 1, 3.3.2)".to_string()),
            Some(aid) if !aid_matches(aid) && !aid.starts_with(&PIV_AID[..9]) => {
                out.push(format!("discovery object names AID {}, not PIV's", hex_upper(aid)))
            }
            Some(_) => {}
        }
        match (&self.pin_policy, &self.odd_pin_policy) {
            (_, Some(odd)) => out.push(format!("PIN usage policy of {} bytes ({}), not 2", odd.len(), hex_upper(odd))),
            (None, None) => {
                out.push("discovery object without 5F2F (mandatory, SP 800-73-4 Part 1, 3.3.2)".to_string())
            }
            (Some(p), None) => {
                if !p.piv_pin() {
                    out.push("PIN usage policy without bit 7 (the PIV PIN is mandatory)".to_string());
                }
                if p.reserved_bits() != 0 {
                    out.push(format!("PIN usage policy sets reserved bits ({:02X})", p.reserved_bits()));
                }
                if let PrimaryPin::Unknown(b) = p.primary() {
                    out.push(format!("PIN usage policy's second byte {b:02X} is none of 00, 10, 20"));
                }
            }
        }
        for (tag, value) in &self.unknown {
            out.push(format!("discovery object has tag {} ({} bytes) table 18 does not", hex_upper(tag), value.len()));
        }
        out
    }
}

// ---- the Key History object ----------------------------------------------------------

/// The Key History object's value (inside 53; SP 800-73-4 Part 1, 3.3.2,
/// table 19): `C1` keys with on-card certificates, `C2` keys with off-card
/// certificates (one byte each, mandatory), `F3` the off-card certificates'
/// URL (when C2 is not 0), `FE` error detection code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyHistory {
    /// C1, when it has its one byte.
    pub on_card: Option<u8>,
    /// C2, when it has its one byte.
    pub off_card: Option<u8>,
    /// F3.
    pub url: Option<Vec<u8>>,
    /// Whether FE is there.
    pub error_detection: bool,
    /// C1 or C2 of another length than 1, and tags table 19 does not have: (tag, value), kept.
    pub unknown: Vec<(u8, Vec<u8>)>,
}

impl KeyHistory {
    /// Decodes the value; only bytes that are not TLV at all are an error.
    pub fn decode(value: &[u8]) -> Result<KeyHistory, SpecError> {
        let mut h = KeyHistory::default();
        for (tag, v) in flat::parse(value)? {
            match (tag, v) {
                (TAG_KH_ON_CARD, [n]) if h.on_card.is_none() => h.on_card = Some(*n),
                (TAG_KH_OFF_CARD, [n]) if h.off_card.is_none() => h.off_card = Some(*n),
                (TAG_KH_URL, url) if h.url.is_none() => h.url = Some(url.to_vec()),
                (0xFE, _) => h.error_detection = true,
                (t, v) => h.unknown.push((t, v.to_vec())),
            }
        }
        Ok(h)
    }

    /// Departures from table 19, in words.
    pub fn oddities(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (tag, n) in [(TAG_KH_ON_CARD, self.on_card), (TAG_KH_OFF_CARD, self.off_card)] {
            if n.is_none() {
                out.push(format!(
                    "key history without {tag:02X} of one byte (mandatory, SP 800-73-4 Part 1, table 19)"
                ));
            }
        }
        // SP 800-73-4 Part 1, 3.3.2: offCardCertURL "SHALL be present if
        // keysWithOffCardCerts is greater than zero and SHALL be absent if
        // both are zero".
        if self.off_card.is_some_and(|n| n > 0) && self.url.is_none() {
            out.push(
                "key history counts keys with off-card certificates but gives no URL (F3 shall be there)".to_string(),
            );
        }
        if self.on_card == Some(0) && self.off_card == Some(0) && self.url.is_some() {
            out.push("key history counts no retired key but gives a URL (F3 shall be absent)".to_string());
        }
        for (tag, v) in &self.unknown {
            out.push(format!("key history has tag {tag:02X} ({} bytes) table 19 does not (or twice)", v.len()));
        }
        out
    }
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[cfg(test)]
mod tests {
    //! The answers real cards give, with where each comes from.
    use super::*;
    use crate::messages;

    #[test]
    fn versions_as_cards_send_them() {
        // A YubiKey 5.7.1: three bytes (ykman's `Version.from_bytes`).
        let yk = Version::decode(&[5, 7, 1]).unwrap();
        assert_eq!((yk.numbers, yk.to_string()), ([5, 7, 1], "5.7.1".to_string()));
        assert!(yk.oddities().is_empty());
        // PivApplet (arekinath/PivApplet, processGetVersion): 5.0.0, cut to Le.
        assert!(Version::decode(&[5, 0, 0]).unwrap().oddities().is_empty());
        let cut = Version::decode(&[5, 0]).unwrap();
        assert_eq!((cut.numbers, cut.sent), ([5, 0, 0], 2));
        assert_eq!(cut.oddities().len(), 1, "{:?}", cut.oddities());
        // piv-authenticator 0.7.0 (lib.rs, GetVersion): a made-up 6.6.6.
        let nk = Version::decode(&[6, 6, 6]).unwrap();
        assert_eq!(nk.numbers, [6, 6, 6]);
        assert!(nk.oddities()[0].contains("newer than any YubiKey"), "{:?}", nk.oddities());
        // More bytes than three: kept, named, never an error.
        let long = Version::decode(&[5, 4, 3, 0x01, 0x02]).unwrap();
        assert_eq!((long.numbers, long.extra.as_slice()), ([5, 4, 3], &[1u8, 2][..]));
        assert!(long.oddities()[0].contains("0102"));
        // No data: no version told.
        assert!(Version::decode(&[]).is_err());
    }

    #[test]
    fn discovery_objects_as_cards_send_them() {
        // YubiKeys (Yubico's PIV documentation) and this card: 40 00.
        let ours = Discovery::decode(&messages::discovery_object()).unwrap();
        assert_eq!(ours.aid.as_deref(), Some(&PIV_AID[..]));
        let p = ours.pin_policy.unwrap();
        assert_eq!((p.piv_pin(), p.global_pin(), p.primary()), (true, false, PrimaryPin::NotNamed));
        assert_eq!(p.to_string(), "PIV PIN");
        assert!(ours.oddities().is_empty(), "{:?}", ours.oddities());
        // A Giesecke+Devrient SCE7 PIV card, captured through OpenSC (a public
        // OpenSC patch note, "0001-piv-add-gd-sce7-atr"): 40 00.
        let gd = [0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0, 0, 0x03, 0x08, 0, 0, 0x10, 0, 0x01, 0, 0x5F, 0x2F, 0x02, 0x40, 0x00];
        assert_eq!(Discovery::decode(&gd).unwrap(), ours);
        // piv-authenticator 0.7.0 (constants.rs, DISCOVERY_OBJECT): 40 10, the PIV PIN primary.
        let nk = [&[0x7E, 0x12, 0x4F, 0x0B][..], &PIV_AID, &[0x5F, 0x2F, 0x02, 0x40, 0x10]].concat();
        let d = Discovery::decode(&nk).unwrap();
        assert_eq!(d.pin_policy.unwrap().primary(), PrimaryPin::PivPin);
        assert_eq!(d.pin_policy.unwrap().to_string(), "PIV PIN; primary PIN: PIV PIN");
        assert!(d.oddities().is_empty(), "{:?}", d.oddities());
        // A Global PIN card preferring it (table 18's 60 20), an unknown second byte, a reserved bit.
        let g = PinUsagePolicy([0x60, 0x20]);
        assert_eq!(g.to_string(), "PIV PIN, Global PIN; primary PIN: Global PIN");
        let odd = [&[0x7E, 0x12, 0x4F, 0x0B][..], &PIV_AID, &[0x5F, 0x2F, 0x02, 0x41, 0x33]].concat();
        let d = Discovery::decode(&odd).unwrap();
        assert_eq!(d.pin_policy.unwrap().primary(), PrimaryPin::Unknown(0x33));
        assert!(d.pin_policy.unwrap().to_string().contains("unknown (33)"));
        assert_eq!(d.oddities().len(), 2, "{:?}", d.oddities());
        // Missing 5F2F, a 3-byte one, an extra tag: decoded, listed.
        let short = [&[0x7E, 0x0D, 0x4F, 0x0B][..], &PIV_AID].concat();
        assert!(Discovery::decode(&short).unwrap().oddities()[0].contains("without 5F2F"));
        let extra =
            [&[0x7E, 0x16, 0x4F, 0x0B][..], &PIV_AID, &[0x5F, 0x2F, 0x03, 0x40, 0, 0, 0x80, 0x01, 0x07]].concat();
        let d = Discovery::decode(&extra).unwrap();
        assert_eq!((d.odd_pin_policy.as_deref(), d.unknown.len()), (Some(&[0x40, 0, 0][..]), 1));
        assert_eq!(d.oddities().len(), 2, "{:?}", d.oddities());
        // Not 7E, or not TLV: an error.
        assert!(Discovery::decode(&[0x53, 0x00]).is_err());
        assert!(Discovery::decode(&[0x7E, 0x05, 0x4F]).is_err());
    }

    #[test]
    fn select_answers_as_cards_send_them() {
        // The same G+D SCE7 card: 4F with the PIX only, and 79 holding the
        // RID bare instead of a 4F inside it.
        let gd = [0x61, 0x0F, 0x4F, 0x06, 0, 0x10, 0, 0x01, 0, 0, 0x79, 0x05, 0xA0, 0, 0, 0x03, 0x08];
        let a = messages::parse_select_response(&gd).unwrap();
        assert_eq!((a.aid.as_slice(), a.algorithms.len()), (&[0, 0x10, 0, 0x01, 0, 0][..], 0));
    }

    #[test]
    fn key_histories_as_cards_send_them() {
        // PivApplet (initKEYHIST) and piv-authenticator (get_key_history_object): C1 n, C2 00, FE 00.
        let h = KeyHistory::decode(&[0xC1, 0x01, 0x02, 0xC2, 0x01, 0x00, 0xFE, 0x00]).unwrap();
        assert_eq!((h.on_card, h.off_card, h.url.as_deref(), h.error_detection), (Some(2), Some(0), None, true));
        assert!(h.oddities().is_empty());
        // Ours with a URL (messages::key_history).
        let ours = KeyHistory::decode(&messages::key_history(1, 1, Some(b"http://x/"))).unwrap();
        assert_eq!(ours.url.as_deref(), Some(&b"http://x/"[..]));
        // Without C2, with C1 of two bytes, with a tag table 19 has not: decoded, listed.
        let h = KeyHistory::decode(&[0xC1, 0x02, 0x00, 0x01, 0xC3, 0x01, 0x05]).unwrap();
        assert_eq!((h.on_card, h.off_card, h.unknown.len()), (None, None, 2));
        assert_eq!(h.oddities().len(), 4, "{:?}", h.oddities());
        // A URL with nothing counted.
        let h = KeyHistory::decode(&messages::key_history(0, 0, Some(b"http://x/"))).unwrap();
        assert!(h.oddities()[0].contains("shall be absent"), "{:?}", h.oddities());
        // Only C1 (as written by a tool that writes the one it knows).
        let h = KeyHistory::decode(&[0xC1, 0x01, 0x00]).unwrap();
        assert_eq!((h.on_card, h.off_card), (Some(0), None));
        // Empty: every field missing, no error.
        assert_eq!(KeyHistory::decode(&[]).unwrap().oddities().len(), 2);
        // Not TLV: an error.
        assert!(KeyHistory::decode(&[0xC1, 0x05, 0x00]).is_err());
    }

    proptest::proptest! {
        /// Any bytes: a value or an error, never a panic, and the words too.
        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = Version::decode(&data).map(|v| (v.to_string(), v.oddities()));
            let _ = Discovery::decode(&data).map(|d| (d.oddities(), d.pin_policy.map(|p| p.to_string())));
            let _ = KeyHistory::decode(&data).map(|h| h.oddities());
            let _ = crate::tlv::shallow(&data);
        }
    }
}
