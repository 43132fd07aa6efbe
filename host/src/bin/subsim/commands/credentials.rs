//! PIN (digits or keypad), device binding and management key, as the
//! options say; what a signature needs before it is made.

use super::*;

pub fn pin_source(p: &PinArgs) -> Source {
    Source { plain: p.pin.clone(), file: p.pin_file.clone(), file_option: "--pin-file" }
}

/// VERIFY with the PIN from the options; a factory PIN gets a warning.
pub fn verify_pin(s: &mut Session, p: &PinArgs) -> Result<(), Failure> {
    let pin = pin_source(p).get("PIN", "SUBSIM_PIN")?;
    let r = s.card()?.verify_pin(pin.as_bytes());
    r.map_err(|e| explain(s, e, Op::Pin))?;
    s.pin_fresh = true;
    if pin.as_bytes() == piv::DEFAULT_PIN {
        s.say("warning: this card still has the factory PIN (123456): change it with `subsim pin change`");
    }
    Ok(())
}

/// The PIN entered on the card's random keypad: the layout drawn on stderr,
/// the keys' letters read hidden at a terminal, else a line from stdin.
pub fn keypad_pin(s: &mut Session) -> Result<(), Failure> {
    s.require_subsim("the keypad")?;
    let layout = s.card()?.keypad()?;
    eprintln!("{}\nType the letters of the keys that show your PIN's digits, then Enter:", pin::draw_keypad(&layout));
    let mut line = Zeroizing::new(String::new());
    let read = if std::io::stdin().is_terminal() {
        secret::prompt("keys: ").map(|s| *line = s.to_string()).map_err(std::io::Error::other)
    } else {
        std::io::stdin().read_line(&mut line).map(drop)
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
    // A PIN is 6 to 8 digits: a key for each, checked before the card counts a try.
    if !(piv::PIN_MIN_LEN..=piv::PIN_BLOCK_LEN).contains(&positions.len()) {
        return Err(Failure::Usage(match positions.len() {
            0 => "no keys typed: type the letters (a to j) of the keys that show your PIN's digits".into(),
            n => format!(
                "{n} key{} typed: a PIN is {} to {} digits, one key's letter (a to j) for each; nothing sent to the card",
                if n == 1 { "" } else { "s" },
                piv::PIN_MIN_LEN,
                piv::PIN_BLOCK_LEN
            ),
        }));
    }
    let r = s.card()?.verify_keypad(&positions);
    r.map_err(|e| explain(s, e, Op::Keypad))?;
    s.pin_fresh = true;
    Ok(())
}

/// The binding value from `--binding HEX` (warned about), `--binding-file
/// FILE` (hex text or raw bytes) or `$SUBSIM_BINDING`; none when none is given.
pub fn binding_value(f: &FlowArgs) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
    if f.binding.is_none() && f.binding_file.is_none() && secret::env("SUBSIM_BINDING").is_none() {
        return Ok(None);
    }
    super::card::binding_secret(&f.binding, &f.binding_file, false).map(Some)
}

pub fn present_binding(s: &mut Session, value: &[u8]) -> Result<(), Failure> {
    s.require_subsim("a device binding")?;
    let r = s.card()?.present_binding(value);
    r.map_err(|e| explain(s, e, Op::Binding))
}

/// Makes a signature with `slot` possible: the binding presented and the
/// PIN entered as the options say. A PIN this session already verified is
/// not asked again (for 9C, whose key wants the PIN before every signature:
/// only while no signature has used that verification).
///
/// Nothing that SELECTs comes after the VERIFY (the profile is detected
/// first): some cards (PivApplet; YubiKey 4, OpenSC issue 624) drop the
/// keys' PIN state on re-selection while VERIFY's status still says
/// verified. The caller sends the private-key operation next, through
/// [`with_pin_retry`].
pub fn prepare_signature(s: &mut Session, slot: Slot, p: &PinArgs, f: &FlowArgs) -> Result<(), Failure> {
    s.profile()?;
    if let Some(v) = binding_value(f)? {
        present_binding(s, &v)?;
    }
    s.pin_retry = (slot.pin_policy() != PinPolicy::Never).then(|| (p.clone(), f.keypad));
    let needed = match slot.pin_policy() {
        PinPolicy::Never => false,
        PinPolicy::Always => !s.pin_fresh || f.keypad || pin_source(p).given("SUBSIM_PIN"),
        PinPolicy::Once => {
            f.keypad || pin_source(p).given("SUBSIM_PIN") || s.card()?.pin_state()? != PinState::Verified
        }
    };
    if !needed {
        return Ok(());
    }
    if f.keypad {
        keypad_pin(s)
    } else {
        verify_pin(s, p)
    }
}

/// Runs a private-key operation; when the card refuses it with `6982`
/// although the PIN was verified (or its status said so), verifies once
/// more, as `prepare_signature` did, and retries once; `-v` says so.
pub fn with_pin_retry<T, E>(
    s: &mut Session,
    slot: Slot,
    is_6982: impl Fn(&E) -> bool,
    mut op: impl FnMut(&mut Session) -> Result<Result<T, E>, Failure>,
) -> Result<Result<T, E>, Failure> {
    let first = op(s)?;
    let retry = s.pin_retry.take();
    match (first, retry) {
        // Only with a PIN at hand: else the card's refusal is explained as it is.
        (Err(e), Some((p, keypad)))
            if is_6982(&e) && (keypad || pin_source(&p).given("SUBSIM_PIN") || std::io::stdin().is_terminal()) =>
        {
            if s.opts.verbose {
                eprintln!(
                    "subsim: slot {slot}'s key answered 6982 after the PIN was verified (this card drops the PIN \
                     state, e.g. on re-selection): verifying again and retrying once"
                );
            }
            if keypad {
                keypad_pin(s)?;
            } else {
                verify_pin(s, &p)?;
            }
            op(s)
        }
        (first, _) => Ok(first),
    }
}

/// The management key's algorithm: the sub-SIM's status, the card's
/// metadata, else `--mgm-algorithm` (3DES by default).
pub fn mgm_algorithm(s: &mut Session, m: &MgmArgs) -> Result<MgmAlgorithm, Failure> {
    let p = s.profile()?;
    if p.subsim {
        return Ok(s.card()?.status()?.mgm_algorithm);
    }
    if let Some(alg) = metadata(s, piv::KEY_REF_MANAGEMENT)?.and_then(|m| MgmAlgorithm::from_id(m.algorithm)) {
        return Ok(alg);
    }
    Ok(m.mgm_algorithm.map(mgm_alg).unwrap_or(MgmAlgorithm::TripleDes))
}

/// The management key to use and its algorithm: `--mgm-key-file`,
/// `--mgm-key`, `$SUBSIM_MGM_KEY`, the PIN-protected key stored on the card
/// (ykman's `--protect`), the factory key, or (at a terminal) a hidden
/// prompt. The flag says whether it was named (given or stored), not assumed.
pub fn management_key(s: &mut Session, m: &MgmArgs) -> Result<(MgmAlgorithm, Zeroizing<Vec<u8>>, bool), Failure> {
    let alg = mgm_algorithm(s, m)?;
    let given = match secret::mgm_key(m.mgm_key.as_deref(), m.mgm_key_file.as_deref())? {
        Some(k) => Some(k),
        None => super::protected::stored_key(s)?,
    };
    let named = given.is_some();
    let key = match given {
        Some(k) => k,
        None if alg == MgmAlgorithm::TripleDes => Zeroizing::new(piv::DEFAULT_MGM_KEY.to_vec()),
        None => ask_mgm_key(alg)?,
    };
    Ok((alg, key, named))
}

/// Mutual authentication with the management key: `--mgm-key-file`,
/// `--mgm-key`, `$SUBSIM_MGM_KEY`, the PIN-protected key stored on the card
/// (ykman's `--protect`), the factory key, or (at a terminal) a hidden prompt.
pub fn authenticate(s: &mut Session, m: &MgmArgs) -> Result<(), Failure> {
    let (alg, key, named) = management_key(s, m)?;
    if key.len() != alg.key_len() {
        return Err(Failure::Usage(format!(
            "the card's management key is {} ({} bytes, {} hex digits); the key given is {} bytes: give the card's key with --mgm-key HEX or $SUBSIM_MGM_KEY",
            names::mgm_label(alg),
            alg.key_len(),
            alg.key_len() * 2,
            key.len()
        )));
    }
    let r = s.card()?.authenticate(alg, &key);
    match r {
        Ok(()) => {}
        Err(e) if e.sw().is_some() && !named => {
            // The factory key was tried and refused: ask, where someone can answer.
            if !std::io::stdin().is_terminal() {
                return Err(match explain(s, e, Op::Mgm) {
                    Failure::Refused(r) => Failure::Refused(Refusal {
                        message: format!("the card refused the factory management key (card answered {:04X})", r.sw.0),
                        hint: Some("give the card's key with --mgm-key HEX or $SUBSIM_MGM_KEY".into()),
                        sw: r.sw,
                    }),
                    f => f,
                });
            }
            let key = ask_mgm_key(alg)?;
            let r = s.card()?.authenticate(alg, &key);
            r.map_err(|e| explain(s, e, Op::Mgm))?;
            return Ok(());
        }
        Err(e) => return Err(explain(s, e, Op::Mgm)),
    }
    if key.as_slice() == piv::DEFAULT_MGM_KEY && alg == MgmAlgorithm::TripleDes {
        s.say("warning: this card still has the factory management key: set your own with `subsim mgm set`");
    }
    Ok(())
}

pub fn ask_mgm_key(alg: MgmAlgorithm) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "the card's management key is {}, not the factory 3DES key: give it with --mgm-key HEX or $SUBSIM_MGM_KEY",
            names::mgm_label(alg)
        )));
    }
    let hex = secret::prompt(&format!("management key ({}, hex): ", names::mgm_label(alg)))?;
    Ok(Zeroizing::new(secret::hex_decode(&hex).ok_or("the management key must be hex".to_string())?))
}
