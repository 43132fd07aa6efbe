//! The management key 9B: mutual and external authentication through GENERAL
//! AUTHENTICATE, and SET MANAGEMENT KEY.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth};
use applet_spec::mgm;
use applet_spec::piv::{Slot, KEY_REF_MANAGEMENT};
use applet_spec::Sw;
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SubSim;
use crate::state::{MgmKey, MgmPending};

fn nonempty(v: &Option<Vec<u8>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}
fn requested(v: &Option<Vec<u8>>) -> bool {
    v.as_ref().is_some_and(Vec::is_empty)
}

impl SubSim {
    /// GENERAL AUTHENTICATE: the management key (P2=9B) or a private-key
    /// operation (P2 = a key slot).
    pub(super) fn general_authenticate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p2 == KEY_REF_MANAGEMENT {
            return self.mgm_authenticate(cmd);
        }
        match Slot::from_key_ref(cmd.p2) {
            Some(slot) => self.private_key_operation(cmd, slot),
            None => Err(Sw::INCORRECT_P1_P2),
        }
    }

    fn random_block(&mut self, len: usize) -> Zeroizing<Vec<u8>> {
        let mut b = Zeroizing::new(vec![0u8; len]);
        self.rng.fill_bytes(&mut b);
        b
    }

    /// Mutual: `7C{80 00}` -> `7C{80 E(W)}`, then `7C{80 W, 81 C}` -> `7C{82 E(C)}`.
    /// External: `7C{81 00}` -> `7C{81 C}`, then `7C{82 E(C)}` -> 9000.
    /// P1 is the key's algorithm; a bare challenge request may also use P1=00
    /// (OpenSC's "get random").
    fn mgm_authenticate(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let pending = self.t.mgm_pending.take();
        let MgmKey { algorithm: alg, key } = self.store.get().mgm.clone();
        let ga = DynamicAuth::decode(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        let is_challenge_request = requested(&ga.challenge) && ga.witness.is_none() && ga.response.is_none();
        // P1 00 is 3-key 3DES too (SP 800-78-4 table 6-2), and a bare
        // challenge request may use it whatever the key (OpenSC's "get random").
        if !(alg.matches_p1(cmd.p1) || cmd.p1 == 0 && is_challenge_request) {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let encrypt = |block: &[u8]| mgm::encrypt_block(alg, &key, block).ok_or(Sw::INCORRECT_DATA);
        let block_len = alg.block_len();

        if is_challenge_request {
            let c = self.random_block(block_len);
            let reply = DynamicAuth { challenge: Some(c.to_vec()), ..Default::default() }.encode();
            self.t.mgm_pending = Some(MgmPending::Challenge(c));
            return Ok(reply);
        }
        match (&ga.witness, &ga.challenge, &ga.response) {
            (w, None, None) if requested(w) => {
                let witness = self.random_block(block_len);
                let reply = DynamicAuth { witness: Some(encrypt(&witness)?), ..Default::default() }.encode();
                self.t.mgm_pending = Some(MgmPending::Witness(witness));
                Ok(reply)
            }
            (Some(w), Some(c), None) if nonempty(&ga.witness) && nonempty(&ga.challenge) => {
                let Some(MgmPending::Witness(expected)) = pending else {
                    return Err(Sw::CONDITIONS_NOT_SATISFIED);
                };
                let ok = c.len() == block_len && bool::from(expected.ct_eq(w));
                self.t.mgm_authenticated = ok;
                if !ok {
                    return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
                }
                Ok(DynamicAuth { response: Some(encrypt(c)?), ..Default::default() }.encode())
            }
            (None, None, Some(r)) if nonempty(&ga.response) => {
                let Some(MgmPending::Challenge(challenge)) = pending else {
                    return Err(Sw::CONDITIONS_NOT_SATISFIED);
                };
                let ok = bool::from(encrypt(&challenge)?.ct_eq(r));
                self.t.mgm_authenticated = ok;
                if ok {
                    Ok(Vec::new())
                } else {
                    Err(Sw::SECURITY_STATUS_NOT_SATISFIED)
                }
            }
            _ => Err(Sw::INCORRECT_DATA),
        }
    }

    /// SET MANAGEMENT KEY (Yubico's `00 FF FF FF`; P2=FE, "touch", is accepted
    /// and means the same here): `<alg> 9B <len> <key>`. Needs 9B.
    pub(super) fn set_management_key(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0xFF || !(cmd.p2 == 0xFF || cmd.p2 == 0xFE) {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let (algorithm, key) = messages::parse_set_management_key_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        self.require_mgm()?;
        let key = Zeroizing::new(key.to_vec());
        self.store.write(|p| {
            p.mgm = MgmKey { algorithm, key };
            Ok(Vec::new())
        })
    }
}
