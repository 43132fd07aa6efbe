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

pub(super) fn pin(c: &mut Card, p: &PinCmd) -> Result<Out, Failure> {
    match p {
        PinCmd::Retries { pin_tries, puk_tries, pin, mgm } => {
            super::yubico::pin_retries(c, *pin_tries, *puk_tries, pin, mgm)
        }
        PinCmd::Verify { status: true, .. } => {
            let (text, json) = match c.pin_state()? {
                PinState::Verified => ("PIN verified".to_string(), json!({ "verified": true })),
                PinState::NotVerified { tries_left } => (
                    format!("PIN not verified, {tries_left} tries left"),
                    json!({ "verified": false, "tries_left": tries_left }),
                ),
                PinState::Blocked => ("PIN blocked".to_string(), json!({ "verified": false, "blocked": true })),
            };
            out(text, json)
        }
        PinCmd::Verify { pin, .. } => {
            verify_pin(c, pin)?;
            out("PIN verified", json!({ "verified": true }))
        }
        PinCmd::Change { pin } => {
            let old = pin_source(pin).get("current PIN", "SUBSIM_PIN")?;
            let new = Source::default().get("new PIN", "SUBSIM_NEW_PIN")?;
            c.change_pin(old.as_bytes(), new.as_bytes())?;
            out("PIN changed", json!({ "changed": true }))
        }
        PinCmd::Unblock => {
            let puk = Source::default().get("PUK", "SUBSIM_PUK")?;
            let new = Source::default().get("new PIN", "SUBSIM_NEW_PIN")?;
            c.unblock_pin(puk.as_bytes(), new.as_bytes())?;
            out("PIN unblocked and set", json!({ "unblocked": true }))
        }
        PinCmd::Policy { policy, mgm } => {
            authenticate(c, mgm)?;
            let p = match policy {
                Policy::Any => PinEntry::Any,
                Policy::KeypadOnly => PinEntry::KeypadOnly,
            };
            c.set_pin_entry(p)?;
            out(
                format!("PIN entry: {}", if p == PinEntry::Any { "any" } else { "keypad-only" }),
                json!({ "pin_entry": format!("{p:?}") }),
            )
        }
        PinCmd::Keypad => {
            let layout = c.keypad()?;
            eprintln!(
                "{}\nType the letters of the keys that show your PIN's digits, then Enter:",
                draw_keypad(&layout)
            );
            let mut line = Zeroizing::new(String::new());
            let read = if std::io::stdin().is_terminal() {
                rpassword::read_password().map(|s| *line = s)
            } else {
                std::io::stdin().lock().read_line(&mut line).map(drop)
            };
            read.map_err(|e| Failure::Usage(format!("reading the keys: {e}")))?;
            let positions: Zeroizing<Vec<u8>> = Zeroizing::new(
                line.trim()
                    .chars()
                    .filter(|ch| !ch.is_whitespace())
                    .map(|ch| match ch.to_ascii_lowercase() {
                        l @ 'a'..='j' => Ok(l as u8 - b'a'),
                        other => Err(Failure::Usage(format!("{other:?} is not a key: type the letters a to j"))),
                    })
                    .collect::<Result<_, _>>()?,
            );
            c.verify_keypad(&positions)?;
            out("PIN verified on the keypad", json!({ "verified": true }))
        }
    }
}

pub(super) fn mgm(c: &mut Card, m: &MgmCmd) -> Result<Out, Failure> {
    match m {
        MgmCmd::Auth { mgm } => {
            authenticate(c, mgm)?;
            out("management key authenticated", json!({ "authenticated": true }))
        }
        MgmCmd::Set { algorithm, new_key, mgm } => {
            authenticate(c, mgm)?;
            let alg = match algorithm {
                MgmAlg::TripleDes => MgmAlgorithm::TripleDes,
                MgmAlg::Aes128 => MgmAlgorithm::Aes128,
                MgmAlg::Aes192 => MgmAlgorithm::Aes192,
                MgmAlg::Aes256 => MgmAlgorithm::Aes256,
            };
            let key = Zeroizing::new(secret::hex_decode(new_key).ok_or("the new key must be hex".to_string())?);
            c.set_management_key(alg, &key)?;
            out(format!("management key set ({alg:?})"), json!({ "algorithm": format!("{alg:?}") }))
        }
    }
}
