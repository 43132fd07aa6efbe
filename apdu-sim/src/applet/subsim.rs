//! Sub-SIM extensions beyond PIV: device binding, GET STATUS, TERMINATE.

use applet_spec::apdu::Command;
use applet_spec::messages::{
    BindingState, CardStatus, BINDING_MAX_LEN, BINDING_MIN_LEN, BINDING_P1_CLEAR, BINDING_P1_SET, BINDING_TRIES,
    IMPORT_P1_ALLOW, IMPORT_P1_FORBID,
};
use applet_spec::piv::Slot;
use applet_spec::Sw;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{no_data, p1p2, SubSim};
use crate::state::{Binding, Transient};

impl SubSim {
    /// SET BINDING: P1=00 stores (or replaces) the binding value, P1=01 clears
    /// it. Needs 9B. Either way the value must be presented again.
    pub(super) fn set_binding(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p2 != 0 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let binding = match cmd.p1 {
            BINDING_P1_SET if (BINDING_MIN_LEN..=BINDING_MAX_LEN).contains(&cmd.data.len()) => {
                Some(Binding { value: Zeroizing::new(cmd.data.clone()), tries_left: BINDING_TRIES })
            }
            BINDING_P1_SET => return Err(Sw::INCORRECT_DATA),
            BINDING_P1_CLEAR => {
                no_data(cmd)?;
                None
            }
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        self.require_mgm()?;
        self.store.write(|p| {
            p.binding = binding;
            Ok::<_, Sw>(())
        })?;
        self.t.binding_presented = false;
        Ok(Vec::new())
    }

    /// PRESENT BINDING: the host shows the binding value for this session.
    /// Counted like a PIN: decremented before comparing, the same writes for a
    /// match and a mismatch, 63Cx, then 6983.
    pub(super) fn present_binding(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        let binding = self.store.get().binding.as_ref().ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if binding.tries_left == 0 {
            return Err(Sw::AUTH_METHOD_BLOCKED);
        }
        self.t.binding_presented = false;
        let left = self.store.write(|p| {
            let b = p.binding.as_mut().expect("checked above");
            b.tries_left -= 1;
            Ok::<_, Sw>(b.tries_left)
        })?;
        let binding = self.store.get().binding.as_ref().expect("checked above");
        // ct_eq on slices of different lengths is false without looking at the bytes.
        let matches = bool::from(binding.value.as_slice().ct_eq(&cmd.data));
        // The same second write either way, as for the PIN.
        self.store.write(|p| {
            if matches {
                p.binding.as_mut().expect("checked above").tries_left = BINDING_TRIES;
            }
            Ok::<_, Sw>(())
        })?;
        if !matches {
            return Err(Sw::tries_left(left));
        }
        self.t.binding_presented = true;
        Ok(Vec::new())
    }

    /// GET STATUS: tries left, policy, binding, slots, change counter.
    pub(super) fn get_status(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        let p = self.store.get();
        let binding = match &p.binding {
            None => BindingState::None,
            Some(b) if b.tries_left == 0 => BindingState::Blocked,
            Some(_) if self.t.binding_presented => BindingState::Presented,
            Some(_) => BindingState::Required,
        };
        let bits = |has: &dyn Fn(applet_spec::piv::Slot) -> bool| {
            applet_spec::piv::Slot::ALL.into_iter().filter(|&s| has(s)).fold(0, |acc, s| acc | s.bit())
        };
        Ok(CardStatus {
            pin_tries: p.pin.tries_left,
            puk_tries: p.puk.tries_left,
            pin_entry: p.pin_entry,
            binding,
            binding_tries: p.binding.as_ref().map_or(0, |b| b.tries_left),
            keys: bits(&|s| p.keys.contains_key(&s)),
            certs: bits(&|s| p.objects.contains_key(&s.cert_object())),
            changes: p.changes,
            mgm_algorithm: p.mgm.algorithm,
            pin_verified: self.t.pin_verified,
            import_forbidden: bits(&|s| p.import_forbidden.contains(&s)),
        }
        .encode())
    }

    /// TERMINATE: with 9B, or by anyone once PIN and PUK are both blocked.
    /// Wipes keys, objects and binding; restores factory PIN, PUK, management
    /// key and policy; keeps serial and GUID. One atomic write.
    pub(super) fn terminate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        let p = self.store.get();
        if !(self.t.mgm_authenticated || (p.pin.blocked() && p.puk.blocked())) {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        self.back_to_factory()
    }

    /// TERMINATE and RESET: one atomic write back to factory settings
    /// (serial, GUID and the attestation key stay); transient state cleared,
    /// the applet still selected.
    pub(super) fn back_to_factory(&mut self) -> Result<Vec<u8>, Sw> {
        self.store.write(|p| {
            p.wipe();
            Ok::<_, Sw>(())
        })?;
        self.t = Transient { selected: true, ..Transient::default() };
        Ok(Vec::new())
    }

    /// SET IMPORT POLICY: P1=01 forbids importing a key into the slot in
    /// P2 (its key must then be generated on the card), P1=00 allows it
    /// again. Needs 9B. Reported by GET METADATA (C1) and GET STATUS (8B).
    pub(super) fn set_import_policy(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let forbid = match cmd.p1 {
            IMPORT_P1_FORBID => true,
            IMPORT_P1_ALLOW => false,
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        let slot = Slot::from_key_ref(cmd.p2).ok_or(Sw::INCORRECT_P1_P2)?;
        no_data(cmd)?;
        self.require_mgm()?;
        self.store.write(|p| {
            if forbid {
                p.import_forbidden.insert(slot);
            } else {
                p.import_forbidden.remove(&slot);
            }
            Ok::<_, Sw>(Vec::new())
        })
    }
}
