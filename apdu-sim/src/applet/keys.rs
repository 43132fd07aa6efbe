//! Asymmetric keys: GENERATE ASYMMETRIC KEY PAIR and the private-key
//! operations of GENERAL AUTHENTICATE (raw RSA, ECDSA, ECDH), with their PIN
//! and device-binding conditions.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth, KeyOrigin};
use applet_spec::piv::{KeyAlgorithm, PinPolicy, Slot};
use applet_spec::Sw;

use super::SubSim;
use crate::crypto::PrivateKey;
use crate::state::SlotKey;

/// The leftmost `len` bytes of a hash (FIPS 186-4 6.4: the leftmost bits of
/// a longer hash), left-padded with zeros when shorter (the same integer).
fn fit_hash(hash: &[u8], len: usize) -> Vec<u8> {
    let take = &hash[..hash.len().min(len)];
    let mut out = vec![0u8; len - take.len()];
    out.extend_from_slice(take);
    out
}

impl SubSim {
    /// GENERATE ASYMMETRIC KEY PAIR: `00 47 00 <slot> AC{80 <alg>}`. Needs 9B.
    /// The new key replaces the old one only after generation completed.
    pub(super) fn generate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let slot = match (cmd.p1, Slot::from_key_ref(cmd.p2)) {
            (0, Some(slot)) => slot,
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        let alg = messages::parse_generate_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?.algorithm;
        let alg = KeyAlgorithm::from_id(alg).ok_or(Sw::INCORRECT_DATA)?;
        self.require_mgm()?;
        let key = PrivateKey::generate(alg, &mut self.rng)?;
        let public = key.public();
        self.store.write(|p| {
            p.set_slot_key(slot, SlotKey::new(slot, key, KeyOrigin::Generated));
            if matches!(slot, Slot::Retired(_)) {
                p.refresh_key_history();
            }
            p.changes = p.changes.wrapping_add(1);
            Ok::<_, Sw>(())
        })?;
        Ok(public.encode())
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
    /// a hash (`7C{82 00, 81 <hash>}`), or ECDH (`7C{82 00, 85 <point>}`);
    /// the answer is `7C{82 <result>}`. P1 must be the key's algorithm.
    pub(super) fn private_key_operation(&mut self, cmd: &Command, slot: Slot) -> Result<Vec<u8>, Sw> {
        let alg = KeyAlgorithm::from_id(cmd.p1).ok_or(Sw::INCORRECT_P1_P2)?;
        if !slot.usable_by_host() {
            return Err(Sw::INCORRECT_P1_P2);
        }
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
            (PrivateKey::Rsa(_), Op::Sign(block)) if block.len() != len => return Err(Sw::INCORRECT_DATA),
            (PrivateKey::Rsa(_), Op::Agree(_)) => return Err(Sw::INCORRECT_DATA),
            (PrivateKey::P256(_) | PrivateKey::P384(_), Op::Sign(hash)) if hash.len() > 64 => {
                return Err(Sw::INCORRECT_DATA)
            }
            _ => {}
        }
        self.check_binding()?;
        self.check_pin_for(pin_policy)?;
        let result = match (&key, op) {
            (PrivateKey::Rsa(k), Op::Sign(block)) => self.private_op.run(k, &mut self.rng, &block)?,
            (PrivateKey::P256(k), Op::Sign(hash)) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner;
                let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(&**k)
                    .sign_prehash(&fit_hash(&hash, len))
                    .map_err(|_| Sw::UNKNOWN_ERROR)?;
                s.to_der().as_bytes().to_vec()
            }
            (PrivateKey::P384(k), Op::Sign(hash)) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let s: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(&**k)
                    .sign_prehash(&fit_hash(&hash, len))
                    .map_err(|_| Sw::UNKNOWN_ERROR)?;
                s.to_der().as_bytes().to_vec()
            }
            (PrivateKey::P256(k), Op::Agree(point)) => {
                // from_sec1_bytes refuses points not on the curve and the identity.
                let peer = p256::PublicKey::from_sec1_bytes(&point).map_err(|_| Sw::INCORRECT_DATA)?;
                let shared = p256::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().to_vec()
            }
            (PrivateKey::P384(k), Op::Agree(point)) => {
                let peer = p384::PublicKey::from_sec1_bytes(&point).map_err(|_| Sw::INCORRECT_DATA)?;
                let shared = p384::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine());
                shared.raw_secret_bytes().to_vec()
            }
            (PrivateKey::Rsa(_), Op::Agree(_)) => unreachable!("refused above"),
        };
        Ok(DynamicAuth { response: Some(result), ..Default::default() }.encode())
    }
}
