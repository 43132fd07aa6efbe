//! The card state file, written atomically (temporary file, fsync, rename)
//! so a crash never leaves half a card.
//!
//! Format 2 (current): `{"format": 2, "sha256": <hex>, "card": {...}}`, the
//! digest taken over the exact bytes of the `card` object, so any change or
//! damage is detected. Format 1 (the first release): the card's fields at
//! the top level, no digest; loaded and migrated. A file that is truncated,
//! corrupt, fails its digest or has an unknown format is refused with an
//! error naming it, and left as it is.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use applet_spec::messages::{KeyOrigin, PinEntry, BINDING_MAX_LEN};
use applet_spec::piv::{MgmAlgorithm, ObjectTag, Slot, PIN_BLOCK_LEN};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::PrivateKey;
use crate::state::{Binding, MgmKey, Persistent, Reference, SlotKey};

/// The current state file format.
pub const FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Serialize, Deserialize)]
struct ReferenceFile {
    block: String,
    tries_left: u8,
    max_tries: u8,
}

#[derive(Serialize, Deserialize)]
struct BindingFile {
    value: String,
    tries_left: u8,
}

/// The card's fields: the `card` object of format 2, the whole file in format 1.
#[derive(Serialize, Deserialize)]
struct CardFile {
    serial: u32,
    guid: String,
    pin: ReferenceFile,
    puk: ReferenceFile,
    mgm_algorithm: u8,
    mgm_key: String,
    /// Slot key reference (e.g. "9A") to the PKCS#1 DER private key, hex.
    keys: BTreeMap<String, String>,
    /// Object tag (e.g. "5FC105") to the object value, hex.
    objects: BTreeMap<String, String>,
    pin_entry: u8,
    binding: Option<BindingFile>,
    changes: u32,
    /// EC keys: slot to "p256:<scalar hex>" or "p384:<scalar hex>" (RSA
    /// keys stay in `keys`; F9 is a slot like the others here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ec_keys: BTreeMap<String, String>,
    /// Slots whose key was imported ("imported"); absent: generated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    key_origins: BTreeMap<String, String>,
    /// Slots the issuer forbade importing into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    import_forbidden: Vec<String>,
}

/// Every key of the card (F9 included) as the file's three maps.
type KeyMaps = (BTreeMap<String, String>, BTreeMap<String, String>, BTreeMap<String, String>);

fn keys_to_file(p: &Persistent) -> Result<KeyMaps, String> {
    let (mut rsa, mut ec, mut origins) = KeyMaps::default();
    let all = p.keys.iter().map(|(s, k)| (*s, k)).chain(p.attestation.iter().map(|k| (Slot::Attestation, k)));
    for (slot, k) in all {
        match &k.key {
            PrivateKey::Rsa(key) => {
                let der = key.to_pkcs1_der().map_err(|e| format!("key {slot}: {e}"))?;
                rsa.insert(slot.to_string(), hex::encode(der.as_bytes()));
            }
            PrivateKey::P256(key) => {
                ec.insert(slot.to_string(), format!("p256:{}", hex::encode(key.to_bytes())));
            }
            PrivateKey::P384(key) => {
                ec.insert(slot.to_string(), format!("p384:{}", hex::encode(key.to_bytes())));
            }
        }
        if k.origin == KeyOrigin::Imported {
            origins.insert(slot.to_string(), "imported".into());
        }
    }
    Ok((rsa, ec, origins))
}

fn slot_named(name: &str) -> Result<Slot, String> {
    u8::from_str_radix(name, 16).ok().and_then(Slot::from_key_ref).ok_or(format!("slot {name}"))
}

/// The keys of a file into `p` (its `keys` and `attestation`).
fn keys_from_file(f: &CardFile, p: &mut Persistent) -> Result<(), String> {
    let mut found: Vec<(Slot, PrivateKey)> = Vec::new();
    for (slot, der) in &f.keys {
        let der = Zeroizing::new(hex::decode(der).map_err(|e| format!("key {slot}: {e}"))?);
        let key = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| format!("key {slot}: {e}"))?;
        found.push((slot_named(slot)?, PrivateKey::Rsa(Arc::new(key))));
    }
    for (slot, text) in &f.ec_keys {
        let bad = |e: &dyn std::fmt::Display| format!("EC key {slot}: {e}");
        let (curve, scalar) = text.split_once(':').ok_or_else(|| bad(&"want curve:hex"))?;
        let scalar = Zeroizing::new(hex::decode(scalar).map_err(|e| bad(&e))?);
        let key = match curve {
            "p256" => PrivateKey::P256(Arc::new(p256::SecretKey::from_slice(&scalar).map_err(|e| bad(&e))?)),
            "p384" => PrivateKey::P384(Arc::new(p384::SecretKey::from_slice(&scalar).map_err(|e| bad(&e))?)),
            other => return Err(bad(&format!("unknown curve {other}"))),
        };
        found.push((slot_named(slot)?, key));
    }
    for (slot, key) in found {
        let origin = match f.key_origins.get(&slot.to_string()).map(String::as_str) {
            None => KeyOrigin::Generated,
            Some("imported") => KeyOrigin::Imported,
            Some(other) => return Err(format!("key {slot}: unknown origin {other:?}")),
        };
        if p.slot_key(slot).is_some() {
            return Err(format!("slot {slot} holds two keys"));
        }
        p.set_slot_key(slot, SlotKey::new(slot, key, origin));
    }
    if let Some(slot) = f.key_origins.keys().find(|s| !f.keys.contains_key(*s) && !f.ec_keys.contains_key(*s)) {
        return Err(format!("origin for slot {slot}, which holds no key"));
    }
    p.import_forbidden = f.import_forbidden.iter().map(|s| slot_named(s)).collect::<Result<_, _>>()?;
    Ok(())
}

/// The outside of a format-2 file; `card` is kept as written, for the digest.
#[derive(Deserialize)]
struct Envelope<'a> {
    format: u32,
    sha256: Option<String>,
    #[serde(borrow)]
    card: Option<&'a serde_json::value::RawValue>,
}

fn to_file(p: &Persistent) -> Result<CardFile, String> {
    let reference = |r: &Reference| ReferenceFile {
        block: hex::encode(*r.block),
        tries_left: r.tries_left,
        max_tries: r.max_tries,
    };
    let (keys, ec_keys, key_origins) = keys_to_file(p)?;
    Ok(CardFile {
        serial: p.serial,
        guid: hex::encode(p.guid),
        pin: reference(&p.pin),
        puk: reference(&p.puk),
        mgm_algorithm: p.mgm.algorithm.id(),
        mgm_key: hex::encode(&*p.mgm.key),
        keys,
        objects: p.objects.iter().map(|(t, v)| (hex::encode_upper(t.to_bytes()), hex::encode(&**v))).collect(),
        pin_entry: p.pin_entry.p1(),
        binding: p.binding.as_ref().map(|b| BindingFile { value: hex::encode(&*b.value), tries_left: b.tries_left }),
        changes: p.changes,
        ec_keys,
        key_origins,
        import_forbidden: p.import_forbidden.iter().map(Slot::to_string).collect(),
    })
}

fn from_file(f: CardFile) -> Result<Persistent, String> {
    let bytes = |what: &str, h: &str| hex::decode(h).map_err(|e| format!("{what}: {e}"));
    let reference = |what: &str, r: &ReferenceFile| -> Result<Reference, String> {
        let block: [u8; PIN_BLOCK_LEN] =
            bytes(what, &r.block)?.try_into().map_err(|_| format!("{what}: not {PIN_BLOCK_LEN} bytes"))?;
        if r.tries_left > r.max_tries || r.max_tries == 0 || r.max_tries > 15 {
            return Err(format!("{what}: impossible try counter"));
        }
        Ok(Reference { block: Zeroizing::new(block), tries_left: r.tries_left, max_tries: r.max_tries })
    };
    let algorithm = MgmAlgorithm::from_id(f.mgm_algorithm).ok_or("unknown management key algorithm")?;
    let mgm_key = Zeroizing::new(bytes("management key", &f.mgm_key)?);
    if mgm_key.len() != algorithm.key_len() {
        return Err("management key length does not fit its algorithm".into());
    }
    let mut objects = BTreeMap::new();
    for (tag, value) in &f.objects {
        let tag = ObjectTag::from_bytes(&bytes("object tag", tag)?).ok_or(format!("object tag {tag}"))?;
        objects.insert(tag, Arc::new(bytes("object", value)?));
    }
    let binding = match &f.binding {
        Some(b) => {
            let value = Zeroizing::new(bytes("binding", &b.value)?);
            if value.is_empty() || value.len() > BINDING_MAX_LEN {
                return Err("binding value length".into());
            }
            Some(Binding { value, tries_left: b.tries_left })
        }
        None => None,
    };
    let mut p = Persistent {
        serial: f.serial,
        guid: bytes("guid", &f.guid)?.try_into().map_err(|_| "guid: not 16 bytes")?,
        pin: reference("pin", &f.pin)?,
        puk: reference("puk", &f.puk)?,
        mgm: MgmKey { algorithm, key: mgm_key },
        keys: BTreeMap::new(),
        attestation: None,
        import_forbidden: Default::default(),
        objects,
        pin_entry: PinEntry::from_p1(f.pin_entry).ok_or("unknown PIN entry policy")?,
        binding,
        changes: f.changes,
    };
    keys_from_file(&f, &mut p)?;
    Ok(p)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Reads a state file's text, whatever its format.
fn parse(text: &str) -> Result<Persistent, String> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| format!("not a card state file: {e}"))?;
    let card: CardFile = match (envelope.format, envelope.card, envelope.sha256) {
        (1, _, _) => serde_json::from_str(text).map_err(|e| format!("format 1: {e}"))?,
        (2, Some(card), Some(digest)) => {
            if sha256_hex(card.get().as_bytes()) != digest.to_ascii_lowercase() {
                return Err("integrity check failed: the card was changed or damaged".into());
            }
            serde_json::from_str(card.get()).map_err(|e| format!("card: {e}"))?
        }
        (2, _, _) => return Err("format 2 without its card or digest".into()),
        (other, _, _) => return Err(format!("unknown state format {other} (this build reads 1 and {FORMAT})")),
    };
    from_file(card)
}

/// The card's whole persistent state as canonical text, for comparing
/// states exactly (tests); contains secrets, so never log it.
pub fn snapshot(state: &Persistent) -> Zeroizing<String> {
    Zeroizing::new(serde_json::to_string(&to_file(state).expect("state serialises")).expect("state serialises"))
}

/// Loads a card; `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Persistent>, StateError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
    };
    parse(&text).map(Some).map_err(|problem| StateError::Invalid { path: path.to_owned(), problem })
}

/// The file's text for a card (format 2).
fn render(state: &Persistent) -> Result<Zeroizing<String>, String> {
    let card = Zeroizing::new(serde_json::to_string_pretty(&to_file(state)?).expect("state serialises"));
    Ok(Zeroizing::new(format!(
        "{{\n\"format\": {FORMAT},\n\"sha256\": \"{}\",\n\"card\": {}\n}}\n",
        sha256_hex(card.as_bytes()),
        *card
    )))
}

/// Saves a card atomically: the old file stays whole until the new one is.
pub fn save(path: &Path, state: &Persistent) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: path.to_owned(), source };
    let text = render(state).map_err(|problem| StateError::Invalid { path: path.to_owned(), problem })?;
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    // The rename itself is durable only once the folder is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;
    use applet_spec::piv::KeyAlgorithm;

    #[test]
    fn save_then_load_keeps_the_card() {
        let mut r = rng::seeded(5);
        let mut p = Persistent::manufacture(&mut r);
        p.pin.tries_left = 1;
        let key = PrivateKey::Rsa(Arc::new(crate::crypto::generate_rsa2048(&mut r).unwrap()));
        p.keys.insert(Slot::Signature, SlotKey::new(Slot::Signature, key, KeyOrigin::Imported));
        p.import_forbidden.insert(Slot::Authentication);
        for (slot, alg) in
            [(Slot::KeyManagement, KeyAlgorithm::EccP256), (Slot::CardAuthentication, KeyAlgorithm::EccP384)]
        {
            let key = PrivateKey::generate(alg, &mut r).unwrap();
            p.keys.insert(slot, SlotKey::new(slot, key, KeyOrigin::Generated));
        }
        p.binding = Some(Binding { value: Zeroizing::new(vec![9; 32]), tries_left: 4 });
        let dir = std::env::temp_dir().join(format!("subsim-persist-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("card.json");
        save(&path, &p).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(format!("{back:?}"), format!("{p:?}"));
        assert_eq!(snapshot(&back), snapshot(&p));
        assert_eq!(back.keys[&Slot::Signature].origin, KeyOrigin::Imported);
        assert!(back.attestation.is_some() && back.import_forbidden.contains(&Slot::Authentication));
        assert_eq!(back.keys[&Slot::KeyManagement].key.public(), p.keys[&Slot::KeyManagement].key.public());
        assert_eq!(back.keys[&Slot::CardAuthentication].key.algorithm(), KeyAlgorithm::EccP384);
        assert_eq!(back.guid, p.guid);
        assert_eq!(*back.pin.block, *p.pin.block);
        assert!(load(&dir.join("absent.json")).unwrap().is_none());
        fs::remove_dir_all(&dir).unwrap();
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
        bad(|f| drop(f.ec_keys.insert("9A".into(), "p521:00".into())), "unknown curve");
        bad(|f| drop(f.ec_keys.insert("9A".into(), format!("p256:{}", "00".repeat(32)))), "EC key 9A");
        bad(|f| drop(f.ec_keys.insert("77".into(), format!("p256:{}", "01".repeat(32)))), "slot 77");
        bad(|f| drop(f.key_origins.insert("9C".into(), "imported".into())), "holds no key");
        bad(|f| drop(f.key_origins.insert("F9".into(), "borrowed".into())), "unknown origin");
        bad(|f| f.import_forbidden.push("9B".into()), "slot 9B");
        bad(|f| drop(f.keys.insert("F9".into(), String::new())), "key F9");
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
            (good.replacen("\"tries_left\": 3", "\"tries_left\": 9", 1), "integrity check failed"),
            (good.replacen("\"format\": 2", "\"format\": 7", 1), "unknown state format 7"),
            (good.replacen("\"sha256\"", "\"sha1\"", 1), "without its card or digest"),
            (String::new(), "not a card state file"),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
    }

    #[test]
    fn the_error_names_the_file_and_leaves_it_alone() {
        let dir = std::env::temp_dir().join(format!("subsim-persist-bad-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("card.json");
        let damaged = saved_text(7).replacen("\"changes\": 0", "\"changes\": 1", 1);
        fs::write(&path, &damaged).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("card.json") && err.contains("integrity"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), damaged);
        fs::remove_dir_all(&dir).unwrap();
    }
}
