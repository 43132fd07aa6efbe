//! Card state: what survives power loss ([`Persistent`]) and what does not
//! ([`Transient`]), as separate types. Persistent state only changes through
//! [`Store::write`], one atomic update at a time, as in a Java Card transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use applet_spec::messages::{self, KeypadLayout, PinEntry};
use applet_spec::piv::{self, MgmAlgorithm, ObjectTag, Slot, PIN_BLOCK_LEN};
use rand::RngCore;
use rsa::RsaPrivateKey;
use zeroize::Zeroizing;

/// A PIN or PUK: the padded reference block and its try counter.
#[derive(Clone)]
pub struct Reference {
    pub block: Zeroizing<[u8; PIN_BLOCK_LEN]>,
    pub tries_left: u8,
    pub max_tries: u8,
}

impl Reference {
    fn new(value: &[u8], digits_only: bool, tries: u8) -> Reference {
        let block = piv::pin_block(value, digits_only).expect("factory default is well-formed");
        Reference { block: Zeroizing::new(block), tries_left: tries, max_tries: tries }
    }
    pub fn blocked(&self) -> bool {
        self.tries_left == 0
    }
}

/// The management key 9B.
#[derive(Clone)]
pub struct MgmKey {
    pub algorithm: MgmAlgorithm,
    pub key: Zeroizing<Vec<u8>>,
}

/// The device binding value the issuer stored, with its own try counter.
#[derive(Clone)]
pub struct Binding {
    pub value: Zeroizing<Vec<u8>>,
    pub tries_left: u8,
}

/// Which reference data a verification is against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Pin,
    Puk,
}

/// Everything the card keeps across power loss.
#[derive(Clone)]
pub struct Persistent {
    /// Set at manufacture; survives TERMINATE.
    pub serial: u32,
    /// Set at manufacture; survives TERMINATE.
    pub guid: [u8; 16],
    pub pin: Reference,
    pub puk: Reference,
    pub mgm: MgmKey,
    /// Private keys, shared so an atomic update copies pointers, not keys.
    pub keys: BTreeMap<Slot, Arc<RsaPrivateKey>>,
    /// Data object values (what GET DATA returns inside tag 53).
    pub objects: BTreeMap<ObjectTag, Arc<Vec<u8>>>,
    pub pin_entry: PinEntry,
    pub binding: Option<Binding>,
    /// Bumped on every change to keys or data objects; hosts cache by it.
    pub changes: u32,
}

// Debug never shows PINs, keys or the binding value.
impl std::fmt::Debug for Persistent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistent")
            .field("serial", &self.serial)
            .field("pin_tries_left", &self.pin.tries_left)
            .field("puk_tries_left", &self.puk.tries_left)
            .field("mgm_algorithm", &self.mgm.algorithm)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("objects", &self.objects.keys().collect::<Vec<_>>())
            .field("pin_entry", &self.pin_entry)
            .field("binding_set", &self.binding.is_some())
            .field("changes", &self.changes)
            .finish()
    }
}

impl Persistent {
    /// A card as it leaves the factory, with a serial and GUID from `rng`.
    pub fn manufacture(rng: &mut dyn RngCore) -> Persistent {
        let serial = rng.next_u32() % 99_999_999 + 1;
        let mut guid = [0u8; 16];
        rng.fill_bytes(&mut guid);
        Persistent::factory(serial, guid, 0)
    }

    /// Factory settings for a card with this identity: default PIN, PUK and
    /// management key, no keys, only the CHUID object.
    pub fn factory(serial: u32, guid: [u8; 16], changes: u32) -> Persistent {
        let chuid = Arc::new(messages::chuid(&guid));
        Persistent {
            serial,
            guid,
            pin: Reference::new(piv::DEFAULT_PIN, true, piv::PIN_TRIES),
            puk: Reference::new(piv::DEFAULT_PUK, false, piv::PUK_TRIES),
            mgm: MgmKey { algorithm: MgmAlgorithm::TripleDes, key: Zeroizing::new(piv::DEFAULT_MGM_KEY.to_vec()) },
            keys: BTreeMap::new(),
            objects: BTreeMap::from([(ObjectTag::CHUID, chuid)]),
            pin_entry: PinEntry::Any,
            binding: None,
            changes,
        }
    }

    pub fn reference(&self, kind: RefKind) -> &Reference {
        match kind {
            RefKind::Pin => &self.pin,
            RefKind::Puk => &self.puk,
        }
    }
    pub fn reference_mut(&mut self, kind: RefKind) -> &mut Reference {
        match kind {
            RefKind::Pin => &mut self.pin,
            RefKind::Puk => &mut self.puk,
        }
    }
}

/// The management key authentication under way: what the card sent and
/// expects back in the second GENERAL AUTHENTICATE.
#[derive(Clone, PartialEq, Eq)]
pub enum MgmPending {
    /// Mutual: the witness the card sent (encrypted).
    Witness(Zeroizing<Vec<u8>>),
    /// External: the challenge the card sent (in clear).
    Challenge(Zeroizing<Vec<u8>>),
}

/// Everything lost at reset or power-off.
#[derive(Default)]
pub struct Transient {
    pub selected: bool,
    pub pin_verified: bool,
    /// A PIN verification not yet used up by a private-key operation: what a
    /// PIN-always key (9C) needs.
    pub pin_always: bool,
    pub mgm_authenticated: bool,
    pub mgm_pending: Option<MgmPending>,
    /// The keypad layout drawn by GET KEYPAD, for one VERIFY KEYPAD.
    pub keypad: Option<KeypadLayout>,
    /// The binding value was presented correctly in this session.
    pub binding_presented: bool,
}

/// A persistent write refused because power is gone (fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerLost;

impl From<PowerLost> for applet_spec::Sw {
    // Never seen by a host: a card without power answers nothing.
    fn from(_: PowerLost) -> Self {
        applet_spec::Sw::UNKNOWN_ERROR
    }
}

/// Where each persistent write is made durable before it takes effect (the
/// card file, see `cardfile`). An error is a power cut: the write never
/// happened, and the card stays without power for good.
pub trait Backing: Send {
    fn commit(&mut self, next: &Persistent) -> Result<(), String>;
}

/// Persistent state with atomic updates, and optional power cuts for tests.
pub struct Store {
    state: Persistent,
    writes: u64,
    /// Cut power instead of making this write (counted from 1).
    tear_at: Option<u64>,
    torn: bool,
    backing: Option<Box<dyn Backing>>,
    /// Why the backing failed: the card stays dead, power cycles or not.
    failure: Option<String>,
}

impl Store {
    pub fn new(state: Persistent) -> Store {
        Store { state, writes: 0, tear_at: None, torn: false, backing: None, failure: None }
    }
    /// Every later write is committed to `backing` before it counts.
    pub fn set_backing(&mut self, backing: Box<dyn Backing>) {
        self.backing = Some(backing);
    }
    /// Why a write could not be made durable, if one could not.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
    /// Cuts power when write number `n` (counting all writes since this store
    /// was created, from 1) is about to happen: it and all later writes fail.
    pub fn tear_at(&mut self, n: u64) {
        self.tear_at = Some(n);
    }
    /// Power was cut: the card must not answer until it is powered again.
    pub fn torn(&self) -> bool {
        self.torn
    }
    /// Power back on after a cut: what was written stays, nothing more.
    pub fn power_restored(&mut self) {
        self.torn = self.failure.is_some();
        self.tear_at = None;
    }
    pub fn get(&self) -> &Persistent {
        &self.state
    }
    /// Number of persistent writes since the card was created or loaded.
    pub fn writes(&self) -> u64 {
        self.writes
    }
    /// One atomic persistent update: `f` works on a copy that replaces the
    /// state only when `f` returns `Ok`; an error leaves the state untouched.
    /// After a power cut, nothing is written and `PowerLost` comes back.
    pub fn write<T, E: From<PowerLost>>(&mut self, f: impl FnOnce(&mut Persistent) -> Result<T, E>) -> Result<T, E> {
        if self.torn || self.tear_at == Some(self.writes + 1) {
            self.torn = true;
            return Err(PowerLost.into());
        }
        let mut next = self.state.clone();
        let out = f(&mut next)?;
        if let Some(backing) = &mut self.backing {
            if let Err(why) = backing.commit(&next) {
                self.torn = true;
                self.failure = Some(why);
                return Err(PowerLost.into());
            }
        }
        self.state = next;
        self.writes += 1;
        Ok(out)
    }
    pub fn into_inner(self) -> Persistent {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn failed_write_changes_nothing() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut store = Store::new(Persistent::manufacture(&mut rng));
        let r: Result<(), applet_spec::Sw> = store.write(|p| {
            p.pin.tries_left = 0;
            p.changes = 99;
            Err(applet_spec::Sw::INCORRECT_DATA)
        });
        assert!(r.is_err());
        assert_eq!((store.get().pin.tries_left, store.get().changes, store.writes()), (3, 0, 0));
        store
            .write(|p| {
                p.changes = 1;
                Ok::<_, applet_spec::Sw>(())
            })
            .unwrap();
        assert_eq!((store.get().changes, store.writes()), (1, 1));
    }

    #[test]
    fn a_power_cut_stops_all_writes_until_power_returns() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut store = Store::new(Persistent::manufacture(&mut rng));
        store.tear_at(2);
        let bump = |s: &mut Store| {
            s.write(|p| {
                p.changes += 1;
                Ok::<_, applet_spec::Sw>(())
            })
        };
        assert!(bump(&mut store).is_ok());
        assert_eq!(bump(&mut store), Err(applet_spec::Sw::UNKNOWN_ERROR));
        assert!(store.torn());
        assert!(bump(&mut store).is_err(), "no write after the cut");
        assert_eq!(store.get().changes, 1);
        store.power_restored();
        assert!(bump(&mut store).is_ok());
        assert_eq!(store.get().changes, 2);
    }

    #[test]
    fn debug_hides_secrets() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let p = Persistent::manufacture(&mut rng);
        let s = format!("{p:?}");
        assert!(!s.contains("123456") && !s.contains("49, 50"), "{s}");
    }
}
