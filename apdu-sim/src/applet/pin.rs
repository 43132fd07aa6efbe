//! PIN and PUK: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, the random
//! keypad (GET KEYPAD, VERIFY KEYPAD) and the PIN entry policy.

use applet_spec::apdu::Command;
use applet_spec::messages::{KeypadLayout, PinEntry, KEYPAD_KEYS};
use applet_spec::piv::{self, KEY_REF_PIN, KEY_REF_PUK, PIN_BLOCK_LEN, PIN_MIN_LEN};
use applet_spec::Sw;
use rand::seq::SliceRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{no_data, p1p2, SubSim};
use crate::state::{Persistent, RefKind};

type Block = Zeroizing<[u8; PIN_BLOCK_LEN]>;

/// Splits CHANGE REFERENCE DATA / RESET RETRY COUNTER data into the current
/// reference and a well-formed new value.
fn old_and_new(data: &[u8], new_digits_only: bool) -> Result<(Block, Block), Sw> {
    if data.len() != 2 * PIN_BLOCK_LEN {
        return Err(Sw::INCORRECT_DATA);
    }
    let (old, new) = data.split_at(PIN_BLOCK_LEN);
    if !piv::is_valid_pin_block(new, new_digits_only) {
        return Err(Sw::INCORRECT_DATA);
    }
    let block = |b: &[u8]| Zeroizing::new(<[u8; PIN_BLOCK_LEN]>::try_from(b).expect("split at block length"));
    Ok((block(old), block(new)))
}

impl SubSim {
    /// Checks `candidate` against the PIN or PUK. The try counter is
    /// decremented and persisted before the comparison, so cutting power
    /// during the check never gives a free try; the comparison takes the same
    /// time for every candidate. A second atomic write follows either way: on
    /// a match it restores the counter and applies `on_success` (a new PIN,
    /// say); on a mismatch it writes the counter unchanged. Right and wrong
    /// values thus make the same writes: neither a power trace nor a cut at
    /// the second write tells them apart.
    fn check_reference(
        &mut self,
        kind: RefKind,
        candidate: &[u8; PIN_BLOCK_LEN],
        on_success: impl FnOnce(&mut Persistent),
    ) -> Result<(), Sw> {
        if self.store.get().reference(kind).blocked() {
            return Err(Sw::AUTH_METHOD_BLOCKED);
        }
        let left = self.store.write(|p| {
            let r = p.reference_mut(kind);
            r.tries_left -= 1;
            Ok::<_, Sw>(r.tries_left)
        })?;
        let matches: bool = self.store.get().reference(kind).block.ct_eq(candidate).into();
        self.store.write(|p| {
            let r = p.reference_mut(kind);
            if matches {
                r.tries_left = r.max_tries;
                on_success(p);
            }
            Ok::<_, Sw>(())
        })?;
        if matches {
            Ok(())
        } else {
            Err(Sw::tries_left(left))
        }
    }

    /// The PIN check shared by VERIFY and VERIFY KEYPAD.
    fn verify_pin_block(&mut self, block: &[u8; PIN_BLOCK_LEN]) -> Result<Vec<u8>, Sw> {
        let result = self.check_reference(RefKind::Pin, block, |_| {});
        self.t.pin_verified = result.is_ok();
        self.t.pin_always = result.is_ok();
        result.map(|()| Vec::new())
    }

    /// VERIFY: P1=00 with the PIN block checks it, without data asks the
    /// status; P1=FF logs out.
    pub(super) fn verify(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0x00 && cmd.p1 != 0xFF {
            return Err(Sw::INCORRECT_P1_P2);
        }
        if cmd.p2 != KEY_REF_PIN {
            return Err(Sw::REFERENCE_NOT_FOUND);
        }
        if cmd.p1 == 0xFF {
            no_data(cmd)?;
            self.t.pin_verified = false;
            self.t.pin_always = false;
            return Ok(Vec::new());
        }
        let pin = &self.store.get().pin;
        if cmd.data.is_empty() {
            return match (pin.blocked(), self.t.pin_verified) {
                (true, _) => Err(Sw::AUTH_METHOD_BLOCKED),
                (false, true) => Ok(Vec::new()),
                (false, false) => Err(Sw::tries_left(pin.tries_left)),
            };
        }
        let block: [u8; PIN_BLOCK_LEN] = cmd.data.as_slice().try_into().map_err(|_| Sw::INCORRECT_DATA)?;
        let block = Zeroizing::new(block);
        if self.store.get().pin_entry == PinEntry::KeypadOnly {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        self.verify_pin_block(&block)
    }

    /// CHANGE REFERENCE DATA for the PIN (80) or PUK (81): old then new, 8 bytes each.
    pub(super) fn change_reference_data(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let kind = match cmd.p2 {
            KEY_REF_PIN => RefKind::Pin,
            KEY_REF_PUK => RefKind::Puk,
            _ => return Err(Sw::REFERENCE_NOT_FOUND),
        };
        let (old, new) = old_and_new(&cmd.data, kind == RefKind::Pin)?;
        let result = self.check_reference(kind, &old, |p| p.reference_mut(kind).block = new);
        if kind == RefKind::Pin {
            self.t.pin_verified = result.is_ok();
            self.t.pin_always = false;
        }
        result.map(|()| Vec::new())
    }

    /// RESET RETRY COUNTER: the PUK unblocks the PIN and sets a new one.
    pub(super) fn reset_retry_counter(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        if cmd.p2 != KEY_REF_PIN {
            return Err(Sw::REFERENCE_NOT_FOUND);
        }
        let (puk, new_pin) = old_and_new(&cmd.data, true)?;
        self.check_reference(RefKind::Puk, &puk, |p| {
            p.pin.block = new_pin;
            p.pin.tries_left = p.pin.max_tries;
        })?;
        Ok(Vec::new())
    }

    /// GET KEYPAD: a fresh random layout of the ten digits, kept for one
    /// VERIFY KEYPAD. `shuffle` is Fisher-Yates drawing each index with
    /// rejection sampling, so every layout is equally likely.
    pub(super) fn get_keypad(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        let mut digit_at: [u8; KEYPAD_KEYS] = std::array::from_fn(|i| i as u8);
        digit_at.shuffle(&mut self.rng);
        let layout = KeypadLayout { digit_at };
        let out = layout.encode();
        self.t.keypad = Some(layout);
        Ok(out)
    }

    /// VERIFY KEYPAD: the positions tapped, mapped through the current layout,
    /// verified exactly like VERIFY. The layout is used up by this command,
    /// whatever its outcome.
    pub(super) fn verify_keypad(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let layout = self.t.keypad.take();
        p1p2(cmd, 0x00, KEY_REF_PIN)?;
        let layout = layout.ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        if !(PIN_MIN_LEN..=PIN_BLOCK_LEN).contains(&cmd.data.len()) {
            return Err(Sw::INCORRECT_DATA);
        }
        let digits = Zeroizing::new(layout.digits_for(&cmd.data).ok_or(Sw::INCORRECT_DATA)?);
        let block = Zeroizing::new(piv::pin_block(&digits, true).ok_or(Sw::INCORRECT_DATA)?);
        self.verify_pin_block(&block)
    }

    /// SET PIN POLICY: P1=00 any entry, P1=01 keypad only. Needs 9B.
    pub(super) fn set_pin_policy(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        let policy = PinEntry::from_p1(cmd.p1).ok_or(Sw::INCORRECT_P1_P2)?;
        p1p2(cmd, cmd.p1, 0)?;
        no_data(cmd)?;
        self.require_mgm()?;
        self.store.write(|p| {
            p.pin_entry = policy;
            Ok(Vec::new())
        })
    }
}
