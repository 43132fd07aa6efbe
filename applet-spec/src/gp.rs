//! GlobalPlatform card management as this card speaks it (GP Card
//! Specification 2.3, "GPCS"; the parts a SIM's Issuer Security Domain
//! uses): the ISD's AID, the commands, the life cycle states, and the data
//! the ISD answers (CPLC, card data, key information, GET STATUS entries),
//! each encoded here and decoded here, for the card and the host alike.
//! The secure channel is [`crate::scp03`].

use crate::tlv::{self, cons, prim};
use crate::SpecError;

/// The Issuer Security Domain's AID (GPCS 2.3, the default ISD AID; older
/// cards answer `A0000000030000`).
pub const ISD_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00];

/// GlobalPlatform's class, and with secure messaging (b3).
pub const CLA_GP: u8 = 0x80;
/// `84`: GP class with secure messaging.
pub const CLA_GP_SM: u8 = 0x84;

/// INITIALIZE UPDATE (Amendment D 7.1.1).
pub const INITIALIZE_UPDATE: u8 = 0x50;
/// EXTERNAL AUTHENTICATE (Amendment D 7.1.2).
pub const EXTERNAL_AUTHENTICATE: u8 = 0x82;
/// GET DATA, even INS (GPCS 11.3).
pub const GET_DATA: u8 = 0xCA;
/// GET STATUS (GPCS 11.4).
pub const GET_STATUS: u8 = 0xF2;
/// SET STATUS (GPCS 11.10).
pub const SET_STATUS: u8 = 0xF0;
/// PUT KEY (GPCS 11.8).
pub const PUT_KEY: u8 = 0xD8;
/// INSTALL (GPCS 11.5).
pub const INSTALL: u8 = 0xE6;
/// LOAD (GPCS 11.6).
pub const LOAD: u8 = 0xE8;
/// DELETE (GPCS 11.2).
pub const DELETE: u8 = 0xE4;

/// GET DATA tags the ISD answers.
pub mod data {
    /// Card Production Life Cycle data (tag `9F7F`).
    pub const CPLC: u16 = 0x9F7F;
    /// Card Data: the card recognition data (tag `66`, GPCS H.2).
    pub const CARD_DATA: u16 = 0x0066;
    /// Key Information Template (tag `E0`, GPCS 11.3.3.1).
    pub const KEY_INFO: u16 = 0x00E0;
    /// Issuer Identification Number (tag `42`).
    pub const IIN: u16 = 0x0042;
    /// Card Image Number (tag `45`).
    pub const CIN: u16 = 0x0045;
    /// Sequence counter of the default key version (tag `C1`).
    pub const SEQUENCE_COUNTER: u16 = 0x00C1;
}

/// The development key GP cards ship with: `40 41 .. 4F` as ENC, MAC and DEK.
pub const DEVELOPMENT_KEY: [u8; 16] =
    [0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F];

/// Key type of AES in key information and PUT KEY (GPCS Table 11-16).
pub const KEY_TYPE_AES: u8 = 0x88;

/// The SCP identifier of SCP03.
pub const SCP03: u8 = 0x03;

/// The `i` parameter of SCP03 (Amendment D 5.1, Table 5-1), as INITIALIZE
/// UPDATE's answer and the card data carry it.
pub mod i_param {
    /// b5: pseudo-random card challenge (a sequence counter follows the cryptogram).
    pub const PSEUDO_RANDOM: u8 = 0x10;
    /// b6: R-MAC supported.
    pub const R_MAC: u8 = 0x20;
    /// b7: R-ENCRYPTION supported.
    pub const R_ENC: u8 = 0x40;
}

/// The card's life cycle (GPCS 5.1.1, Table 11-6): the ISD's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CardLifeCycle {
    /// `01`: the runtime is ready, the ISD selectable.
    OpReady,
    /// `07`: initial keys and data in place.
    Initialized,
    /// `0F`: the issuer's security policy in force (a card in the field).
    Secured,
    /// `7F`: only the ISD answers; the issuer may unlock.
    CardLocked,
    /// `FF`: the end; the ISD answers GET DATA only.
    Terminated,
}

impl CardLifeCycle {
    /// The coding of Table 11-6.
    pub fn byte(self) -> u8 {
        match self {
            CardLifeCycle::OpReady => 0x01,
            CardLifeCycle::Initialized => 0x07,
            CardLifeCycle::Secured => 0x0F,
            CardLifeCycle::CardLocked => 0x7F,
            CardLifeCycle::Terminated => 0xFF,
        }
    }
    /// The state of a coding; `None` for any other byte.
    pub fn from_byte(b: u8) -> Option<CardLifeCycle> {
        [Self::OpReady, Self::Initialized, Self::Secured, Self::CardLocked, Self::Terminated]
            .into_iter()
            .find(|s| s.byte() == b)
    }
    /// Its name as GPCS writes it.
    pub fn name(self) -> &'static str {
        match self {
            CardLifeCycle::OpReady => "OP_READY",
            CardLifeCycle::Initialized => "INITIALIZED",
            CardLifeCycle::Secured => "SECURED",
            CardLifeCycle::CardLocked => "CARD_LOCKED",
            CardLifeCycle::Terminated => "TERMINATED",
        }
    }
    /// Whether SET STATUS may move the card from `self` to `to` (GPCS
    /// 5.1.1, Figure 5-1): forward through OP_READY, INITIALIZED, SECURED;
    /// SECURED and CARD_LOCKED both ways; TERMINATED from anywhere, for good.
    pub fn may_become(self, to: CardLifeCycle) -> bool {
        use CardLifeCycle::*;
        match (self, to) {
            (Terminated, _) => false,
            (_, Terminated) => true,
            (OpReady, Initialized) | (OpReady | Initialized, Secured) => true,
            (Secured, CardLocked) | (CardLocked, Secured) => true,
            _ => false,
        }
    }
}

/// Application life cycle codings (GPCS 5.3.1, Table 11-7).
pub mod app_state {
    /// `03`: installed.
    pub const INSTALLED: u8 = 0x03;
    /// `07`: selectable.
    pub const SELECTABLE: u8 = 0x07;
    /// b8: locked (the previous state kept in the low bits).
    pub const LOCKED: u8 = 0x80;
    /// `01`: an executable load file, loaded.
    pub const LOADED: u8 = 0x01;
}

/// Privileges of GET STATUS's `C5` (GPCS 6.6.1, Table 6-1), first byte.
pub mod privilege {
    /// b8: security domain.
    pub const SECURITY_DOMAIN: u8 = 0x80;
    /// b5: card lock.
    pub const CARD_LOCK: u8 = 0x10;
    /// b4: card terminate.
    pub const CARD_TERMINATE: u8 = 0x08;
    /// b2: CVM management.
    pub const CVM_MANAGEMENT: u8 = 0x02;
    /// The ISD's three bytes: security domain, DAP verification, delegated
    /// management, card lock, card terminate, card reset, CVM management;
    /// trusted path, authorized management, token verification, global
    /// delete, global lock, global registry, final application; receipt
    /// generation.
    pub const ISD: [u8; 3] = [0x9E, 0xFE, 0x80];
}

/// What GET STATUS (P1) asks about (GPCS 11.4.2.1, Table 11-33).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusScope {
    /// `80`: the Issuer Security Domain.
    Isd,
    /// `40`: applications and supplementary security domains.
    Applications,
    /// `20`: executable load files.
    LoadFiles,
    /// `10`: executable load files and their modules.
    LoadFilesAndModules,
}

impl StatusScope {
    /// The scope of P1; `None` for any other value.
    pub fn from_p1(p1: u8) -> Option<StatusScope> {
        Some(match p1 {
            0x80 => StatusScope::Isd,
            0x40 => StatusScope::Applications,
            0x20 => StatusScope::LoadFiles,
            0x10 => StatusScope::LoadFilesAndModules,
            _ => return None,
        })
    }
    /// P1.
    pub fn p1(self) -> u8 {
        match self {
            StatusScope::Isd => 0x80,
            StatusScope::Applications => 0x40,
            StatusScope::LoadFiles => 0x20,
            StatusScope::LoadFilesAndModules => 0x10,
        }
    }
}

/// GET STATUS P2 b2: the answer in the tag-list format (GPCS 11.4.2.2);
/// clear: the legacy format of Tables 11-36 and 11-37.
pub const STATUS_TAG_LIST: u8 = 0x02;
/// GET STATUS P2 b1: the next occurrence(s).
pub const STATUS_NEXT: u8 = 0x01;

/// One entry of the GlobalPlatform registry, as GET STATUS answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// The AID (ISD, application, or load file).
    pub aid: Vec<u8>,
    /// Its life cycle byte (card, application or load file coding).
    pub life_cycle: u8,
    /// Its privileges (3 bytes; `00 00 00` for load files).
    pub privileges: [u8; 3],
    /// An application's executable load file (tag `C4`).
    pub load_file: Option<Vec<u8>>,
    /// A load file's modules (tags `84`), when asked for.
    pub modules: Vec<Vec<u8>>,
    /// A load file's version (tag `CE`).
    pub version: Option<Vec<u8>>,
    /// The associated security domain (tag `CC`).
    pub security_domain: Option<Vec<u8>>,
}

impl RegistryEntry {
    /// The `E3` template of the tag-list format (GPCS Table 11-35).
    pub fn encode_tagged(&self) -> Vec<u8> {
        let mut items = vec![prim(0x4F, self.aid.clone()), prim(0x9F70, vec![self.life_cycle])];
        items.push(prim(0xC5, self.privileges.to_vec()));
        if let Some(f) = &self.load_file {
            items.push(prim(0xC4, f.clone()));
        }
        if let Some(v) = &self.version {
            items.push(prim(0xCE, v.clone()));
        }
        for m in &self.modules {
            items.push(prim(0x84, m.clone()));
        }
        if let Some(sd) = &self.security_domain {
            items.push(prim(0xCC, sd.clone()));
        }
        cons(0xE3, items).to_vec()
    }

    /// The legacy format (GPCS Tables 11-36, 11-37): AID length, AID, life
    /// cycle, first privilege byte; with modules, their count and each
    /// module's length and AID.
    pub fn encode_legacy(&self, with_modules: bool) -> Vec<u8> {
        let mut out = vec![self.aid.len() as u8];
        out.extend_from_slice(&self.aid);
        out.extend([self.life_cycle, self.privileges[0]]);
        if with_modules {
            out.push(self.modules.len() as u8);
            for m in &self.modules {
                out.push(m.len() as u8);
                out.extend_from_slice(m);
            }
        }
        out
    }

    /// Entries of a tag-list answer (one or more `E3` templates).
    pub fn decode_tagged(bytes: &[u8]) -> Result<Vec<RegistryEntry>, SpecError> {
        let mut out = Vec::new();
        for t in tlv::parse_seq(bytes)? {
            let items = tlv::children(&t, 0xE3)?;
            let aid = tlv::find(items, 0x4F).ok_or(SpecError::Malformed("registry entry without 4F"))?;
            let lc = tlv::find(items, 0x9F70).ok_or(SpecError::Malformed("registry entry without 9F70"))?;
            let privileges = match tlv::find(items, 0xC5) {
                Some([a, b, c]) => [*a, *b, *c],
                Some([a]) => [*a, 0, 0],
                Some(_) => return Err(SpecError::Malformed("privileges of a wrong length")),
                None => [0; 3],
            };
            let modules =
                items.iter().filter(|t| tlv::is(t, 0x84)).filter_map(|t| tlv::value(t).ok()).map(<[u8]>::to_vec);
            out.push(RegistryEntry {
                aid: aid.to_vec(),
                life_cycle: *lc.first().ok_or(SpecError::Malformed("empty life cycle"))?,
                privileges,
                load_file: tlv::find(items, 0xC4).map(<[u8]>::to_vec),
                modules: modules.collect(),
                version: tlv::find(items, 0xCE).map(<[u8]>::to_vec),
                security_domain: tlv::find(items, 0xCC).map(<[u8]>::to_vec),
            });
        }
        Ok(out)
    }
}

/// INITIALIZE UPDATE's answer (Amendment D 7.1.1.6, Table 7-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitUpdateAnswer {
    /// Key diversification data (10 bytes).
    pub diversification: [u8; 10],
    /// The key version the card used.
    pub key_version: u8,
    /// The SCP (`03`).
    pub scp: u8,
    /// The `i` parameter.
    pub i: u8,
    /// The card challenge.
    pub card_challenge: [u8; 8],
    /// The card cryptogram.
    pub card_cryptogram: [u8; 8],
    /// The sequence counter, when the challenge is pseudo-random.
    pub sequence_counter: Option<u32>,
}

impl InitUpdateAnswer {
    /// The answer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.diversification.to_vec();
        out.extend([self.key_version, self.scp, self.i]);
        out.extend_from_slice(&self.card_challenge);
        out.extend_from_slice(&self.card_cryptogram);
        if let Some(c) = self.sequence_counter {
            out.extend_from_slice(&c.to_be_bytes()[1..]);
        }
        out
    }
    /// Reads 29 bytes (or 32, with the sequence counter), S8 mode only.
    pub fn decode(b: &[u8]) -> Result<InitUpdateAnswer, SpecError> {
        if b.len() != 29 && b.len() != 32 {
            return Err(SpecError::Malformed("INITIALIZE UPDATE answers 29 or 32 bytes (SCP03, S8)"));
        }
        let arr8 = |r: std::ops::Range<usize>| -> [u8; 8] { b[r].try_into().expect("8 bytes") };
        Ok(InitUpdateAnswer {
            diversification: b[..10].try_into().expect("10 bytes"),
            key_version: b[10],
            scp: b[11],
            i: b[12],
            card_challenge: arr8(13..21),
            card_cryptogram: arr8(21..29),
            sequence_counter: (b.len() == 32).then(|| u32::from_be_bytes([0, b[29], b[30], b[31]])),
        })
    }
}

/// One key of the Key Information Template (GPCS 11.3.3.1, `C0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key identifier (1 ENC, 2 MAC, 3 DEK).
    pub id: u8,
    /// Key version number.
    pub version: u8,
    /// Key type (`88` AES).
    pub key_type: u8,
    /// Key length in bytes.
    pub length: u8,
}

/// The `E0` template of key information.
pub fn encode_key_info(keys: &[KeyInfo]) -> Vec<u8> {
    let items = keys.iter().map(|k| prim(0xC0, vec![k.id, k.version, k.key_type, k.length])).collect();
    cons(0xE0, items).to_vec()
}

/// Reads an `E0` template.
pub fn decode_key_info(bytes: &[u8]) -> Result<Vec<KeyInfo>, SpecError> {
    let t = tlv::parse_one(bytes)?;
    tlv::children(&t, 0xE0)?
        .iter()
        .map(|c| match tlv::value(c)? {
            [id, version, key_type, length, ..] => {
                Ok(KeyInfo { id: *id, version: *version, key_type: *key_type, length: *length })
            }
            _ => Err(SpecError::Malformed("key information shorter than 4 bytes")),
        })
        .collect()
}

/// GlobalPlatform's OID arc, 1.2.840.114283 (GPCS H.2).
const GP_OID: [u8; 6] = [0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B];

/// Card Data (GPCS H.2, Table H-1): card recognition data saying GP 2.3.1
/// card management, the card identification scheme, and SCP03 with `i`.
pub fn encode_card_data(i: u8) -> Vec<u8> {
    let oid = |tail: &[u8]| prim(0x06, [&GP_OID[..], tail].concat());
    let items = vec![
        oid(&[0x01]),
        cons(0x60, vec![oid(&[0x02, 0x02, 0x03, 0x01])]),
        cons(0x63, vec![oid(&[0x03])]),
        cons(0x64, vec![oid(&[0x04, SCP03, i])]),
    ];
    cons(0x66, vec![cons(0x73, items)]).to_vec()
}

/// The SCP and `i` parameter pairs card data announces (tag `64`).
pub fn card_data_scps(bytes: &[u8]) -> Result<Vec<(u8, u8)>, SpecError> {
    let t = tlv::parse_one(bytes)?;
    let outer = tlv::children(&t, 0x66)?;
    let inner = outer.first().ok_or(SpecError::Malformed("empty card data"))?;
    let mut out = Vec::new();
    for c in tlv::children(inner, 0x73)? {
        if tlv::is(c, 0x64) {
            if let Some(oid) = tlv::children(c, 0x64)?.first() {
                if let [.., 0x04, scp, i] = tlv::value(oid)? {
                    out.push((*scp, *i));
                }
            }
        }
    }
    Ok(out)
}

/// The fields of CPLC (GP 2.1.1 Table H-1 / GPCS 2.3 Table H-?), each 2
/// bytes unless named otherwise, 42 bytes in all.
pub const CPLC_FIELDS: [(&str, usize); 18] = [
    ("IC fabricator", 2),
    ("IC type", 2),
    ("operating system identifier", 2),
    ("operating system release date", 2),
    ("operating system release level", 2),
    ("IC fabrication date", 2),
    ("IC serial number", 4),
    ("IC batch identifier", 2),
    ("IC module fabricator", 2),
    ("IC module packaging date", 2),
    ("ICC manufacturer", 2),
    ("IC embedding date", 2),
    ("IC pre-personalizer", 2),
    ("IC pre-personalization date", 2),
    ("IC pre-personalization equipment", 4),
    ("IC personalizer", 2),
    ("IC personalization date", 2),
    ("IC personalization equipment", 4),
];

/// CPLC's value split into its named fields; refuses anything but 42 bytes
/// (inside `9F7F`, or bare).
pub fn decode_cplc(bytes: &[u8]) -> Result<Vec<(&'static str, Vec<u8>)>, SpecError> {
    let body = match bytes {
        [0x9F, 0x7F, 0x2A, rest @ ..] => rest,
        other => other,
    };
    if body.len() != 42 {
        return Err(SpecError::Malformed("CPLC is 42 bytes"));
    }
    let mut at = 0;
    Ok(CPLC_FIELDS
        .iter()
        .map(|(name, n)| {
            let v = body[at..at + n].to_vec();
            at += n;
            (*name, v)
        })
        .collect())
}

/// PUT KEY's P2 for the three keys of a key set in one command: key
/// identifier 1, b8 "more keys" (GPCS 11.8.2.2).
pub const PUT_KEY_SET: u8 = 0x81;

/// Why PUT KEY's data was refused (the card answers `6A80`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutKeyError {
    /// Not the layout of Amendment D Table 7-9, or not three AES keys.
    #[error("PUT KEY data: {0}")]
    Format(&'static str),
    /// A key's check value is not the one of the key it wraps.
    #[error("PUT KEY: the key check value of key {0} does not match")]
    Kcv(u8),
}

/// PUT KEY's data for a new key set (Amendment D 7.2, Table 7-9): the new
/// version, then ENC, MAC and DEK, each `88 L n <key wrapped with the
/// DEK> 03 <KCV>`. `None` for keys that are not AES keys of one length.
pub fn encode_put_key(new_version: u8, dek: &[u8], keys: &crate::scp03::StaticKeys) -> Option<Vec<u8>> {
    if !keys.well_formed() {
        return None;
    }
    let mut out = vec![new_version];
    for k in [&keys.enc, &keys.mac, &keys.dek] {
        let wrapped = crate::scp03::wrap_key(dek, k)?;
        out.extend([KEY_TYPE_AES, wrapped.len() as u8 + 1, k.len() as u8]);
        out.extend_from_slice(&wrapped);
        out.push(3);
        out.extend_from_slice(&crate::scp03::kcv(k)?);
    }
    Some(out)
}

/// The new version and the three clear keys of PUT KEY's data, each
/// unwrapped with `dek` and checked against its KCV.
pub fn decode_put_key(data: &[u8], dek: &[u8]) -> Result<(u8, crate::scp03::StaticKeys), PutKeyError> {
    let (&version, mut rest) = data.split_first().ok_or(PutKeyError::Format("empty"))?;
    let mut keys = Vec::new();
    for id in 1..=3u8 {
        let [KEY_TYPE_AES, l, n, tail @ ..] = rest else {
            return Err(PutKeyError::Format("each key is an AES key (type 88)"));
        };
        let (l, n) = (*l as usize, *n as usize);
        if l < 1 || tail.len() < l - 1 + 1 {
            return Err(PutKeyError::Format("a key component longer than the data"));
        }
        let (wrapped, tail) = tail.split_at(l - 1);
        let clear =
            crate::scp03::unwrap_key(dek, wrapped).ok_or(PutKeyError::Format("a wrapped key of whole blocks"))?;
        if n > clear.len() || !matches!(n, 16 | 24 | 32) {
            return Err(PutKeyError::Format("a key of 16, 24 or 32 bytes"));
        }
        let key = zeroize::Zeroizing::new(clear[..n].to_vec());
        let [3, a, b, c, tail @ ..] = tail else {
            return Err(PutKeyError::Format("each key carries a 3-byte KCV"));
        };
        if crate::scp03::kcv(&key) != Some([*a, *b, *c]) {
            return Err(PutKeyError::Kcv(id));
        }
        keys.push(key);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(PutKeyError::Format("bytes after the third key"));
    }
    let mut k = keys.into_iter();
    let (enc, mac, dek) = (k.next().expect("3"), k.next().expect("3"), k.next().expect("3"));
    let keys = crate::scp03::StaticKeys { enc, mac, dek };
    if !keys.well_formed() {
        return Err(PutKeyError::Format("ENC, MAC and DEK of one length"));
    }
    Ok((version, keys))
}

/// INSTALL's P1 for [for load] (GPCS 11.5.2.1, Table 11-42).
pub const INSTALL_FOR_LOAD: u8 = 0x02;
/// LOAD's P1: the last block (GPCS 11.6.2.1).
pub const LOAD_LAST: u8 = 0x80;

/// INSTALL [for load]'s data (GPCS 11.5.2.3.1, Table 11-45): the load
/// file's AID, the security domain (empty: the ISD), a hash, load
/// parameters and a token, each a length byte and its value.
pub fn encode_install_for_load(load_file: &[u8]) -> Vec<u8> {
    [&[load_file.len() as u8][..], load_file, &[0, 0, 0, 0]].concat()
}

/// The load file's AID of INSTALL [for load]'s data; its security domain
/// must be the ISD (or left out), hash and token empty.
pub fn decode_install_for_load(b: &[u8]) -> Result<Vec<u8>, SpecError> {
    let mut fields = Vec::new();
    let mut rest = b;
    for _ in 0..5 {
        let (&n, r) = rest.split_first().ok_or(SpecError::Malformed("INSTALL [for load] ends early"))?;
        if r.len() < n as usize {
            return Err(SpecError::Malformed("an INSTALL field longer than the data"));
        }
        fields.push(&r[..n as usize]);
        rest = &r[n as usize..];
    }
    if !rest.is_empty() || !(5..=16).contains(&fields[0].len()) {
        return Err(SpecError::Malformed("INSTALL [for load]: a load file AID of 5 to 16 bytes, five fields"));
    }
    if !(fields[1].is_empty() || fields[1] == ISD_AID) || !fields[2].is_empty() || !fields[4].is_empty() {
        return Err(SpecError::Malformed("INSTALL [for load]: the ISD, no hash, no token"));
    }
    Ok(fields[0].to_vec())
}

/// The CAP components of a load file, in the order GPCS 11.6.2.3 (and the
/// Java Card VM specification, 6.2) loads them: Header, Directory, Import,
/// Applet, Class, Method, Static Field, Export, Constant Pool, Reference
/// Location, Descriptor. Applet, Export and Descriptor may be absent.
pub const LOAD_ORDER: [(u8, &str, bool); 11] = [
    (1, "Header", true),
    (2, "Directory", true),
    (4, "Import", true),
    (3, "Applet", false),
    (6, "Class", true),
    (7, "Method", true),
    (8, "StaticField", true),
    (10, "Export", false),
    (5, "ConstantPool", true),
    (9, "RefLocation", true),
    (11, "Descriptor", false),
];

/// What a load file tells of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFileInfo {
    /// The package AID (Header component).
    pub aid: Vec<u8>,
    /// The package version, major then minor.
    pub version: [u8; 2],
    /// The applet classes' AIDs (Applet component): its modules.
    pub applets: Vec<Vec<u8>>,
}

/// Reads a Load File Data Block (`C4`, BER length, the components): each
/// component `tag u2-size info`, in [`LOAD_ORDER`] with every required one,
/// the Header's magic `DECAFFED` and package AID, the Applet component's AIDs.
pub fn parse_load_file(block: &[u8]) -> Result<LoadFileInfo, SpecError> {
    const BAD: SpecError = SpecError::Malformed("not a load file data block");
    let body = match block {
        [0xC4, n @ 0..=0x7F, rest @ ..] if rest.len() == *n as usize => rest,
        [0xC4, 0x81, n, rest @ ..] if rest.len() == *n as usize => rest,
        [0xC4, 0x82, h, l, rest @ ..] if rest.len() == u16::from_be_bytes([*h, *l]) as usize => rest,
        [0xC4, 0x83, a, b, c, rest @ ..] if rest.len() == u32::from_be_bytes([0, *a, *b, *c]) as usize => rest,
        _ => return Err(BAD),
    };
    let mut components: Vec<(u8, &[u8])> = Vec::new();
    let mut rest = body;
    while let [tag, h, l, r @ ..] = rest {
        let n = u16::from_be_bytes([*h, *l]) as usize;
        if r.len() < n {
            return Err(SpecError::Malformed("a CAP component longer than the load file"));
        }
        components.push((*tag, &r[..n]));
        rest = &r[n..];
    }
    if !rest.is_empty() {
        return Err(SpecError::Malformed("bytes after the last CAP component"));
    }
    // The components in load order, each at most once, the required ones present.
    let mut at = 0;
    for (tag, _) in &components {
        let pos =
            LOAD_ORDER.iter().position(|(t, _, _)| t == tag).ok_or(SpecError::Malformed("an unknown CAP component"))?;
        if pos < at {
            return Err(SpecError::Malformed("CAP components out of the load order"));
        }
        at = pos + 1;
    }
    for (tag, _, required) in LOAD_ORDER {
        if required && !components.iter().any(|(t, _)| *t == tag) {
            return Err(SpecError::Malformed("a required CAP component is missing"));
        }
    }
    let header = components[0].1;
    let [0xDE, 0xCA, 0xFF, 0xED, _minor, _major, _flags, minor, major, n, aid @ ..] = header else {
        return Err(SpecError::Malformed("the Header component lacks its magic DECAFFED"));
    };
    let aid = aid
        .get(..*n as usize)
        .filter(|a| (5..=16).contains(&a.len()))
        .ok_or(SpecError::Malformed("the package AID"))?;
    let mut applets = Vec::new();
    if let Some((_, info)) = components.iter().find(|(t, _)| *t == 3) {
        let (&count, mut r) = info.split_first().ok_or(SpecError::Malformed("an empty Applet component"))?;
        for _ in 0..count {
            let (&n, tail) = r.split_first().ok_or(SpecError::Malformed("the Applet component ends early"))?;
            let n = n as usize;
            if !(5..=16).contains(&n) || tail.len() < n + 2 {
                return Err(SpecError::Malformed("an applet AID of 5 to 16 bytes"));
            }
            applets.push(tail[..n].to_vec());
            r = &tail[n + 2..];
        }
    }
    Ok(LoadFileInfo { aid: aid.to_vec(), version: [*major, *minor], applets })
}

/// INSTALL's P1 for [for install and make selectable] (GPCS 11.5.2.1, Table 11-42).
pub const INSTALL_AND_MAKE_SELECTABLE: u8 = 0x0C;
/// DELETE's P2 b8: the object and its related objects (GPCS 11.2.2.2).
pub const DELETE_RELATED: u8 = 0x80;

/// INSTALL [for install and make selectable]'s data (GPCS 11.5.2.3.2,
/// Table 11-46): each field a length byte and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallForInstall {
    /// The executable load file (package) AID.
    pub load_file: Vec<u8>,
    /// The executable module (applet class) AID.
    pub module: Vec<u8>,
    /// The new application's AID.
    pub instance: Vec<u8>,
    /// Its privileges (1 or 3 bytes).
    pub privileges: Vec<u8>,
    /// Install parameters (`C9`: the application's own, and system ones).
    pub params: Vec<u8>,
    /// The install token (delegated management); empty here.
    pub token: Vec<u8>,
}

impl InstallForInstall {
    /// The data field.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in [&self.load_file, &self.module, &self.instance, &self.privileges, &self.params, &self.token] {
            out.push(f.len() as u8);
            out.extend_from_slice(f);
        }
        out
    }
    /// Reads the data field: six length-value fields, nothing after them;
    /// AIDs of 5 to 16 bytes, privileges of 1 or 3.
    pub fn decode(mut b: &[u8]) -> Result<InstallForInstall, SpecError> {
        let mut fields = Vec::new();
        for _ in 0..6 {
            let (&n, rest) = b.split_first().ok_or(SpecError::Malformed("INSTALL data ends early"))?;
            if rest.len() < n as usize {
                return Err(SpecError::Malformed("an INSTALL field longer than the data"));
            }
            let (v, rest) = rest.split_at(n as usize);
            fields.push(v.to_vec());
            b = rest;
        }
        if !b.is_empty() {
            return Err(SpecError::Malformed("bytes after INSTALL's fields"));
        }
        let mut f = fields.into_iter();
        let mut next = || f.next().expect("six fields");
        let i = InstallForInstall {
            load_file: next(),
            module: next(),
            instance: next(),
            privileges: next(),
            params: next(),
            token: next(),
        };
        if [&i.load_file, &i.module, &i.instance].iter().any(|a| !(5..=16).contains(&a.len())) {
            return Err(SpecError::Malformed("an AID of 5 to 16 bytes"));
        }
        if !matches!(i.privileges.len(), 1 | 3) {
            return Err(SpecError::Malformed("privileges of 1 or 3 bytes"));
        }
        Ok(i)
    }
}

/// DELETE's data (GPCS 11.2.2.3): `4F` and the AID.
pub fn encode_delete(aid: &[u8]) -> Vec<u8> {
    prim(0x4F, aid.to_vec()).to_vec()
}

/// The AID of DELETE's data: one `4F` of 5 to 16 bytes.
pub fn decode_delete(data: &[u8]) -> Result<Vec<u8>, SpecError> {
    let t = tlv::parse_one(data)?;
    match tlv::value(&t)? {
        aid if tlv::is(&t, 0x4F) && (5..=16).contains(&aid.len()) => Ok(aid.to_vec()),
        _ => Err(SpecError::Malformed("DELETE names one AID (4F) of 5 to 16 bytes")),
    }
}

/// SET STATUS's P1 (GPCS 11.10.2.1).
pub mod status_type {
    /// `80`: the ISD, i.e. the card's life cycle.
    pub const ISD: u8 = 0x80;
    /// `40`: an application or supplementary security domain.
    pub const APPLICATION: u8 = 0x40;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_cycle_codings_and_transitions() {
        use CardLifeCycle::*;
        for s in [OpReady, Initialized, Secured, CardLocked, Terminated] {
            assert_eq!(CardLifeCycle::from_byte(s.byte()), Some(s));
        }
        assert_eq!(CardLifeCycle::from_byte(0x03), None);
        assert!(Secured.may_become(CardLocked) && CardLocked.may_become(Secured));
        assert!(CardLocked.may_become(Terminated) && OpReady.may_become(Terminated));
        assert!(!Terminated.may_become(Secured) && !Secured.may_become(OpReady) && !Secured.may_become(Initialized));
    }

    #[test]
    fn registry_entries_round_trip_in_the_tag_list_format() {
        let e = RegistryEntry {
            aid: vec![0xA0, 0, 0, 3, 8],
            life_cycle: 7,
            privileges: [0, 0, 0],
            load_file: Some(vec![0xA0, 0, 0, 3]),
            modules: vec![vec![1, 2, 3, 4, 5], vec![6, 7, 8, 9, 10]],
            version: Some(vec![1, 0]),
            security_domain: Some(ISD_AID.to_vec()),
        };
        let two = [e.encode_tagged(), e.encode_tagged()].concat();
        assert_eq!(RegistryEntry::decode_tagged(&two).unwrap(), vec![e.clone(), e.clone()]);
        assert_eq!(e.encode_legacy(false), [5, 0xA0, 0, 0, 3, 8, 7, 0]);
        assert_eq!(e.encode_legacy(true)[8..], [2, 5, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn card_data_announces_scp03_with_its_i() {
        let d = encode_card_data(0x70);
        assert_eq!(&d[..2], [0x66, d.len() as u8 - 2]);
        assert_eq!(card_data_scps(&d).unwrap(), vec![(0x03, 0x70)]);
    }

    #[test]
    fn key_info_and_init_update_round_trip() {
        let keys = [1, 2, 3].map(|id| KeyInfo { id, version: 0x30, key_type: KEY_TYPE_AES, length: 16 });
        assert_eq!(decode_key_info(&encode_key_info(&keys)).unwrap(), keys);
        let a = InitUpdateAnswer {
            diversification: [9; 10],
            key_version: 0x30,
            scp: 3,
            i: 0x70,
            card_challenge: [1; 8],
            card_cryptogram: [2; 8],
            sequence_counter: Some(0x000102),
        };
        assert_eq!(a.encode().len(), 32);
        assert_eq!(InitUpdateAnswer::decode(&a.encode()).unwrap(), a);
        let b = InitUpdateAnswer { sequence_counter: None, ..a };
        assert_eq!(InitUpdateAnswer::decode(&b.encode()).unwrap(), b);
        assert!(InitUpdateAnswer::decode(&[0; 30]).is_err());
    }

    #[test]
    fn put_key_round_trips_and_checks_every_kcv() {
        use crate::scp03::StaticKeys;
        let dek = [0x20; 16];
        let keys = StaticKeys {
            enc: zeroize::Zeroizing::new(vec![1; 16]),
            mac: zeroize::Zeroizing::new(vec![2; 16]),
            dek: zeroize::Zeroizing::new(vec![3; 16]),
        };
        let data = encode_put_key(0x31, &dek, &keys).unwrap();
        assert_eq!(data.len(), 1 + 3 * (3 + 16 + 4));
        assert_eq!(&data[1..4], [0x88, 0x11, 0x10]);
        assert_eq!(decode_put_key(&data, &dek).unwrap(), (0x31, keys.clone()));
        let mut bad = data.clone();
        bad[data.len() - 1] ^= 1;
        assert_eq!(decode_put_key(&bad, &dek), Err(PutKeyError::Kcv(3)));
        assert_eq!(decode_put_key(&data, &[0x21; 16]), Err(PutKeyError::Kcv(1)), "the wrong DEK");
        assert!(decode_put_key(&data[..40], &dek).is_err());
        assert!(decode_put_key(&[data.clone(), vec![0]].concat(), &dek).is_err());
    }

    #[test]
    fn install_and_delete_data_round_trip_and_refuse_bad_lengths() {
        let i = InstallForInstall {
            load_file: vec![0xA0, 0, 0, 3, 8, 0, 0, 0x10],
            module: vec![0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1],
            instance: vec![0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 0],
            privileges: vec![0],
            params: vec![0xC9, 0],
            token: vec![],
        };
        assert_eq!(InstallForInstall::decode(&i.encode()).unwrap(), i);
        let e = i.encode();
        assert!(InstallForInstall::decode(&e[..e.len() - 1]).is_err());
        assert!(InstallForInstall::decode(&[e.clone(), vec![0]].concat()).is_err());
        let short = InstallForInstall { instance: vec![1, 2, 3], ..i };
        assert!(InstallForInstall::decode(&short.encode()).is_err(), "a 3-byte AID");
        assert_eq!(decode_delete(&encode_delete(&ISD_AID)).unwrap(), ISD_AID);
        assert!(decode_delete(&[0x4F, 2, 1, 2]).is_err());
        assert!(decode_delete(&[0x4E, 5, 1, 2, 3, 4, 5]).is_err());
    }

    /// A load file of `components` (tag, info), framed as LOAD carries it.
    pub(crate) fn load_file(components: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let body: Vec<u8> = components
            .iter()
            .flat_map(|(t, info)| [&[*t][..], &(info.len() as u16).to_be_bytes(), info].concat())
            .collect();
        let len = body.len();
        let head = if len < 0x80 { vec![0xC4, len as u8] } else { vec![0xC4, 0x82, (len >> 8) as u8, len as u8] };
        [head, body].concat()
    }

    pub(crate) fn components(package: &[u8], applet: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let header = [&[0xDE, 0xCA, 0xFF, 0xED, 1, 2, 0, 3, 1, package.len() as u8][..], package].concat();
        let applets = [&[1, applet.len() as u8][..], applet, &[0, 9]].concat();
        vec![
            (1, header),
            (2, vec![0; 30]),
            (4, vec![1]),
            (3, applets),
            (6, vec![0; 4]),
            (7, vec![0; 200]),
            (8, vec![0; 10]),
            (5, vec![0; 8]),
            (9, vec![0; 6]),
        ]
    }

    #[test]
    fn load_files_parse_and_bad_ones_are_refused() {
        let pkg = [0xA0, 0, 0, 0, 0x62, 1, 1];
        let app = [0xA0, 0, 0, 0, 0x62, 1, 1, 1];
        let info = parse_load_file(&load_file(&components(&pkg, &app))).unwrap();
        assert_eq!(info, LoadFileInfo { aid: pkg.to_vec(), version: [1, 3], applets: vec![app.to_vec()] });
        let mut c = components(&pkg, &app);
        c.swap(2, 3); // Applet before Import
        assert!(parse_load_file(&load_file(&c)).is_err(), "wrong order");
        let mut c = components(&pkg, &app);
        c.remove(5); // no Method
        assert!(parse_load_file(&load_file(&c)).is_err(), "missing component");
        let mut c = components(&pkg, &app);
        c[0].1[0] = 0xDD;
        assert!(parse_load_file(&load_file(&c)).is_err(), "bad magic");
        let whole = load_file(&components(&pkg, &app));
        assert!(parse_load_file(&whole[..whole.len() - 1]).is_err(), "truncated");
        let short_aid = components(&[1, 2, 3], &app);
        assert!(parse_load_file(&load_file(&short_aid)).is_err(), "an AID of the wrong length");
        assert_eq!(decode_install_for_load(&encode_install_for_load(&pkg)).unwrap(), pkg);
        assert!(decode_install_for_load(&[3, 1, 2, 3, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn cplc_has_42_bytes_in_18_fields() {
        assert_eq!(CPLC_FIELDS.iter().map(|f| f.1).sum::<usize>(), 42);
        let mut raw = vec![0x9F, 0x7F, 0x2A];
        raw.extend(0..42u8);
        let f = decode_cplc(&raw).unwrap();
        assert_eq!(f[6], ("IC serial number", vec![12, 13, 14, 15]));
        assert!(decode_cplc(&raw[..40]).is_err());
    }
}
