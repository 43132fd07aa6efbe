//! The card's refusals, in words for the command that met them.

use super::*;

/// "1 try left", "2 tries left".
pub fn tries_words(n: u8) -> String {
    format!("{n} {} left", if n == 1 { "try" } else { "tries" })
}

/// What a command was doing when the card refused.
#[derive(Clone, Copy)]
pub enum Op {
    /// A private-key operation with the slot's key.
    Sign(Slot),
    /// VERIFY of the PIN.
    Pin,
    /// VERIFY KEYPAD.
    Keypad,
    /// A command with the PUK (unblock, change PUK).
    Puk,
    /// GENERAL AUTHENTICATE with the management key.
    Mgm,
    /// A command that needs the management key authenticated.
    NeedsMgm,
    /// PRESENT BINDING.
    Binding,
    /// ATTEST of the slot's key.
    Attest(Slot),
}

/// A card error with the meaning it has for `op`; other errors unchanged.
pub fn explain(s: &mut Session, e: Error, op: Op) -> Failure {
    let Some(sw) = e.sw() else { return Failure::Card(e) };
    let refused = |message: String, hint: Option<String>| {
        Failure::Refused(Refusal { message: format!("{message} (card answered {:04X})", sw.0), hint, sw })
    };
    let session_hint = "or run it earlier in the same `subsim run`/`subsim shell` session";
    match (op, sw) {
        (Op::Pin, sw) if sw.retries().is_some() => {
            let n = sw.retries().unwrap_or(0);
            refused(
                format!("wrong PIN: {}", tries_words(n)),
                Some("`subsim pin verify --status` shows the tries left; a blocked PIN needs the PUK".into()),
            )
        }
        (Op::Keypad, sw) if sw.retries().is_some() => {
            let n = sw.retries().unwrap_or(0);
            refused(
                format!("wrong PIN entered on the keypad: {}", tries_words(n)),
                Some("type the letters of the keys that show your PIN's digits".into()),
            )
        }
        (Op::Pin | Op::Keypad | Op::Sign(_), Sw::AUTH_METHOD_BLOCKED) => {
            refused("the PIN is blocked".into(), Some("set a new PIN with the PUK: `subsim pin unblock`".into()))
        }
        (Op::Pin, Sw::CONDITIONS_NOT_SATISFIED) if pin_entry(s) == Some(PinEntry::KeypadOnly) => {
            let also = if binding(s) == Some(BindingState::Required) {
                "; the card is also bound to a device: add --binding HEX (or --binding-file FILE) to sign"
            } else {
                ""
            };
            refused(
                "PIN entry on this card is keypad-only: it refuses the PIN as digits".into(),
                Some(format!(
                    "enter it on the card's keypad: add --keypad, or `subsim pin keypad` ({session_hint}){also}"
                )),
            )
        }
        (Op::Keypad, Sw::CONDITIONS_NOT_SATISFIED) => {
            refused("the card has no keypad layout to check against (GET KEYPAD must come just before)".into(), None)
        }
        (Op::Puk, sw) if sw.retries().is_some() => {
            let n = sw.retries().unwrap_or(0);
            refused(format!("wrong PUK: {}", tries_words(n)), None)
        }
        (Op::Puk, Sw::AUTH_METHOD_BLOCKED) => {
            let hint = match s.profile() {
                Ok(p) if p.subsim => "nothing unblocks a PUK: `subsim terminate` wipes the card back to its factory PIN, PUK and management key",
                Ok(p) if p.yubico => "nothing unblocks a PUK: a Yubico-compatible card can be reset (which wipes its keys)",
                _ => "nothing unblocks a PUK; the card's issuer may be able to reset the card",
            };
            refused("the PUK is blocked".into(), Some(hint.into()))
        }
        (Op::Mgm, Sw::SECURITY_STATUS_NOT_SATISFIED | Sw::INCORRECT_DATA) => refused(
            "the card refused the management key: wrong key".into(),
            Some("give the card's key with --mgm-key HEX or $SUBSIM_MGM_KEY (at a terminal you are asked)".into()),
        ),
        (Op::Mgm, Sw::INCORRECT_P1_P2 | Sw::REFERENCE_NOT_FOUND) => refused(
            "the card's management key uses another algorithm".into(),
            Some("name it with --mgm-algorithm (3des, aes128, aes192, aes256)".into()),
        ),
        (Op::NeedsMgm, Sw::SECURITY_STATUS_NOT_SATISFIED) => refused(
            "the management key must be authenticated first".into(),
            Some("give it with --mgm-key HEX or $SUBSIM_MGM_KEY".into()),
        ),
        // A card that tells nothing of the key (no GET METADATA, no certificate, not generated
        // in this session) was asked for RSA-2048, the one kind every PIV card has.
        (Op::Sign(slot), Sw::INCORRECT_DATA | Sw::WRONG_LENGTH | Sw::INCORRECT_P1_P2)
            if matches!(super::slots::known_public_key(s, slot), Ok(None)) =>
        {
            let l = slot.to_string().to_lowercase();
            refused(
                format!(
                    "the card does not tell slot {slot}'s key (no GET METADATA, no certificate in the slot), so it \
                     was asked for an RSA-2048 signature, and refused it"
                ),
                Some(format!(
                    "if the key is EC, store its certificate first: `subsim cert selfsign {l} --subject CN=... --pubkey FILE` \
                     (FILE: the public key `subsim key generate` wrote); the certificate tells the key"
                )),
            )
        }
        (Op::Sign(slot), Sw::REFERENCE_NOT_FOUND | Sw::INCORRECT_P1_P2 | Sw::FILE_NOT_FOUND) => {
            // Wrong parameters may mean another algorithm than the slot's key, where the card tells it.
            match metadata(s, slot.key_ref()).ok().flatten().and_then(|m| KeyAlgorithm::from_id(m.algorithm)) {
                Some(alg) => refused(
                    format!("slot {slot} holds a {} key, and the card refused to use it this way", alg.name()),
                    Some(format!("`subsim key info {}` tells the slot's key", slot.to_string().to_lowercase())),
                ),
                None => empty_slot_answered(slot, Holds::Key, sw),
            }
        }
        (Op::Sign(slot), Sw::SECURITY_STATUS_NOT_SATISFIED) => {
            let when = match slot.pin_policy() {
                PinPolicy::Always => "before every signature with",
                _ => "before using",
            };
            refused(
                format!("the PIN must be verified first: the card wants it {when} slot {slot}'s key"),
                Some("give the PIN (prompt, --pin-file, $SUBSIM_PIN) or --keypad".into()),
            )
        }
        (Op::Sign(_), Sw::CONDITIONS_NOT_SATISFIED) => match binding(s) {
            Some(BindingState::Required) => refused(
                "the card is bound to a device and the binding was not presented in this card session".into(),
                Some(format!(
                    "add --binding HEX (or --binding-file FILE), or `subsim bind present HEX` {session_hint}"
                )),
            ),
            Some(BindingState::Blocked) => refused(
                "the device binding is blocked (too many wrong values)".into(),
                Some("`subsim terminate` wipes the card".into()),
            ),
            _ => refused(format!("the card refused: {}", sw.meaning()), None),
        },
        (Op::Binding, sw) if sw.retries().is_some() => {
            let n = sw.retries().unwrap_or(0);
            refused(format!("wrong binding value: {}", tries_words(n)), None)
        }
        (Op::Binding, Sw::AUTH_METHOD_BLOCKED) => {
            refused("the device binding is blocked".into(), Some("`subsim terminate` wipes the card".into()))
        }
        (Op::Attest(slot), Sw::REFERENCE_NOT_FOUND) => empty_slot_answered(slot, Holds::Key, sw),
        (Op::Attest(slot), Sw::INCORRECT_DATA) => {
            refused(format!("the key in slot {slot} was imported: the card attests only keys generated on it"), None)
        }
        (Op::Attest(Slot::Attestation), Sw::INCORRECT_P1_P2) => refused(
            "the attestation key (F9) attests other slots' keys, not itself".into(),
            Some("its certificate comes with `subsim key attest SLOT --chain`".into()),
        ),
        (_, Sw::INS_NOT_SUPPORTED | Sw::CLA_NOT_SUPPORTED) => match s.profile() {
            Ok(p) => Failure::Unsupported(format!("the card does not have this command (profile {}): {e}", p.widest())),
            Err(_) => Failure::Card(e),
        },
        _ => Failure::Card(e),
    }
}

pub fn status(s: &mut Session) -> Option<applet_spec::messages::CardStatus> {
    if !s.profile().ok()?.subsim {
        return None;
    }
    s.card().ok()?.status().ok()
}
pub fn pin_entry(s: &mut Session) -> Option<PinEntry> {
    status(s).map(|st| st.pin_entry)
}
pub fn binding(s: &mut Session) -> Option<BindingState> {
    status(s).map(|st| st.binding)
}
