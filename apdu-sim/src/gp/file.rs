//! The card manager in the card file: the `gp` field of the `card` object,
//! absent while the card manager is as the factory made it (so files from
//! before it existed load as factory cards), checked on load like every
//! other field.

use std::collections::BTreeSet;

use applet_spec::gp::{CardLifeCycle, DEVELOPMENT_KEY};
use applet_spec::scp03::StaticKeys;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::state::{CardManager, ChallengeMode, KeySet, KEY_SET_TRIES, MAX_KEY_SETS, MAX_SEQUENCE_COUNTER};
use crate::persist::{bad, bytes};

/// The `gp` field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpFile {
    /// "OP_READY", "INITIALIZED", "SECURED", "CARD_LOCKED" or "TERMINATED".
    life_cycle: String,
    /// A development card (its factory keys are GP's `40..4F`).
    development: bool,
    /// "random" or "pseudo-random".
    challenge: String,
    key_sets: Vec<KeySetFile>,
    /// AIDs (hex) of locked applications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    locked: Vec<String>,
    /// The sub-SIM instance was deleted and not installed again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    subsim_deleted: bool,
    /// Load files LOAD brought: AID, version, applet AIDs (hex).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    loaded: Vec<LoadedFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadedFile {
    aid: String,
    version: String,
    applets: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySetFile {
    version: u8,
    enc: String,
    mac: String,
    dek: String,
    tries_left: u8,
    sequence_counter: u32,
}

fn mode_name(m: ChallengeMode) -> &'static str {
    match m {
        ChallengeMode::Random => "random",
        ChallengeMode::PseudoRandom => "pseudo-random",
    }
}

/// The field for `cm`; `None` for a factory card manager.
pub fn to_file(cm: &CardManager) -> Option<GpFile> {
    (cm != &CardManager::default()).then(|| GpFile {
        life_cycle: cm.life_cycle.name().into(),
        development: cm.development,
        challenge: mode_name(cm.challenge).into(),
        key_sets: cm
            .key_sets
            .iter()
            .map(|k| KeySetFile {
                version: k.version,
                enc: hex::encode(&*k.keys.enc),
                mac: hex::encode(&*k.keys.mac),
                dek: hex::encode(&*k.keys.dek),
                tries_left: k.tries_left,
                sequence_counter: k.sequence_counter,
            })
            .collect(),
        locked: cm.locked.iter().map(hex::encode_upper).collect(),
        subsim_deleted: cm.subsim_deleted,
        loaded: cm
            .loaded
            .iter()
            .map(|f| LoadedFile {
                aid: hex::encode_upper(&f.aid),
                version: hex::encode_upper(f.version),
                applets: f.applets.iter().map(hex::encode_upper).collect(),
            })
            .collect(),
    })
}

/// The card manager of a file's `gp` field: a known life cycle and
/// challenge mode, 1 to [`MAX_KEY_SETS`] key sets of distinct versions
/// 01-7F, each three AES keys of one length with tries and counter in
/// range, the development key only on a development card, locked AIDs of
/// applications the card has.
pub fn from_file(f: &GpFile) -> Result<CardManager, String> {
    let life_cycle = [
        CardLifeCycle::OpReady,
        CardLifeCycle::Initialized,
        CardLifeCycle::Secured,
        CardLifeCycle::CardLocked,
        CardLifeCycle::Terminated,
    ]
    .into_iter()
    .find(|s| s.name() == f.life_cycle)
    .ok_or_else(|| bad("gp.life_cycle", format!("unknown state {:?}", f.life_cycle)))?;
    let challenge = [ChallengeMode::Random, ChallengeMode::PseudoRandom]
        .into_iter()
        .find(|m| mode_name(*m) == f.challenge)
        .ok_or_else(|| bad("gp.challenge", format!("{:?} is neither random nor pseudo-random", f.challenge)))?;
    if f.key_sets.is_empty() || f.key_sets.len() > MAX_KEY_SETS {
        return Err(bad("gp.key_sets", format!("{} key sets, the card holds 1 to {MAX_KEY_SETS}", f.key_sets.len())));
    }
    let mut key_sets: Vec<KeySet> = Vec::new();
    for (i, k) in f.key_sets.iter().enumerate() {
        let field = |name: &str| format!("gp.key_sets[{i}].{name}");
        if !(0x01..=0x7F).contains(&k.version) {
            return Err(bad(&field("version"), format!("{:02X} is outside 01-7F", k.version)));
        }
        if key_sets.iter().any(|o| o.version == k.version) {
            return Err(bad(&field("version"), "a second key set with this version"));
        }
        let key = |name: &str, text: &str| -> Result<Zeroizing<Vec<u8>>, String> { bytes(&field(name), text) };
        let keys = StaticKeys { enc: key("enc", &k.enc)?, mac: key("mac", &k.mac)?, dek: key("dek", &k.dek)? };
        if !keys.well_formed() {
            return Err(bad(&field("enc"), "ENC, MAC and DEK must be AES keys of one length (16, 24 or 32 bytes)"));
        }
        if !f.development && [&keys.enc, &keys.mac, &keys.dek].iter().any(|k| k[..] == DEVELOPMENT_KEY) {
            return Err(bad(&field("enc"), "the well-known development key on a card that is not a development card"));
        }
        if k.tries_left > KEY_SET_TRIES {
            return Err(bad(&field("tries_left"), format!("{} is above the limit {KEY_SET_TRIES}", k.tries_left)));
        }
        if k.sequence_counter > MAX_SEQUENCE_COUNTER {
            return Err(bad(&field("sequence_counter"), "more than 3 bytes"));
        }
        key_sets.push(KeySet {
            version: k.version,
            keys,
            tries_left: k.tries_left,
            sequence_counter: k.sequence_counter,
        });
    }
    let mut locked = BTreeSet::new();
    for (i, text) in f.locked.iter().enumerate() {
        let field = format!("gp.locked[{i}]");
        let aid = bytes(&field, text)?.to_vec();
        if !CardManager::is_app(&aid) {
            return Err(bad(&field, "not an application of this card"));
        }
        if !locked.insert(aid) {
            return Err(bad(&field, "given twice"));
        }
    }
    if f.loaded.len() > super::state::MAX_LOADED {
        return Err(bad(
            "gp.loaded",
            format!("{} load files, the card keeps {}", f.loaded.len(), super::state::MAX_LOADED),
        ));
    }
    let mut loaded: Vec<applet_spec::gp::LoadFileInfo> = Vec::new();
    for (i, l) in f.loaded.iter().enumerate() {
        let field = |name: &str| format!("gp.loaded[{i}].{name}");
        let aid_of = |name: &str, text: &str| -> Result<Vec<u8>, String> {
            let a = bytes(&field(name), text)?.to_vec();
            if (5..=16).contains(&a.len()) {
                Ok(a)
            } else {
                Err(bad(&field(name), "an AID has 5 to 16 bytes"))
            }
        };
        let aid = aid_of("aid", &l.aid)?;
        if CardManager::default().has_load_file(&aid) || loaded.iter().any(|o| o.aid == aid) {
            return Err(bad(&field("aid"), "a second load file with this AID"));
        }
        let version: [u8; 2] = bytes(&field("version"), &l.version)?
            .as_slice()
            .try_into()
            .map_err(|_| bad(&field("version"), "2 bytes"))?;
        let applets = l.applets.iter().map(|a| aid_of("applets", a)).collect::<Result<_, _>>()?;
        loaded.push(applet_spec::gp::LoadFileInfo { aid, version, applets });
    }
    Ok(CardManager {
        life_cycle,
        development: f.development,
        key_sets,
        challenge,
        locked,
        subsim_deleted: f.subsim_deleted,
        loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(cm: &CardManager) -> Result<CardManager, String> {
        let text = serde_json::to_string(&to_file(cm).expect("not factory")).unwrap();
        from_file(&serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn a_factory_card_manager_is_not_written() {
        assert!(to_file(&CardManager::default()).is_none());
    }

    #[test]
    fn round_trips_and_refuses_what_no_card_holds() {
        let mut cm = CardManager::default();
        cm.life_cycle = CardLifeCycle::CardLocked;
        cm.key_sets[0].tries_left = 3;
        cm.key_sets[0].sequence_counter = 77;
        cm.locked.insert(applet_spec::piv::PIV_AID.to_vec());
        cm.challenge = ChallengeMode::Random;
        assert_eq!(round(&cm).unwrap(), cm);

        let text = serde_json::to_string(&to_file(&cm).unwrap()).unwrap();
        let cases = [
            (text.replace("CARD_LOCKED", "LOST"), "gp.life_cycle"),
            (text.replace("\"random\"", "\"dice\""), "gp.challenge"),
            (text.replace("\"tries_left\":3", "\"tries_left\":11"), "gp.key_sets[0].tries_left"),
            (text.replace("\"version\":48", "\"version\":128"), "gp.key_sets[0].version"),
            (text.replace("\"development\":true", "\"development\":false"), "development key"),
            (text.replace("404142434445464748494a4b4c4d4e4f", "4041"), "gp.key_sets[0].enc"),
            (text.replace("A000000308000010000100", "A0000003080000100001"), "gp.locked[0]"),
            (text.replace("\"sequence_counter\":77", "\"sequence_counter\":16777216"), "sequence_counter"),
        ];
        for (bad_text, want) in cases {
            let err = match serde_json::from_str::<GpFile>(&bad_text) {
                Ok(f) => from_file(&f).unwrap_err(),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(want), "{err} should name {want}");
        }
    }
}
