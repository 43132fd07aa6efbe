//! SELECT, data objects (GET DATA, PUT DATA), and the card's identity
//! (GET SERIAL, GET VERSION).

use std::sync::Arc;

use applet_spec::apdu::Command;
use applet_spec::messages;
use applet_spec::piv::{self, ObjectTag, Retired, Slot, MAX_OBJECT_LEN};
use applet_spec::Sw;

use super::{no_data, p1p2, SubSim};

impl SubSim {
    /// SELECT by AID prefix; P2=00 answers the property template, P2=0C
    /// nothing. A foreign AID gets 6A82 whatever P2 says, and changes nothing.
    pub(super) fn select(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p1 != 0x04 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        if !piv::aid_matches(&cmd.data) {
            return Err(Sw::FILE_NOT_FOUND);
        }
        let answer = match cmd.p2 {
            0x00 => messages::select_response_of(self.platform),
            0x0C => Vec::new(),
            _ => return Err(Sw::INCORRECT_P1_P2),
        };
        // Re-selecting is deselect + select: the keypad layout and a half-done
        // management key authentication go; PIN and keys' security state stay.
        self.t.selected = true;
        if self.drop_pin_on_reselect {
            self.t.keys_pin_dropped = true;
            self.t.pin_always = false;
        }
        self.t.keypad = None;
        self.t.mgm_pending = None;
        Ok(answer)
    }

    pub(super) fn get_data(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0x3F, 0xFF)?;
        let tag = messages::parse_get_data_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        if tag == ObjectTag::DISCOVERY {
            return Ok(messages::discovery_object());
        }
        if tag == ObjectTag::CARD_STATE {
            let p = self.store.get();
            return Ok(messages::data_object(
                &messages::SelectedCard { serial: p.serial, changes: p.changes }.encode(),
            ));
        }
        // SP 800-73-4 part 1, table 3: these need the PIN (or OCC) to be
        // read. Checked before existence, so a refusal tells nothing.
        if tag.needs_pin() && !self.t.pin_verified {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        match self.store.get().objects.get(&tag) {
            Some(value) => Ok(messages::data_object(value)),
            None => Err(Sw::FILE_NOT_FOUND),
        }
    }

    /// PUT DATA: writes (or, with an empty value, deletes) a data object.
    pub(super) fn put_data(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0x3F, 0xFF)?;
        let (tag, value) = messages::parse_put_data_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        if !tag.is_writable() {
            return Err(Sw::INCORRECT_DATA);
        }
        if value.len() > MAX_OBJECT_LEN {
            return Err(Sw::NOT_ENOUGH_MEMORY);
        }
        self.require_mgm()?;
        self.store.write(|p| {
            if value.is_empty() {
                p.objects.remove(&tag);
            } else {
                p.objects.insert(tag, Arc::new(value));
            }
            // A retired slot's certificate moves between the history's counts.
            if Retired::all().any(|r| Slot::Retired(r).cert_object() == tag) {
                p.refresh_key_history();
            }
            p.changes = p.changes.wrapping_add(1);
            Ok(Vec::new())
        })
    }

    /// GET SERIAL (Yubico's F8): the serial as 4 bytes, big-endian.
    pub(super) fn get_serial(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        Ok(self.store.get().serial.to_be_bytes().to_vec())
    }

    /// GET VERSION (Yubico's FD): major, minor, patch.
    pub(super) fn get_version(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        p1p2(cmd, 0, 0)?;
        no_data(cmd)?;
        Ok(piv::VERSION.to_vec())
    }
}
