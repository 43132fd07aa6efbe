//! Card state: what survives power loss ([`Persistent`]) and what does not
//! ([`Transient`]), as separate types. Persistent state only changes through
//! [`Store::write`], one atomic update at a time, as in a Java Card transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use applet_spec::messages::{self, KeyOrigin, KeypadLayout, PinEntry};
use applet_spec::piv::{self, MgmAlgorithm, ObjectTag, PinPolicy, Slot, PIN_BLOCK_LEN};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::crypto::PrivateKey;
use crate::rng::CardRng;

/// A PIN or PUK: the padded reference block and its try counter.
#[derive(Clone)]
pub struct Reference {
    /// The reference data, padded with FF to 8 bytes.
    pub block: Zeroizing<[u8; PIN_BLOCK_LEN]>,
    /// Wrong values still allowed before it blocks.
    pub tries_left: u8,
    /// What `tries_left` is reset to by a correct value or unblocking.
    pub max_tries: u8,
}

impl Reference {
    /// A reference with `value` (padded; digits only for a PIN) and `tries` tries.
    pub fn new(value: &[u8], digits_only: bool, tries: u8) -> Reference {
        let block = piv::pin_block(value, digits_only).expect("factory default is well-formed");
        Reference { block: Zeroizing::new(block), tries_left: tries, max_tries: tries }
    }
    /// No tries left.
    pub fn blocked(&self) -> bool {
        self.tries_left == 0
    }
}

/// The management key 9B.
#[derive(Clone)]
pub struct MgmKey {
    /// Its block cipher.
    pub algorithm: MgmAlgorithm,
    /// The key bytes: 24 for 3DES and AES-192, 16 or 32 for AES-128 or AES-256.
    pub key: Zeroizing<Vec<u8>>,
}

/// The device binding value the issuer stored, with its own try counter.
#[derive(Clone)]
pub struct Binding {
    /// The value PRESENT BINDING must match, 16 to 64 bytes.
    pub value: Zeroizing<Vec<u8>>,
    /// Wrong presentations left before the binding blocks.
    pub tries_left: u8,
}

/// A key in a slot, tagged with its algorithm (by the key's own type), where
/// it came from, and the PIN it needs.
#[derive(Clone, Debug)]
pub struct SlotKey {
    /// The private key.
    pub key: PrivateKey,
    /// Generated on the card or imported: ATTEST refuses imported keys.
    pub origin: KeyOrigin,
    /// The PIN the key needs before use.
    pub pin_policy: PinPolicy,
}

impl SlotKey {
    /// A key for `slot`, with the slot's default PIN policy.
    pub fn new(slot: Slot, key: PrivateKey, origin: KeyOrigin) -> SlotKey {
        SlotKey { key, origin, pin_policy: slot.pin_policy() }
    }
    /// The same key with the PIN policy GENERATE or IMPORT KEY asked for.
    pub fn with_pin_policy(self, pin_policy: PinPolicy) -> SlotKey {
        SlotKey { pin_policy, ..self }
    }
    /// Key size in bytes (RSA modulus, or EC field).
    pub fn size(&self) -> usize {
        self.key.size()
    }
    /// Checks the key is internally consistent (e.g. after loading a card file).
    pub fn validate(&self) -> Result<(), String> {
        self.key.validate()
    }
}

/// Which reference data a verification is against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// The PIN (key reference 80).
    Pin,
    /// The PUK (key reference 81).
    Puk,
}

/// Everything the card keeps across power loss.
#[derive(Clone)]
pub struct Persistent {
    /// Set at manufacture; survives TERMINATE.
    pub serial: u32,
    /// Set at manufacture; survives TERMINATE.
    pub guid: [u8; 16],
    /// The PIN (key reference 80), digits only.
    pub pin: Reference,
    /// The PUK (key reference 81).
    pub puk: Reference,
    /// The management key 9B.
    pub mgm: MgmKey,
    /// Private keys of the host's slots (9A, 9C, 9D, 9E), shared so an
    /// atomic update copies pointers, not keys.
    pub keys: BTreeMap<Slot, SlotKey>,
    /// The attestation key (slot F9): part of the card's identity, like the
    /// serial, so RESET and TERMINATE keep it.
    pub attestation: Option<SlotKey>,
    /// Slots the issuer forbade importing a key into.
    pub import_forbidden: BTreeSet<Slot>,
    /// Data object values (what GET DATA returns inside tag 53).
    pub objects: BTreeMap<ObjectTag, Arc<Vec<u8>>>,
    /// Whether plain VERIFY is allowed or only VERIFY KEYPAD.
    pub pin_entry: PinEntry,
    /// The device binding, when the issuer set one.
    pub binding: Option<Binding>,
    /// Bumped on every change to keys or data objects; hosts cache by it.
    pub changes: u32,
    /// The ARA-M's access rules: the issuer's, so PIV's RESET and TERMINATE keep them.
    pub access_rules: AccessRules,
    /// The card manager (the ISD, [`crate::gp`]): the card's, so PIV's RESET and TERMINATE keep it.
    pub card_manager: crate::gp::state::CardManager,
}

/// The ARA-M's persistent part (GP SEAC 1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRules {
    /// The rules, in the order they were stored, at most [`applet_spec::aram::MAX_RULES`].
    pub rules: Vec<applet_spec::aram::Rule>,
    /// Changes with every change to the rules, so a phone knows to read them again.
    pub refresh_tag: u64,
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
            .field("attestation", &self.attestation.as_ref().map(|k| k.key.algorithm()))
            .field("import_forbidden", &self.import_forbidden)
            .field("objects", &self.objects.keys().collect::<Vec<_>>())
            .field("pin_entry", &self.pin_entry)
            .field("binding_set", &self.binding.is_some())
            .field("changes", &self.changes)
            .field("access_rules", &self.access_rules.rules.len())
            .field("card_manager", &self.card_manager.life_cycle)
            .finish()
    }
}

impl Persistent {
    /// A card as it leaves the factory, with a serial, GUID and attestation
    /// key (certified by the test manufacturer CA) from `rng`.
    pub fn manufacture(rng: &mut CardRng) -> Persistent {
        let serial = rng.next_u32() % 99_999_999 + 1;
        let mut guid = [0u8; 16];
        rng.fill_bytes(&mut guid);
        let mut p = Persistent::factory(serial, guid, 0);
        let (key, cert) = crate::attestation::manufacture(serial, rng);
        p.attestation = Some(SlotKey::new(Slot::Attestation, key, KeyOrigin::Generated));
        // Stored like any certificate object (70/71/FE), as on a YubiKey.
        p.objects.insert(ObjectTag::ATTESTATION_CERT, Arc::new(messages::cert_object(&cert)));
        p
    }

    /// Factory settings for a card with this identity: default PIN, PUK and
    /// management key, no keys, the CHUID and the Card Capability Container
    /// (both mandatory in SP 800-73-4 part 1, 3.1), no attestation key.
    pub fn factory(serial: u32, guid: [u8; 16], changes: u32) -> Persistent {
        let chuid = Arc::new(messages::chuid(&guid));
        let card_id: [u8; 14] = guid[..14].try_into().expect("14 of 16 bytes");
        let ccc = Arc::new(messages::ccc(&card_id));
        Persistent {
            serial,
            guid,
            pin: Reference::new(piv::DEFAULT_PIN, true, piv::PIN_TRIES),
            puk: Reference::new(piv::DEFAULT_PUK, false, piv::PUK_TRIES),
            mgm: MgmKey { algorithm: MgmAlgorithm::TripleDes, key: Zeroizing::new(piv::DEFAULT_MGM_KEY.to_vec()) },
            keys: BTreeMap::new(),
            attestation: None,
            import_forbidden: BTreeSet::new(),
            objects: BTreeMap::from([(ObjectTag::CHUID, chuid), (ObjectTag::CCC, ccc)]),
            pin_entry: PinEntry::Any,
            binding: None,
            changes,
            access_rules: AccessRules::default(),
            card_manager: Default::default(),
        }
    }

    /// Back to factory settings (TERMINATE, RESET), keeping what makes the
    /// card itself: serial, GUID, the attestation key and its certificate.
    pub fn wipe(&mut self) {
        let mut next = Persistent::factory(self.serial, self.guid, self.changes.wrapping_add(1));
        next.attestation = self.attestation.take();
        next.access_rules = std::mem::take(&mut self.access_rules);
        next.card_manager = std::mem::take(&mut self.card_manager);
        if let Some(cert) = self.objects.remove(&ObjectTag::ATTESTATION_CERT) {
            next.objects.insert(ObjectTag::ATTESTATION_CERT, cert);
        }
        *self = next;
    }

    /// Keeps the Key History object (5FC10C) in step with the retired slots
    /// (SP 800-73-4 part 1, 3.3.2): retired keys with their certificate on
    /// the card, and without. An off-card URL the issuer wrote stays. Made
    /// only once a retired key or history exists.
    pub fn refresh_key_history(&mut self) {
        let retired: Vec<Slot> = self.keys.keys().copied().filter(|s| matches!(s, Slot::Retired(_))).collect();
        let current = self.objects.get(&ObjectTag::KEY_HISTORY);
        if retired.is_empty() && current.is_none() {
            return;
        }
        let url = current.and_then(|v| messages::parse_key_history(v).ok()).and_then(|(_, _, url)| url);
        let on_card = retired.iter().filter(|s| self.objects.contains_key(&s.cert_object())).count() as u8;
        let off_card = retired.len() as u8 - on_card;
        let value = messages::key_history(on_card, off_card, url.as_deref());
        self.objects.insert(ObjectTag::KEY_HISTORY, Arc::new(value));
    }

    /// The key in any slot, F9 included.
    pub fn slot_key(&self, slot: Slot) -> Option<&SlotKey> {
        match slot {
            Slot::Attestation => self.attestation.as_ref(),
            _ => self.keys.get(&slot),
        }
    }
    /// Takes the key out of `slot` (F9 included), leaving it empty.
    pub fn take_slot_key(&mut self, slot: Slot) -> Option<SlotKey> {
        match slot {
            Slot::Attestation => self.attestation.take(),
            _ => self.keys.remove(&slot),
        }
    }
    /// Puts `key` in `slot` (F9 included), replacing any key there.
    pub fn set_slot_key(&mut self, slot: Slot, key: SlotKey) {
        match slot {
            Slot::Attestation => self.attestation = Some(key),
            _ => {
                self.keys.insert(slot, key);
            }
        }
    }

    /// The PIN or the PUK.
    pub fn reference(&self, kind: RefKind) -> &Reference {
        match kind {
            RefKind::Pin => &self.pin,
            RefKind::Puk => &self.puk,
        }
    }
    /// The PIN or the PUK, mutably.
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
    /// The PIV applet is selected.
    pub selected: bool,
    /// The PIN was verified in this session.
    pub pin_verified: bool,
    /// A PIN verification not yet used up by a private-key operation: what a
    /// PIN-always key (9C) needs.
    pub pin_always: bool,
    /// The management key was authenticated in this session.
    pub mgm_authenticated: bool,
    /// The first half of a management key authentication, awaiting the second.
    pub mgm_pending: Option<MgmPending>,
    /// The keypad layout drawn by GET KEYPAD, for one VERIFY KEYPAD.
    pub keypad: Option<KeypadLayout>,
    /// The binding value was presented correctly in this session.
    pub binding_presented: bool,
    /// Only with [`crate::applet::SubSim::set_drop_pin_on_reselect`]: a
    /// re-SELECT took the keys' PIN state (VERIFY's status query still says
    /// verified, as on PivApplet); the next VERIFY gives it back.
    pub keys_pin_dropped: bool,
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
    /// Makes `next` durable; an error means it was not, and the write must not count.
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
    /// A store over `state`, in memory only until [`Store::set_backing`].
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
    /// The state as of the last completed write.
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
    /// Gives the state back.
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
