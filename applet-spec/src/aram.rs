//! The ARA-M's interface (GlobalPlatform Secure Element Access Control 1.1,
//! "SEAC"): access rules that say which phone apps, named by the hash of
//! their signing certificate, may reach which applet, and with which APDUs.
//!
//! A rule is a REF-AR-DO `E2 { REF-DO E1 { AID-REF-DO, DeviceAppID-REF-DO },
//! AR-DO E3 { APDU-AR-DO D0 } }` (SEAC 1.1 tables 6-3 to 6-8):
//! - AID-REF-DO: `4F <AID, 5-16 bytes>` for one applet, `C0 00` for every applet;
//! - DeviceAppID-REF-DO: `C1 <SHA-1 (20) or SHA-256 (32) of the app's
//!   certificate>`, or `C1 00` for every app;
//! - APDU-AR-DO: `D0 00` never, `D0 01` always, or 8-byte filters
//!   `header(4) mask(4)`: an APDU passes when `APDU header & mask == header`.
//!
//! Commands (CLA `80`, or the channel's class): GET DATA `80 CA FF 40` all
//! rules, `FF 60` the next block of a long answer, `FF 50` the rule for one
//! REF-DO, `DF 20` the refresh tag; STORE DATA `80 E2 90 00` with
//! Command-Store-REF-AR-DO `F0`, Command-Delete `F1`, Command-UpdateRefreshTag `F2`.

use iso7816_tlv::ber::Tlv;

use crate::tlv::{children, cons, is, parse_one, parse_seq, prim, value};
use crate::SpecError;

/// The ARA-M's AID (SEAC 1.1, 3.1).
pub const ARAM_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x41, 0x43, 0x4C, 0x00];

/// GET DATA, even INS (GlobalPlatform's `80 CA`).
pub const INS_GET_DATA: u8 = 0xCA;
/// STORE DATA (GlobalPlatform Card Specification 11.11).
pub const INS_STORE_DATA: u8 = 0xE2;
/// GET DATA P1-P2: all rules (Response-ALL-REF-AR-DO `FF40`).
pub const GET_ALL: u16 = 0xFF40;
/// GET DATA P1-P2: the rule of one REF-DO (Response-AR-DO `FF50`).
pub const GET_SPECIFIC: u16 = 0xFF50;
/// GET DATA P1-P2: the next block of a long GET DATA [all] answer.
pub const GET_NEXT: u16 = 0xFF60;
/// GET DATA P1-P2: the refresh tag (Response-Refresh-Tag-DO `DF20`).
pub const GET_REFRESH_TAG: u16 = 0xDF20;
/// STORE DATA P1: last (only) block, BER-TLV data.
pub const STORE_P1: u8 = 0x90;

/// Rules this card holds at most (a card engineer's limit: an ARA-M on a
/// SIM has a few KB for them).
pub const MAX_RULES: usize = 16;
/// APDU filters one rule holds at most.
pub const MAX_FILTERS: usize = 8;

const T_REF_AR: u32 = 0xE2;
const T_REF: u32 = 0xE1;
const T_AR: u32 = 0xE3;
const T_AID: u32 = 0x4F;
const T_AID_ALL: u32 = 0xC0;
const T_APP: u32 = 0xC1;
const T_APDU: u32 = 0xD0;
const T_NFC: u32 = 0xD1;
const T_STORE: u32 = 0xF0;
const T_DELETE: u32 = 0xF1;
const T_REFRESH: u32 = 0xF2;
const T_ALL: u32 = 0xFF40;
const T_ONE: u32 = 0xFF50;
const T_TAG: u32 = 0xDF20;

/// Which applets a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AidRef {
    /// One applet, by its whole AID (5 to 16 bytes).
    Aid(Vec<u8>),
    /// Every applet on the card (`C0 00`).
    All,
}

/// Which phone apps a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppRef {
    /// The app signed with the certificate of this SHA-1 (20 bytes) or SHA-256 (32 bytes) hash.
    Hash(Vec<u8>),
    /// Every app (`C1 00`).
    All,
}

/// The APDU part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApduRule {
    /// No APDU gets through: the app is refused.
    Never,
    /// Every APDU gets through.
    Always,
    /// Only APDUs whose header matches one of these filters.
    Filters(Vec<ApduFilter>),
}

/// An APDU filter: the 4 header bytes after the mask must equal `header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApduFilter {
    /// CLA INS P1 P2 to match (after masking).
    pub header: [u8; 4],
    /// Which bits of CLA INS P1 P2 count.
    pub mask: [u8; 4],
}

impl ApduFilter {
    /// Whether the header `cla ins p1 p2` passes this filter. The channel
    /// bits of CLA are the phone's business, so a filter is written for
    /// channel 0 and applied with them cleared (SEAC 1.1, 3.4.2).
    pub fn passes(&self, header: [u8; 4]) -> bool {
        header.iter().zip(self.mask).zip(self.header).all(|((h, m), want)| h & m == want & m)
    }
}

/// One access rule: REF-DO (applet and app) and its AR-DO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The applets it covers.
    pub aid: AidRef,
    /// The apps it covers.
    pub app: AppRef,
    /// What those apps may send.
    pub apdu: ApduRule,
}

fn malformed(what: &'static str) -> SpecError {
    SpecError::Malformed(what)
}

impl AidRef {
    fn tlv(&self) -> Tlv {
        match self {
            AidRef::Aid(aid) => prim(T_AID, aid.clone()),
            AidRef::All => prim(T_AID_ALL, Vec::new()),
        }
    }
    fn from_tlv(t: &Tlv) -> Result<AidRef, SpecError> {
        if is(t, T_AID) {
            let aid = value(t)?;
            if !(5..=16).contains(&aid.len()) {
                return Err(malformed("AID-REF-DO: an AID has 5 to 16 bytes"));
            }
            Ok(AidRef::Aid(aid.to_vec()))
        } else if is(t, T_AID_ALL) && value(t)?.is_empty() {
            Ok(AidRef::All)
        } else {
            Err(malformed("REF-DO: AID-REF-DO 4F or C0 00 expected first"))
        }
    }
}

impl AppRef {
    fn tlv(&self) -> Tlv {
        match self {
            AppRef::Hash(h) => prim(T_APP, h.clone()),
            AppRef::All => prim(T_APP, Vec::new()),
        }
    }
    fn from_tlv(t: &Tlv) -> Result<AppRef, SpecError> {
        if !is(t, T_APP) {
            return Err(malformed("REF-DO: DeviceAppID-REF-DO C1 expected second"));
        }
        match value(t)? {
            [] => Ok(AppRef::All),
            h if h.len() == 20 || h.len() == 32 => Ok(AppRef::Hash(h.to_vec())),
            _ => Err(malformed("DeviceAppID-REF-DO: a SHA-1 (20) or SHA-256 (32) hash, or empty")),
        }
    }
}

/// REF-DO `E1 { AID-REF-DO, DeviceAppID-REF-DO }`.
pub fn ref_do(aid: &AidRef, app: &AppRef) -> Tlv {
    cons(T_REF, vec![aid.tlv(), app.tlv()])
}

fn parse_ref(t: &Tlv) -> Result<(AidRef, AppRef), SpecError> {
    match children(t, T_REF)? {
        [aid, app] => Ok((AidRef::from_tlv(aid)?, AppRef::from_tlv(app)?)),
        _ => Err(malformed("REF-DO: exactly an AID-REF-DO and a DeviceAppID-REF-DO")),
    }
}

impl ApduRule {
    fn bytes(&self) -> Vec<u8> {
        match self {
            ApduRule::Never => vec![0],
            ApduRule::Always => vec![1],
            ApduRule::Filters(f) => f.iter().flat_map(|f| f.header.into_iter().chain(f.mask)).collect(),
        }
    }
    fn from_bytes(b: &[u8]) -> Result<ApduRule, SpecError> {
        match b {
            [0] => Ok(ApduRule::Never),
            [1] => Ok(ApduRule::Always),
            _ if b.is_empty() || b.len() % 8 != 0 => Err(malformed("APDU-AR-DO: 00, 01 or 8-byte filters")),
            _ if b.len() / 8 > MAX_FILTERS => Err(malformed("APDU-AR-DO: more filters than a rule holds")),
            _ => Ok(ApduRule::Filters(
                b.chunks(8)
                    .map(|c| ApduFilter {
                        header: c[..4].try_into().expect("4 bytes"),
                        mask: c[4..].try_into().expect("4 bytes"),
                    })
                    .collect(),
            )),
        }
    }
}

fn parse_ar(t: &Tlv) -> Result<ApduRule, SpecError> {
    let items = children(t, T_AR)?;
    let mut apdu = None;
    for item in items {
        if is(item, T_APDU) && apdu.is_none() {
            apdu = Some(ApduRule::from_bytes(value(item)?)?);
        } else if !is(item, T_NFC) {
            return Err(malformed("AR-DO: APDU-AR-DO D0 (once) and NFC-AR-DO D1 only"));
        }
    }
    // SEAC 1.1, 3.4.2: an AR-DO without APDU-AR-DO grants no APDU access.
    Ok(apdu.unwrap_or(ApduRule::Never))
}

impl Rule {
    /// The rule as a REF-AR-DO (`E2`).
    pub fn tlv(&self) -> Tlv {
        cons(T_REF_AR, vec![ref_do(&self.aid, &self.app), self.ar_do()])
    }
    /// Its AR-DO (`E3`).
    pub fn ar_do(&self) -> Tlv {
        cons(T_AR, vec![prim(T_APDU, self.apdu.bytes())])
    }
    /// The REF-AR-DO's bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.tlv().to_vec()
    }
    /// One REF-AR-DO.
    pub fn from_tlv(t: &Tlv) -> Result<Rule, SpecError> {
        match children(t, T_REF_AR)? {
            [r, a] => {
                let (aid, app) = parse_ref(r)?;
                Ok(Rule { aid, app, apdu: parse_ar(a)? })
            }
            _ => Err(malformed("REF-AR-DO: a REF-DO and an AR-DO")),
        }
    }
    /// Bytes holding exactly one REF-AR-DO.
    pub fn decode(bytes: &[u8]) -> Result<Rule, SpecError> {
        Rule::from_tlv(&parse_one(bytes)?)
    }
    /// Whether this rule names this applet and app exactly (same REF-DO).
    pub fn same_ref(&self, other: &Rule) -> bool {
        (&self.aid, &self.app) == (&other.aid, &other.app)
    }
}

/// GET DATA [all]'s whole answer: `FF40 { REF-AR-DO... }` (empty when there are no rules).
pub fn all_rules(rules: &[Rule]) -> Vec<u8> {
    cons(T_ALL, rules.iter().map(Rule::tlv).collect()).to_vec()
}

/// Reads a whole GET DATA [all] answer (every block joined).
pub fn parse_all_rules(bytes: &[u8]) -> Result<Vec<Rule>, SpecError> {
    children(&parse_one(bytes)?, T_ALL)?.iter().map(Rule::from_tlv).collect()
}

/// How long a GET DATA [all] answer is, from its first block: the bytes of
/// tag, length and value together, once the first block holds the length.
pub fn all_rules_len(first_block: &[u8]) -> Option<usize> {
    let [0xFF, 0x40, rest @ ..] = first_block else { return None };
    let (len, head) = match rest {
        [n, ..] if *n < 0x80 => (*n as usize, 1),
        [0x81, n, ..] => (*n as usize, 2),
        [0x82, a, b, ..] => (u16::from_be_bytes([*a, *b]) as usize, 3),
        _ => return None,
    };
    Some(2 + head + len)
}

/// GET DATA [specific]'s answer: `FF50 { AR-DO }`.
pub fn specific_rule(rule: &Rule) -> Vec<u8> {
    cons(T_ONE, vec![rule.ar_do()]).to_vec()
}

/// GET DATA [refresh tag]'s answer: `DF20 08 <tag>`.
pub fn refresh_tag(tag: u64) -> Vec<u8> {
    prim(T_TAG, tag.to_be_bytes().to_vec()).to_vec()
}

/// Reads a refresh tag answer.
pub fn parse_refresh_tag(bytes: &[u8]) -> Result<u64, SpecError> {
    let t = parse_one(bytes)?;
    match value(&t)? {
        v if is(&t, T_TAG) && v.len() == 8 => Ok(u64::from_be_bytes(v.try_into().expect("8 bytes"))),
        _ => Err(malformed("Response-Refresh-Tag-DO: DF20 with 8 bytes")),
    }
}

/// The REF-DO GET DATA [specific] asks about.
pub fn parse_specific_request(bytes: &[u8]) -> Result<(AidRef, AppRef), SpecError> {
    parse_ref(&parse_one(bytes)?)
}

/// What a STORE DATA to the ARA-M asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreCommand {
    /// Command-Store-REF-AR-DO `F0`: add these rules.
    Store(Vec<Rule>),
    /// Command-Delete `F1` empty: every rule.
    DeleteAll,
    /// Command-Delete `F1 { AID-REF-DO }`: every rule for this applet.
    DeleteAid(AidRef),
    /// Command-Delete `F1 { REF-DO }` or `F1 { REF-AR-DO }`: the rule for this applet and app.
    Delete(AidRef, AppRef),
    /// Command-UpdateRefreshTag `F2`: a new refresh tag.
    UpdateRefreshTag,
}

impl StoreCommand {
    /// The STORE DATA data field.
    pub fn encode(&self) -> Vec<u8> {
        let t = match self {
            StoreCommand::Store(rules) => cons(T_STORE, rules.iter().map(Rule::tlv).collect()),
            StoreCommand::DeleteAll => cons(T_DELETE, vec![]),
            StoreCommand::DeleteAid(aid) => cons(T_DELETE, vec![aid.tlv()]),
            StoreCommand::Delete(aid, app) => cons(T_DELETE, vec![ref_do(aid, app)]),
            StoreCommand::UpdateRefreshTag => cons(T_REFRESH, vec![]),
        };
        t.to_vec()
    }

    /// Reads a STORE DATA data field: one command DO, nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<StoreCommand, SpecError> {
        let items = parse_seq(bytes)?;
        let [t] = items.as_slice() else { return Err(malformed("STORE DATA: exactly one command DO")) };
        if is(t, T_REFRESH) {
            return Ok(StoreCommand::UpdateRefreshTag);
        }
        if is(t, T_STORE) {
            let rules: Vec<Rule> = children(t, T_STORE)?.iter().map(Rule::from_tlv).collect::<Result<_, _>>()?;
            if rules.is_empty() {
                return Err(malformed("Command-Store-REF-AR-DO: no REF-AR-DO"));
            }
            return Ok(StoreCommand::Store(rules));
        }
        match children(t, T_DELETE)? {
            [] => Ok(StoreCommand::DeleteAll),
            [one] if is(one, T_AID) || is(one, T_AID_ALL) => Ok(StoreCommand::DeleteAid(AidRef::from_tlv(one)?)),
            [one] if is(one, T_REF) => parse_ref(one).map(|(a, b)| StoreCommand::Delete(a, b)),
            [one] if is(one, T_REF_AR) => Rule::from_tlv(one).map(|r| StoreCommand::Delete(r.aid, r.app)),
            _ => Err(malformed("Command-Delete: empty, or one AID-REF-DO, REF-DO or REF-AR-DO")),
        }
    }
}

/// What the phone decides for one app and one applet from the rules (SEAC
/// 1.1, 3.4: the most specific rule wins: a rule for the app's hash before
/// one for all apps, a rule for the AID before one for all applets).
pub fn rule_for<'a>(rules: &'a [Rule], aid: &[u8], hashes: &[Vec<u8>]) -> Option<&'a Rule> {
    let aid_is = |r: &Rule| matches!(&r.aid, AidRef::Aid(a) if a == aid);
    let app_is = |r: &Rule| matches!(&r.app, AppRef::Hash(h) if hashes.contains(h));
    let tiers: [&dyn Fn(&Rule) -> bool; 4] = [
        &|r| aid_is(r) && app_is(r),
        &|r| aid_is(r) && r.app == AppRef::All,
        &|r| r.aid == AidRef::All && app_is(r),
        &|r| r.aid == AidRef::All && r.app == AppRef::All,
    ];
    tiers.iter().find_map(|tier| rules.iter().find(|r| tier(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(apdu: ApduRule) -> Rule {
        Rule { aid: AidRef::Aid(vec![0xA0, 0, 0, 3, 8]), app: AppRef::Hash(vec![7; 32]), apdu }
    }

    #[test]
    fn rules_round_trip() {
        let f = ApduFilter { header: [0, 0xA4, 4, 0], mask: [0, 0xFF, 0xFF, 0] };
        let rules = vec![
            rule(ApduRule::Always),
            Rule { aid: AidRef::All, app: AppRef::All, apdu: ApduRule::Never },
            rule(ApduRule::Filters(vec![f, f])),
        ];
        assert_eq!(parse_all_rules(&all_rules(&rules)).unwrap(), rules);
        assert_eq!(all_rules(&[]), [0xFF, 0x40, 0x00]);
        let enc = rules[1].encode();
        assert_eq!(enc, [0xE2, 0x0B, 0xE1, 0x04, 0xC0, 0x00, 0xC1, 0x00, 0xE3, 0x03, 0xD0, 0x01, 0x00]);
        for cmd in [
            StoreCommand::Store(rules.clone()),
            StoreCommand::DeleteAll,
            StoreCommand::DeleteAid(AidRef::All),
            StoreCommand::Delete(AidRef::All, AppRef::Hash(vec![1; 20])),
            StoreCommand::UpdateRefreshTag,
        ] {
            assert_eq!(StoreCommand::decode(&cmd.encode()).unwrap(), cmd);
        }
        assert_eq!(parse_refresh_tag(&refresh_tag(42)).unwrap(), 42);
        let long = all_rules(&vec![rule(ApduRule::Always); 10]);
        assert_eq!(all_rules_len(&long[..8]), Some(long.len()));
    }

    #[test]
    fn malformed_rules_are_refused() {
        let good = rule(ApduRule::Always).encode();
        let mut bad_hash = good.clone();
        bad_hash[12] = 0x1F; // C1 length 32 -> 31: neither SHA-1 nor SHA-256
        for bytes in [
            &[0xE2, 0x00][..],
            &good[..good.len() - 1],
            &bad_hash,
            &[0xE2, 0x0B, 0xE1, 0x04, 0xC0, 0x00, 0xC1, 0x00, 0xE3, 0x03, 0xD0, 0x01, 0x05],
            &[0xE2, 0x0B, 0xE1, 0x05, 0x4F, 0x01, 0xA0, 0xC1, 0x00, 0xE3, 0x03, 0xD0, 0x01, 0x01],
        ] {
            assert!(Rule::decode(bytes).is_err(), "{bytes:02X?}");
        }
        assert!(StoreCommand::decode(&[0xF0, 0x00]).is_err());
        assert!(StoreCommand::decode(&[0xF2, 0x00, 0xF2, 0x00]).is_err());
        let nine = ApduRule::Filters(vec![ApduFilter { header: [0; 4], mask: [0; 4] }; 9]);
        assert!(Rule::decode(&rule(nine).encode()).is_err());
    }

    #[test]
    fn the_most_specific_rule_wins_and_filters_mask() {
        let aid = [0xA0, 0, 0, 3, 8];
        let mine = vec![7u8; 32];
        let rules = vec![Rule { aid: AidRef::All, app: AppRef::All, apdu: ApduRule::Never }, rule(ApduRule::Always)];
        assert_eq!(rule_for(&rules, &aid, &[mine]).unwrap().apdu, ApduRule::Always);
        assert_eq!(rule_for(&rules, &aid, &[vec![8; 32]]).unwrap().apdu, ApduRule::Never);
        assert!(rule_for(&rules[1..], &aid, &[vec![8; 32]]).is_none());
        let f = ApduFilter { header: [0x00, 0x20, 0x00, 0x80], mask: [0x00, 0xFF, 0x00, 0xFF] };
        assert!(f.passes([0x00, 0x20, 0x00, 0x80]) && f.passes([0x01, 0x20, 0xFF, 0x80]));
        assert!(!f.passes([0x00, 0x24, 0x00, 0x80]));
    }
}
