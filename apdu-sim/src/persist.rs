//! The card state file: JSON with a format number, written atomically
//! (temporary file, fsync, rename) so a crash never leaves half a card.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use applet_spec::messages::{PinEntry, BINDING_MAX_LEN};
use applet_spec::piv::{MgmAlgorithm, ObjectTag, Slot, PIN_BLOCK_LEN};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::state::{Binding, MgmKey, Persistent, Reference};

/// The current state file format.
pub const FORMAT: u32 = 1;

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

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: u32,
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
}

fn to_file(p: &Persistent) -> Result<StateFile, String> {
    let reference = |r: &Reference| ReferenceFile {
        block: hex::encode(*r.block),
        tries_left: r.tries_left,
        max_tries: r.max_tries,
    };
    let mut keys = BTreeMap::new();
    for (slot, key) in &p.keys {
        let der = key.to_pkcs1_der().map_err(|e| format!("key {slot}: {e}"))?;
        keys.insert(slot.to_string(), hex::encode(der.as_bytes()));
    }
    Ok(StateFile {
        format: FORMAT,
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
    })
}

fn from_file(f: StateFile) -> Result<Persistent, String> {
    if f.format != FORMAT {
        return Err(format!("unknown state format {} (this build reads {FORMAT})", f.format));
    }
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
    let mut keys = BTreeMap::new();
    for (slot, der) in &f.keys {
        let slot = u8::from_str_radix(slot, 16).ok().and_then(Slot::from_key_ref).ok_or(format!("slot {slot}"))?;
        let der = Zeroizing::new(bytes("key", der)?);
        let key = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| format!("key {slot}: {e}"))?;
        keys.insert(slot, Arc::new(key));
    }
    let mut objects = BTreeMap::new();
    for (tag, value) in &f.objects {
        let tag = ObjectTag::from_bytes(&bytes("object tag", tag)?).ok_or(format!("object tag {tag}"))?;
        objects.insert(tag, Arc::new(bytes("object", value)?));
    }
    let binding = match f.binding {
        Some(b) => {
            let value = Zeroizing::new(bytes("binding", &b.value)?);
            if value.is_empty() || value.len() > BINDING_MAX_LEN {
                return Err("binding value length".into());
            }
            Some(Binding { value, tries_left: b.tries_left })
        }
        None => None,
    };
    Ok(Persistent {
        serial: f.serial,
        guid: bytes("guid", &f.guid)?.try_into().map_err(|_| "guid: not 16 bytes")?,
        pin: reference("pin", &f.pin)?,
        puk: reference("puk", &f.puk)?,
        mgm: MgmKey { algorithm, key: mgm_key },
        keys,
        objects,
        pin_entry: PinEntry::from_p1(f.pin_entry).ok_or("unknown PIN entry policy")?,
        binding,
        changes: f.changes,
    })
}

/// Loads a card; `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Persistent>, StateError> {
    let invalid = |problem: String| StateError::Invalid { path: path.to_owned(), problem };
    let text = match fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| invalid(format!("not a card state file: {e}")))?;
    from_file(file).map(Some).map_err(invalid)
}

/// Saves a card atomically: the old file stays whole until the new one is.
pub fn save(path: &Path, state: &Persistent) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: path.to_owned(), source };
    let file = to_file(state).map_err(|problem| StateError::Invalid { path: path.to_owned(), problem })?;
    let text = Zeroizing::new(serde_json::to_string_pretty(&file).expect("state serialises"));
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn save_then_load_keeps_the_card() {
        let mut r = rng::seeded(5);
        let mut p = Persistent::manufacture(&mut r);
        p.pin.tries_left = 1;
        p.keys.insert(Slot::Signature, Arc::new(crate::crypto::generate_rsa2048(&mut r).unwrap()));
        p.binding = Some(Binding { value: Zeroizing::new(vec![9; 32]), tries_left: 4 });
        let dir = std::env::temp_dir().join(format!("subsim-persist-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("card.json");
        save(&path, &p).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(format!("{back:?}"), format!("{p:?}"));
        assert_eq!(back.keys[&Slot::Signature], p.keys[&Slot::Signature]);
        assert_eq!(back.guid, p.guid);
        assert_eq!(*back.pin.block, *p.pin.block);
        assert!(load(&dir.join("absent.json")).unwrap().is_none());
        fs::write(&path, "{\"format\": 9}").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("card.json"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
