//! Yubico's PIV management commands, in the shapes ykman and
//! yubico-piv-tool send: GET METADATA, ATTEST, SET PIN RETRIES, RESET,
//! IMPORT KEY. (SET MANAGEMENT KEY, GET SERIAL and GET VERSION are in
//! `mgm` and `objects`.)

use applet_spec::apdu::Command;
use applet_spec::messages::{self, KeyOrigin, Metadata, METADATA_ALGORITHM_PIN};
use applet_spec::piv::{
    self, KeyAlgorithm, Slot, KEY_REF_MANAGEMENT, KEY_REF_PIN, KEY_REF_PUK, MAX_TRIES, TOUCH_POLICY_NEVER,
};
use applet_spec::Sw;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{no_data, p1p2, SubSim};
use crate::crypto::PrivateKey;
use crate::state::{RefKind, Reference, SlotKey};

fn pin_metadata(r: &Reference, default: &[u8], digits_only: bool) -> Metadata {
    let factory = Zeroizing::new(piv::pin_block(default, digits_only).expect("factory value is well formed"));
    Metadata {
        algorithm: METADATA_ALGORITHM_PIN,
        is_default: Some(bool::from(r.block.ct_eq(&*factory))),
        retries: Some((r.max_tries, r.tries_left)),
        ..Default::default()
    }
}

impl SubSim {
    /// GET METADATA `00 F7 00 <ref>`: the PIN (80), PUK (81), management
    /// key (9B) or a key slot (9A, 9C, 9D, 9E, 82-95, F9). An empty slot,
    /// or a reference the card does not have, is 6A88.
    pub(super) fn get_metadata(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        no_data(cmd)?;
        let p = self.store.get();
        let m = match cmd.p2 {
            KEY_REF_PIN => pin_metadata(&p.pin, piv::DEFAULT_PIN, true),
            KEY_REF_PUK => pin_metadata(&p.puk, piv::DEFAULT_PUK, false),
            KEY_REF_MANAGEMENT => Metadata {
                algorithm: p.mgm.algorithm.id(),
                policy: Some((0, TOUCH_POLICY_NEVER)),
                is_default: Some(
                    p.mgm.algorithm == piv::MgmAlgorithm::TripleDes
                        && bool::from(p.mgm.key.as_slice().ct_eq(&piv::DEFAULT_MGM_KEY)),
                ),
                ..Default::default()
            },
            r => {
                // Any other reference holds nothing here: 6A88, as a YubiKey
                // answers (ykman 5 asks for the Bio reference 96 that way).
                let slot = Slot::from_key_ref(r).ok_or(Sw::REFERENCE_NOT_FOUND)?;
                let k = p.slot_key(slot).ok_or(Sw::REFERENCE_NOT_FOUND)?;
                Metadata {
                    algorithm: k.key.algorithm().id(),
                    policy: Some((k.pin_policy.code(), TOUCH_POLICY_NEVER)),
                    origin: Some(k.origin),
                    origin_code: Some(k.origin.code()),
                    public_key: Some(k.key.public()),
                    import_forbidden: Some(p.import_forbidden.contains(&slot)),
                    ..Default::default()
                }
            }
        };
        Ok(m.encode())
    }

    /// ATTEST `00 F9 <slot> 00`: a certificate for the slot's public key,
    /// signed by the F9 key. Only for keys generated on the card.
    pub(super) fn attest(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let slot = Slot::from_key_ref(cmd.p1).filter(|s| s.usable_by_host()).ok_or(Sw::INCORRECT_P1_P2)?;
        // (F9 itself is not attested: it is the attesting key.)
        p1p2(cmd, cmd.p1, 0)?;
        no_data(cmd)?;
        let p = self.store.get();
        let key = p.slot_key(slot).ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if key.origin == KeyOrigin::Imported {
            return Err(Sw::INCORRECT_DATA);
        }
        let f9 = p.attestation.as_ref().ok_or(Sw::REFERENCE_NOT_FOUND)?;
        // The issuer's name and validity come from the F9 certificate.
        let f9_cert = p
            .objects
            .get(&piv::ObjectTag::ATTESTATION_CERT)
            .and_then(|o| messages::parse_cert_object(o).ok())
            .ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        crate::attestation::attest(f9, &f9_cert, slot, key, p.serial, &mut self.rng)
    }

    /// SET PIN RETRIES `00 FA <PIN tries> <PUK tries>`: needs 9B and the PIN.
    /// PIN and PUK go back to their factory values with the new counts, as
    /// on a YubiKey; the PIN must be verified again.
    pub(super) fn set_pin_retries(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let (pin_tries, puk_tries) = (cmd.p1, cmd.p2);
        if !(1..=MAX_TRIES).contains(&pin_tries) || !(1..=MAX_TRIES).contains(&puk_tries) {
            return Err(Sw::INCORRECT_P1_P2);
        }
        no_data(cmd)?;
        self.require_mgm()?;
        if !self.t.pin_verified {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        self.store.write(|p| {
            p.pin = Reference::new(piv::DEFAULT_PIN, true, pin_tries);
            p.puk = Reference::new(piv::DEFAULT_PUK, false, puk_tries);
            Ok::<_, Sw>(())
        })?;
        self.t.pin_verified = false;
        self.t.pin_always = false;
        Ok(Vec::new())
    }

    /// RESET `00 FB 00 00`: back to factory settings, like TERMINATE, but
    /// only once PIN and PUK are both blocked (else 6985).
    pub(super) fn reset(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        let p = self.store.get();
        if !(p.reference(RefKind::Pin).blocked() && p.reference(RefKind::Puk).blocked()) {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        self.back_to_factory()
    }

    /// IMPORT KEY `00 FE <alg> <slot> <key items>`: needs 9B; refused (6985)
    /// where the issuer forbade import. The key is recorded as imported,
    /// so ATTEST refuses it.
    pub(super) fn import_key(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let alg = KeyAlgorithm::from_id(cmd.p1).ok_or(Sw::INCORRECT_P1_P2)?;
        let slot = Slot::from_key_ref(cmd.p2).ok_or(Sw::INCORRECT_P1_P2)?;
        let request = messages::parse_import_key_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        let pin_policy = super::keys::requested_policy(slot, request.policies())?;
        self.require_mgm()?;
        if self.store.get().import_forbidden.contains(&slot) {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        if !self.platform.contains(alg) {
            return Err(Sw::INCORRECT_DATA);
        }
        let key = PrivateKey::import(alg, &request.key)?;
        self.store.write(|p| {
            p.set_slot_key(slot, SlotKey::new(slot, key, KeyOrigin::Imported).with_pin_policy(pin_policy));
            if matches!(slot, Slot::Retired(_)) {
                p.refresh_key_history();
            }
            p.changes = p.changes.wrapping_add(1);
            Ok::<_, Sw>(Vec::new())
        })
    }
}
