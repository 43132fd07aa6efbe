//! Asymmetric keys: GENERATE ASYMMETRIC KEY PAIR and the private-key operation
//! of GENERAL AUTHENTICATE, with its PIN and device-binding conditions.

use std::sync::Arc;

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth};
use applet_spec::piv::{Algorithm, PinPolicy, Slot};
use applet_spec::Sw;

use super::SubSim;
use crate::crypto;

impl SubSim {
    /// GENERATE ASYMMETRIC KEY PAIR: `00 47 00 <slot> AC{80 07}`. Needs 9B.
    /// The new key replaces the old one only after generation completed.
    pub(super) fn generate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let slot = match (cmd.p1, Slot::from_key_ref(cmd.p2)) {
            (0, Some(slot)) => slot,
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        let alg = messages::parse_generate_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        if alg != Algorithm::Rsa2048.id() {
            return Err(Sw::INCORRECT_DATA);
        }
        self.require_mgm()?;
        let key = crypto::generate_rsa2048(&mut self.rng)?;
        let (n, e) = crypto::public_parts(&key);
        self.store.write(|p| {
            p.keys.insert(slot, Arc::new(key));
            p.changes = p.changes.wrapping_add(1);
            Ok::<_, Sw>(())
        })?;
        Ok(messages::rsa_public_key(&n, &e))
    }

    /// Private keys may be used only on the bound device: while a binding is
    /// set, it must have been presented in this session.
    fn check_binding(&self) -> Result<(), Sw> {
        match self.store.get().binding {
            Some(_) if !self.t.binding_presented => Err(Sw::CONDITIONS_NOT_SATISFIED),
            _ => Ok(()),
        }
    }

    /// The slot's PIN condition. Every private-key operation that gets here
    /// uses up the fresh verification, whatever its slot: a login signature
    /// (9A) must not leave the PIN entry usable for a transaction (9C).
    /// Reads in between (OpenSC's GET DATA 7E, say) do not use it up.
    fn check_pin_for(&mut self, slot: Slot) -> Result<(), Sw> {
        let fresh = std::mem::take(&mut self.t.pin_always);
        let ok = match slot.pin_policy() {
            PinPolicy::Never => true,
            PinPolicy::Once => self.t.pin_verified,
            PinPolicy::Always => fresh,
        };
        if ok {
            Ok(())
        } else {
            Err(Sw::SECURITY_STATUS_NOT_SATISFIED)
        }
    }

    /// Raw RSA with the slot's key: `7C{82 00, 81 <block>}` -> `7C{82 <result>}`.
    pub(super) fn private_key_operation(&mut self, cmd: &Command, slot: Slot) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != Algorithm::Rsa2048.id() {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let ga = DynamicAuth::decode(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        let block = match (&ga.witness, &ga.challenge, &ga.response) {
            (None, Some(block), Some(r)) if r.is_empty() && !block.is_empty() => block,
            _ => return Err(Sw::INCORRECT_DATA),
        };
        let key = self.store.get().keys.get(&slot).cloned().ok_or(Sw::REFERENCE_NOT_FOUND)?;
        self.check_binding()?;
        self.check_pin_for(slot)?;
        let result = self.private_op.run(&key, &mut self.rng, block)?;
        Ok(DynamicAuth { response: Some(result), ..Default::default() }.encode())
    }
}
