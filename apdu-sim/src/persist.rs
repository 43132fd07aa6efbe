//! The card state file's format: what it holds and what a loaded file must
//! make sense as. Holding the file (one holder, write-through, atomic
//! replace) is [`crate::cardfile`]'s job.
//!
//! Format 2 (current): `{"format": 2, "sha256": <hex>, "card": {...}}`, the
//! digest taken over the exact bytes of the `card` object, so any change or
//! damage is detected. Format 1 (the first release): the card's fields at
//! the top level, no digest; loaded and migrated at the next write.
//!
//! A file is refused, with its name and the problem, and left as it is when
//! it is truncated or corrupt, fails its digest, has an unknown format, or
//! does not make sense as a card: every field is checked on load
//! ([`from_file`], one check per part), so an impossible state (a try
//! counter above its limit, a 512-bit key in an RSA-2048 slot, an object
//! larger than the card stores) never reaches the applet.
//!
//! Unknown fields are refused, not dropped: a file written by a newer build
//! would otherwise lose what this build does not know at its next write.
//! The same goes for a key given twice (JSON lets a later duplicate win
//! silently; here it is an error).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use applet_spec::messages::{KeyOrigin, PinEntry, BINDING_MAX_LEN, BINDING_MIN_LEN, BINDING_TRIES};
use applet_spec::piv::{self, KeyAlgorithm, MgmAlgorithm, ObjectTag, PinPolicy, Slot, MAX_OBJECT_LEN, PIN_BLOCK_LEN};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::PrivateKey;
use crate::state::{AccessRules, Binding, MgmKey, Persistent, Reference, SlotKey};
use applet_spec::aram;

/// The current state file format.
pub const FORMAT: u32 = 2;

/// The largest card file read (1 MiB), checked before parsing. A full card
/// (every object at 3052 bytes, every key) is well under 100 KiB of JSON.
pub const MAX_FILE_LEN: u64 = 1 << 20;

/// The try limits a PIN or PUK may have: `63Cx` counts at most 15 tries.
pub const TRY_LIMITS: RangeInclusive<u8> = 1..=15;

/// Why a card file could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file system refused (open, read, write, rename, sync).
    #[error("card file {path}: {source}")]
    Io {
        /// The card file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a valid card: bad JSON, or a field fails its check.
    #[error("card file {path}: {problem}")]
    Invalid {
        /// The card file.
        path: PathBuf,
        /// Which field, and what is wrong with it.
        problem: String,
    },
    /// A symlink, FIFO, device, socket or directory where the card file should be.
    #[error("card file {path}: {what}, not a regular file; refusing to use it")]
    NotRegular {
        /// The path given.
        path: PathBuf,
        /// What is there instead (e.g. "a directory").
        what: String,
    },
    /// Another program holds the card (see `cardfile`).
    #[error("card file {path} is in use by {holder}")]
    InUse {
        /// The card file.
        path: PathBuf,
        /// Who holds it, as far as can be told, else "another program".
        holder: String,
    },
    /// A writing command on a card opened read-only.
    #[error("card file {path} is read-only ({why}): the command's writes cannot be saved")]
    ReadOnly {
        /// The card file.
        path: PathBuf,
        /// Why it was opened read-only.
        why: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceFile {
    block: String,
    tries_left: u8,
    max_tries: u8,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingFile {
    value: String,
    tries_left: u8,
}

/// The card's fields: the `card` object of format 2, the whole file in format 1.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardFile {
    serial: u32,
    guid: String,
    pin: ReferenceFile,
    puk: ReferenceFile,
    mgm_algorithm: u8,
    mgm_key: String,
    /// Slot key reference (e.g. "9A") to the PKCS#1 DER private key, hex.
    keys: Entries,
    /// Object tag (e.g. "5FC105") to the object value, hex.
    objects: Entries,
    pin_entry: u8,
    binding: Option<BindingFile>,
    changes: u32,
    /// EC keys: slot to "p256:<scalar hex>", "p384:<scalar hex>",
    /// "ed25519:<32 bytes hex>" or "x25519:<32 bytes hex>" (RSA keys stay
    /// in `keys`; F9 is a slot like the others here).
    #[serde(default, skip_serializing_if = "Entries::is_empty")]
    ec_keys: Entries,
    /// Slots whose key was imported ("imported"); absent: generated.
    #[serde(default, skip_serializing_if = "Entries::is_empty")]
    key_origins: Entries,
    /// Slots whose key has another PIN policy than the slot's default
    /// ("never", "once", "always"); absent: the default.
    #[serde(default, skip_serializing_if = "Entries::is_empty")]
    key_pin_policies: Entries,
    /// Slots the issuer forbade importing into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    import_forbidden: Vec<String>,
    /// The ARA-M's rules (issue 23): absent in files from before, and while
    /// the card has none and never had (a build without it refuses a file
    /// with it, as an unknown field, rather than drop the rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_rules: Option<RulesFile>,
    /// The card manager (the ISD): absent in files from before it, and
    /// while it is as the factory made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gp: Option<crate::gp::file::GpFile>,
}

/// The ARA-M's rules: each a REF-AR-DO in hex, as STORE DATA carries it,
/// checked on load by the same decoder and limits as STORE DATA.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    refresh_tag: u64,
    rules: Vec<String>,
}

fn rules_to_file(r: &AccessRules) -> Option<RulesFile> {
    (r != &AccessRules::default()).then(|| RulesFile {
        refresh_tag: r.refresh_tag,
        rules: r.rules.iter().map(|rule| hex::encode_upper(rule.encode())).collect(),
    })
}

/// The rules of a file: each a well-formed REF-AR-DO, at most
/// [`aram::MAX_RULES`], no two for the same applet and app.
fn rules_from_file(f: &RulesFile) -> Result<AccessRules, String> {
    if f.rules.len() > aram::MAX_RULES {
        return Err(bad("access_rules.rules", format!("{} rules, the card holds {}", f.rules.len(), aram::MAX_RULES)));
    }
    let mut rules: Vec<aram::Rule> = Vec::new();
    for (i, text) in f.rules.iter().enumerate() {
        let field = format!("access_rules.rules[{i}]");
        let rule = aram::Rule::decode(&bytes(&field, text)?).map_err(|e| bad(&field, e))?;
        if rules.iter().any(|r| r.same_ref(&rule)) {
            return Err(bad(&field, "a second rule for the same applet and app"));
        }
        rules.push(rule);
    }
    Ok(AccessRules { rules, refresh_tag: f.refresh_tag })
}

/// The file's key maps: RSA, EC, origins, PIN policies.
type KeyMaps = (Entries, Entries, Entries, Entries);

/// Every key of the card (F9 included) as the file's four maps.
fn keys_to_file(p: &Persistent) -> Result<KeyMaps, String> {
    let (mut rsa, mut ec, mut origins, mut policies) = KeyMaps::default();
    let all = p.keys.iter().map(|(s, k)| (*s, k)).chain(p.attestation.iter().map(|k| (Slot::Attestation, k)));
    for (slot, k) in all {
        match &k.key {
            PrivateKey::Rsa(key) => {
                let der = key.to_pkcs1_der().map_err(|e| format!("key {slot}: {e}"))?;
                rsa.0.push((slot.to_string(), hex::encode(der.as_bytes())));
            }
            PrivateKey::P256(key) => ec.0.push((slot.to_string(), format!("p256:{}", hex::encode(key.to_bytes())))),
            PrivateKey::P384(key) => ec.0.push((slot.to_string(), format!("p384:{}", hex::encode(key.to_bytes())))),
            PrivateKey::Ed25519(key) => {
                ec.0.push((slot.to_string(), format!("ed25519:{}", hex::encode(key.private_bytes()))))
            }
            PrivateKey::X25519(key) => {
                ec.0.push((slot.to_string(), format!("x25519:{}", hex::encode(key.private_bytes()))))
            }
        }
        if k.origin == KeyOrigin::Imported {
            origins.0.push((slot.to_string(), "imported".into()));
        }
        if k.pin_policy != slot.pin_policy() {
            policies.0.push((slot.to_string(), k.pin_policy.name().into()));
        }
    }
    Ok((rsa, ec, origins, policies))
}

/// A key slot's reference as the file writes it ("9A", "F9", "82"...).
fn key_slot(field: &str, name: &str) -> Result<Slot, String> {
    u8::from_str_radix(name, 16)
        .ok()
        .filter(|_| name.len() == 2)
        .and_then(Slot::from_key_ref)
        .ok_or_else(|| bad(field, "not a key slot"))
}

/// One RSA key: a known slot, a whole key of a size the card generates
/// (1024, 2048, 3072 or 4096 bits), exponent 65537.
fn rsa_key(slot: &str, der: &str) -> Result<(Slot, PrivateKey), String> {
    let field = format!("keys.{slot}");
    let slot = key_slot(&field, slot)?;
    let der = bytes(&field, der)?;
    let key = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad(&field, format!("not a PKCS#1 RSA key ({e})")))?;
    if !KeyAlgorithm::ALL.iter().any(|a| a.rsa_bytes() == Some(key.size())) {
        return Err(bad(&field, format!("a {}-bit RSA key; the card holds 1024, 2048, 3072 or 4096", key.n().bits())));
    }
    if key.e() != &rsa::BigUint::from(piv::RSA_EXPONENT) {
        return Err(bad(&field, format!("public exponent {}, the card uses {}", key.e(), piv::RSA_EXPONENT)));
    }
    key.validate().map_err(|e| bad(&field, format!("not a consistent key ({e})")))?;
    Ok((slot, PrivateKey::Rsa(Arc::new(key))))
}

/// One EC key: a known slot, "p256:" or "p384:" and a scalar in [1, n-1],
/// or "ed25519:"/"x25519:" and 32 bytes.
fn ec_key(slot: &str, text: &str) -> Result<(Slot, PrivateKey), String> {
    let field = format!("ec_keys.{slot}");
    let slot = key_slot(&field, slot)?;
    let (curve, scalar) = text.split_once(':').ok_or_else(|| bad(&field, "not curve:hex"))?;
    let scalar = bytes(&field, scalar)?;
    let not_a_key = |e: &dyn std::fmt::Display| bad(&field, format!("not a {curve} private key ({e})"));
    let key = match curve {
        "p256" => PrivateKey::P256(Arc::new(p256::SecretKey::from_slice(&scalar).map_err(|e| not_a_key(&e))?)),
        "p384" => PrivateKey::P384(Arc::new(p384::SecretKey::from_slice(&scalar).map_err(|e| not_a_key(&e))?)),
        "ed25519" | "x25519" => {
            let alg = if curve == "ed25519" { KeyAlgorithm::Ed25519 } else { KeyAlgorithm::X25519 };
            PrivateKey::from_raw_25519(alg, &scalar).map_err(|_| not_a_key(&"not 32 bytes"))?
        }
        other => return Err(bad(&field, format!("unknown curve {other}"))),
    };
    Ok((slot, key))
}

/// The keys of a file into `p` (its `keys` and `attestation`): each slot
/// once, in either map; origins only for slots that hold a key.
fn keys_from_file(f: &CardFile, p: &mut Persistent) -> Result<(), String> {
    let rsa = unique("keys", &f.keys, rsa_key)?;
    let ec = unique("ec_keys", &f.ec_keys, ec_key)?;
    let origins = unique("key_origins", &f.key_origins, |slot, origin| {
        let field = format!("key_origins.{slot}");
        let slot = key_slot(&field, slot)?;
        match origin {
            "imported" => Ok((slot, KeyOrigin::Imported)),
            other => Err(bad(&field, format!("unknown origin {other:?}"))),
        }
    })?;
    if let Some(slot) = origins.keys().find(|s| !rsa.contains_key(s) && !ec.contains_key(s)) {
        return Err(bad(&format!("key_origins.{slot}"), "the slot holds no key"));
    }
    let policies = unique("key_pin_policies", &f.key_pin_policies, |slot, name| {
        let field = format!("key_pin_policies.{slot}");
        let slot = key_slot(&field, slot)?;
        let policy = PinPolicy::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| bad(&field, format!("unknown PIN policy {name:?}")))?;
        if !slot.allows_pin_policy(policy) {
            return Err(bad(&field, format!("slot {slot} cannot have PIN policy {name}")));
        }
        Ok((slot, policy))
    })?;
    if let Some(slot) = policies.keys().find(|s| !rsa.contains_key(s) && !ec.contains_key(s)) {
        return Err(bad(&format!("key_pin_policies.{slot}"), "the slot holds no key"));
    }
    for (slot, key) in rsa.into_iter().chain(ec) {
        if p.slot_key(slot).is_some() {
            return Err(bad(&format!("ec_keys.{slot}"), "the slot holds an RSA key too"));
        }
        let origin = origins.get(&slot).copied().unwrap_or(KeyOrigin::Generated);
        let policy = policies.get(&slot).copied().unwrap_or(slot.pin_policy());
        p.set_slot_key(slot, SlotKey::new(slot, key, origin).with_pin_policy(policy));
    }
    for name in &f.import_forbidden {
        let slot = key_slot(&format!("import_forbidden.{name}"), name)?;
        if !p.import_forbidden.insert(slot) {
            return Err(bad(&format!("import_forbidden.{name}"), "given twice"));
        }
    }
    Ok(())
}

/// A JSON object kept as its list of entries, so a key given twice is seen
/// (a map would keep the last one silently).
#[derive(Default)]
struct Entries(Vec<(String, String)>);

impl Entries {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Entries {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of hex strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The outside of a format-2 file; `card` is kept as written, for the digest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    format: u32,
    sha256: Option<String>,
    #[serde(borrow)]
    card: Option<&'a serde_json::value::RawValue>,
}

/// Just the format number, whatever else the file holds.
#[derive(Deserialize)]
struct Format {
    format: u32,
}

fn to_file(p: &Persistent) -> Result<CardFile, String> {
    let reference = |r: &Reference| ReferenceFile {
        block: hex::encode(*r.block),
        tries_left: r.tries_left,
        max_tries: r.max_tries,
    };
    let (keys, ec_keys, key_origins, key_pin_policies) = keys_to_file(p)?;
    Ok(CardFile {
        serial: p.serial,
        guid: hex::encode(p.guid),
        pin: reference(&p.pin),
        puk: reference(&p.puk),
        mgm_algorithm: p.mgm.algorithm.id(),
        mgm_key: hex::encode(&*p.mgm.key),
        keys,
        objects: Entries(p.objects.iter().map(|(t, v)| (hex::encode_upper(t.to_bytes()), hex::encode(&**v))).collect()),
        pin_entry: p.pin_entry.p1(),
        binding: p.binding.as_ref().map(|b| BindingFile { value: hex::encode(&*b.value), tries_left: b.tries_left }),
        changes: p.changes,
        ec_keys,
        key_origins,
        key_pin_policies,
        import_forbidden: p.import_forbidden.iter().map(Slot::to_string).collect(),
        access_rules: rules_to_file(&p.access_rules),
        gp: crate::gp::file::to_file(&p.card_manager),
    })
}

/// A problem with one field: `field: what`.
pub(crate) fn bad(field: &str, what: impl std::fmt::Display) -> String {
    format!("{field}: {what}")
}

pub(crate) fn bytes(field: &str, h: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    hex::decode(h).map(Zeroizing::new).map_err(|e| bad(field, format!("not hex ({e})")))
}

/// A PIN or PUK: a well-formed padded block, a limit in [`TRY_LIMITS`],
/// tries left within it.
fn reference(field: &str, r: &ReferenceFile, digits_only: bool) -> Result<Reference, String> {
    let block = bytes(&format!("{field}.block"), &r.block)?;
    if !piv::is_valid_pin_block(&block, digits_only) {
        let what = if digits_only { "6 to 8 digits" } else { "6 to 8 bytes" };
        return Err(bad(&format!("{field}.block"), format!("not a {what} padded with FF to {PIN_BLOCK_LEN} bytes")));
    }
    if !TRY_LIMITS.contains(&r.max_tries) {
        return Err(bad(&format!("{field}.max_tries"), format!("{} is outside {TRY_LIMITS:?}", r.max_tries)));
    }
    if r.tries_left > r.max_tries {
        return Err(bad(
            &format!("{field}.tries_left"),
            format!("{} is above max_tries {}", r.tries_left, r.max_tries),
        ));
    }
    let block: [u8; PIN_BLOCK_LEN] = block.as_slice().try_into().expect("checked above");
    Ok(Reference { block: Zeroizing::new(block), tries_left: r.tries_left, max_tries: r.max_tries })
}

/// The management key: a known algorithm and a key of its length.
fn mgm(algorithm: u8, key: &str) -> Result<MgmKey, String> {
    let algorithm = MgmAlgorithm::from_id(algorithm)
        .ok_or_else(|| bad("mgm_algorithm", format!("{algorithm} is not a management key algorithm")))?;
    let key = bytes("mgm_key", key)?;
    if key.len() != algorithm.key_len() {
        return Err(bad("mgm_key", format!("{} bytes, {algorithm:?} takes {}", key.len(), algorithm.key_len())));
    }
    Ok(MgmKey { algorithm, key })
}

/// One data object: a tag PUT DATA can write, a value the card can store.
fn object(tag: &str, value: &str) -> Result<(ObjectTag, Arc<Vec<u8>>), String> {
    let field = format!("objects.{tag}");
    let known = hex::decode(tag).ok().and_then(|b| ObjectTag::from_bytes(&b)).filter(|t| t.is_writable());
    let tag = known.ok_or_else(|| bad(&field, "not a data object the card stores"))?;
    let value = bytes(&field, value)?;
    if value.len() > MAX_OBJECT_LEN {
        return Err(bad(&field, format!("{} bytes, the card stores at most {MAX_OBJECT_LEN}", value.len())));
    }
    Ok((tag, Arc::new(value.to_vec())))
}

/// The device binding: a value of the allowed length, tries within the limit.
fn binding(b: &BindingFile) -> Result<Binding, String> {
    let value = bytes("binding.value", &b.value)?;
    if !(BINDING_MIN_LEN..=BINDING_MAX_LEN).contains(&value.len()) {
        return Err(bad("binding.value", format!("{} bytes, not {BINDING_MIN_LEN} to {BINDING_MAX_LEN}", value.len())));
    }
    if b.tries_left > BINDING_TRIES {
        return Err(bad("binding.tries_left", format!("{} is above the limit {BINDING_TRIES}", b.tries_left)));
    }
    Ok(Binding { value, tries_left: b.tries_left })
}

/// Builds a map from entries, refusing a key given twice (in any spelling).
fn unique<K: Ord, V>(
    field: &str,
    entries: &Entries,
    parse: impl Fn(&str, &str) -> Result<(K, V), String>,
) -> Result<BTreeMap<K, V>, String> {
    let mut map = BTreeMap::new();
    for (k, v) in &entries.0 {
        let (key, value) = parse(k, v)?;
        if map.insert(key, value).is_some() {
            return Err(bad(&format!("{field}.{k}"), "given twice"));
        }
    }
    Ok(map)
}

/// The card a file describes, every part checked.
fn from_file(f: CardFile) -> Result<Persistent, String> {
    let guid = bytes("guid", &f.guid)?;
    let mut p = Persistent {
        serial: f.serial,
        guid: guid.as_slice().try_into().map_err(|_| bad("guid", "not 16 bytes"))?,
        pin: reference("pin", &f.pin, true)?,
        puk: reference("puk", &f.puk, false)?,
        mgm: mgm(f.mgm_algorithm, &f.mgm_key)?,
        keys: BTreeMap::new(),
        attestation: None,
        import_forbidden: Default::default(),
        objects: unique("objects", &f.objects, object)?,
        pin_entry: PinEntry::from_p1(f.pin_entry)
            .ok_or_else(|| bad("pin_entry", format!("{} is not a PIN entry policy", f.pin_entry)))?,
        binding: f.binding.as_ref().map(binding).transpose()?,
        changes: f.changes,
        access_rules: f.access_rules.as_ref().map(rules_from_file).transpose()?.unwrap_or_default(),
        card_manager: f.gp.as_ref().map(crate::gp::file::from_file).transpose()?.unwrap_or_default(),
    };
    keys_from_file(&f, &mut p)?;
    Ok(p)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Reads a state file's text, whatever its format.
pub(crate) fn parse(text: &str) -> Result<Persistent, String> {
    let Format { format } = serde_json::from_str(text).map_err(|e| format!("not a card state file: {e}"))?;
    let card: CardFile = match format {
        1 => {
            // The card's fields beside "format": take that away, check the rest.
            let mut all: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).map_err(|e| format!("format 1: {e}"))?;
            all.remove("format");
            serde_json::from_value(all.into()).map_err(|e| format!("format 1: {e}"))?
        }
        2 => {
            let envelope: Envelope = serde_json::from_str(text).map_err(|e| format!("format 2: {e}"))?;
            let (Some(card), Some(digest)) = (envelope.card, envelope.sha256) else {
                return Err("format 2 without its card or digest".into());
            };
            if sha256_hex(card.get().as_bytes()) != digest.to_ascii_lowercase() {
                return Err("integrity check failed: the card was changed or damaged".into());
            }
            debug_assert_eq!(envelope.format, 2);
            serde_json::from_str(card.get()).map_err(|e| format!("card: {e}"))?
        }
        other => return Err(format!("unknown state format {other} (this build reads 1 and {FORMAT})")),
    };
    from_file(card).map_err(|e| format!("card.{e}"))
}

/// The card's whole persistent state as canonical text, for comparing
/// states exactly (tests); contains secrets, so never log it.
pub fn snapshot(state: &Persistent) -> Zeroizing<String> {
    Zeroizing::new(serde_json::to_string(&to_file(state).expect("state serialises")).expect("state serialises"))
}

/// Looks at a card file without holding it (tests and tools): `Ok(None)`
/// when there is none. To use a card, hold it: [`crate::SimCard::open`].
/// The same checks as holding it: a regular file, at most
/// [`MAX_FILE_LEN`] bytes, a card that makes sense.
pub fn load(path: &Path) -> Result<Option<Persistent>, StateError> {
    let mut file = match crate::cardfile::open_regular(path) {
        Ok(f) => f,
        Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    crate::cardfile::read_card(path, &mut file).map(Some)
}

/// The file's text for a card (format 2).
pub(crate) fn render(state: &Persistent) -> Result<Zeroizing<String>, String> {
    let card = Zeroizing::new(serde_json::to_string_pretty(&to_file(state)?).expect("state serialises"));
    Ok(Zeroizing::new(format!(
        "{{\n\"format\": {FORMAT},\n\"sha256\": \"{}\",\n\"card\": {}\n}}\n",
        sha256_hex(card.as_bytes()),
        *card
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;
    use applet_spec::piv::KeyAlgorithm;

    /// A card with an imported RSA key in 9C, EC keys in 9D and 9E, an
    /// import ban, a certificate and a binding.
    fn card(seed: u64) -> Persistent {
        let mut r = rng::seeded(seed);
        let mut p = Persistent::manufacture(&mut r);
        p.pin.tries_left = 1;
        let key = PrivateKey::Rsa(Arc::new(crate::crypto::generate_rsa2048(&mut r).unwrap()));
        p.keys.insert(Slot::Signature, SlotKey::new(Slot::Signature, key, KeyOrigin::Imported));
        for (slot, alg) in
            [(Slot::KeyManagement, KeyAlgorithm::EccP256), (Slot::CardAuthentication, KeyAlgorithm::EccP384)]
        {
            let key = PrivateKey::generate(alg, &mut r).unwrap();
            p.keys.insert(slot, SlotKey::new(slot, key, KeyOrigin::Generated));
        }
        p.import_forbidden.insert(Slot::Authentication);
        p.objects.insert(ObjectTag::CERT_9C, Arc::new(vec![0x70, 1, 0]));
        p.binding = Some(Binding { value: Zeroizing::new(vec![9; 32]), tries_left: 4 });
        p
    }

    #[test]
    fn curve25519_keys_and_pin_policies_round_trip() {
        let mut r = rng::seeded(5);
        let mut p = Persistent::manufacture(&mut r);
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519, &mut r).unwrap();
        let x = PrivateKey::generate(KeyAlgorithm::X25519, &mut r).unwrap();
        let r1 = Slot::from_key_ref(0x82).unwrap();
        p.keys.insert(r1, SlotKey::new(r1, ed.clone(), KeyOrigin::Generated).with_pin_policy(PinPolicy::Always));
        p.keys.insert(Slot::KeyManagement, SlotKey::new(Slot::KeyManagement, x.clone(), KeyOrigin::Imported));
        let text = card_text(&p);
        assert!(text.contains("\"82\": \"always\"") && !text.contains("\"9D\": \"once\""), "only non-defaults: {text}");
        let back = parse(&sealed(&text)).unwrap();
        assert_eq!(back.keys[&r1].pin_policy, PinPolicy::Always);
        assert_eq!(back.keys[&Slot::KeyManagement].pin_policy, PinPolicy::Once);
        assert_eq!(back.keys[&r1].key.public(), ed.public());
        assert_eq!(back.keys[&Slot::KeyManagement].key.public(), x.public());
        // A policy the slot cannot have is refused on load, as on GENERATE.
        let bad = text.replace("\"82\": \"always\"", "\"82\": \"sometimes\"");
        assert!(parse(&sealed(&bad)).unwrap_err().contains("unknown PIN policy"));
    }

    /// A format-2 file around this `card` text, with its right digest.
    fn sealed(card: &str) -> String {
        format!("{{\n\"format\": 2,\n\"sha256\": \"{}\",\n\"card\": {card}\n}}\n", sha256_hex(card.as_bytes()))
    }

    fn card_text(p: &Persistent) -> String {
        serde_json::to_string_pretty(&to_file(p).unwrap()).unwrap()
    }

    #[test]
    fn render_then_parse_keeps_the_card() {
        let p = card(5);
        let back = parse(&render(&p).unwrap()).unwrap();
        assert_eq!(*snapshot(&back), *snapshot(&p));
        assert_eq!(format!("{back:?}"), format!("{p:?}"));
        assert_eq!(back.keys[&Slot::Signature].origin, KeyOrigin::Imported);
        assert!(back.attestation.is_some() && back.import_forbidden.contains(&Slot::Authentication));
        assert_eq!(back.keys[&Slot::KeyManagement].key.public(), p.keys[&Slot::KeyManagement].key.public());
        assert_eq!(back.keys[&Slot::CardAuthentication].key.algorithm(), KeyAlgorithm::EccP384);
        assert_eq!(render(&p).unwrap().as_str(), sealed(&card_text(&p)));
    }

    #[test]
    fn access_rules_round_trip_and_are_checked() {
        use applet_spec::aram::{AidRef, ApduRule, AppRef, Rule};
        let mut p = card(11);
        let rule = |n: u8| Rule {
            aid: AidRef::Aid(vec![0xA0, 0, 0, 3, n]),
            app: AppRef::Hash(vec![n; 20]),
            apdu: ApduRule::Always,
        };
        p.access_rules = AccessRules { rules: vec![rule(1), rule(2)], refresh_tag: 7 };
        let back = parse(&render(&p).unwrap()).unwrap();
        assert_eq!(back.access_rules, p.access_rules);
        let text = card_text(&p);
        let one = hex::encode_upper(rule(1).encode());
        let cases = [
            (text.replacen(&one, "E200", 1), "card.access_rules.rules[0]: malformed"),
            (text.replacen(&one, "zz", 1), "card.access_rules.rules[0]: not hex"),
            (text.replacen(&hex::encode_upper(rule(2).encode()), &one, 1), "rules[1]: a second rule for the same"),
            (text.replacen("\"refresh_tag\": 7", "\"refresh_tag\": 7, \"x\": 1", 1), "unknown field `x`"),
        ];
        for (edited, want) in cases {
            assert_ne!(edited, text, "the edit for {want:?} applies");
            let err = parse(&sealed(&edited)).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
        let many = format!("[{}]", (0..17).map(|_| format!("\"{one}\"")).collect::<Vec<_>>().join(","));
        let start = text.find("\"rules\": [").unwrap();
        let end = start + text[start..].find(']').unwrap() + 1;
        let edited = format!("{}\"rules\": {many}{}", &text[..start], &text[end..]);
        assert!(parse(&sealed(&edited)).unwrap_err().contains("17 rules, the card holds 16"));
        // A card without rules writes no field: files from before load, and stay the same.
        assert!(!card_text(&card(11)).contains("access_rules"));
    }

    #[test]
    fn key_fields_are_validated() {
        let mut r = rng::seeded(8);
        let p = Persistent::manufacture(&mut r);
        let bad = |f: fn(&mut CardFile), want: &str| {
            let mut file = to_file(&p).unwrap();
            f(&mut file);
            let err = from_file(file).err().unwrap_or_default();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        };
        bad(|f| f.ec_keys.0.push(("9A".into(), "p521:00".into())), "ec_keys.9A: unknown curve");
        bad(|f| f.ec_keys.0.push(("9A".into(), format!("p256:{}", "00".repeat(32)))), "ec_keys.9A: not a p256");
        bad(|f| f.ec_keys.0.push(("77".into(), format!("p256:{}", "01".repeat(32)))), "ec_keys.77: not a key slot");
        bad(|f| f.key_origins.0.push(("9C".into(), "imported".into())), "key_origins.9C: the slot holds no key");
        bad(|f| f.key_origins.0.push(("F9".into(), "borrowed".into())), "unknown origin");
        bad(|f| f.import_forbidden.push("9B".into()), "import_forbidden.9B: not a key slot");
        bad(|f| f.import_forbidden.extend(["9A".into(), "9a".into()]), "import_forbidden.9a: given twice");
        bad(|f| f.keys.0.push(("F9".into(), String::new())), "keys.F9: not a PKCS#1 RSA key");
        assert!(from_file(to_file(&p).unwrap()).is_ok());
    }

    fn saved_text(seed: u64) -> String {
        let mut r = rng::seeded(seed);
        render(&Persistent::manufacture(&mut r)).unwrap().to_string()
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let good = saved_text(6);
        assert!(parse(&good).is_ok());
        let cases = [
            (good[..good.len() / 2].to_string(), "not a card state file"),
            (good.replacen("\"tries_left\": 3", "\"tries_left\": 2", 1), "integrity check failed"),
            (good.replacen("\"format\": 2", "\"format\": 7", 1), "unknown state format 7"),
            (good.replacen("\"sha256\"", "\"sha1\"", 1), "unknown field `sha1`"),
            (good.replacen("\"card\"", "\"extra\": 1, \"card\"", 1), "unknown field `extra`"),
            (good.replacen("\"card\"", "\"card\": {}, \"card\"", 1), "duplicate field `card`"),
            (good.replacen(",\n\"card\"", ", \"nocard\"", 1), "unknown field"),
            (String::new(), "not a card state file"),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
    }

    #[test]
    fn impossible_values_with_a_right_digest_are_refused_naming_the_field() {
        let p = card(8);
        let text = card_text(&p);
        let small = RsaPrivateKey::new(&mut rng::seeded(1), 512).unwrap();
        let small = hex::encode(small.to_pkcs1_der().unwrap().as_bytes());
        let big = "00".repeat(70_000);
        let cases: Vec<(String, &str)> = vec![
            (
                text.replacen("\"tries_left\": 1", "\"tries_left\": 17", 1),
                "card.pin.tries_left: 17 is above max_tries 3",
            ),
            (text.replacen("\"max_tries\": 3", "\"max_tries\": 0", 1), "card.pin.max_tries: 0 is outside 1..=15"),
            (text.replacen("\"max_tries\": 3", "\"max_tries\": 16", 2), "card.pin.max_tries: 16 is outside"),
            (text.replacen("\"tries_left\": 3", "\"tries_left\": 4", 1), "card.puk.tries_left: 4 is above max_tries 3"),
            (
                text.replacen("\"tries_left\": 4", "\"tries_left\": 17", 1),
                "card.binding.tries_left: 17 is above the limit 5",
            ),
            (text.replacen("313233343536ffff", "3132333435ffffff", 1), "card.pin.block: not a 6 to 8 digits"),
            (text.replacen("313233343536ffff", "31323334353661ff", 1), "card.pin.block: not a 6 to 8 digits"),
            (text.replacen("313233343536ffff", "31ff333435363738", 1), "card.pin.block"),
            (text.replacen("3132333435363738", "3132333435", 1), "card.puk.block"),
            (text.replacen("\"pin_entry\": 0", "\"pin_entry\": 7", 1), "card.pin_entry: 7 is not a PIN entry policy"),
            (
                text.replacen("\"mgm_algorithm\": 3", "\"mgm_algorithm\": 12", 1),
                "card.mgm_key: 24 bytes, Aes256 takes 32",
            ),
            (text.replacen("\"mgm_algorithm\": 3", "\"mgm_algorithm\": 99", 1), "card.mgm_algorithm: 99 is not"),
            (
                text.replacen("\"5FC10A\": \"700100\"", &format!("\"5FC10A\": \"{big}\""), 1),
                "card.objects.5FC10A: 70000 bytes",
            ),
            (text.replacen("\"5FC10A\"", "\"5FC1FF\"", 1), "card.objects.5FC1FF: not a data object the card stores"),
            (text.replacen("\"5FC10A\"", "\"7E\"", 1), "card.objects.7E: not a data object"),
            (
                text.replacen("\"5FC10A\": \"700100\"", "\"5FC10A\": \"700100\", \"5fc10a\": \"700101\"", 1),
                "card.objects.5fc10a: given twice",
            ),
            (text.replacen("\"9C\"", "\"9F\"", 1), "card.keys.9F: not a key slot"),
            (
                text.replacen("\"9C\": \"", &format!("\"9C\": \"{small}\", \"9A\": \""), 1),
                "card.keys.9C: a 512-bit RSA key; the card holds 1024, 2048, 3072 or 4096",
            ),
            (text.replacen("\"9C\": \"", "\"9C\": \"00", 1), "card.keys.9C: not a PKCS#1 RSA key"),
            (text.replacen("\"9C\": \"", "\"9C\": \"zz", 1), "card.keys.9C: not hex"),
            (text.replacen("\"guid\": \"", "\"guid\": \"00", 1), "card.guid: not 16 bytes"),
            (
                text.replacen(&hex::encode([9; 32]), &hex::encode([9; 8]), 1),
                "card.binding.value: 8 bytes, not 16 to 64",
            ),
            (text.replacen("\"changes\"", "\"future\": true, \"changes\"", 1), "unknown field `future`"),
            (text.replacen("\"changes\"", "\"serial\": 1, \"changes\"", 1), "duplicate field `serial`"),
        ];
        for (edited, want) in cases {
            assert_ne!(edited, text, "the edit for {want:?} applies");
            let err = parse(&sealed(&edited)).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
        // The duplicate key case once more with the exact same spelling.
        let twice = text.replacen("\"5FC10A\": \"700100\"", "\"5FC10A\": \"700100\", \"5FC10A\": \"700100\"", 1);
        assert!(parse(&sealed(&twice)).unwrap_err().contains("card.objects.5FC10A: given twice"));
        assert!(parse(&sealed(&text)).is_ok(), "the unedited card loads");
    }

    #[test]
    fn format_1_fields_are_checked_too() {
        let p = card(9);
        let v: serde_json::Value = serde_json::from_str(&card_text(&p)).unwrap();
        let mut top = v.as_object().unwrap().clone();
        top.insert("format".into(), 1.into());
        let text = serde_json::to_string(&top).unwrap();
        assert!(parse(&text).is_ok());
        let err = parse(&text.replacen("\"tries_left\":1", "\"tries_left\":9", 1)).unwrap_err();
        assert!(err.contains("card.pin.tries_left: 9"), "{err}");
        let err = parse(&text.replacen("\"changes\"", "\"extra\":0,\"changes\"", 1)).unwrap_err();
        assert!(err.contains("unknown field `extra`"), "{err}");
    }
}
