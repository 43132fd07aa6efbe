//! Back to factory state, the way each kind of card allows.
//!
//! - [`ResetMode::Terminate`]: the sub-SIM's TERMINATE (`80 3C`), with the
//!   factory management key, or by anyone once PIN and PUK are blocked.
//! - [`ResetMode::Yubico`]: Yubico's RESET (`00 FB 00 00`), which a YubiKey
//!   (and cards copying it) accept only once the PIN and the PUK are blocked:
//!   wrong VERIFYs until `6983`, then wrong RESET RETRY COUNTERs until `6983`,
//!   the number of tries read from the card's own answers.
//! - [`ResetMode::NonDestructive`]: no reset; only tests that leave the card
//!   as they found it run.

use std::fmt;

use applet_spec::apdu::Response;
use applet_spec::piv::{pin_block, MgmAlgorithm, DEFAULT_MGM_KEY};
use applet_spec::Sw;
use subsim_host::{Client, Error, Transport};

/// How tests that change the card get a factory-fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMode {
    Terminate,
    Yubico,
    NonDestructive,
}

impl ResetMode {
    pub fn name(self) -> &'static str {
        match self {
            ResetMode::Terminate => "terminate",
            ResetMode::Yubico => "yubico",
            ResetMode::NonDestructive => "none",
        }
    }
}

impl fmt::Display for ResetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `SUBSIM_RESET`: `auto` (the default: chosen from the card), `terminate`,
/// `yubico` or `none`. `None` means auto.
pub fn requested() -> Option<ResetMode> {
    match std::env::var("SUBSIM_RESET").unwrap_or_default().trim() {
        "" | "auto" => None,
        "terminate" => Some(ResetMode::Terminate),
        "yubico" | "fb" => Some(ResetMode::Yubico),
        "none" | "non-destructive" => Some(ResetMode::NonDestructive),
        other => panic!("SUBSIM_RESET={other:?}: use auto, terminate, yubico or none"),
    }
}

/// Why a card could not be reset: the test is skipped with this.
#[derive(Debug)]
pub struct Unavailable(pub String);

fn sw(out: &[u8]) -> Sw {
    Response::parse(out).map(|r| r.sw).unwrap_or(Sw::UNKNOWN_ERROR)
}

fn transmit<T: Transport>(card: &mut Client<T>, apdu: &[u8]) -> Sw {
    sw(&card.transport_mut().transmit(apdu).expect("transport during the factory reset"))
}

/// Authenticates with the factory management key: 3DES, or AES-192 with the
/// same bytes (the factory algorithm of YubiKeys from firmware 5.7).
pub fn authenticate_factory<T: Transport>(card: &mut Client<T>) -> Result<(), Error> {
    match card.authenticate(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY) {
        Err(e) if e.sw() == Some(Sw::INCORRECT_P1_P2) || e.sw() == Some(Sw::INCORRECT_DATA) => {
            card.authenticate(MgmAlgorithm::Aes192, &DEFAULT_MGM_KEY)
        }
        other => other,
    }
}

/// Spends every try of the PIN (`reference` 80, through VERIFY) or of the PUK
/// (through RESET RETRY COUNTER with a PIN that would be valid), until the
/// card answers `6983` (or `63C0`). Two different wrong values, in case one
/// is right.
fn block(card: &mut Client<impl Transport>, puk: bool) -> Result<(), Unavailable> {
    let guesses: [&[u8]; 2] = if puk { [b"00000000", b"99999999"] } else { [b"000000", b"999999"] };
    let mut guess = 0;
    for _ in 0..260 {
        let value = pin_block(guesses[guess], !puk).expect("a well-formed guess");
        let apdu = if puk {
            let new_pin = pin_block(b"000000", true).expect("a well-formed PIN");
            [&[0x00, 0x2C, 0x00, 0x80, 0x10][..], &value, &new_pin].concat()
        } else {
            [&[0x00, 0x20, 0x00, 0x80, 0x08][..], &value[..]].concat()
        };
        match transmit(card, &apdu) {
            // Blocked: 6983, or 63C0 from cards that keep answering the count.
            Sw::AUTH_METHOD_BLOCKED | Sw(0x63C0) => return Ok(()),
            // 6300: failed, count not told (ISO 7816-4, 5.6).
            sw if sw.retries().is_some() || sw == Sw(0x6300) => {}
            // The guess was right: try the other one.
            Sw::OK => guess = 1 - guess,
            sw => {
                let what = if puk { "RESET RETRY COUNTER with a wrong PUK" } else { "VERIFY with a wrong PIN" };
                return Err(Unavailable(format!("{what} answered {sw}, not 63Cx or 6983: cannot block it")));
            }
        }
    }
    Err(Unavailable("the try counter never reached 6983".into()))
}

/// Resets the card with `mode`, then power-cycles it and selects PIV again.
pub fn factory_reset<T: Transport>(card: &mut Client<T>, mode: ResetMode) -> Result<(), Unavailable> {
    match mode {
        ResetMode::NonDestructive => return Err(Unavailable("non-destructive mode".into())),
        ResetMode::Terminate => {
            if authenticate_factory(card).is_err() {
                block(card, false)?;
                block(card, true)?;
            }
            card.terminate().map_err(|e| Unavailable(format!("TERMINATE: {e}")))?;
        }
        ResetMode::Yubico => {
            // Harmless unless PIN and PUK are blocked already (then it is the
            // reset we want): tells whether the card has RESET at all.
            match transmit(card, &[0x00, 0xFB, 0x00, 0x00]) {
                Sw::OK => {}
                Sw::INS_NOT_SUPPORTED | Sw::CLA_NOT_SUPPORTED | Sw(0x6A81) => {
                    return Err(Unavailable("the card has no RESET (00 FB answered 6D00/6E00/6A81)".into()))
                }
                _ => {
                    block(card, false)?;
                    // Some cards (Nitrokey's piv-authenticator) reset once the
                    // PIN alone is blocked; a YubiKey answers 6985 until the PUK is too.
                    if transmit(card, &[0x00, 0xFB, 0x00, 0x00]) != Sw::OK {
                        block(card, true)?;
                        let sw = transmit(card, &[0x00, 0xFB, 0x00, 0x00]);
                        if sw != Sw::OK {
                            panic!("RESET 00 FB with PIN and PUK blocked answered {sw}: the card is left blocked");
                        }
                    }
                }
            }
        }
    }
    card.transport_mut().reset().expect("card reset");
    card.select().expect("SELECT after the factory reset");
    Ok(())
}
