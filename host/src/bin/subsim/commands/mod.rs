//! What each command does, on top of the typed client: the shared helpers
//! and the dispatcher here, each area's commands in a module of its own.

mod card;
mod flows;
mod keys;
mod pin;
mod yubico;

use card::{bind, info, readers};
use flows::{login, tx};
use keys::{cert, key};
use pin::{mgm, pin};

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use applet_spec::apdu::Command;
use applet_spec::messages::{BindingState, KeypadLayout, PinEntry};
use applet_spec::piv::{MgmAlgorithm, Slot};
use base64::Engine;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subsim_host::{list_readers, Client, Hash, Padding, PinState, ReaderChoice, Transport};
use zeroize::Zeroizing;

use crate::open::{self, Target};
use crate::secret::{self, Source};
use crate::{
    BindCmd, CertCmd, Cli, Cmd, Encoding, Failure, HashArg, KeyCmd, MgmAlg, MgmArgs, MgmCmd, PinArgs, PinCmd, Policy,
    SlotArg, TxCmd,
};
use subsim_host::x509;

/// What a command prints: words for people, JSON for programs.
pub struct Out {
    pub text: String,
    pub json: Value,
}

fn out(text: impl Into<String>, json: Value) -> Result<Out, Failure> {
    Ok(Out { text: text.into(), json })
}

type Card = Client<Box<dyn Transport>>;

fn slot(s: SlotArg) -> Slot {
    match s {
        SlotArg::A9a => Slot::Authentication,
        SlotArg::A9c => Slot::Signature,
        SlotArg::A9d => Slot::KeyManagement,
        SlotArg::A9e => Slot::CardAuthentication,
        SlotArg::Af9 => Slot::Attestation,
    }
}

fn card(target: &Target, cli: &Cli) -> Result<Card, Failure> {
    let mut c = Client::new(open::open(target, cli.trace)?);
    if cli.verbose {
        eprintln!("subsim: using the {}", c.transport().describe());
    }
    c.select()?;
    Ok(c)
}

fn pin_source(p: &PinArgs) -> Source {
    Source { plain: p.pin.clone(), file: p.pin_file.clone() }
}

fn verify_pin(c: &mut Card, p: &PinArgs) -> Result<(), Failure> {
    let pin = pin_source(p).get("PIN", "SUBSIM_PIN")?;
    c.verify_pin(pin.as_bytes())?;
    Ok(())
}

/// Authenticates with the management key; its algorithm comes from the card.
fn authenticate(c: &mut Card, m: &MgmArgs) -> Result<(), Failure> {
    let key = secret::mgm_key(m.mgm_key.as_deref())?;
    let alg = c.status()?.mgm_algorithm;
    c.authenticate(alg, &key)?;
    Ok(())
}

fn read_input(file: &Option<std::path::PathBuf>) -> Result<Vec<u8>, Failure> {
    match file.as_deref() {
        Some(p) if p != Path::new("-") => std::fs::read(p).map_err(|e| Failure::Usage(format!("{}: {e}", p.display()))),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            Ok(buf)
        }
    }
}

/// The certificate's subject, expiry and public key.
fn describe_cert(der: &[u8]) -> Result<(String, String, RsaPublicKey), Failure> {
    use x509_cert::der::{Decode, Encode};
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|e| Failure::Usage(format!("not an X.509 certificate: {e}")))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs.subject_public_key_info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|e| Failure::Usage(format!("not an RSA key: {e}")))?;
    Ok((tbs.subject.to_string(), tbs.validity.not_after.to_string(), key))
}

/// A slot's public key: from a PEM file, else from the slot's certificate.
/// (PIV has no command that reads a public key back.)
fn slot_public_key(c: &mut Card, s: Slot, pem: Option<&Path>) -> Result<RsaPublicKey, Failure> {
    match pem {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
            RsaPublicKey::from_public_key_pem(&text).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))
        }
        None => Ok(describe_cert(&slot_certificate(c, s)?)?.2),
    }
}

fn slot_certificate(c: &mut Card, s: Slot) -> Result<Vec<u8>, Failure> {
    c.read_certificate(s)?.ok_or_else(|| Failure::Usage(format!("slot {s} holds no certificate")))
}

pub fn run(cli: &Cli, target: &Target) -> Result<Out, Failure> {
    match &cli.command {
        Cmd::Readers => readers(),
        Cmd::Info => info(&mut card(target, cli)?),
        Cmd::Pin(p) => pin(&mut card(target, cli)?, p),
        Cmd::Mgm(m) => mgm(&mut card(target, cli)?, m),
        Cmd::Reset { yes } => yubico::reset(&mut card(target, cli)?, *yes),
        Cmd::Key(k) => key(&mut card(target, cli)?, k, cli.quiet),
        Cmd::Sign { slot: s, file, hash, pss, output, pin } => {
            let msg = read_input(file)?;
            let mut c = card(target, cli)?;
            if slot(*s) != Slot::CardAuthentication {
                verify_pin(&mut c, pin)?;
            }
            let hash = match hash {
                HashArg::Sha256 => Hash::Sha256,
                HashArg::Sha384 => Hash::Sha384,
                HashArg::Sha512 => Hash::Sha512,
            };
            // RSA of any size or ECDSA, as the slot's key is (GET METADATA).
            let alg = yubico::slot_algorithm(&mut c, slot(*s))?;
            let sig = c.sign_with(slot(*s), alg, &msg, hash, if *pss { Padding::Pss } else { Padding::Pkcs1v15 })?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
            match output {
                Encoding::Raw if !cli.json => {
                    std::io::stdout().write_all(&sig).map_err(|e| Failure::Usage(e.to_string()))?;
                    out("", json!({}))
                }
                Encoding::Hex => out(hex::encode(&sig), json!({ "signature_hex": hex::encode(&sig) })),
                _ => out(b64.clone(), json!({ "signature_base64": b64 })),
            }
        }
        Cmd::Cert(c) => cert(&mut card(target, cli)?, c),
        Cmd::Login { pin } => login(&mut card(target, cli)?, pin),
        Cmd::Tx(t) => tx(&mut card(target, cli)?, t),
        Cmd::Bind(b) => bind(&mut card(target, cli)?, b),
        Cmd::Terminate { yes, mgm } => {
            let mut c = card(target, cli)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::Usage("terminate wipes the card: confirm with --yes".into()));
                }
                eprint!("Wipe every key, certificate and binding on {}? Type 'yes': ", c.transport().describe());
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer).map_err(|e| Failure::Usage(e.to_string()))?;
                if answer.trim() != "yes" {
                    return Err(Failure::Usage("not terminated".into()));
                }
            }
            // With the management key; a card with PIN and PUK blocked needs none.
            let _ = authenticate(&mut c, mgm);
            c.terminate()?;
            out(
                "terminated: keys, certificates and binding wiped; PIN, PUK and management key back to factory values",
                json!({ "terminated": true }),
            )
        }
        Cmd::Csr { slot: s, subject, pubkey, pin } => {
            let mut c = card(target, cli)?;
            // An EC key (GET METADATA says): ECDSA; else RSA as before.
            let der = match yubico::ec_certificate(&mut c, slot(*s), subject, None, pin)? {
                Some(der) => der,
                None => {
                    let public = slot_public_key(&mut c, slot(*s), pubkey.as_deref())?;
                    if slot(*s) != Slot::CardAuthentication {
                        verify_pin(&mut c, pin)?;
                    }
                    x509::csr(&x509::CardSigner::new(&mut c, slot(*s), public), subject)?
                }
            };
            let pem = pem_rfc7468::encode_string("CERTIFICATE REQUEST", pem_rfc7468::LineEnding::LF, &der)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            out(pem.trim_end().to_string(), json!({ "csr_pem": pem }))
        }
        Cmd::Demo => crate::demo::run(cli),
        Cmd::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut <Cli as clap::CommandFactory>::command(), "subsim", &mut buf);
            out(
                String::from_utf8_lossy(&buf).trim_end().to_string(),
                json!({ "completions": String::from_utf8_lossy(&buf) }),
            )
        }
        Cmd::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut buf)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            out(String::from_utf8_lossy(&buf).trim_end().to_string(), json!({ "man": String::from_utf8_lossy(&buf) }))
        }
        Cmd::Apdu { apdus } => {
            let mut c = card(target, cli)?;
            let mut lines = Vec::new();
            let mut answers = Vec::new();
            for a in apdus {
                let bytes = secret::hex_decode(a).ok_or_else(|| Failure::Usage(format!("not hex: {a:?}")))?;
                let cmd = Command::parse(&bytes).map_err(|e| Failure::Usage(format!("{a}: {e}")))?;
                let r = c.transmit(&cmd)?;
                lines.push(format!("{}  {:04X} ({})", hex::encode_upper(&r.data), r.sw.0, r.sw.meaning()));
                answers.push(json!({ "data": hex::encode_upper(&r.data), "sw": format!("{:04X}", r.sw.0), "meaning": r.sw.meaning() }));
            }
            out(lines.join("\n").trim_start().to_string(), json!({ "responses": answers }))
        }
    }
}
