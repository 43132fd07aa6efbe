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
/// reference and the new value, and says whether the new value is well formed.
fn split_old_new(data: &[u8], new_digits_only: bool) -> Result<(Block, Block, bool), Sw> {
    if data.len() != 2 * PIN_BLOCK_LEN {
        return Err(Sw::INCORRECT_DATA);
    }
    let (old, new) = data.split_at(PIN_BLOCK_LEN);
    let block = |b: &[u8]| Zeroizing::new(<[u8; PIN_BLOCK_LEN]>::try_from(b).expect("split at block length"));
    Ok((block(old), block(new), piv::is_valid_pin_block(new, new_digits_only)))
}

/// The same, refusing a malformed new value before anything is counted.
fn old_and_new(data: &[u8], new_digits_only: bool) -> Result<(Block, Block), Sw> {
    match split_old_new(data, new_digits_only)? {
        (old, new, true) => Ok((old, new)),
        _ => Err(Sw::INCORRECT_DATA),
    }
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
        self.check_reference_then(kind, candidate, true, on_success)
    }

    /// [`Self::check_reference`], where a match may still be refused
    /// (`accept` false: RESET RETRY COUNTER with a right PUK and a malformed
    /// new PIN). Then the counter is written back as it was before the
    /// command and the answer is 6A80, nothing else changed; the writes are
    /// still the same two.
    fn check_reference_then(
        &mut self,
        kind: RefKind,
        candidate: &[u8; PIN_BLOCK_LEN],
        accept: bool,
        on_success: impl FnOnce(&mut Persistent),
    ) -> Result<(), Sw> {
        if self.store.get().reference(kind).blocked() {
            return Err(Sw::AUTH_METHOD_BLOCKED);
        }
        let before = self.store.get().reference(kind).tries_left;
        let left = self.store.write(|p| {
            let r = p.reference_mut(kind);
            r.tries_left -= 1;
            Ok::<_, Sw>(r.tries_left)
        })?;
        let matches: bool = self.store.get().reference(kind).block.ct_eq(candidate).into();
        self.store.write(|p| {
            let r = p.reference_mut(kind);
            match (matches, accept) {
                (true, true) => {
                    r.tries_left = r.max_tries;
                    on_success(p);
                }
                (true, false) => r.tries_left = before,
                (false, _) => {}
            }
            Ok::<_, Sw>(())
        })?;
        match (matches, accept) {
            (true, true) => Ok(()),
            (true, false) => Err(Sw::INCORRECT_DATA),
            (false, _) => Err(Sw::tries_left(left)),
        }
    }

    /// The PIN check shared by VERIFY and VERIFY KEYPAD.
    fn verify_pin_block(&mut self, block: &[u8; PIN_BLOCK_LEN]) -> Result<Vec<u8>, Sw> {
        let result = self.check_reference(RefKind::Pin, block, |_| {});
        self.t.pin_verified = result.is_ok();
        self.t.pin_always = result.is_ok();
        self.t.keys_pin_dropped = false;
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

    /// CHANGE REFERENCE DATA for the PIN (80) or PUK (81): old then new, 8
    /// bytes each. SP 800-73-4 part 2, 3.2.2: a malformed new value is 6A80
    /// with nothing counted and the security status unchanged; a wrong
    /// current value is 63Cx and sets the security status FALSE; success
    /// sets it TRUE (the PIN counts as verified afterwards, though not as a
    /// fresh entry for a PIN-always key).
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
    /// The PUK is checked (and counted) before the new PIN is looked at, as
    /// on a YubiKey (SP 800-73-4 part 2, 3.2.3 allows 63Cx or 6A80 when both
    /// are wrong): a wrong PUK is 63Cx whatever the new PIN, which is how
    /// `ykman piv reset` blocks the PUK. A right PUK with a malformed new PIN
    /// is 6A80, the PUK's counter as it was. 63Cx also clears the PIN's
    /// verified state (3.2.3).
    pub(super) fn reset_retry_counter(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        if cmd.p2 != KEY_REF_PIN {
            return Err(Sw::REFERENCE_NOT_FOUND);
        }
        let (puk, new_pin, well_formed) = split_old_new(&cmd.data, true)?;
        let result = self.check_reference_then(RefKind::Puk, &puk, well_formed, |p| {
            p.pin.block = new_pin;
            p.pin.tries_left = p.pin.max_tries;
        });
        if matches!(result, Err(sw) if sw.retries().is_some()) {
            self.t.pin_verified = false;
            self.t.pin_always = false;
        }
        result.map(|()| Vec::new())
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
