//! What each command does, on top of the typed client: the output contract
//! and the shared helpers here, each area's commands in a module of its own.
//!
//! A command module follows the contract by returning [`Out`] (words for
//! people, a JSON object for programs, or bytes) or a [`Failure`]; card
//! errors go through [`explain`] to get the meaning for that command. Names
//! in JSON are snake_case, enums are the lowercase words of [`names`];
//! docs/cli.md is the schema.

mod card;
mod flows;
mod keys;
mod pin;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use applet_spec::apdu::Command;
use applet_spec::ins;
use applet_spec::messages::{BindingState, KeypadLayout, PinEntry};
use applet_spec::piv::{self, MgmAlgorithm, PinPolicy, Slot};
use applet_spec::tlv::flat;
use applet_spec::Sw;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subsim_host::{list_readers, Client, Error, Hash, Padding, PinState, ReaderChoice, Transport};
use zeroize::Zeroizing;

use crate::secret::{self, Source};
use crate::session::{self, Session};
use crate::{
    BindCmd, CertCmd, Cmd, Encoding, FlowArgs, Format, HashArg, KeyCmd, MgmAlg, MgmArgs, MgmCmd, PinArgs, PinCmd,
    Policy, TxCmd,
};
use subsim_host::x509;

/// The card, as every command module sees it.
pub type Card = Client<Box<dyn Transport>>;

/// What a command gives back: words for people, JSON for programs, and
/// for binary results (a raw signature, DER) the bytes written as they are.
pub struct Out {
    pub text: String,
    pub json: Value,
    pub bytes: Option<Vec<u8>>,
}

/// A result in words and JSON.
pub fn out(text: impl Into<String>, json: Value) -> Result<Out, Failure> {
    Ok(Out { text: text.into(), json, bytes: None })
}

/// A command's failure. Each kind has its exit code and JSON `kind`.
pub enum Failure {
    /// The card or transport failed; see [`explain`] for the meaning.
    Card(Error),
    /// The card refused, explained for the command.
    Refused(Refusal),
    /// Bad input or usage (exit 2).
    Usage(String),
    /// A signature or login did not verify (exit 4).
    NotVerified(String),
    /// The card lacks the feature (exit 6).
    Unsupported(String),
    /// The card did not answer in time (exit 3).
    Timeout(String),
    /// Ctrl-C or another signal (exit 130).
    Interrupted,
    /// A failure that still has results to show: the object's fields are
    /// added to the error's JSON (`apdu`'s answers, say).
    WithData(Box<Failure>, Value),
}

/// A card's refusal, in words for the command that met it.
pub struct Refusal {
    pub message: String,
    pub hint: Option<String>,
    pub sw: Sw,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Card(e)
    }
}
impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

/// A failure as printed: the same fields in words and in JSON.
pub struct Report {
    pub kind: &'static str,
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
    pub sw: Option<Sw>,
    pub tries_left: Option<u8>,
    /// More fields for the JSON object.
    pub data: Option<Value>,
}

impl Report {
    /// `{"ok": false, "error", "kind", "exit_code", "hint"?, "sw"?, "tries_left"?}`
    pub fn json(&self) -> Value {
        let mut j = json!({ "ok": false, "error": self.message, "kind": self.kind, "exit_code": self.code });
        if let Some(h) = &self.hint {
            j["hint"] = h.as_str().into();
        }
        if let Some(sw) = self.sw {
            j["sw"] = format!("{:04X}", sw.0).into();
        }
        if let Some(n) = self.tries_left {
            j["tries_left"] = n.into();
        }
        if let Some(Value::Object(data)) = &self.data {
            for (k, v) in data {
                j[k] = v.clone();
            }
        }
        j
    }
}

fn tries_left(sw: Sw) -> Option<u8> {
    sw.retries().or((sw == Sw::AUTH_METHOD_BLOCKED).then_some(0))
}

impl Failure {
    pub fn report(&self) -> Report {
        let plain = |kind, code, message: &str| Report {
            kind,
            code,
            message: message.to_string(),
            hint: None,
            sw: None,
            tries_left: None,
            data: None,
        };
        match self {
            Failure::Card(e) => {
                let (kind, code) = match e {
                    Error::Status { .. } => ("card_refused", 1),
                    Error::Invalid(_) => ("usage", 2),
                    Error::Transport { .. } => ("transport", 3),
                    Error::Malformed { .. } => ("malformed", 5),
                };
                Report {
                    kind,
                    code,
                    message: e.to_string(),
                    hint: e.hint().map(str::to_string),
                    sw: e.sw(),
                    tries_left: e.sw().and_then(tries_left),
                    data: None,
                }
            }
            Failure::Refused(r) => Report {
                kind: "card_refused",
                code: 1,
                message: r.message.clone(),
                hint: r.hint.clone(),
                sw: Some(r.sw),
                tries_left: tries_left(r.sw),
                data: None,
            },
            Failure::Usage(m) => plain("usage", 2, m),
            Failure::NotVerified(m) => plain("not_verified", 4, m),
            Failure::Unsupported(m) => plain("unsupported", 6, m),
            Failure::Timeout(m) => plain("timeout", 3, m),
            Failure::Interrupted => plain("interrupted", 130, "interrupted"),
            Failure::WithData(inner, data) => Report { data: Some(data.clone()), ..inner.report() },
        }
    }
}

/// The command line did not parse: help and version as clap prints them,
/// anything else a usage error (exit 2), as JSON too when `--json` is among
/// the arguments.
pub fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        session::stdout(e.render().to_string().as_bytes());
        return ExitCode::SUCCESS;
    }
    let json = args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json");
    if json {
        let message = e.render().to_string();
        let first = message.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
        let r = Report { kind: "usage", code: 2, message: first, hint: None, sw: None, tries_left: None, data: None };
        session::stdout(format!("{}\n", r.json()).as_bytes());
    }
    let _ = e.print();
    ExitCode::from(2)
}

// ---- names in output (the documented enums) ------------------------------------------

/// The words output uses for the card's enums.
pub mod names {
    use super::*;

    pub fn slot(s: Slot) -> String {
        s.to_string()
    }
    pub fn mgm_algorithm(a: MgmAlgorithm) -> &'static str {
        match a {
            MgmAlgorithm::TripleDes => "3des",
            MgmAlgorithm::Aes128 => "aes128",
            MgmAlgorithm::Aes192 => "aes192",
            MgmAlgorithm::Aes256 => "aes256",
        }
    }
    pub fn mgm_label(a: MgmAlgorithm) -> &'static str {
        match a {
            MgmAlgorithm::TripleDes => "3DES",
            MgmAlgorithm::Aes128 => "AES-128",
            MgmAlgorithm::Aes192 => "AES-192",
            MgmAlgorithm::Aes256 => "AES-256",
        }
    }
    pub fn pin_entry(p: PinEntry) -> &'static str {
        match p {
            PinEntry::Any => "any",
            PinEntry::KeypadOnly => "keypad_only",
        }
    }
    pub fn binding(b: BindingState) -> &'static str {
        match b {
            BindingState::None => "none",
            BindingState::Required => "required",
            BindingState::Presented => "presented",
            BindingState::Blocked => "blocked",
        }
    }
}

pub fn mgm_alg(a: MgmAlg) -> MgmAlgorithm {
    match a {
        MgmAlg::TripleDes => MgmAlgorithm::TripleDes,
        MgmAlg::Aes128 => MgmAlgorithm::Aes128,
        MgmAlg::Aes192 => MgmAlgorithm::Aes192,
        MgmAlg::Aes256 => MgmAlgorithm::Aes256,
    }
}

// ---- files, stdin and stdout ------------------------------------------------------------

/// A file's bytes; `-` reads stdin (a pipe: a terminal is refused, since
/// nothing prompts there).
pub fn read_file(p: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    match session::file_arg(p) {
        Some(p) => std::fs::read(p).map_err(|e| Failure::Usage(format!("{}: {e}", p.display()))),
        None => read_stdin(what),
    }
}

fn read_stdin(what: &str) -> Result<Vec<u8>, Failure> {
    if std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "{what} is read from a file or a pipe, not typed at a terminal: name the file (or pipe it in with `-`)"
        )));
    }
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
    Ok(buf)
}

/// The input a command signs or checks: a file, or stdin when it is a pipe.
pub fn read_input(file: &Option<PathBuf>, what: &str) -> Result<Vec<u8>, Failure> {
    match file {
        Some(p) => read_file(p, what),
        None => read_stdin(what),
    }
}

/// A result that is a file's content (a key, a certificate, a signature):
/// to `--out FILE`, or to stdout (`-` or no --out). With --json the content
/// goes into `json` under `field` (text) and is never written raw.
pub fn deliver(
    s: &Session,
    to: Option<&Path>,
    content: Vec<u8>,
    text: bool,
    field: &str,
    mut j: Value,
) -> Result<Out, Failure> {
    if let Some(p) = to.and_then(session::file_arg) {
        std::fs::write(p, &content).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
        j["file"] = p.display().to_string().into();
        if !s.opts.json {
            s.say(&format!("wrote {} bytes to {}", content.len(), p.display()));
        }
        return Ok(Out { text: String::new(), json: j, bytes: None });
    }
    j[field] = if text {
        String::from_utf8_lossy(&content).into_owned().into()
    } else {
        base64::engine::general_purpose::STANDARD.encode(&content).into()
    };
    if text {
        Ok(Out { text: String::from_utf8_lossy(&content).trim_end().to_string(), json: j, bytes: None })
    } else {
        Ok(Out { text: String::new(), json: j, bytes: Some(content) })
    }
}

/// A public key as PEM (SubjectPublicKeyInfo) or DER.
pub fn encode_public_key(key: &RsaPublicKey, f: Format) -> Result<Vec<u8>, Failure> {
    match f {
        Format::Pem => {
            Ok(key.to_public_key_pem(LineEnding::LF).map_err(|e| Failure::Usage(e.to_string()))?.into_bytes())
        }
        Format::Der => Ok(key.to_public_key_der().map_err(|e| Failure::Usage(e.to_string()))?.into_vec()),
    }
}

/// A public key from a file (PEM or DER; SubjectPublicKeyInfo or PKCS#1).
pub fn read_public_key(p: &Path) -> Result<RsaPublicKey, Failure> {
    let bytes = read_file(p, "the public key")?;
    let name = p.display();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::Usage(format!(
            "{name} is empty: expected the slot's public key (PEM or DER), as `subsim key generate` writes it"
        )));
    }
    let parsed = match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) if pem.contains("RSA PUBLIC KEY") => RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| e.to_string()),
        Some(pem) => RsaPublicKey::from_public_key_pem(pem).map_err(|e| e.to_string()),
        None => RsaPublicKey::from_public_key_der(&bytes).map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| {
        Failure::Usage(format!("{name} is not an RSA public key (PEM or DER, as `subsim key generate` writes): {e}"))
    })
}

/// A certificate from a file or stdin: PEM or DER, given back as DER.
pub fn read_certificate(p: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_file(p, "the certificate")?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::Usage(format!("{} is empty: expected a certificate (PEM or DER)", p.display())));
    }
    match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) => Ok(pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| Failure::Usage(format!("{}: not a PEM certificate: {e}", p.display())))?
            .1),
        None => Ok(bytes),
    }
}

/// The certificate's subject, expiry and RSA public key.
pub fn describe_cert(der: &[u8]) -> Result<(String, String, RsaPublicKey), Failure> {
    use x509_cert::der::{Decode, Encode};
    const RSA: &str = "1.2.840.113549.1.1.1";
    const EC: &str = "1.2.840.10045.2.1";
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|e| Failure::Usage(format!("not an X.509 certificate: {e}")))?;
    let tbs = &cert.tbs_certificate;
    let oid = tbs.subject_public_key_info.algorithm.oid.to_string();
    if oid != RSA {
        let what = if oid == EC {
            "an EC key (id-ecPublicKey, 1.2.840.10045.2.1)".to_string()
        } else {
            format!("a key of algorithm {oid}")
        };
        return Err(Failure::Usage(format!(
            "the certificate for {} holds {what}; subsim handles RSA-2048 keys (rsaEncryption)",
            tbs.subject
        )));
    }
    let spki = tbs.subject_public_key_info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|e| Failure::Usage(format!("not an RSA key: {e}")))?;
    Ok((tbs.subject.to_string(), tbs.validity.not_after.to_string(), key))
}

// ---- the card's refusals, in words for the command ---------------------------------------

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
                format!("wrong PIN: {n} tries left"),
                Some("`subsim pin verify --status` shows the tries left; a blocked PIN needs the PUK".into()),
            )
        }
        (Op::Keypad, sw) if sw.retries().is_some() => {
            let n = sw.retries().unwrap_or(0);
            refused(
                format!("wrong PIN entered on the keypad: {n} tries left"),
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
            refused(format!("wrong PUK: {n} tries left"), None)
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
        (Op::Sign(slot), Sw::REFERENCE_NOT_FOUND | Sw::INCORRECT_P1_P2 | Sw::FILE_NOT_FOUND) => refused(
            format!("slot {slot} holds no key"),
            Some(format!("generate one: `subsim key generate {}`", slot.to_string().to_lowercase())),
        ),
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
            refused(format!("wrong binding value: {n} tries left"), None)
        }
        (Op::Binding, Sw::AUTH_METHOD_BLOCKED) => {
            refused("the device binding is blocked".into(), Some("`subsim terminate` wipes the card".into()))
        }
        (_, Sw::INS_NOT_SUPPORTED | Sw::CLA_NOT_SUPPORTED) => match s.profile() {
            Ok(p) => Failure::Unsupported(format!("the card does not have this command (profile {}): {e}", p.widest())),
            Err(_) => Failure::Card(e),
        },
        _ => Failure::Card(e),
    }
}

fn status(s: &mut Session) -> Option<applet_spec::messages::CardStatus> {
    if !s.profile().ok()?.subsim {
        return None;
    }
    s.card().ok()?.status().ok()
}
fn pin_entry(s: &mut Session) -> Option<PinEntry> {
    status(s).map(|st| st.pin_entry)
}
fn binding(s: &mut Session) -> Option<BindingState> {
    status(s).map(|st| st.binding)
}

// ---- PIN, binding and management key -------------------------------------------------------

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
    let r = s.card()?.verify_keypad(&positions);
    r.map_err(|e| explain(s, e, Op::Keypad))?;
    s.pin_fresh = true;
    Ok(())
}

/// The binding value from `--binding HEX` or `--binding-file FILE` (hex text or raw bytes).
fn binding_value(f: &FlowArgs) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
    let bad = || Failure::Usage("the binding value must be hex (16 to 64 bytes)".into());
    if let Some(h) = &f.binding {
        return secret::hex_decode(h).map(|v| Some(Zeroizing::new(v))).ok_or_else(bad);
    }
    let Some(p) = &f.binding_file else { return Ok(None) };
    let bytes = Zeroizing::new(read_file(p, "the binding value")?);
    let hex = std::str::from_utf8(&bytes).ok().and_then(|t| secret::hex_decode(t.trim()));
    Ok(Some(Zeroizing::new(hex.unwrap_or_else(|| bytes.to_vec()))))
}

pub fn present_binding(s: &mut Session, value: &[u8]) -> Result<(), Failure> {
    s.require_subsim("a device binding")?;
    let r = s.card()?.present_binding(value);
    r.map_err(|e| explain(s, e, Op::Binding))
}

/// Makes a signature with `slot` possible: the binding presented and the
/// PIN entered as the options say. A PIN this session already verified is
/// not asked again (for 9C: only when verified by the command just before).
pub fn prepare_signature(s: &mut Session, slot: Slot, p: &PinArgs, f: &FlowArgs) -> Result<(), Failure> {
    if let Some(v) = binding_value(f)? {
        present_binding(s, &v)?;
    }
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

/// A private-key operation's result, refusals explained; uses up the PIN's freshness.
pub fn sign(s: &mut Session, slot: Slot, msg: &[u8], hash: Hash, padding: Padding) -> Result<Vec<u8>, Failure> {
    let r = s.card()?.sign(slot, msg, hash, padding);
    s.pin_fresh = false;
    r.map_err(|e| explain(s, e, Op::Sign(slot)))
}

/// The management key's algorithm: the sub-SIM's status, the card's
/// metadata, else `--mgm-algorithm` (3DES by default).
pub fn mgm_algorithm(s: &mut Session, m: &MgmArgs) -> Result<MgmAlgorithm, Failure> {
    let p = s.profile()?;
    if p.subsim {
        return Ok(s.card()?.status()?.mgm_algorithm);
    }
    if let Some(alg) = metadata(s, piv::KEY_REF_MANAGEMENT)?.as_deref().and_then(meta::algorithm) {
        if let Some(alg) = MgmAlgorithm::from_id(alg) {
            return Ok(alg);
        }
    }
    Ok(m.mgm_algorithm.map(mgm_alg).unwrap_or(MgmAlgorithm::TripleDes))
}

/// Mutual authentication with the management key: `--mgm-key`,
/// `$SUBSIM_MGM_KEY`, the factory key, or (at a terminal) a hidden prompt.
pub fn authenticate(s: &mut Session, m: &MgmArgs) -> Result<(), Failure> {
    let alg = mgm_algorithm(s, m)?;
    let given = secret::mgm_key(m.mgm_key.as_deref())?;
    let factory = alg == MgmAlgorithm::TripleDes;
    let key = match given {
        Some(k) => k,
        None if factory => Zeroizing::new(piv::DEFAULT_MGM_KEY.to_vec()),
        None => ask_mgm_key(alg)?,
    };
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
        Err(e) if e.sw().is_some() && m.mgm_key.is_none() && std::env::var_os("SUBSIM_MGM_KEY").is_none() => {
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

fn ask_mgm_key(alg: MgmAlgorithm) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "the card's management key is {}, not the factory 3DES key: give it with --mgm-key HEX or $SUBSIM_MGM_KEY",
            names::mgm_label(alg)
        )));
    }
    let hex = secret::prompt(&format!("management key ({}, hex): ", names::mgm_label(alg)))?;
    Ok(Zeroizing::new(secret::hex_decode(&hex).ok_or("the management key must be hex".to_string())?))
}

// ---- what the card tells about keys ----------------------------------------------------------

/// GET METADATA (Yubico, firmware 5.3+) of a key reference, where the card has it.
pub fn metadata(s: &mut Session, key_ref: u8) -> Result<Option<Vec<u8>>, Failure> {
    if !s.profile()?.metadata {
        return Ok(None);
    }
    let cmd = Command::new(ins::CLA_ISO, ins::GET_METADATA, 0x00, key_ref).with_ne(256);
    let r = s.card()?.transmit(&cmd)?;
    Ok((r.sw == Sw::OK).then_some(r.data))
}

/// What GET METADATA answers, as Yubico documents it: 01 algorithm,
/// 02 policy, 03 origin, 04 public key, 05 whether the value is the
/// factory default, 06 retries.
pub mod meta {
    use super::*;

    /// An RSA public key in tag 04 (81 modulus, 82 exponent).
    pub fn rsa_public_key(m: &[u8]) -> Option<RsaPublicKey> {
        let items = flat::parse(m).ok()?;
        let inner = flat::parse(flat::find(&items, 0x04)?).ok()?;
        let (n, e) = (flat::find(&inner, 0x81)?, flat::find(&inner, 0x82)?);
        RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e)).ok()
    }
    /// The algorithm in tag 01 (the management key's, for key reference 9B).
    pub fn algorithm(m: &[u8]) -> Option<u8> {
        flat::parse(m).ok().and_then(|items| flat::find(&items, 0x01)?.first().copied())
    }
    /// Tag 05: the PIN, PUK or management key still has its factory value.
    pub fn is_default(m: &[u8]) -> Option<bool> {
        flat::parse(m).ok().and_then(|items| flat::find(&items, 0x05)?.first().map(|b| *b != 0))
    }
}

/// The slot's public key from the card's metadata.
fn metadata_public_key(s: &mut Session, slot: Slot) -> Result<Option<RsaPublicKey>, Failure> {
    Ok(metadata(s, slot.key_ref())?.as_deref().and_then(meta::rsa_public_key))
}

/// Where the slot's public key is known from without a file: the card's
/// metadata, a key generated in this session, the slot's certificate.
pub fn known_public_key(s: &mut Session, slot: Slot) -> Result<Option<(RsaPublicKey, &'static str)>, Failure> {
    if let Some(k) = metadata_public_key(s, slot)? {
        return Ok(Some((k, "the card's metadata")));
    }
    if let Some(k) = s.generated.get(&slot) {
        return Ok(Some((k.clone(), "the key generated in this session")));
    }
    match s.card()?.read_certificate(slot)? {
        Some(der) => Ok(Some((describe_cert(&der)?.2, "the slot's certificate"))),
        None => Ok(None),
    }
}

/// The slot's public key: the file given, else what the card tells.
pub fn slot_public_key(s: &mut Session, slot: Slot, file: Option<&Path>) -> Result<RsaPublicKey, Failure> {
    if let Some(p) = file {
        return read_public_key(p);
    }
    match known_public_key(s, slot)? {
        Some((k, _)) => Ok(k),
        None => Err(Failure::Usage(format!(
            "the card does not tell slot {slot}'s public key (no certificate, no GET METADATA): give it with --pubkey FILE, as `subsim key generate` wrote it"
        ))),
    }
}

pub fn slot_certificate(s: &mut Session, slot: Slot) -> Result<Vec<u8>, Failure> {
    s.card()?.read_certificate(slot)?.ok_or_else(|| {
        Failure::Usage(format!(
            "slot {slot} holds no certificate: import one with `subsim cert import {}` FILE",
            slot.to_string().to_lowercase()
        ))
    })
}

/// Checks a PKCS#1 v1.5 SHA-256 signature.
pub fn rsa_verifies(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), sig).is_ok()
}

/// Runs one command in the session.
pub fn run(cmd: &Cmd, s: &mut Session) -> Result<Out, Failure> {
    match cmd {
        Cmd::Init => card::init(s),
        Cmd::Readers => card::readers(),
        Cmd::Info => card::info(s),
        Cmd::Pin(p) => pin::pin(s, p),
        Cmd::Mgm(m) => pin::mgm(s, m),
        Cmd::Key(k) => keys::key(s, k),
        Cmd::Sign { slot, file, hash, pss, output, out, pin, flow } => {
            let msg = read_input(file, "the data to sign")?;
            prepare_signature(s, *slot, pin, flow)?;
            let hash = match hash {
                HashArg::Sha256 => Hash::Sha256,
                HashArg::Sha384 => Hash::Sha384,
                HashArg::Sha512 => Hash::Sha512,
            };
            let sig = sign(s, *slot, &msg, hash, if *pss { Padding::Pss } else { Padding::Pkcs1v15 })?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
            let j = json!({ "slot": names::slot(*slot), "signature_base64": b64 });
            match output {
                Encoding::Raw => deliver(s, out.as_deref(), sig, false, "signature_base64", j),
                Encoding::Hex => deliver(
                    s,
                    out.as_deref(),
                    format!("{}\n", hex::encode(&sig)).into_bytes(),
                    true,
                    "signature_hex",
                    j,
                ),
                Encoding::Base64 => {
                    deliver(s, out.as_deref(), format!("{b64}\n").into_bytes(), true, "signature_base64", j)
                }
            }
            .map(|mut o| {
                // JSON has one name for the signature, whatever --output says.
                if let Some(obj) = o.json.as_object_mut() {
                    obj.remove("signature_hex");
                    obj.insert("signature_base64".into(), b64.clone().into());
                }
                o
            })
        }
        Cmd::Cert(c) => keys::cert(s, c),
        Cmd::Login { pin, flow } => flows::login(s, pin, flow),
        Cmd::Tx(t) => flows::tx(s, t),
        Cmd::Bind(b) => card::bind(s, b),
        Cmd::Terminate { yes, mgm } => card::terminate(s, *yes, mgm),
        Cmd::Apdu { apdus, allow_sw } => card::apdu(s, apdus, allow_sw),
        Cmd::Csr { slot, subject, pubkey, out, pin } => {
            keys::csr(s, *slot, subject, pubkey.as_deref(), out.as_deref(), pin)
        }
        Cmd::Run { .. } | Cmd::Shell => Err(Failure::Usage("sessions do not nest".into())),
        Cmd::Demo => crate::demo::run(s),
        Cmd::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut <crate::Cli as clap::CommandFactory>::command(), "subsim", &mut buf);
            let text = String::from_utf8_lossy(&buf).into_owned();
            out(text.trim_end().to_string(), json!({ "completions": text }))
        }
        Cmd::Man { dir } => card::man(dir.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GET METADATA answers shaped as Yubico documents them.
    #[test]
    fn metadata_items_decode() {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap().to_public_key();
        use rsa::traits::PublicKeyParts;
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        let public = flat::encode(&[(0x81, &n), (0x82, &e)]);
        let slot = flat::encode(&[(0x01, &[0x07]), (0x02, &[0x02, 0x01]), (0x03, &[0x01]), (0x04, &public)]);
        assert_eq!(meta::rsa_public_key(&slot), Some(key));
        assert_eq!(meta::algorithm(&slot), Some(0x07));
        assert_eq!(meta::is_default(&slot), None);
        let mgm = flat::encode(&[(0x01, &[0x0C]), (0x02, &[0x00, 0x01]), (0x05, &[0x01])]);
        assert_eq!(meta::algorithm(&mgm).and_then(MgmAlgorithm::from_id), Some(MgmAlgorithm::Aes256));
        assert_eq!(meta::is_default(&mgm), Some(true));
        assert_eq!(meta::rsa_public_key(&mgm), None);
        assert_eq!(meta::algorithm(&[0x01, 0x05]), None, "broken TLV");
    }
}
