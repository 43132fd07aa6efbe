//! Classes and instructions: the table of every command the applet knows.
//! The reference document (`docs/applet-spec.md`) is checked against it.

/// Interindustry class (PIV commands). Bit 0x10 marks command chaining.
pub const CLA_ISO: u8 = 0x00;
/// Proprietary class of the sub-SIM extensions.
pub const CLA_PROPRIETARY: u8 = 0x80;
/// The chaining bit of CLA: "more command data follows".
pub const CLA_CHAIN: u8 = 0x10;

// PIV (NIST SP 800-73-4 part 2) and ISO 7816-4.
/// SELECT (ISO 7816-4 11.2.2; SP 800-73-4 part 2, 3.1.1).
pub const SELECT: u8 = 0xA4;
/// GET DATA, odd INS form (SP 800-73-4 part 2, 3.1.2).
pub const GET_DATA: u8 = 0xCB;
/// PUT DATA, odd INS form (SP 800-73-4 part 2, 3.3.1).
pub const PUT_DATA: u8 = 0xDB;
/// VERIFY: PIN check or, with empty data, a tries-left query (SP 800-73-4 part 2, 3.2.1).
pub const VERIFY: u8 = 0x20;
/// CHANGE REFERENCE DATA: change PIN or PUK (SP 800-73-4 part 2, 3.2.2).
pub const CHANGE_REFERENCE_DATA: u8 = 0x24;
/// RESET RETRY COUNTER: unblock the PIN with the PUK (SP 800-73-4 part 2, 3.2.3).
pub const RESET_RETRY_COUNTER: u8 = 0x2C;
/// GENERAL AUTHENTICATE: sign, decrypt, ECDH, management-key challenge (SP 800-73-4 part 2, 3.2.4).
pub const GENERAL_AUTHENTICATE: u8 = 0x87;
/// GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 part 2, 3.3.2).
pub const GENERATE_ASYMMETRIC_KEY_PAIR: u8 = 0x47;
/// GET RESPONSE: fetch the rest of a `61xx` answer (ISO 7816-4 11.7.1).
pub const GET_RESPONSE: u8 = 0xC0;
/// MANAGE CHANNEL: open or close a logical channel (ISO 7816-4 (2013) 11.1.2);
/// the card's runtime answers it, never an application
/// ([`crate::apdu::ManageChannel`]).
pub const MANAGE_CHANNEL: u8 = 0x70;
// Yubico's PIV extensions (class 00), in the shape yubico-piv-tool and ykman send.
/// SET MANAGEMENT KEY (Yubico): replace the 9B key and its algorithm.
pub const SET_MANAGEMENT_KEY: u8 = 0xFF;
/// GET SERIAL (Yubico): the 4-byte card serial.
pub const GET_SERIAL: u8 = 0xF8;
/// GET VERSION (Yubico): the 3-byte firmware version ([`crate::piv::VERSION`]).
pub const GET_VERSION: u8 = 0xFD;
/// GET METADATA (Yubico, firmware 5.3+).
pub const GET_METADATA: u8 = 0xF7;
/// ATTEST (Yubico): an X.509 certificate for a slot's key, signed by the F9 key.
pub const ATTEST: u8 = 0xF9;
/// SET PIN RETRIES (Yubico): PIN and PUK try limits in P1, P2; both go back to factory values.
pub const SET_PIN_RETRIES: u8 = 0xFA;
/// RESET (Yubico): back to factory settings, allowed only once PIN and PUK are both blocked.
pub const RESET: u8 = 0xFB;
/// IMPORT KEY (Yubico): load a private key into a slot.
pub const IMPORT_KEY: u8 = 0xFE;
/// MOVE KEY (Yubico, firmware 5.7+): `00 F6 <to> <from>` moves a key between
/// slots; `00 F6 FF <slot>` deletes it ([`crate::piv::MOVE_KEY_DELETE`]).
pub const MOVE_KEY: u8 = 0xF6;
// Sub-SIM extensions (class 80): even INS values used by neither ISO 7816-4,
// PIV, GlobalPlatform nor Yubico, and outside F6-FF.
/// GET KEYPAD (sub-SIM): a fresh random keypad layout for VERIFY KEYPAD.
pub const GET_KEYPAD: u8 = 0x30;
/// VERIFY KEYPAD (sub-SIM): the PIN as positions tapped on the last layout.
pub const VERIFY_KEYPAD: u8 = 0x32;
/// SET PIN POLICY (sub-SIM): whether plain VERIFY is allowed ([`crate::messages::PinEntry`]).
pub const SET_PIN_POLICY: u8 = 0x34;
/// SET BINDING (sub-SIM): set or clear the device binding value.
pub const SET_BINDING: u8 = 0x36;
/// PRESENT BINDING (sub-SIM): unlock private-key operations for this session.
pub const PRESENT_BINDING: u8 = 0x38;
/// GET STATUS (sub-SIM): tries, policies, slots and change counter in one answer.
pub const GET_STATUS: u8 = 0x3A;
/// TERMINATE (sub-SIM): back to factory settings (keys, objects, binding wiped; serial kept); needs 9B or PIN and PUK blocked.
pub const TERMINATE: u8 = 0x3C;
/// SET IMPORT POLICY (sub-SIM): forbid or allow IMPORT KEY into a slot.
pub const SET_IMPORT_POLICY: u8 = 0x3E;

/// One command of the applet's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDef {
    /// Command name as the spec documents and traces print it (e.g. `"GET DATA"`).
    pub name: &'static str,
    /// Class without the chaining bit.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
}

/// Every command the applet answers, in the order of the reference document.
pub const COMMANDS: &[CommandDef] = &[
    CommandDef { name: "SELECT", cla: CLA_ISO, ins: SELECT },
    CommandDef { name: "GET RESPONSE", cla: CLA_ISO, ins: GET_RESPONSE },
    CommandDef { name: "GET DATA", cla: CLA_ISO, ins: GET_DATA },
    CommandDef { name: "PUT DATA", cla: CLA_ISO, ins: PUT_DATA },
    CommandDef { name: "VERIFY", cla: CLA_ISO, ins: VERIFY },
    CommandDef { name: "CHANGE REFERENCE DATA", cla: CLA_ISO, ins: CHANGE_REFERENCE_DATA },
    CommandDef { name: "RESET RETRY COUNTER", cla: CLA_ISO, ins: RESET_RETRY_COUNTER },
    CommandDef { name: "GENERAL AUTHENTICATE", cla: CLA_ISO, ins: GENERAL_AUTHENTICATE },
    CommandDef { name: "GENERATE ASYMMETRIC KEY PAIR", cla: CLA_ISO, ins: GENERATE_ASYMMETRIC_KEY_PAIR },
    CommandDef { name: "SET MANAGEMENT KEY", cla: CLA_ISO, ins: SET_MANAGEMENT_KEY },
    CommandDef { name: "GET SERIAL", cla: CLA_ISO, ins: GET_SERIAL },
    CommandDef { name: "GET VERSION", cla: CLA_ISO, ins: GET_VERSION },
    CommandDef { name: "GET METADATA", cla: CLA_ISO, ins: GET_METADATA },
    CommandDef { name: "ATTEST", cla: CLA_ISO, ins: ATTEST },
    CommandDef { name: "SET PIN RETRIES", cla: CLA_ISO, ins: SET_PIN_RETRIES },
    CommandDef { name: "RESET", cla: CLA_ISO, ins: RESET },
    CommandDef { name: "IMPORT KEY", cla: CLA_ISO, ins: IMPORT_KEY },
    CommandDef { name: "MOVE KEY", cla: CLA_ISO, ins: MOVE_KEY },
    CommandDef { name: "GET KEYPAD", cla: CLA_PROPRIETARY, ins: GET_KEYPAD },
    CommandDef { name: "VERIFY KEYPAD", cla: CLA_PROPRIETARY, ins: VERIFY_KEYPAD },
    CommandDef { name: "SET PIN POLICY", cla: CLA_PROPRIETARY, ins: SET_PIN_POLICY },
    CommandDef { name: "SET BINDING", cla: CLA_PROPRIETARY, ins: SET_BINDING },
    CommandDef { name: "PRESENT BINDING", cla: CLA_PROPRIETARY, ins: PRESENT_BINDING },
    CommandDef { name: "GET STATUS", cla: CLA_PROPRIETARY, ins: GET_STATUS },
    CommandDef { name: "TERMINATE", cla: CLA_PROPRIETARY, ins: TERMINATE },
    CommandDef { name: "SET IMPORT POLICY", cla: CLA_PROPRIETARY, ins: SET_IMPORT_POLICY },
];

/// The command a CLA/INS pair names, if the applet knows it (chaining and
/// channel bits of CLA are ignored).
pub fn lookup(cla: u8, ins: u8) -> Option<&'static CommandDef> {
    let class = cla & 0x80;
    COMMANDS.iter().find(|c| c.cla == class && c.ins == ins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_unique_and_found() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(lookup(c.cla | CLA_CHAIN, c.ins), Some(c));
            assert!(COMMANDS[i + 1..].iter().all(|d| (d.cla, d.ins) != (c.cla, c.ins)));
        }
        assert_eq!(lookup(0x00, GET_KEYPAD), None);
        assert_eq!(lookup(0x80, SELECT), None);
    }

    #[test]
    fn extensions_stay_out_of_yubico_range() {
        for c in COMMANDS.iter().filter(|c| c.cla == CLA_PROPRIETARY) {
            assert!(c.ins < 0xF6 && c.ins % 2 == 0, "{}", c.name);
        }
    }
}
