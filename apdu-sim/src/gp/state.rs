//! The card manager's persistent part: the card's life cycle, the ISD's key
//! sets with their try counters and sequence counters, and which
//! applications are locked. It lives in [`crate::state::Persistent`], so
//! every change goes through the card's one store and its file before any
//! answer (the card's promise), and PIV's RESET and TERMINATE leave it alone.

use std::collections::BTreeSet;

use applet_spec::gp::{self, app_state, privilege, CardLifeCycle, RegistryEntry, StatusScope};
use applet_spec::scp03::StaticKeys;

/// Failed EXTERNAL AUTHENTICATEs a key set takes before it blocks for good
/// (real cards lock after a few; GPCS leaves the number to the issuer).
pub const KEY_SET_TRIES: u8 = 10;

/// At most this many key sets (the ISD's key storage).
pub const MAX_KEY_SETS: usize = 8;

/// The key version the factory key set has (SCP03's range starts at `30`,
/// GPC_GUI_010 reserves `20`-`2F` for SCP02).
pub const FACTORY_KEY_VERSION: u8 = 0x30;

/// The largest SCP03 sequence counter (3 bytes): a key set whose counter
/// reached it must be replaced (Amendment D 6.2.2.1).
pub const MAX_SEQUENCE_COUNTER: u32 = 0xFF_FFFF;

/// How INITIALIZE UPDATE makes the card challenge (Amendment D 6.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMode {
    /// From the card's random generator (`i` = `60`).
    Random,
    /// From the key set's sequence counter and the ISD's AID (`i` = `70`).
    PseudoRandom,
}

impl ChallengeMode {
    /// The `i` parameter announced: R-MAC and R-ENCRYPTION supported, b5 by mode.
    pub fn i(self) -> u8 {
        let base = gp::i_param::R_MAC | gp::i_param::R_ENC;
        match self {
            ChallengeMode::Random => base,
            ChallengeMode::PseudoRandom => base | gp::i_param::PSEUDO_RANDOM,
        }
    }
}

/// One SCP03 key set of the ISD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    /// Key version number, 1 to 7F.
    pub version: u8,
    /// ENC, MAC, DEK (AES-128).
    pub keys: StaticKeys,
    /// Failed authentications still allowed; 0 blocks the key set.
    pub tries_left: u8,
    /// Card challenges made from this key set in pseudo-random mode.
    pub sequence_counter: u32,
}

impl KeySet {
    /// A fresh key set: all tries, counter at zero.
    pub fn new(version: u8, keys: StaticKeys) -> KeySet {
        KeySet { version, keys, tries_left: KEY_SET_TRIES, sequence_counter: 0 }
    }
}

/// The card manager's persistent state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardManager {
    /// The card's life cycle state.
    pub life_cycle: CardLifeCycle,
    /// A development card: its factory key set is GP's well-known `40..4F`.
    pub development: bool,
    /// The ISD's key sets, by version, at least one.
    pub key_sets: Vec<KeySet>,
    /// How card challenges are made.
    pub challenge: ChallengeMode,
    /// AIDs of the applications SET STATUS locked.
    pub locked: BTreeSet<Vec<u8>>,
    /// The sub-SIM instance was deleted (DELETE), and not installed again.
    pub subsim_deleted: bool,
    /// Load files LOAD brought (beside the preloaded ones), at most [`MAX_LOADED`].
    pub loaded: Vec<applet_spec::gp::LoadFileInfo>,
}

/// Load files the card keeps at most (its code memory).
pub const MAX_LOADED: usize = 8;

impl Default for CardManager {
    /// A development card in the field: SECURED, the development key set
    /// as version 30, pseudo-random challenges.
    fn default() -> Self {
        CardManager {
            life_cycle: CardLifeCycle::Secured,
            development: true,
            key_sets: vec![KeySet::new(FACTORY_KEY_VERSION, StaticKeys::single(&gp::DEVELOPMENT_KEY))],
            challenge: ChallengeMode::PseudoRandom,
            locked: BTreeSet::new(),
            subsim_deleted: false,
            loaded: Vec::new(),
        }
    }
}

/// An application the card holds, as the registry lists it.
pub struct App {
    /// Its instance AID.
    pub aid: &'static [u8],
    /// Its executable load file.
    pub load_file: &'static [u8],
    /// The module (applet class) it was installed from.
    pub module: &'static [u8],
}

/// The sub-SIM's package (a load file in the card's ROM here).
pub const SUBSIM_PACKAGE: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10];
/// The sub-SIM applet class, the package's one module.
pub const SUBSIM_MODULE: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01];
/// The ARA-M's package.
pub const ARAM_PACKAGE: &[u8] = &[0xA0, 0x00, 0x00, 0x01, 0x51, 0x41, 0x43, 0x4C];

/// The applications of this card: PIV (the sub-SIM) and the ARA-M.
pub const APPS: [App; 2] = [
    App { aid: &applet_spec::piv::PIV_AID, load_file: SUBSIM_PACKAGE, module: SUBSIM_MODULE },
    App { aid: &applet_spec::aram::ARAM_AID, load_file: ARAM_PACKAGE, module: &applet_spec::aram::ARAM_AID },
];

impl CardManager {
    /// The key set INITIALIZE UPDATE's P1 names: `00` the first one.
    pub fn key_set(&self, version: u8) -> Option<&KeySet> {
        match version {
            0 => self.key_sets.first(),
            v => self.key_sets.iter().find(|k| k.version == v),
        }
    }
    /// The same, mutably.
    pub fn key_set_mut(&mut self, version: u8) -> Option<&mut KeySet> {
        match version {
            0 => self.key_sets.first_mut(),
            v => self.key_sets.iter_mut().find(|k| k.version == v),
        }
    }

    /// Whether SELECT may pick the application `aid` (not the ISD, which
    /// always may): the card neither locked nor terminated, the application
    /// not locked (GPCS 5.1.1.4, 5.3.1.3).
    pub fn selectable(&self, aid: &[u8]) -> bool {
        matches!(self.life_cycle, CardLifeCycle::OpReady | CardLifeCycle::Initialized | CardLifeCycle::Secured)
            && !self.locked.contains(aid)
            && self.installed(aid)
    }

    /// Whether the application `aid` exists (the sub-SIM instance may have been deleted).
    pub fn installed(&self, aid: &[u8]) -> bool {
        !(self.subsim_deleted && aid == applet_spec::piv::PIV_AID)
    }

    fn app_life_cycle(&self, aid: &[u8]) -> u8 {
        let lock = if self.locked.contains(aid) { app_state::LOCKED } else { 0 };
        app_state::SELECTABLE | lock
    }

    /// The registry entries GET STATUS answers for `scope`, whose AID
    /// begins with `prefix` (GPCS 11.4.2.3: `4F` of the search criteria).
    pub fn registry(&self, scope: StatusScope, prefix: &[u8]) -> Vec<RegistryEntry> {
        let entry = |aid: &[u8], life_cycle: u8, privileges: [u8; 3]| RegistryEntry {
            aid: aid.to_vec(),
            life_cycle,
            privileges,
            load_file: None,
            modules: Vec::new(),
            version: None,
            security_domain: None,
        };
        let all: Vec<RegistryEntry> = match scope {
            StatusScope::Isd => vec![entry(&gp::ISD_AID, self.life_cycle.byte(), privilege::ISD)],
            StatusScope::Applications => APPS
                .iter()
                .filter(|a| self.installed(a.aid))
                .map(|a| RegistryEntry {
                    load_file: Some(a.load_file.to_vec()),
                    security_domain: Some(gp::ISD_AID.to_vec()),
                    ..entry(a.aid, self.app_life_cycle(a.aid), [0; 3])
                })
                .collect(),
            StatusScope::LoadFiles | StatusScope::LoadFilesAndModules => {
                let with_modules = scope == StatusScope::LoadFilesAndModules;
                let preloaded = APPS.iter().map(|a| (a.load_file.to_vec(), vec![1, 0], vec![a.module.to_vec()]));
                let loaded = self.loaded.iter().map(|f| (f.aid.clone(), f.version.to_vec(), f.applets.clone()));
                preloaded
                    .chain(loaded)
                    .map(|(aid, version, modules)| RegistryEntry {
                        version: Some(version),
                        security_domain: Some(gp::ISD_AID.to_vec()),
                        modules: if with_modules { modules } else { vec![] },
                        ..entry(&aid, app_state::LOADED, [0; 3])
                    })
                    .collect()
            }
        };
        all.into_iter().filter(|e| e.aid.starts_with(prefix)).collect()
    }

    /// Whether a load file (preloaded or loaded) has this AID.
    pub fn has_load_file(&self, aid: &[u8]) -> bool {
        APPS.iter().any(|a| a.load_file == aid) || self.loaded.iter().any(|f| f.aid == aid)
    }

    /// Whether `aid` is an application SET STATUS can lock or unlock.
    pub fn is_app(aid: &[u8]) -> bool {
        APPS.iter().any(|a| a.aid == aid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_lists_isd_applications_and_load_files() {
        let mut cm = CardManager::default();
        assert_eq!(cm.registry(StatusScope::Isd, &[])[0].life_cycle, 0x0F);
        let apps = cm.registry(StatusScope::Applications, &[]);
        assert_eq!(apps.len(), 2);
        assert!(apps.iter().all(|a| a.life_cycle == 0x07));
        cm.locked.insert(applet_spec::piv::PIV_AID.to_vec());
        assert_eq!(cm.registry(StatusScope::Applications, &[0xA0, 0, 0, 3])[0].life_cycle, 0x87);
        assert!(!cm.selectable(&applet_spec::piv::PIV_AID) && cm.selectable(&applet_spec::aram::ARAM_AID));
        let files = cm.registry(StatusScope::LoadFilesAndModules, &[]);
        assert_eq!(files[0].modules, vec![SUBSIM_MODULE.to_vec()]);
        assert!(cm.registry(StatusScope::LoadFiles, &[])[0].modules.is_empty());
        assert!(cm.registry(StatusScope::Applications, &[0xB0]).is_empty());
        cm.life_cycle = CardLifeCycle::CardLocked;
        assert!(!cm.selectable(&applet_spec::aram::ARAM_AID));
    }

    #[test]
    fn key_version_zero_is_the_first_set() {
        let cm = CardManager::default();
        assert_eq!(cm.key_set(0).unwrap().version, FACTORY_KEY_VERSION);
        assert!(cm.key_set(0x31).is_none());
        assert_eq!(ChallengeMode::PseudoRandom.i(), 0x70);
        assert_eq!(ChallengeMode::Random.i(), 0x60);
    }
}
