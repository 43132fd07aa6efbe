//! PIN, PUK, keypad and management-key commands.

use super::*;

/// Draws the layout with a letter per key; the user types letters.
pub(super) fn draw_keypad(layout: &KeypadLayout) -> String {
    let key = |p: usize| format!("[{}] {}", (b'a' + p as u8) as char, layout.digit_at[p]);
    format!(
        "{}   {}   {}\n{}   {}   {}\n{}   {}   {}\n      {}",
        key(0),
        key(1),
        key(2),
        key(3),
        key(4),
        key(5),
        key(6),
        key(7),
        key(8),
        key(9)
    )
}

fn puk_warning(s: &Session, puk: &[u8]) {
    if puk == piv::DEFAULT_PUK {
        s.say("warning: this card still has the factory PUK (12345678): change it with `subsim pin change-puk`");
    }
}

pub(super) fn pin(s: &mut Session, p: &PinCmd) -> Result<Out, Failure> {
    match p {
        PinCmd::Retries { pin_tries, puk_tries, confirm, pin, mgm } => {
            super::yubico::pin_retries(s, *pin_tries, *puk_tries, pin, mgm, *confirm)
        }
        PinCmd::Verify { status: true, .. } => {
            let (text, json) = match s.card()?.pin_state()? {
                PinState::Verified => ("PIN verified".to_string(), json!({ "verified": true, "blocked": false })),
                PinState::NotVerified { tries_left } => (
                    format!("PIN not verified, {}", tries_words(tries_left)),
                    json!({ "verified": false, "blocked": false, "tries_left": tries_left }),
                ),
                PinState::Blocked => {
                    ("PIN blocked".to_string(), json!({ "verified": false, "blocked": true, "tries_left": 0 }))
                }
            };
            out(text, json)
        }
        PinCmd::Verify { pin, .. } => {
            verify_pin(s, pin)?;
            out("PIN verified", json!({ "verified": true }))
        }
        PinCmd::Change { pin, new_pin_file } => {
            let old = pin_source(pin).get("current PIN", "SUBSIM_PIN")?;
            let new = Source::file(new_pin_file.clone(), "--new-pin-file").get_new("new PIN", "SUBSIM_NEW_PIN")?;
            let r = s.card()?.change_pin(old.as_bytes(), new.as_bytes());
            r.map_err(|e| explain(s, e, Op::Pin))?;
            out("PIN changed", json!({ "changed": "pin" }))
        }
        PinCmd::Unblock { puk_file, new_pin_file } => {
            let puk = Source::file(puk_file.clone(), "--puk-file").get("PUK", "SUBSIM_PUK")?;
            let new = Source::file(new_pin_file.clone(), "--new-pin-file").get_new("new PIN", "SUBSIM_NEW_PIN")?;
            let r = s.card()?.unblock_pin(puk.as_bytes(), new.as_bytes());
            r.map_err(|e| explain(s, e, Op::Puk))?;
            puk_warning(s, puk.as_bytes());
            out("PIN unblocked and set", json!({ "unblocked": true }))
        }
        PinCmd::ChangePuk { puk_file, new_puk_file } => {
            let old = Source::file(puk_file.clone(), "--puk-file").get("current PUK", "SUBSIM_PUK")?;
            let new = Source::file(new_puk_file.clone(), "--new-puk-file").get_new("new PUK", "SUBSIM_NEW_PUK")?;
            let r = s.card()?.change_puk(old.as_bytes(), new.as_bytes());
            r.map_err(|e| explain(s, e, Op::Puk))?;
            out("PUK changed", json!({ "changed": "puk" }))
        }
        PinCmd::Policy { policy, mgm } => {
            s.require_subsim("the PIN entry policy")?;
            authenticate(s, mgm)?;
            let p = match policy {
                Policy::Any => PinEntry::Any,
                Policy::KeypadOnly => PinEntry::KeypadOnly,
            };
            let r = s.card()?.set_pin_entry(p);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            out(
                format!("PIN entry: {}", if p == PinEntry::Any { "any" } else { "keypad-only" }),
                json!({ "pin_entry": names::pin_entry(p) }),
            )
        }
        PinCmd::Keypad => {
            keypad_pin(s)?;
            out("PIN verified on the keypad", json!({ "verified": true }))
        }
    }
}

pub(super) fn mgm(s: &mut Session, m: &MgmCmd) -> Result<Out, Failure> {
    match m {
        MgmCmd::Auth { mgm } => {
            authenticate(s, mgm)?;
            let alg = mgm_algorithm(s, mgm)?;
            out(
                format!("management key authenticated ({})", names::mgm_label(alg)),
                json!({ "authenticated": true, "mgm_algorithm": names::mgm_algorithm(alg) }),
            )
        }
        MgmCmd::Set { algorithm, new_key, new_mgm_key_file, generate, protect, pin, mgm } => {
            let alg = mgm_alg(*algorithm);
            // The new key is known (and its length checked) before the card is touched.
            let made = *generate || (*protect && new_key.is_none() && new_mgm_key_file.is_none());
            let key = if made {
                let mut k = Zeroizing::new(vec![0u8; alg.key_len()]);
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
                k
            } else {
                let source = Source {
                    plain: new_key.clone(),
                    file: new_mgm_key_file.clone(),
                    file_option: "--new-mgm-key-file",
                };
                let text = source.get_new("new management key (hex)", "SUBSIM_NEW_MGM_KEY")?;
                Zeroizing::new(secret::hex_decode(&text).ok_or("the new management key must be hex".to_string())?)
            };
            if key.len() != alg.key_len() {
                return Err(Failure::Usage(format!(
                    "a new {} key is {} bytes ({} hex digits); this one is {} bytes",
                    names::mgm_label(alg),
                    alg.key_len(),
                    alg.key_len() * 2,
                    key.len()
                )));
            }
            authenticate(s, mgm)?;
            // Storing (or removing) a PIN-protected key reads the printed information: the PIN first.
            if (*protect || super::protected::is_protected(s)?) && s.card()?.pin_state()? != PinState::Verified {
                verify_pin(s, pin)?;
            }
            let r = s.card()?.set_management_key(alg, &key);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            super::protected::record(s, protect.then_some(key.as_slice()))?;
            let mut j = json!({ "mgm_algorithm": names::mgm_algorithm(alg), "protected": *protect });
            let mut text = format!("management key set ({})", names::mgm_label(alg));
            if *protect {
                text.push_str(": stored on the card, PIN-protected (ykman's layout); commands ask for the PIN instead");
            } else if made {
                // Made here and kept nowhere else: the one time it is shown.
                let hex_key = hex::encode(key.as_slice());
                text = format!("{text}; the new key (keep it, it is shown only now):\n{hex_key}");
                j["new_key_hex"] = hex_key.into();
            }
            out(text, j)
        }
    }
}
