//! What each command does, on top of the typed client.

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
            let sig = c.sign(slot(*s), &msg, hash, if *pss { Padding::Pss } else { Padding::Pkcs1v15 })?;
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
            let public = slot_public_key(&mut c, slot(*s), pubkey.as_deref())?;
            if slot(*s) != Slot::CardAuthentication {
                verify_pin(&mut c, pin)?;
            }
            let der = x509::csr(&x509::CardSigner::new(&mut c, slot(*s), public), subject)?;
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

fn readers() -> Result<Out, Failure> {
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for r in list_readers()? {
        let serial = if r.card_present {
            subsim_host::PcscTransport::connect(&ReaderChoice::Exact(r.name.clone())).ok().and_then(|t| {
                let mut c = Client::new(t);
                c.select().ok()?;
                c.serial().ok()
            })
        } else {
            None
        };
        let card = match (r.card_present, serial) {
            (false, _) => "no card".to_string(),
            (true, Some(s)) => format!("card {s}"),
            (true, None) => "card (not a sub-SIM)".to_string(),
        };
        rows.push(format!("{}: {card}", r.name));
        json_rows.push(json!({ "reader": r.name, "card_present": r.card_present, "serial": serial, "atr": hex::encode_upper(&r.atr) }));
    }
    let text = if rows.is_empty() { "no readers".to_string() } else { rows.join("\n") };
    out(text, json!({ "readers": json_rows }))
}

fn info(c: &mut Card) -> Result<Out, Failure> {
    let i = c.info()?;
    let s = &i.status;
    let mut certs = Vec::new();
    for slot in i.certificates() {
        let der = slot_certificate(c, slot)?;
        let (subject, not_after) = match describe_cert(&der) {
            Ok((subject, not_after, _)) => (subject, not_after),
            Err(_) => ("(not an X.509 RSA certificate)".to_string(), "?".to_string()),
        };
        certs.push((slot, subject, not_after));
    }
    let binding = match s.binding {
        BindingState::None => "none",
        BindingState::Required => "set, not presented",
        BindingState::Presented => "presented",
        BindingState::Blocked => "blocked",
    };
    let policy = match s.pin_entry {
        PinEntry::Any => "any",
        PinEntry::KeypadOnly => "keypad-only",
    };
    let slots = |v: Vec<Slot>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut text = format!(
        "card {} ({}), version {}.{}.{}\nPIN tries left {}, PUK tries left {}, PIN entry {policy}\nbinding {binding} ({} tries left)\nkeys in {}\nmanagement key {:?}, change counter {}",
        i.serial,
        c.transport().describe(),
        i.version[0],
        i.version[1],
        i.version[2],
        s.pin_tries,
        s.puk_tries,
        s.binding_tries,
        if s.keys == 0 { "no slot".to_string() } else { slots(i.keys()).join(", ") },
        s.mgm_algorithm,
        s.changes
    );
    for (slot, subject, not_after) in &certs {
        text.push_str(&format!("\ncertificate {slot}: {subject}, valid until {not_after}"));
    }
    out(
        text,
        json!({
            "serial": i.serial, "version": format!("{}.{}.{}", i.version[0], i.version[1], i.version[2]),
            "pin_tries": s.pin_tries, "puk_tries": s.puk_tries, "pin_entry": policy,
            "binding": binding, "binding_tries": s.binding_tries, "keys": slots(i.keys()),
            "certificates": certs.iter().map(|(slot, subject, not_after)| json!({"slot": slot.to_string(), "subject": subject, "not_after": not_after})).collect::<Vec<_>>(),
            "mgm_algorithm": format!("{:?}", s.mgm_algorithm), "changes": s.changes,
        }),
    )
}

/// Draws the layout with a letter per key; the user types letters.
fn draw_keypad(layout: &KeypadLayout) -> String {
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

fn pin(c: &mut Card, p: &PinCmd) -> Result<Out, Failure> {
    match p {
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

fn mgm(c: &mut Card, m: &MgmCmd) -> Result<Out, Failure> {
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

fn key(c: &mut Card, k: &KeyCmd, quiet: bool) -> Result<Out, Failure> {
    match k {
        KeyCmd::Generate { slot: s, timeout, mgm } => {
            authenticate(c, mgm)?;
            let started = Instant::now();
            // The card works in silence for seconds: show that we wait, and
            // stop waiting at the timeout (exit 3; the card may finish anyway).
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let show = !quiet && std::io::stderr().is_terminal();
            let limit = Duration::from_secs(*timeout);
            let watcher = {
                let done = std::sync::Arc::clone(&done);
                std::thread::spawn(move || {
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        if started.elapsed() > limit {
                            eprintln!("\nsubsim: key generation did not finish within {} s; the card may still be working: check with `subsim info`", limit.as_secs());
                            std::process::exit(3);
                        }
                        if show {
                            eprint!("\rgenerating on the card... {:>3} s", started.elapsed().as_secs());
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    if show {
                        eprint!("\r\x1b[K");
                    }
                })
            };
            let result = c.generate(slot(*s));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = watcher.join();
            let key = result?;
            let pem = key.to_public_key_pem(LineEnding::LF).map_err(|e| Failure::Usage(e.to_string()))?;
            out(
                pem.trim_end().to_string(),
                json!({ "slot": slot(*s).to_string(), "public_key_pem": pem, "seconds": started.elapsed().as_secs_f64() }),
            )
        }
        KeyCmd::Public { slot: s } => {
            let der = slot_certificate(c, slot(*s))?;
            let (_, _, key) = describe_cert(&der)?;
            let pem = key.to_public_key_pem(LineEnding::LF).map_err(|e| Failure::Usage(e.to_string()))?;
            out(pem.trim_end().to_string(), json!({ "slot": slot(*s).to_string(), "public_key_pem": pem }))
        }
    }
}

fn cert(c: &mut Card, k: &CertCmd) -> Result<Out, Failure> {
    match k {
        CertCmd::Import { slot: s, file, mgm } => {
            let bytes = std::fs::read(file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
            let der = match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
                Some(pem) => {
                    pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| Failure::Usage(format!("PEM: {e}")))?.1
                }
                None => bytes,
            };
            let (subject, not_after, _) = describe_cert(&der)?;
            authenticate(c, mgm)?;
            c.write_certificate(slot(*s), &der)?;
            out(
                format!("certificate for {subject} (valid until {not_after}) stored in {}", slot(*s)),
                json!({ "slot": slot(*s).to_string(), "subject": subject }),
            )
        }
        CertCmd::Selfsign { slot: s, subject, pubkey, days, pin, mgm } => {
            let public = slot_public_key(c, slot(*s), Some(pubkey))?;
            if slot(*s) != Slot::CardAuthentication {
                verify_pin(c, pin)?;
            }
            let der = x509::selfsign(&x509::CardSigner::new(c, slot(*s), public), subject, *days)?;
            authenticate(c, mgm)?;
            c.write_certificate(slot(*s), &der)?;
            out(
                format!("self-signed certificate for {subject} stored in {}", slot(*s)),
                json!({ "slot": slot(*s).to_string(), "subject": subject }),
            )
        }
        CertCmd::Export { slot: s, der, out: path } => {
            let cert = slot_certificate(c, slot(*s))?;
            let bytes = if *der {
                cert.clone()
            } else {
                pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &cert)
                    .map_err(|e| Failure::Usage(e.to_string()))?
                    .into_bytes()
            };
            match path {
                Some(p) => std::fs::write(p, &bytes).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?,
                None if *der => std::io::stdout().write_all(&bytes).map_err(|e| Failure::Usage(e.to_string()))?,
                None => {
                    return out(
                        String::from_utf8_lossy(&bytes).trim_end().to_string(),
                        json!({ "pem": String::from_utf8_lossy(&bytes) }),
                    )
                }
            }
            out("", json!({ "bytes": bytes.len() }))
        }
    }
}

fn login(c: &mut Card, p: &PinArgs) -> Result<Out, Failure> {
    let (subject, _, key) = describe_cert(&slot_certificate(c, Slot::Authentication)?)?;
    verify_pin(c, p)?;
    let mut challenge = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
    let sig = c.sign(Slot::Authentication, &challenge, Hash::Sha256, Padding::Pkcs1v15)?;
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &sig).map_err(|_| {
        Failure::NotVerified(format!("login FAILED: the card's signature does not match the certificate of {subject}"))
    })?;
    out(
        format!("login OK: {subject} signed a fresh challenge"),
        json!({ "login": true, "subject": subject, "challenge": hex::encode(challenge) }),
    )
}

fn tx(c: &mut Card, t: &TxCmd) -> Result<Out, Failure> {
    match t {
        TxCmd::Sign { file, pin } => {
            let text = read_input(file)?;
            verify_pin(c, pin)?;
            let sig = c.sign(Slot::Signature, &text, Hash::Sha256, Padding::Pkcs1v15)?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
            out(b64.clone(), json!({ "signature_base64": b64 }))
        }
        TxCmd::Verify { file, signature, cert } => {
            let text = read_input(file)?;
            let sig = base64::engine::general_purpose::STANDARD
                .decode(signature.trim())
                .map_err(|e| Failure::Usage(format!("the signature is not base64: {e}")))?;
            let der = match cert {
                Some(p) => {
                    let pem =
                        std::fs::read_to_string(p).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
                    pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| Failure::Usage(format!("PEM: {e}")))?.1
                }
                None => slot_certificate(c, Slot::Signature)?,
            };
            let (subject, _, key) = describe_cert(&der)?;
            match key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&text), &sig) {
                Ok(()) => out(
                    format!("transaction signature valid ({subject})"),
                    json!({ "valid": true, "subject": subject }),
                ),
                Err(_) => Err(Failure::NotVerified(
                    "transaction signature INVALID: the text or the signature was altered".into(),
                )),
            }
        }
    }
}

fn bind(c: &mut Card, b: &BindCmd) -> Result<Out, Failure> {
    let value = |v: &str| {
        secret::hex_decode(v).map(Zeroizing::new).ok_or_else(|| Failure::Usage("the binding value must be hex".into()))
    };
    match b {
        BindCmd::Set { value: v, mgm } => {
            let v = value(v)?;
            authenticate(c, mgm)?;
            c.set_binding(&v)?;
            out("binding set: private keys work only once the value is presented", json!({ "binding": "set" }))
        }
        BindCmd::Present { value: v } => {
            c.present_binding(&value(v)?)?;
            out("binding presented for this session", json!({ "binding": "presented" }))
        }
        BindCmd::Clear { mgm } => {
            authenticate(c, mgm)?;
            c.clear_binding()?;
            out("binding cleared", json!({ "binding": "none" }))
        }
    }
}
