//! Asymmetric keys: GENERATE ASYMMETRIC KEY PAIR, MOVE KEY (and delete),
//! and the private-key operations of GENERAL AUTHENTICATE (raw RSA, ECDSA,
//! ECDH, Ed25519, X25519), with their PIN policy and device-binding
//! conditions.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth, KeyOrigin, Policies};
use applet_spec::piv::{KeyAlgorithm, PinPolicy, Slot, TouchPolicy, MOVE_KEY_DELETE};
use applet_spec::Sw;

use super::{no_data, SubSim};
use crate::crypto::PrivateKey;
use crate::state::SlotKey;

/// The PIN policy a new key in `slot` gets for the policies asked for:
/// each one the card enforces, or `6A80` (never accepted and dropped).
pub(super) fn requested_policy(slot: Slot, policies: Policies) -> Result<PinPolicy, Sw> {
    TouchPolicy::requested(policies.touch).map_err(|_| Sw::INCORRECT_DATA)?;
    PinPolicy::requested(slot, policies.pin).map_err(|_| Sw::INCORRECT_DATA)
}

/// Longest message an Ed25519 signature takes: the card's command data limit.
const ED25519_MAX_MESSAGE: usize = 4096;

impl SubSim {
    /// GENERATE ASYMMETRIC KEY PAIR: `00 47 00 <slot> AC{80 <alg> [AA] [AB]}`.
    /// Needs 9B. The new key replaces the old one only after generation
    /// completed, with the PIN policy asked for (or the slot's).
    pub(super) fn generate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let slot = match (cmd.p1, Slot::from_key_ref(cmd.p2)) {
            (0, Some(slot)) => slot,
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        let request = messages::parse_generate_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        let alg = KeyAlgorithm::from_id(request.algorithm).ok_or(Sw::INCORRECT_DATA)?;
        let pin_policy = requested_policy(slot, request.policies)?;
        self.require_mgm()?;
        if !self.platform.contains(alg) {
            return Err(Sw::INCORRECT_DATA);
        }
        let key = PrivateKey::generate(alg, &mut self.rng)?;
        let public = key.public();
        self.store.write(|p| {
            p.set_slot_key(slot, SlotKey::new(slot, key, KeyOrigin::Generated).with_pin_policy(pin_policy));
            if matches!(slot, Slot::Retired(_)) {
                p.refresh_key_history();
            }
            p.changes = p.changes.wrapping_add(1);
            Ok::<_, Sw>(())
        })?;
        Ok(public.encode())
    }

    /// MOVE KEY `00 F6 <to> <from>`: the key (with its policy and origin)
    /// goes to the empty slot `to`; `00 F6 FF <slot>` deletes it. Needs 9B.
    /// Certificate objects stay; the key history follows. One atomic write.
    pub(super) fn move_key(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let from = Slot::from_key_ref(cmd.p2).ok_or(Sw::INCORRECT_P1_P2)?;
        let to = match cmd.p1 {
            MOVE_KEY_DELETE => None,
            r => match Slot::from_key_ref(r) {
                Some(to) if to != from && to.movable() && from.movable() => Some(to),
                _ => return Err(Sw::INCORRECT_P1_P2),
            },
        };
        no_data(cmd)?;
        self.require_mgm()?;
        let p = self.store.get();
        let key = p.slot_key(from).ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if let Some(to) = to {
            if p.slot_key(to).is_some() || !to.allows_pin_policy(key.pin_policy) {
                return Err(Sw::CONDITIONS_NOT_SATISFIED);
            }
        }
        self.store.write(|p| {
            let key = p.take_slot_key(from).expect("checked above");
            if let Some(to) = to {
                p.set_slot_key(to, key);
            }
            p.refresh_key_history();
            p.changes = p.changes.wrapping_add(1);
            Ok::<_, Sw>(Vec::new())
        })
    }

    /// Private keys may be used only on the bound device: while a binding is
    /// set, it must have been presented in this session.
    fn check_binding(&self) -> Result<(), Sw> {
        match self.store.get().binding {
            Some(_) if !self.t.binding_presented => Err(Sw::CONDITIONS_NOT_SATISFIED),
            _ => Ok(()),
        }
    }

    /// The key's PIN condition. Every private-key operation that gets here
    /// uses up the fresh verification, whatever its slot: a login signature
    /// (9A) must not leave the PIN entry usable for a transaction (9C).
    /// Reads in between (OpenSC's GET DATA 7E, say) do not use it up.
    fn check_pin_for(&mut self, policy: PinPolicy) -> Result<(), Sw> {
        let fresh = std::mem::take(&mut self.t.pin_always);
        let ok = match policy {
            PinPolicy::Never => true,
            PinPolicy::Once => self.t.pin_verified && !self.t.keys_pin_dropped,
            PinPolicy::Always => fresh,
        };
        if ok {
            Ok(())
        } else {
            Err(Sw::SECURITY_STATUS_NOT_SATISFIED)
        }
    }

    /// The slot's private key: raw RSA (`7C{82 00, 81 <block>}`), ECDSA over
    /// a hash (`7C{82 00, 81 <hash>}`), Ed25519 over the message, ECDH or
    /// X25519 (`7C{82 00, 85 <point>}`); the answer is `7C{82 <result>}`.
    /// P1 must be the key's algorithm. F9 signs too (as on a YubiKey, for
    /// yubico-piv-tool's self-signed F9 certificate), with 9B only.
    pub(super) fn private_key_operation(&mut self, cmd: &Command, slot: Slot) -> Result<Vec<u8>, Sw> {
        let alg = KeyAlgorithm::from_id(cmd.p1).ok_or(Sw::INCORRECT_P1_P2)?;
        enum Op {
            Sign(Vec<u8>),
            Agree(Vec<u8>),
        }
        let op = match DynamicAuth::decode(&cmd.data) {
            Ok(DynamicAuth { witness: None, challenge: Some(block), response: Some(r) })
                if r.is_empty() && !block.is_empty() =>
            {
                Op::Sign(block)
            }
            Ok(_) => return Err(Sw::INCORRECT_DATA),
            Err(_) => Op::Agree(messages::parse_ecdh_request(&cmd.data).ok_or(Sw::INCORRECT_DATA)?),
        };
        let SlotKey { key, pin_policy, .. } =
            self.store.get().slot_key(slot).cloned().ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if key.algorithm() != alg {
            return Err(Sw::INCORRECT_P1_P2);
        }
        // The input's shape before any PIN is used up.
        let len = key.size();
        match (&key, &op) {
            (_, Op::Sign(_)) if !alg.signs() => return Err(Sw::INCORRECT_DATA),
            (_, Op::Agree(_)) if !alg.agrees() => return Err(Sw::INCORRECT_DATA),
            (PrivateKey::Rsa(_), Op::Sign(block)) if block.len() != len => return Err(Sw::INCORRECT_DATA),
            (PrivateKey::P256(_) | PrivateKey::P384(_), Op::Sign(hash)) if hash.len() > 64 => {
                return Err(Sw::INCORRECT_DATA)
            }
            (PrivateKey::Ed25519(_), Op::Sign(m)) if m.len() > ED25519_MAX_MESSAGE => return Err(Sw::INCORRECT_DATA),
            (PrivateKey::X25519(_), Op::Agree(peer)) if peer.len() != 32 => return Err(Sw::INCORRECT_DATA),
            _ => {}
        }
        if slot == Slot::Attestation {
            self.require_mgm()?;
        }
        self.check_binding()?;
        self.check_pin_for(pin_policy)?;
        let result = match (&key, op) {
            (PrivateKey::Rsa(k), Op::Sign(block)) => self.private_op.run(k, &mut self.rng, &block)?,
            (PrivateKey::P256(_) | PrivateKey::P384(_), Op::Sign(hash)) => self.private_op.ecdsa(&key, &hash)?,
            (PrivateKey::P256(_) | PrivateKey::P384(_), Op::Agree(point)) => self.private_op.ecdh(&key, &point)?,
            (PrivateKey::Ed25519(k), Op::Sign(message)) => crate::crypto::ed25519_sign(k, &message)?,
            (PrivateKey::X25519(k), Op::Agree(peer)) => crate::crypto::x25519_agree(k, &peer)?,
            (PrivateKey::Rsa(_) | PrivateKey::Ed25519(_), Op::Agree(_)) | (PrivateKey::X25519(_), Op::Sign(_)) => {
                unreachable!("refused above")
            }
        };
        Ok(DynamicAuth { response: Some(result), ..Default::default() }.encode())
    }
}
