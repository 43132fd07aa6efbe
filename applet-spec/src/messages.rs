//! The data fields of every command and response, encoded and decoded in one
//! place. The card decodes requests and encodes responses with these; the host
//! does the reverse with the same functions.

use crate::piv::*;
use crate::tlv::{self, children, cons, find, flat, prim};
use crate::SpecError;

// ---- tags --------------------------------------------------------------------

/// Application property template, the SELECT answer (SP 800-73-4 part 2, 3.1.1).
pub const TAG_APT: u32 = 0x61;
/// Application identifier (PIX or full AID) in the SELECT answer.
pub const TAG_AID: u32 = 0x4F;
/// Coexistent tag allocation authority in the SELECT answer.
pub const TAG_COEXISTENT: u32 = 0x79;
/// Application label in the SELECT answer.
pub const TAG_LABEL: u32 = 0x50;
/// Cryptographic algorithms supported (SELECT answer).
pub const TAG_ALGORITHMS: u32 = 0xAC;
/// Algorithm identifier inside an `AC` template.
pub const TAG_ALGORITHM: u32 = 0x80;
/// Object identifier inside the algorithms template.
pub const TAG_OID: u32 = 0x06;
/// PIN usage policy in the Discovery object.
pub const TAG_PIN_USAGE_POLICY: u32 = 0x5F2F;
/// Tag list: the object tag in GET DATA and PUT DATA.
pub const TAG_TAG_LIST: u32 = 0x5C;
/// Data object value wrapper in GET DATA answers and PUT DATA.
pub const TAG_DATA: u32 = 0x53;
/// Certificate (DER) inside a certificate object.
pub const TAG_CERTIFICATE: u8 = 0x70;
/// CertInfo inside a certificate object: `00` uncompressed, `01` gzip.
pub const TAG_CERT_INFO: u8 = 0x71;
/// Error detection code closing a PIV data object (always empty).
pub const TAG_ERROR_DETECTION: u8 = 0xFE;
/// FASC-N inside the CHUID.
pub const TAG_FASCN: u8 = 0x30;
/// Card UUID (GUID, 16 bytes) inside the CHUID.
pub const TAG_GUID: u8 = 0x34;
/// Expiration date (YYYYMMDD) inside the CHUID.
pub const TAG_EXPIRY: u8 = 0x35;
/// Issuer asymmetric signature inside the CHUID.
pub const TAG_SIGNATURE: u8 = 0x3E;
/// Dynamic authentication template of GENERAL AUTHENTICATE.
pub const TAG_DYNAMIC_AUTH: u32 = 0x7C;
/// Witness inside `7C` (management-key mutual authentication).
pub const TAG_WITNESS: u32 = 0x80;
/// Challenge inside `7C`; also the block to sign or decrypt.
pub const TAG_CHALLENGE: u32 = 0x81;
/// Response inside `7C`; empty in a request to ask for it.
pub const TAG_RESPONSE: u32 = 0x82;
/// Public key template returned by GENERATE (SP 800-73-4 part 2, table 7).
pub const TAG_PUBLIC_KEY: u32 = 0x7F49;
/// RSA modulus inside `7F49`.
pub const TAG_MODULUS: u32 = 0x81;
/// RSA public exponent inside `7F49`.
pub const TAG_EXPONENT: u32 = 0x82;
/// Control reference template of GENERATE (algorithm and policies).
pub const TAG_CONTROL_REF: u32 = 0xAC;
/// PIN policy (Yubico) in GENERATE and IMPORT KEY.
pub const TAG_PIN_POLICY: u8 = 0xAA;
/// Touch policy (Yubico) in GENERATE and IMPORT KEY.
pub const TAG_TOUCH_POLICY: u8 = 0xAB;

// ---- SELECT ------------------------------------------------------------------

/// Object identifier value in an `AC` template: `00`, "no OID" (SP 800-73-4
/// part 2, table 5).
pub const ALGORITHM_OID_NONE: u8 = 0x00;

/// The application property template SELECT answers (SP 800-73-4 part 2,
/// 3.1.1, tables 3 and 5): `61 { 4F <PIX>, 79 { 4F <RID> }, 50 <label>,
/// AC { 80 <alg> 06 00 } for each algorithm }`, one `AC` template per
/// algorithm, every one [`crate::piv::card_algorithms`] lists.
pub fn select_response() -> Vec<u8> {
    select_response_of(KeyAlgorithms::ALL)
}

/// [`select_response`] on a chip that has only `keys`.
pub fn select_response_of(keys: KeyAlgorithms) -> Vec<u8> {
    let mut items = vec![
        prim(TAG_AID, PIV_PIX),
        cons(TAG_COEXISTENT, vec![prim(TAG_AID, PIV_RID)]),
        prim(TAG_LABEL, APP_LABEL.as_bytes()),
    ];
    items.extend(
        card_algorithms_of(keys)
            .map(|id| cons(TAG_ALGORITHMS, vec![prim(TAG_ALGORITHM, [id]), prim(TAG_OID, [ALGORITHM_OID_NONE])])),
    );
    cons(TAG_APT, items).to_vec()
}

/// What a SELECT answer says, read field by field: a card may add, omit or
/// order items as it likes; only 4F is required (table 3: mandatory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectAnswer {
    /// Tag 4F: the PIX or full AID the card answered with.
    pub aid: Vec<u8>,
    /// Tag 50: the application label; empty when absent.
    pub label: String,
    /// Tag 5F50: the URL, when the card gives one.
    pub url: Option<Vec<u8>>,
    /// Every algorithm identifier in the `AC` templates, in order, known or
    /// not ([`crate::piv::KeyAlgorithm::from_id`] and
    /// [`crate::piv::MgmAlgorithm::from_id`] tell). Templates holding several
    /// `80` items (older cards, ours before) are read too.
    pub algorithms: Vec<u8>,
    /// Tags at the top level this decoder does not know (kept, never an error).
    pub unknown: Vec<Vec<u8>>,
}

/// Tag 5F50 in the SELECT answer: the application's URL.
pub const TAG_URL: u32 = 0x5F50;

/// Decodes a SELECT answer (`61 { 4F, 79, 50, 5F50, AC... }`); 4F is
/// required. One level is read at a time, so bytes a card puts inside a
/// template it does not fill as BER (a bare RID in 79) cost nothing.
pub fn parse_select_response(data: &[u8]) -> Result<SelectAnswer, SpecError> {
    let items = match tlv::shallow(data)?.as_slice() {
        [(TAG_APT, inner)] => tlv::shallow(inner)?,
        _ => return Err(SpecError::Malformed("SELECT answer must be the template 61")),
    };
    let find = |want| items.iter().find(|(t, _)| *t == want).map(|(_, v)| *v);
    let aid = find(TAG_AID).ok_or(SpecError::Malformed("SELECT answer without 4F"))?;
    let label = find(TAG_LABEL).map(|l| String::from_utf8_lossy(l).into_owned());
    let known = [TAG_AID, TAG_COEXISTENT, TAG_LABEL, TAG_URL, TAG_ALGORITHMS];
    let mut algorithms = Vec::new();
    let mut unknown = Vec::new();
    for (tag, value) in &items {
        if *tag == TAG_ALGORITHMS {
            // A template that does not parse is skipped, not fatal.
            for (t, a) in tlv::shallow(value).unwrap_or_default() {
                if let (TAG_ALGORITHM, [id]) = (t, a) {
                    algorithms.push(*id);
                }
            }
        } else if !known.contains(tag) {
            let bytes = tag.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
            unknown.push(bytes[skip..].to_vec());
        }
    }
    Ok(SelectAnswer {
        aid: aid.to_vec(),
        label: label.unwrap_or_default(),
        url: find(TAG_URL).map(<[u8]>::to_vec),
        algorithms,
        unknown,
    })
}

// ---- the card-state object ------------------------------------------------------

/// The sub-SIM's card-state object (GET DATA `5FFF20`, always readable,
/// never written by PUT DATA): serial and change counter, so a host can
/// trust its cached certificates with one short round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectedCard {
    /// Card serial, as GET SERIAL returns it.
    pub serial: u32,
    /// As GET STATUS's change counter: bumped by every key or object change.
    pub changes: u32,
}

pub(crate) const TAG_CS_SERIAL: u8 = 0x81;
pub(crate) const TAG_CS_CHANGES: u8 = 0x82;

impl SelectedCard {
    /// The object's value (inside 53): `81 04 <serial> 82 04 <change counter>`.
    pub fn encode(&self) -> Vec<u8> {
        flat::encode(&[(TAG_CS_SERIAL, &self.serial.to_be_bytes()), (TAG_CS_CHANGES, &self.changes.to_be_bytes())])
    }
    /// Decodes the value; other items are skipped.
    pub fn decode(value: &[u8]) -> Result<SelectedCard, SpecError> {
        let items = flat::parse(value)?;
        let word = |t| {
            flat::find(&items, t)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes)
                .ok_or(SpecError::Malformed("card state wants 81 and 82 of 4 bytes"))
        };
        Ok(SelectedCard { serial: word(TAG_CS_SERIAL)?, changes: word(TAG_CS_CHANGES)? })
    }
}

// ---- data objects ------------------------------------------------------------

/// GET DATA's data field: `5C <tag>`.
pub fn get_data_request(tag: ObjectTag) -> Vec<u8> {
    prim(TAG_TAG_LIST, tag.to_bytes()).to_vec()
}

/// The object tag of a GET DATA data field `5C <tag>`.
pub fn parse_get_data_request(data: &[u8]) -> Result<ObjectTag, SpecError> {
    let t = tlv::parse_one(data)?;
    if !tlv::is(&t, TAG_TAG_LIST) {
        return Err(SpecError::Malformed("GET DATA wants 5C"));
    }
    ObjectTag::from_bytes(tlv::value(&t)?).ok_or(SpecError::Malformed("object tag of 1 or 3 bytes"))
}

/// PUT DATA's data field: `5C <tag> 53 <value>`.
pub fn put_data_request(tag: ObjectTag, value: &[u8]) -> Vec<u8> {
    tlv::concat(&[prim(TAG_TAG_LIST, tag.to_bytes()), prim(TAG_DATA, value)])
}

/// The object tag and value of a PUT DATA data field `5C <tag> 53 <value>`.
pub fn parse_put_data_request(data: &[u8]) -> Result<(ObjectTag, Vec<u8>), SpecError> {
    match tlv::parse_seq(data)?.as_slice() {
        [t, v] if tlv::is(t, TAG_TAG_LIST) && tlv::is(v, TAG_DATA) => {
            let tag =
                ObjectTag::from_bytes(tlv::value(t)?).ok_or(SpecError::Malformed("object tag of 1 or 3 bytes"))?;
            Ok((tag, tlv::value(v)?.to_vec()))
        }
        _ => Err(SpecError::Malformed("PUT DATA wants 5C then 53")),
    }
}

/// A stored object as GET DATA returns it: `53 <value>`.
pub fn data_object(value: &[u8]) -> Vec<u8> {
    prim(TAG_DATA, value).to_vec()
}

/// The value of a GET DATA answer `53 <value>`.
pub fn parse_data_object(data: &[u8]) -> Result<Vec<u8>, SpecError> {
    let t = tlv::parse_one(data)?;
    if !tlv::is(&t, TAG_DATA) {
        return Err(SpecError::Malformed("data object must start with 53"));
    }
    Ok(tlv::value(&t)?.to_vec())
}

/// The discovery object `7E { 4F <AID> 5F2F 40 00 }` (PIV PIN only).
pub fn discovery_object() -> Vec<u8> {
    cons(ObjectTag::DISCOVERY.0, vec![prim(TAG_AID, PIV_AID), prim(TAG_PIN_USAGE_POLICY, [0x40, 0x00])]).to_vec()
}

/// FASC-N with agency code 9999 ("no FASC-N"), the value non-federal PIV cards use.
const FILLER_FASCN: [u8; 25] = [
    0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08, 0x42, 0x10, 0x84,
    0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
];

/// The CHUID value (inside 53): filler FASC-N, the card's GUID, an expiry date.
pub fn chuid(guid: &[u8; 16]) -> Vec<u8> {
    flat::encode(&[
        (TAG_FASCN, &FILLER_FASCN),
        (TAG_GUID, guid),
        (TAG_EXPIRY, b"20991231"),
        (TAG_SIGNATURE, &[]),
        (TAG_ERROR_DETECTION, &[]),
    ])
}

/// The Card Capability Container value (inside 53), SP 800-73-4 part 1
/// table 8: card identifier (GSC-RID A0 00 00 01 16, manufacturer FF, card
/// type 02, 14 bytes of card id), container and grammar version 21, data
/// model 10, and the other mandatory items empty.
pub fn ccc(card_id: &[u8; 14]) -> Vec<u8> {
    let identifier = [&[0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02][..], card_id].concat();
    flat::encode(&[
        (0xF0, &identifier),
        (0xF1, &[0x21]),
        (0xF2, &[0x21]),
        (0xF3, &[]),
        (0xF4, &[0x00]),
        (0xF5, &[0x10]),
        (0xF6, &[]),
        (0xF7, &[]),
        (0xFA, &[]),
        (0xFB, &[]),
        (0xFC, &[]),
        (0xFD, &[]),
        (TAG_ERROR_DETECTION, &[]),
    ])
}

/// Key history (SP 800-73-4 part 1, table 19): retired keys whose certificate is on the card.
pub const TAG_KH_ON_CARD: u8 = 0xC1;
/// Key history: retired keys whose certificate is not on the card.
pub const TAG_KH_OFF_CARD: u8 = 0xC2;
/// Key history: the off-card certificate URL.
pub const TAG_KH_URL: u8 = 0xF3;

/// The Key History object value (inside 53), SP 800-73-4 part 1, table
/// 19: `C1` keys with on-card certificates, `C2` keys with off-card
/// certificates, `F3` the off-card certificate URL (when there is one),
/// `FE` error detection code.
pub fn key_history(on_card: u8, off_card: u8, url: Option<&[u8]>) -> Vec<u8> {
    let mut items: Vec<(u8, &[u8])> =
        vec![(TAG_KH_ON_CARD, std::slice::from_ref(&on_card)), (TAG_KH_OFF_CARD, std::slice::from_ref(&off_card))];
    if let Some(u) = url {
        items.push((TAG_KH_URL, u));
    }
    items.push((TAG_ERROR_DETECTION, &[]));
    flat::encode(&items)
}

/// Keys with on-card and off-card certificates, and the URL, of a Key
/// History value that has both counts (as this card writes it); any other
/// card's: [`crate::reports::KeyHistory::decode`], which this is built on.
pub fn parse_key_history(value: &[u8]) -> Result<(u8, u8, Option<Vec<u8>>), SpecError> {
    let h = crate::reports::KeyHistory::decode(value)?;
    match (h.on_card, h.off_card) {
        (Some(on), Some(off)) => Ok((on, off, h.url)),
        _ => Err(SpecError::Malformed("key history count of one byte")),
    }
}

/// The 16-byte card UUID (tag 34) of a CHUID object's value.
pub fn parse_chuid_guid(value: &[u8]) -> Result<[u8; 16], SpecError> {
    let items = flat::parse(value)?;
    flat::find(&items, TAG_GUID)
        .and_then(|g| g.try_into().ok())
        .ok_or(SpecError::Malformed("CHUID without a 16-byte GUID"))
}

/// A certificate object's value (inside 53): `70 <DER> 71 00 FE 00`.
pub fn cert_object(der: &[u8]) -> Vec<u8> {
    flat::encode(&[(TAG_CERTIFICATE, der), (TAG_CERT_INFO, &[0x00]), (TAG_ERROR_DETECTION, &[])])
}

/// The DER certificate of a certificate object's value. Compressed ones
/// (CertInfo = 01) are refused: this toolchain never writes them.
pub fn parse_cert_object(value: &[u8]) -> Result<Vec<u8>, SpecError> {
    let items = flat::parse(value)?;
    if flat::find(&items, TAG_CERT_INFO).is_some_and(|i| i.first() == Some(&1)) {
        return Err(SpecError::Malformed("compressed certificate"));
    }
    flat::find(&items, TAG_CERTIFICATE).map(<[u8]>::to_vec).ok_or(SpecError::Malformed("certificate object without 70"))
}

// ---- key generation -----------------------------------------------------------

/// GENERATE ASYMMETRIC KEY PAIR's data: `AC { 80 <alg> }`.
pub fn generate_request(alg: Algorithm) -> Vec<u8> {
    cons(TAG_CONTROL_REF, vec![prim(TAG_ALGORITHM, [alg.id()])]).to_vec()
}

/// The same for an asymmetric key algorithm of any kind.
pub fn generate_request_for(alg: KeyAlgorithm) -> Vec<u8> {
    generate_request_with(alg, Policies::default())
}

/// PIN (AA) and touch (AB) policy codes as GENERATE and IMPORT KEY carry
/// them, Yubico's values ([`PinPolicy::code`], [`TouchPolicy::code`],
/// [`POLICY_DEFAULT`]); `None` leaves the tag out. Raw bytes, so a host can
/// send what a card refuses and a card can refuse what it cannot enforce
/// ([`PinPolicy::requested`], [`TouchPolicy::requested`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policies {
    /// Tag AA's code.
    pub pin: Option<u8>,
    /// Tag AB's code.
    pub touch: Option<u8>,
}

impl Policies {
    fn items(&self) -> Vec<(u8, [u8; 1])> {
        [(TAG_PIN_POLICY, self.pin), (TAG_TOUCH_POLICY, self.touch)]
            .into_iter()
            .filter_map(|(t, v)| v.map(|v| (t, [v])))
            .collect()
    }
}

/// GENERATE's data with policies: `AC { 80 <alg> [AA 01 <pin>] [AB 01 <touch>] }`.
pub fn generate_request_with(alg: KeyAlgorithm, policies: Policies) -> Vec<u8> {
    // AA and AB have BER's constructed bit yet carry one byte: flat TLV.
    let id = [alg.id()];
    let policy_items = policies.items();
    let mut items: Vec<(u8, &[u8])> = vec![(TAG_ALGORITHM as u8, &id)];
    items.extend(policy_items.iter().map(|(t, v)| (*t, v.as_slice())));
    flat::encode(&[(TAG_CONTROL_REF as u8, &flat::encode(&items))])
}

/// What GENERATE's data asks for: the algorithm id and the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateRequest {
    /// Tag 80's algorithm id (a [`KeyAlgorithm`] id, if the card knows it).
    pub algorithm: u8,
    /// Tags AA and AB.
    pub policies: Policies,
}

/// Decodes GENERATE's `AC { 80 <alg> [AA 01 <pin>] [AB 01 <touch>] }`;
/// other items inside AC, or a policy not one byte, are refused.
pub fn parse_generate_request(data: &[u8]) -> Result<GenerateRequest, SpecError> {
    let outer = flat::parse(data)?;
    let inner = match outer.as_slice() {
        [(tag, inner)] if u32::from(*tag) == TAG_CONTROL_REF => flat::parse(inner)?,
        _ => return Err(SpecError::Malformed("GENERATE wants one AC template")),
    };
    let known = [TAG_ALGORITHM as u8, TAG_PIN_POLICY, TAG_TOUCH_POLICY];
    if inner.iter().any(|(t, _)| !known.contains(t)) {
        return Err(SpecError::Malformed("unknown item in AC"));
    }
    let algorithm = match flat::find(&inner, TAG_ALGORITHM as u8) {
        Some([id]) => *id,
        _ => return Err(SpecError::Malformed("AC wants 80 with one algorithm byte")),
    };
    Ok(GenerateRequest { algorithm, policies: parse_policies(&inner)? })
}

/// Tags AA and AB among `items`, each one byte when present.
fn parse_policies(items: &[(u8, &[u8])]) -> Result<Policies, SpecError> {
    let policy = |t| match flat::find(items, t) {
        Some([v]) => Ok(Some(*v)),
        None => Ok(None),
        Some(_) => Err(SpecError::Malformed("policy of one byte")),
    };
    Ok(Policies { pin: policy(TAG_PIN_POLICY)?, touch: policy(TAG_TOUCH_POLICY)? })
}

/// An RSA public key: `7F49 { 81 <modulus> 82 <exponent> }` (81 first: Yubico's
/// tools parse by position).
pub fn rsa_public_key(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    cons(TAG_PUBLIC_KEY, vec![prim(TAG_MODULUS, modulus), prim(TAG_EXPONENT, exponent)]).to_vec()
}

/// An EC public key: `7F49 { 86 <uncompressed point 04 X Y> }` (SP 800-73-4 part 2, table 7).
pub const TAG_EC_POINT: u32 = 0x86;

/// An EC public key template `7F49 { 86 <point> }` for an uncompressed point.
pub fn ec_public_key(point: &[u8]) -> Vec<u8> {
    cons(TAG_PUBLIC_KEY, vec![prim(TAG_EC_POINT, point)]).to_vec()
}

/// A public key as the card returns it, RSA or EC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyData {
    /// RSA key: tags 81 and 82.
    Rsa {
        /// Modulus, big-endian.
        modulus: Vec<u8>,
        /// Public exponent, big-endian.
        exponent: Vec<u8>,
    },
    /// The uncompressed point `04 X Y`.
    Ec {
        /// `04 X Y`, 65 bytes for P-256, 97 for P-384.
        point: Vec<u8>,
    },
}

impl PublicKeyData {
    /// The items inside `7F49` (GET METADATA's tag 04 carries them bare).
    pub fn inner(&self) -> Vec<u8> {
        match self {
            PublicKeyData::Rsa { modulus, exponent } => {
                flat::encode(&[(TAG_MODULUS as u8, modulus), (TAG_EXPONENT as u8, exponent)])
            }
            PublicKeyData::Ec { point } => flat::encode(&[(TAG_EC_POINT as u8, point)]),
        }
    }
    /// `7F49 { inner }`, as GENERATE ASYMMETRIC KEY PAIR answers.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            PublicKeyData::Rsa { modulus, exponent } => rsa_public_key(modulus, exponent),
            PublicKeyData::Ec { point } => ec_public_key(point),
        }
    }
    /// Decodes the bare items (81/82 or 86).
    pub fn decode_inner(data: &[u8]) -> Result<PublicKeyData, SpecError> {
        let items = flat::parse(data)?;
        match (
            flat::find(&items, TAG_MODULUS as u8),
            flat::find(&items, TAG_EXPONENT as u8),
            flat::find(&items, TAG_EC_POINT as u8),
        ) {
            (Some(n), Some(e), None) => Ok(PublicKeyData::Rsa { modulus: n.to_vec(), exponent: e.to_vec() }),
            (None, None, Some(p)) => Ok(PublicKeyData::Ec { point: p.to_vec() }),
            _ => Err(SpecError::Malformed("public key wants 81 and 82, or 86")),
        }
    }
    /// Decodes `7F49 { ... }`.
    pub fn decode(data: &[u8]) -> Result<PublicKeyData, SpecError> {
        if data.len() < 2 || data[..2] != [0x7F, 0x49] {
            return Err(SpecError::Malformed("public key wants 7F49"));
        }
        // 7F49 is a two-byte tag: skip it, then one BER length.
        let rest = &data[2..];
        let (len, body) = match rest {
            [l @ 0..=0x7F, b @ ..] => (*l as usize, b),
            [0x81, l, b @ ..] => (*l as usize, b),
            [0x82, h, l, b @ ..] => (u16::from_be_bytes([*h, *l]) as usize, b),
            _ => return Err(SpecError::Malformed("7F49 length")),
        };
        if body.len() != len {
            return Err(SpecError::Malformed("7F49 length"));
        }
        PublicKeyData::decode_inner(body)
    }
}

/// Modulus and exponent of a `7F49` answer.
pub fn parse_rsa_public_key(data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SpecError> {
    let t = tlv::parse_one(data)?;
    let items = children(&t, TAG_PUBLIC_KEY)?;
    match (find(items, TAG_MODULUS), find(items, TAG_EXPONENT)) {
        (Some(n), Some(e)) => Ok((n.to_vec(), e.to_vec())),
        _ => Err(SpecError::Malformed("7F49 wants 81 and 82")),
    }
}

// ---- GENERAL AUTHENTICATE -------------------------------------------------------

/// The dynamic authentication template `7C`. Each item is absent (`None`),
/// requested (`Some` empty: the tag with length 0), or carries bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicAuth {
    /// Tag 80: the witness, or `Some(empty)` to ask the card for one.
    pub witness: Option<Vec<u8>>,
    /// Tag 81: challenge, or the block for a private-key operation.
    pub challenge: Option<Vec<u8>>,
    /// Tag 82: response, or `Some(empty)` to ask for it.
    pub response: Option<Vec<u8>>,
}

impl DynamicAuth {
    /// The `7C` template with the items present, in the order 80, 81, 82.
    pub fn encode(&self) -> Vec<u8> {
        let items = [(TAG_WITNESS, &self.witness), (TAG_CHALLENGE, &self.challenge), (TAG_RESPONSE, &self.response)]
            .into_iter()
            .filter_map(|(t, v)| v.as_ref().map(|v| prim(t, v.clone())))
            .collect();
        cons(TAG_DYNAMIC_AUTH, items).to_vec()
    }

    /// Decodes a `7C` template; items other than 80, 81, 82 are refused.
    pub fn decode(data: &[u8]) -> Result<DynamicAuth, SpecError> {
        let t = tlv::parse_one(data)?;
        let items = children(&t, TAG_DYNAMIC_AUTH)?;
        if items.iter().any(|i| ![TAG_WITNESS, TAG_CHALLENGE, TAG_RESPONSE].iter().any(|&w| tlv::is(i, w))) {
            return Err(SpecError::Malformed("unsupported item in 7C"));
        }
        let get = |tag| find(items, tag).map(<[u8]>::to_vec);
        Ok(DynamicAuth { witness: get(TAG_WITNESS), challenge: get(TAG_CHALLENGE), response: get(TAG_RESPONSE) })
    }

    /// A private-key operation on `block`: `7C { 82 00, 81 <block> }`.
    pub fn sign_request(block: &[u8]) -> DynamicAuth {
        DynamicAuth { response: Some(vec![]), challenge: Some(block.to_vec()), ..Default::default() }
    }
}

/// Tag of the other party's public point in an ECDH request.
pub const TAG_EXPONENTIATION: u32 = 0x85;

/// ECDH key agreement (SP 800-73-4 part 2, 3.2.4 / appendix A): `7C { 82 00,
/// 85 <the other party's uncompressed point> }`; the card answers
/// `7C { 82 <shared secret, the x-coordinate> }`.
pub fn ecdh_request(point: &[u8]) -> Vec<u8> {
    cons(TAG_DYNAMIC_AUTH, vec![prim(TAG_RESPONSE, vec![]), prim(TAG_EXPONENTIATION, point)]).to_vec()
}

/// The other party's point of an ECDH request, `None` when `data` is not one.
pub fn parse_ecdh_request(data: &[u8]) -> Option<Vec<u8>> {
    let t = tlv::parse_one(data).ok()?;
    match children(&t, TAG_DYNAMIC_AUTH).ok()? {
        [r, e] if tlv::is(r, TAG_RESPONSE) && tlv::is(e, TAG_EXPONENTIATION) && tlv::value(r).ok()?.is_empty() => {
            Some(tlv::value(e).ok()?.to_vec())
        }
        _ => None,
    }
}

// ---- management key -----------------------------------------------------------

/// SET MANAGEMENT KEY's data, Yubico's shape: `<alg> 9B <len> <key>`.
pub fn set_management_key_request(alg: MgmAlgorithm, key: &[u8]) -> Vec<u8> {
    let mut out = vec![alg.id(), KEY_REF_MANAGEMENT, key.len() as u8];
    out.extend_from_slice(key);
    out
}

/// Algorithm and key of a SET MANAGEMENT KEY data field; the length must fit the algorithm.
pub fn parse_set_management_key_request(data: &[u8]) -> Result<(MgmAlgorithm, &[u8]), SpecError> {
    match data {
        [alg, KEY_REF_MANAGEMENT, len, key @ ..] if *len as usize == key.len() => {
            let alg = MgmAlgorithm::from_id(*alg).ok_or(SpecError::Malformed("unknown management key algorithm"))?;
            if key.len() != alg.key_len() {
                return Err(SpecError::Malformed("key length does not fit the algorithm"));
            }
            Ok((alg, key))
        }
        _ => Err(SpecError::Malformed("SET MANAGEMENT KEY wants <alg> 9B <len> <key>")),
    }
}

// ---- Yubico's management commands -------------------------------------------------

/// Where a key came from, as GET METADATA (tag 03) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Generated on the card (code 01): the private key never existed outside.
    Generated,
    /// Imported with IMPORT KEY (code 02).
    Imported,
}

impl KeyOrigin {
    /// Yubico's code in GET METADATA tag 03.
    pub fn code(self) -> u8 {
        match self {
            KeyOrigin::Generated => 1,
            KeyOrigin::Imported => 2,
        }
    }
    /// The origin for a tag-03 code, `None` if unknown.
    pub fn from_code(c: u8) -> Option<KeyOrigin> {
        [KeyOrigin::Generated, KeyOrigin::Imported].into_iter().find(|o| o.code() == c)
    }
}

pub(crate) const TAG_MD_ALGORITHM: u8 = 0x01;
pub(crate) const TAG_MD_POLICY: u8 = 0x02;
pub(crate) const TAG_MD_ORIGIN: u8 = 0x03;
pub(crate) const TAG_MD_PUBLIC_KEY: u8 = 0x04;
pub(crate) const TAG_MD_DEFAULT: u8 = 0x05;
pub(crate) const TAG_MD_RETRIES: u8 = 0x06;
/// The sub-SIM's own item (private class, which Yubico's tools skip): `01`
/// when the issuer forbids importing a key into this slot.
pub(crate) const TAG_MD_IMPORT_FORBIDDEN: u8 = 0xC1;
/// GET METADATA's algorithm value for the PIN and PUK.
pub const METADATA_ALGORITHM_PIN: u8 = 0xFF;

/// GET METADATA's answer (Yubico's tags 01-06, plus C1). Which items come
/// depends on the reference: PIN/PUK (algorithm FF, default, retries), 9B
/// (algorithm, policy, default), a key slot (algorithm, policy, origin,
/// public key, import policy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Algorithm id (tag 01): a [`KeyAlgorithm`] or [`MgmAlgorithm`] id, or [`METADATA_ALGORITHM_PIN`].
    pub algorithm: u8,
    /// PIN policy and touch policy codes.
    pub policy: Option<(u8, u8)>,
    /// Where a slot's key came from (tag 03), when the card's code is Yubico's.
    pub origin: Option<KeyOrigin>,
    /// Tag 03's byte as the card sent it, known or not (PivApplet says `00`
    /// generated and `01` imported, where Yubico says `01` and `02`): a
    /// code [`KeyOrigin::from_code`] does not know leaves `origin` `None`.
    pub origin_code: Option<u8>,
    /// The public key's items (81/82 or 86), without 7F49.
    pub public_key: Option<PublicKeyData>,
    /// Whether the PIN, PUK or management key still has its factory value.
    pub is_default: Option<bool>,
    /// Tries: (total, left).
    pub retries: Option<(u8, u8)>,
    /// Whether IMPORT KEY into this slot is forbidden (sub-SIM tag C1).
    pub import_forbidden: Option<bool>,
}

impl Metadata {
    /// GET METADATA's data field, items in tag order.
    pub fn encode(&self) -> Vec<u8> {
        let public = self.public_key.as_ref().map(PublicKeyData::inner);
        let policy = self.policy.map(|(p, t)| [p, t]);
        let retries = self.retries.map(|(t, l)| [t, l]);
        let mut items: Vec<(u8, &[u8])> = Vec::new();
        let alg = [self.algorithm];
        items.push((TAG_MD_ALGORITHM, &alg));
        if let Some(p) = &policy {
            items.push((TAG_MD_POLICY, p));
        }
        let origin = self.origin.map(KeyOrigin::code).or(self.origin_code).map(|o| [o]);
        if let Some(o) = &origin {
            items.push((TAG_MD_ORIGIN, o));
        }
        if let Some(k) = &public {
            items.push((TAG_MD_PUBLIC_KEY, k));
        }
        let default = self.is_default.map(|d| [d as u8]);
        if let Some(d) = &default {
            items.push((TAG_MD_DEFAULT, d));
        }
        if let Some(r) = &retries {
            items.push((TAG_MD_RETRIES, r));
        }
        let import = self.import_forbidden.map(|f| [f as u8]);
        if let Some(f) = &import {
            items.push((TAG_MD_IMPORT_FORBIDDEN, f));
        }
        flat::encode(&items)
    }

    /// Decodes a GET METADATA answer field by field: unknown items are
    /// skipped, an item of an unexpected size or an unknown code is left
    /// out (`None`) rather than failing the whole answer; only a missing
    /// algorithm (tag 01, in every answer Yubico documents) or a broken TLV
    /// sequence is an error (piv-authenticator answers 9000 with no data).
    pub fn decode(data: &[u8]) -> Result<Metadata, SpecError> {
        let items = flat::parse(data)?;
        let get = |t| flat::find(&items, t);
        let pair = |t| match get(t) {
            Some([a, b]) => Some((*a, *b)),
            _ => None,
        };
        let byte = |t| match get(t) {
            Some([b]) => Some(*b),
            _ => None,
        };
        let algorithm = byte(TAG_MD_ALGORITHM).ok_or(SpecError::Malformed("metadata without its algorithm"))?;
        let origin_code = byte(TAG_MD_ORIGIN);
        Ok(Metadata {
            algorithm,
            policy: pair(TAG_MD_POLICY),
            origin: origin_code.and_then(KeyOrigin::from_code),
            origin_code,
            public_key: get(TAG_MD_PUBLIC_KEY).and_then(|k| PublicKeyData::decode_inner(k).ok()),
            is_default: byte(TAG_MD_DEFAULT).map(|b| b != 0),
            retries: pair(TAG_MD_RETRIES),
            import_forbidden: byte(TAG_MD_IMPORT_FORBIDDEN).map(|b| b != 0),
        })
    }
}

/// A private key as IMPORT KEY carries it (Yubico's tags: RSA CRT
/// parameters 01-05, EC private scalar 06), each value big-endian.
#[derive(Clone, PartialEq, Eq)]
pub enum ImportedKey {
    /// RSA private key as CRT parameters (tags 01-05).
    Rsa {
        /// First prime p.
        p: Vec<u8>,
        /// Second prime q.
        q: Vec<u8>,
        /// d mod (p-1).
        dp: Vec<u8>,
        /// d mod (q-1).
        dq: Vec<u8>,
        /// q^-1 mod p.
        qinv: Vec<u8>,
    },
    /// EC private key (tag 06), field-length bytes.
    Ec {
        /// The private scalar d, big-endian.
        scalar: Vec<u8>,
    },
    /// Ed25519 private key (tag 07): the 32-byte seed of RFC 8032 5.1.5.
    Ed25519 {
        /// The 32-byte private key as RFC 8032 gives it.
        seed: Vec<u8>,
    },
    /// X25519 private key (tag 08): the 32-byte scalar of RFC 7748 5
    /// (little-endian, as the RFC and OpenSSL's raw private key hold it).
    X25519 {
        /// The 32-byte private key.
        scalar: Vec<u8>,
    },
}

impl std::fmt::Debug for ImportedKey {
    // Private key material never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportedKey::Rsa { .. } => f.write_str("ImportedKey::Rsa(..)"),
            ImportedKey::Ec { .. } => f.write_str("ImportedKey::Ec(..)"),
            ImportedKey::Ed25519 { .. } => f.write_str("ImportedKey::Ed25519(..)"),
            ImportedKey::X25519 { .. } => f.write_str("ImportedKey::X25519(..)"),
        }
    }
}

pub(crate) const TAG_IMPORT_RSA: [u8; 5] = [0x01, 0x02, 0x03, 0x04, 0x05];
pub(crate) const TAG_IMPORT_EC: u8 = 0x06;
/// IMPORT KEY's Ed25519 item (yubico-piv-tool 2.7, firmware 5.7).
pub(crate) const TAG_IMPORT_ED25519: u8 = 0x07;
/// IMPORT KEY's X25519 item (yubico-piv-tool 2.7, firmware 5.7).
pub(crate) const TAG_IMPORT_X25519: u8 = 0x08;

/// IMPORT KEY's data (`00 FE <alg> <slot>`): the key's items, then the
/// optional PIN policy (AA).
pub fn import_key_request(key: &ImportedKey, pin_policy: Option<u8>) -> Vec<u8> {
    import_key_request_with(key, Policies { pin: pin_policy, touch: None })
}

/// IMPORT KEY's data: the key's items, then the policies present (AA, AB).
pub fn import_key_request_with(key: &ImportedKey, policies: Policies) -> Vec<u8> {
    let mut items: Vec<(u8, &[u8])> = match key {
        ImportedKey::Rsa { p, q, dp, dq, qinv } => {
            TAG_IMPORT_RSA.into_iter().zip([p, q, dp, dq, qinv]).map(|(t, v)| (t, v.as_slice())).collect()
        }
        ImportedKey::Ec { scalar } => vec![(TAG_IMPORT_EC, scalar.as_slice())],
        ImportedKey::Ed25519 { seed } => vec![(TAG_IMPORT_ED25519, seed.as_slice())],
        ImportedKey::X25519 { scalar } => vec![(TAG_IMPORT_X25519, scalar.as_slice())],
    };
    let policy_items = policies.items();
    items.extend(policy_items.iter().map(|(t, v)| (*t, v.as_slice())));
    flat::encode(&items)
}

/// What IMPORT KEY's data holds: the key and the policies asked for.
pub struct ImportRequest {
    /// The private key to load.
    pub key: ImportedKey,
    /// PIN policy code (tag AA), as [`PinPolicy::code`].
    pub pin_policy: Option<u8>,
    /// Touch policy code (tag AB), as [`TouchPolicy::code`].
    pub touch_policy: Option<u8>,
}

impl ImportRequest {
    /// Tags AA and AB together.
    pub fn policies(&self) -> Policies {
        Policies { pin: self.pin_policy, touch: self.touch_policy }
    }
}

/// Decodes IMPORT KEY's data: RSA (01-05), EC (06), Ed25519 (07) or
/// X25519 (08), optional AA and AB; anything else is refused.
pub fn parse_import_key_request(data: &[u8]) -> Result<ImportRequest, SpecError> {
    let items = flat::parse(data)?;
    let single = [TAG_IMPORT_EC, TAG_IMPORT_ED25519, TAG_IMPORT_X25519];
    let known =
        |t: u8| TAG_IMPORT_RSA.contains(&t) || single.contains(&t) || t == TAG_PIN_POLICY || t == TAG_TOUCH_POLICY;
    if items.iter().any(|(t, _)| !known(*t)) {
        return Err(SpecError::Malformed("unknown item in IMPORT KEY"));
    }
    let rsa: Vec<Option<&[u8]>> = TAG_IMPORT_RSA.iter().map(|&t| flat::find(&items, t)).collect();
    let singles: Vec<(u8, &[u8])> = single.iter().filter_map(|&t| flat::find(&items, t).map(|v| (t, v))).collect();
    let key = match (rsa.as_slice(), singles.as_slice()) {
        ([Some(p), Some(q), Some(dp), Some(dq), Some(qinv)], []) => {
            ImportedKey::Rsa { p: p.to_vec(), q: q.to_vec(), dp: dp.to_vec(), dq: dq.to_vec(), qinv: qinv.to_vec() }
        }
        ([None, None, None, None, None], [(tag, v)]) => match *tag {
            TAG_IMPORT_EC => ImportedKey::Ec { scalar: v.to_vec() },
            TAG_IMPORT_ED25519 => ImportedKey::Ed25519 { seed: v.to_vec() },
            _ => ImportedKey::X25519 { scalar: v.to_vec() },
        },
        _ => return Err(SpecError::Malformed("IMPORT KEY wants 01-05 (RSA), 06 (EC), 07 (Ed25519) or 08 (X25519)")),
    };
    let policies = parse_policies(&items)?;
    Ok(ImportRequest { key, pin_policy: policies.pin, touch_policy: policies.touch })
}

/// The X.509 extensions Yubico puts in key attestations, so verifiers that
/// know YubiKeys read ours: firmware version (3 raw bytes), serial (a DER
/// INTEGER), PIN and touch policy (2 raw bytes), form factor (1 raw byte).
pub const OID_YUBICO_FIRMWARE: &str = "1.3.6.1.4.1.41482.3.3";
/// Attestation extension: card serial, a DER INTEGER.
pub const OID_YUBICO_SERIAL: &str = "1.3.6.1.4.1.41482.3.7";
/// Attestation extension: PIN and touch policy codes, 2 raw bytes.
pub const OID_YUBICO_POLICY: &str = "1.3.6.1.4.1.41482.3.8";
/// Attestation extension: form factor, 1 raw byte.
pub const OID_YUBICO_FORM_FACTOR: &str = "1.3.6.1.4.1.41482.3.9";
/// Form factor "unknown" (Yubico's 00): a sub-SIM is not a YubiKey model.
pub const FORM_FACTOR_UNKNOWN: u8 = 0x00;

/// SET IMPORT POLICY's P1: `01` forbids importing into the slot (P2), `00` allows it.
pub const IMPORT_P1_ALLOW: u8 = 0x00;
/// SET IMPORT POLICY's P1 forbidding import into the slot.
pub const IMPORT_P1_FORBID: u8 = 0x01;

// ---- sub-SIM extensions ---------------------------------------------------------

/// How many positions the random keypad has: one per digit.
pub const KEYPAD_KEYS: usize = 10;

/// A keypad layout: `digit_at[p]` is the digit (0-9) shown at position `p`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeypadLayout {
    /// The digit (0-9) drawn at each position 0-9.
    pub digit_at: [u8; KEYPAD_KEYS],
}

impl std::fmt::Debug for KeypadLayout {
    // A layout plus the positions tapped gives the PIN: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeypadLayout(..)")
    }
}

impl KeypadLayout {
    /// GET KEYPAD's answer: the 10 digits in position order.
    pub fn encode(&self) -> Vec<u8> {
        self.digit_at.to_vec()
    }
    /// Decodes a layout; it must show each digit exactly once.
    pub fn decode(data: &[u8]) -> Result<KeypadLayout, SpecError> {
        let digit_at: [u8; KEYPAD_KEYS] = data.try_into().map_err(|_| SpecError::Malformed("layout of 10 bytes"))?;
        let mut seen = [false; KEYPAD_KEYS];
        for &d in &digit_at {
            match seen.get_mut(d as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(SpecError::Malformed("layout is not a permutation of 0-9")),
            }
        }
        Ok(KeypadLayout { digit_at })
    }
    /// The position where `digit` is shown.
    pub fn position_of(&self, digit: u8) -> Option<u8> {
        self.digit_at.iter().position(|&d| d == digit).map(|p| p as u8)
    }
    /// The ASCII digits the tapped positions stand for; `None` if a position is off the pad.
    pub fn digits_for(&self, positions: &[u8]) -> Option<Vec<u8>> {
        positions.iter().map(|&p| self.digit_at.get(p as usize).map(|d| b'0' + d)).collect()
    }
}

/// Whether plain VERIFY may carry the PIN, or only VERIFY KEYPAD. P1 of SET PIN POLICY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinEntry {
    /// Plain VERIFY or VERIFY KEYPAD (P1 `00`).
    Any,
    /// Only VERIFY KEYPAD: a PIN typed on the host is refused (P1 `01`).
    KeypadOnly,
}

impl PinEntry {
    /// P1 of SET PIN POLICY, also GET STATUS's item 83.
    pub fn p1(self) -> u8 {
        match self {
            PinEntry::Any => 0x00,
            PinEntry::KeypadOnly => 0x01,
        }
    }
    /// The policy for a P1 value, `None` if unknown.
    pub fn from_p1(p1: u8) -> Option<PinEntry> {
        [PinEntry::Any, PinEntry::KeypadOnly].into_iter().find(|p| p.p1() == p1)
    }
}

/// P1 of SET BINDING.
pub const BINDING_P1_SET: u8 = 0x00;
/// SET BINDING's P1 removing the binding (no data).
pub const BINDING_P1_CLEAR: u8 = 0x01;
/// A binding value is 16 to 64 bytes (e.g. SHA-256 of ICCID and device identity).
pub const BINDING_MIN_LEN: usize = 16;
/// Longest binding value, in bytes.
pub const BINDING_MAX_LEN: usize = 64;
/// Wrong PRESENT BINDING values tolerated before the binding blocks.
pub const BINDING_TRIES: u8 = 5;

/// Where the device binding stands, as GET STATUS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingState {
    /// No binding: private-key operations need no presentation.
    None,
    /// Set, not yet presented in this session: private-key operations refused.
    Required,
    /// Set and presented in this session.
    Presented,
    /// Too many wrong presentations: refused until the issuer sets or clears it.
    Blocked,
}

impl BindingState {
    pub(crate) fn code(self) -> u8 {
        match self {
            BindingState::None => 0,
            BindingState::Required => 1,
            BindingState::Presented => 2,
            BindingState::Blocked => 3,
        }
    }
    fn from_code(c: u8) -> Option<BindingState> {
        [Self::None, Self::Required, Self::Presented, Self::Blocked].into_iter().find(|s| s.code() == c)
    }
}

const TAG_ST_PIN_TRIES: u32 = 0x81;
const TAG_ST_PUK_TRIES: u32 = 0x82;
const TAG_ST_PIN_ENTRY: u32 = 0x83;
const TAG_ST_BINDING: u32 = 0x84;
const TAG_ST_BINDING_TRIES: u32 = 0x85;
const TAG_ST_KEYS: u32 = 0x86;
const TAG_ST_CERTS: u32 = 0x87;
const TAG_ST_CHANGES: u32 = 0x88;
const TAG_ST_MGM_ALG: u32 = 0x89;
const TAG_ST_PIN_VERIFIED: u32 = 0x8A;
const TAG_ST_IMPORT_FORBIDDEN: u32 = 0x8B;
/// GET STATUS's items in the order the card sends them (the Java applet's table).
pub(crate) const STATUS_TAGS: [u32; 11] = [
    TAG_ST_PIN_TRIES,
    TAG_ST_PUK_TRIES,
    TAG_ST_PIN_ENTRY,
    TAG_ST_BINDING,
    TAG_ST_BINDING_TRIES,
    TAG_ST_KEYS,
    TAG_ST_CERTS,
    TAG_ST_CHANGES,
    TAG_ST_MGM_ALG,
    TAG_ST_PIN_VERIFIED,
    TAG_ST_IMPORT_FORBIDDEN,
];

/// GET STATUS: what the card tells about itself in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStatus {
    /// PIN tries left.
    pub pin_tries: u8,
    /// PUK tries left.
    pub puk_tries: u8,
    /// Whether the PIN may be sent in plain VERIFY.
    pub pin_entry: PinEntry,
    /// Device binding state for this session.
    pub binding: BindingState,
    /// Wrong PRESENT BINDING values still tolerated, of [`BINDING_TRIES`].
    pub binding_tries: u8,
    /// Slots holding a key, as [`Slot::bit`]s.
    pub keys: u8,
    /// Slots whose certificate object is present, as [`Slot::bit`]s.
    pub certs: u8,
    /// Counts every change to keys or data objects: a host may cache
    /// certificates while it stays the same.
    pub changes: u32,
    /// The management key's current algorithm.
    pub mgm_algorithm: MgmAlgorithm,
    /// Whether the PIN is verified in this card session.
    pub pin_verified: bool,
    /// Slots the issuer forbade importing a key into (bits as `keys`).
    pub import_forbidden: u8,
}

impl CardStatus {
    /// One-byte tags and short values: the flat encoder writes them without
    /// building a TLV tree (GET STATUS is on the login path).
    pub fn encode(&self) -> Vec<u8> {
        let tag = |t: u32| t as u8;
        flat::encode(&[
            (tag(TAG_ST_PIN_TRIES), &[self.pin_tries]),
            (tag(TAG_ST_PUK_TRIES), &[self.puk_tries]),
            (tag(TAG_ST_PIN_ENTRY), &[self.pin_entry.p1()]),
            (tag(TAG_ST_BINDING), &[self.binding.code()]),
            (tag(TAG_ST_BINDING_TRIES), &[self.binding_tries]),
            (tag(TAG_ST_KEYS), &[self.keys]),
            (tag(TAG_ST_CERTS), &[self.certs]),
            (tag(TAG_ST_CHANGES), &self.changes.to_be_bytes()),
            (tag(TAG_ST_MGM_ALG), &[self.mgm_algorithm.id()]),
            (tag(TAG_ST_PIN_VERIFIED), &[self.pin_verified as u8]),
            (tag(TAG_ST_IMPORT_FORBIDDEN), &[self.import_forbidden]),
        ])
    }

    /// Decodes GET STATUS's answer; every item is required.
    pub fn decode(data: &[u8]) -> Result<CardStatus, SpecError> {
        let items = tlv::parse_seq(data)?;
        let byte = |tag| match find(&items, tag) {
            Some([b]) => Ok(*b),
            _ => Err(SpecError::Malformed("GET STATUS item missing")),
        };
        let changes = find(&items, TAG_ST_CHANGES)
            .and_then(|c| <[u8; 4]>::try_from(c).ok())
            .ok_or(SpecError::Malformed("GET STATUS change counter"))?;
        Ok(CardStatus {
            pin_tries: byte(TAG_ST_PIN_TRIES)?,
            puk_tries: byte(TAG_ST_PUK_TRIES)?,
            pin_entry: PinEntry::from_p1(byte(TAG_ST_PIN_ENTRY)?).ok_or(SpecError::Malformed("PIN entry policy"))?,
            binding: BindingState::from_code(byte(TAG_ST_BINDING)?).ok_or(SpecError::Malformed("binding state"))?,
            binding_tries: byte(TAG_ST_BINDING_TRIES)?,
            keys: byte(TAG_ST_KEYS)?,
            certs: byte(TAG_ST_CERTS)?,
            changes: u32::from_be_bytes(changes),
            mgm_algorithm: MgmAlgorithm::from_id(byte(TAG_ST_MGM_ALG)?)
                .ok_or(SpecError::Malformed("management key algorithm"))?,
            pin_verified: byte(TAG_ST_PIN_VERIFIED)? != 0,
            // Absent from cards made before the import policy: nothing forbidden.
            import_forbidden: byte(TAG_ST_IMPORT_FORBIDDEN).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_answer_has_one_algorithm_per_template_and_no_sm_algorithms() {
        let r = select_response();
        assert_eq!(r[0], 0x61);
        let a = parse_select_response(&r).unwrap();
        assert_eq!((a.aid.as_slice(), a.label.as_str()), (&PIV_PIX[..], APP_LABEL));
        assert_eq!(a.algorithms, card_algorithms().collect::<Vec<_>>());
        assert!(a.unknown.is_empty(), "only table 3's tags: {:02X?}", a.unknown);
        // Table 5: each AC holds one 80 and one 06.
        let t = tlv::parse_one(&r).unwrap();
        for ac in children(&t, TAG_APT).unwrap().iter().filter(|i| tlv::is(i, TAG_ALGORITHMS)) {
            let inner = children(ac, TAG_ALGORITHMS).unwrap();
            assert!(inner.len() == 2 && tlv::is(&inner[0], TAG_ALGORITHM) && tlv::is(&inner[1], TAG_OID));
        }
        // Algorithms 27 and 2E would turn on secure messaging in OpenSC.
        assert!(!a.algorithms.iter().any(|id| [0x27, 0x2E].contains(id)));
        // Every key algorithm the card generates is listed.
        for k in KeyAlgorithm::ALL {
            assert!(a.algorithms.contains(&k.id()), "{k:?}");
        }
    }

    #[test]
    fn select_answers_of_other_cards_decode() {
        // Several 80s in one AC, a private tag and a URL: all read, none fatal.
        let old = [
            0x61, 0x1E, 0x4F, 0x06, 0, 0, 0x10, 0, 1, 0, 0xAC, 0x08, 0x80, 1, 0x03, 0x80, 1, 0x07, 0x06, 0, 0xDF, 0x20,
            0x01, 0x00, 0x5F, 0x50, 0x03, b'a', b'/', b'b', 0x50, 0x00,
        ];
        let a = parse_select_response(&old).unwrap();
        assert_eq!((a.algorithms.as_slice(), a.unknown.as_slice()), (&[0x03, 0x07][..], &[vec![0xDF, 0x20]][..]));
        assert_eq!(a.url.as_deref(), Some(&b"a/b"[..]));
        // OpenSC needs only 4F; so does this decoder.
        assert_eq!(parse_select_response(&[0x61, 0x03, 0x4F, 0x01, 0xAA]).unwrap().aid, [0xAA]);
        assert!(parse_select_response(&[0x61, 0x02, 0x50, 0x00]).is_err(), "4F is mandatory");
    }

    #[test]
    fn card_state_round_trips() {
        let s = SelectedCard { serial: 1234, changes: 5 };
        assert_eq!(s.encode(), [0x81, 4, 0, 0, 4, 0xD2, 0x82, 4, 0, 0, 0, 5]);
        assert_eq!(SelectedCard::decode(&s.encode()).unwrap(), s);
        assert!(SelectedCard::decode(&[0x81, 4, 0, 0, 4, 0xD2]).is_err());
    }

    #[test]
    fn get_and_put_data_shapes() {
        assert_eq!(get_data_request(ObjectTag::CERT_9A), [0x5C, 3, 0x5F, 0xC1, 0x05]);
        assert_eq!(parse_get_data_request(&[0x5C, 1, 0x7E]).unwrap(), ObjectTag::DISCOVERY);
        assert!(parse_get_data_request(&[0x5C, 2, 0x5F, 0xC1]).is_err());
        let req = put_data_request(ObjectTag::CERT_9C, &[1, 2, 3]);
        assert_eq!(parse_put_data_request(&req).unwrap(), (ObjectTag::CERT_9C, vec![1, 2, 3]));
        assert!(parse_put_data_request(&req[..req.len() - 1]).is_err());
        let der = vec![0x30; 1000];
        assert_eq!(parse_cert_object(&cert_object(&der)).unwrap(), der);
        let guid = [7u8; 16];
        assert_eq!(parse_chuid_guid(&chuid(&guid)).unwrap(), guid);
        assert_eq!(discovery_object()[..2], [0x7E, 0x12]);
    }

    #[test]
    fn pkcs11_tool_sign_request_decodes() {
        // The shape traced from pkcs11-tool: 7C 82 01 06 82 00 81 82 01 00 <256>.
        let mut req = vec![0x7C, 0x82, 0x01, 0x06, 0x82, 0x00, 0x81, 0x82, 0x01, 0x00];
        req.extend([0xAB; 256]);
        let ga = DynamicAuth::decode(&req).unwrap();
        assert_eq!(ga.response, Some(vec![]));
        assert_eq!(ga.challenge.unwrap().len(), 256);
        assert!(DynamicAuth::decode(&[0x7C, 0x02, 0x85, 0x00]).is_err());
    }

    #[test]
    fn public_key_and_generate_shapes() {
        let n = vec![0xC5; 256];
        let enc = rsa_public_key(&n, &[1, 0, 1]);
        assert_eq!(enc[..5], [0x7F, 0x49, 0x82, 0x01, 0x09]);
        assert_eq!(enc[5..9], [0x81, 0x82, 0x01, 0x00]);
        assert_eq!(parse_rsa_public_key(&enc).unwrap(), (n, vec![1, 0, 1]));
        assert_eq!(generate_request(Algorithm::Rsa2048), [0xAC, 3, 0x80, 1, 7]);
        let with_policies = [0xAC, 9, 0x80, 1, 7, 0xAA, 1, 2, 0xAB, 1, 1];
        let req = parse_generate_request(&with_policies).unwrap();
        assert_eq!((req.algorithm, req.policies), (7, Policies { pin: Some(2), touch: Some(1) }));
        let built = generate_request_with(KeyAlgorithm::Rsa2048, Policies { pin: Some(2), touch: Some(1) });
        assert_eq!(built, with_policies);
        assert_eq!(
            parse_generate_request(&generate_request_for(KeyAlgorithm::Ed25519)).unwrap().policies,
            Policies::default()
        );
        assert!(parse_generate_request(&[0xAC, 6, 0x80, 1, 7, 0xAA, 0x01, 0x03][..8]).is_ok());
        assert!(parse_generate_request(&[0xAC, 7, 0x80, 1, 7, 0xAA, 2, 3, 3]).is_err(), "policy of two bytes");
        assert!(parse_generate_request(&[0xAC, 6, 0x80, 1, 7, 0x99, 1, 3]).is_err(), "unknown item");
    }

    #[test]
    fn keypad_and_status_round_trip() {
        let l = KeypadLayout { digit_at: [3, 1, 4, 0, 5, 9, 2, 6, 8, 7] };
        assert_eq!(KeypadLayout::decode(&l.encode()).unwrap(), l);
        assert!(KeypadLayout::decode(&[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).is_err());
        assert_eq!(l.digits_for(&[1, 0]).unwrap(), b"13");
        assert_eq!(l.digits_for(&[10]), None);
        assert_eq!(l.position_of(9), Some(5));
        let s = CardStatus {
            pin_tries: 3,
            puk_tries: 2,
            pin_entry: PinEntry::KeypadOnly,
            binding: BindingState::Required,
            binding_tries: 5,
            keys: 3,
            certs: 1,
            changes: 77,
            mgm_algorithm: MgmAlgorithm::Aes256,
            pin_verified: true,
            import_forbidden: 0x03,
        };
        assert_eq!(CardStatus::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn metadata_and_import_round_trip() {
        let m = Metadata {
            algorithm: 0x07,
            policy: Some((2, 1)),
            origin: Some(KeyOrigin::Imported),
            origin_code: Some(2),
            public_key: Some(PublicKeyData::Rsa { modulus: vec![0xC1; 256], exponent: vec![1, 0, 1] }),
            is_default: None,
            retries: None,
            import_forbidden: Some(true),
        };
        assert_eq!(Metadata::decode(&m.encode()).unwrap(), m);
        // The PIN's answer as a YubiKey gives it.
        let pin = Metadata::decode(&[0x01, 0x01, 0xFF, 0x05, 0x01, 0x01, 0x06, 0x02, 0x03, 0x03]).unwrap();
        assert_eq!((pin.algorithm, pin.is_default, pin.retries), (0xFF, Some(true), Some((3, 3))));
        assert!(Metadata::decode(&[0x02, 0x02, 1, 1]).is_err(), "no algorithm");
        // piv-authenticator: 9000 with no data.
        assert!(Metadata::decode(&[]).is_err());
        // PivApplet: origin 00 (generated) / 01 (imported), its own codes.
        let pa = Metadata::decode(&[0x01, 0x01, 0x11, 0x02, 0x02, 0x02, 0x01, 0x03, 0x01, 0x00]).unwrap();
        assert_eq!((pa.algorithm, pa.origin, pa.origin_code, pa.policy), (0x11, None, Some(0), Some((2, 1))));
        let pa = Metadata::decode(&[0x01, 0x01, 0x07, 0x03, 0x01, 0x01]).unwrap();
        assert_eq!((pa.origin, pa.origin_code), (Some(KeyOrigin::Generated), Some(1)), "Yubico's reading of 01");
        // A YubiKey 5's slot answer: algorithm, policy (once, never), origin generated, a P-256 key.
        let mut yk = vec![0x01, 0x01, 0x11, 0x02, 0x02, 0x02, 0x01, 0x03, 0x01, 0x01, 0x04, 0x43, 0x86, 0x41, 0x04];
        yk.extend([0x5A; 64]);
        let yk = Metadata::decode(&yk).unwrap();
        assert_eq!(
            (yk.origin, yk.public_key.map(|k| matches!(k, PublicKeyData::Ec { .. }))),
            (Some(KeyOrigin::Generated), Some(true))
        );
        // Items of an odd size, an unknown tag: left out, not fatal.
        let odd = Metadata::decode(&[0x01, 0x01, 0xFF, 0x06, 0x01, 0x03, 0x05, 0x02, 0, 0, 0x7A, 0x01, 0x00]).unwrap();
        assert_eq!((odd.retries, odd.is_default), (None, None));
        let ec = PublicKeyData::Ec { point: vec![4; 65] };
        assert_eq!(PublicKeyData::decode(&ec.encode()).unwrap(), ec);
        let rsa = PublicKeyData::Rsa { modulus: vec![0xC5; 256], exponent: vec![1, 0, 1] };
        assert_eq!(PublicKeyData::decode(&rsa.encode()).unwrap(), rsa);

        let key = ImportedKey::Rsa {
            p: vec![1; 128],
            q: vec![2; 128],
            dp: vec![3; 128],
            dq: vec![4; 128],
            qinv: vec![5; 128],
        };
        let req = parse_import_key_request(&import_key_request(&key, Some(3))).unwrap();
        assert!(req.key == key && req.pin_policy == Some(3) && req.touch_policy.is_none());
        assert!(format!("{key:?}").find("1, 1").is_none(), "Debug hides the key");
        let ec = ImportedKey::Ec { scalar: vec![9; 32] };
        assert!(parse_import_key_request(&import_key_request(&ec, None)).unwrap().key == ec);
        assert!(parse_import_key_request(&[0x01, 1, 1, 0x06, 1, 1]).is_err(), "RSA and EC mixed");
        for k in [ImportedKey::Ed25519 { seed: vec![7; 32] }, ImportedKey::X25519 { scalar: vec![8; 32] }] {
            let data = import_key_request_with(&k, Policies { pin: Some(3), touch: Some(1) });
            let req = parse_import_key_request(&data).unwrap();
            assert!(req.key == k && req.policies() == Policies { pin: Some(3), touch: Some(1) });
        }
        assert_eq!(import_key_request(&ImportedKey::Ed25519 { seed: vec![7; 32] }, None)[..2], [0x07, 32]);
        assert!(parse_import_key_request(&[0x06, 1, 1, 0x07, 1, 1]).is_err(), "EC and Ed25519 mixed");
        assert!(parse_import_key_request(&[0x01, 1, 1]).is_err(), "RSA incomplete");
        assert!(parse_import_key_request(&[0x09, 1, 1]).is_err(), "unknown item");
    }

    #[test]
    fn management_key_request() {
        let req = set_management_key_request(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY);
        assert_eq!(req[..3], [0x03, 0x9B, 24]);
        assert_eq!(parse_set_management_key_request(&req).unwrap().1, DEFAULT_MGM_KEY);
        assert!(parse_set_management_key_request(&[0x08, 0x9B, 24]).is_err());
    }
}
