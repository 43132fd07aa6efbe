//! `subsim demo`: the whole life of a sub-SIM on a fresh simulated card,
//! with the bank's side played by `subsim_verifier`: a test CA that checks
//! the card's key attestation (when the card has ATTEST) before it issues,
//! a server that trusts only that CA and its CRL, single-use challenges,
//! transfer statements it compares field by field, and a revocation.

use std::time::SystemTime;

use applet_spec::messages::PinEntry;
use applet_spec::piv::Slot;
use serde_json::json;
use subsim_host::{Client, Hash, Padding, Transport};
use subsim_verifier::attest::AttestationTrust;
use subsim_verifier::chain::{certificates, name};
use subsim_verifier::{Refusal, Role, Server, SessionId, TestCa, Transfer, Verifier};

use crate::commands::ca::{card_attestation, CardAttestation};
use crate::commands::Out;
use crate::open;
use crate::session::{self, Session};
use crate::Failure;
use subsim_host::x509::{self, CardSigner};

const PIN: &[u8] = b"123456";
const PHONE: [u8; 32] = [0x5A; 32];

/// The tour on a fresh card: kept in `--sim FILE` when named (a file that
/// does not exist yet), else in a temporary file removed afterwards.
pub fn run(s: &Session) -> Result<Out, Failure> {
    if let Some(path) = &s.opts.sim {
        if path.exists() {
            return Err(Failure::Usage(format!(
                "the demo personalises a fresh card: {} exists; name a new file with --sim",
                path.display()
            )));
        }
        return tour(s, path);
    }
    let dir = std::env::temp_dir().join(format!("subsim-demo-{}", std::process::id()));
    let result = tour(s, &dir.join("card.json"));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}

/// The demo expects this refusal; anything else (or a pass) fails the demo.
fn expect_refusal<T>(what: &str, r: Result<T, Refusal>, reason: &str) -> Result<Refusal, Failure> {
    match r {
        Err(e) if e.reason() == reason => Ok(e),
        Err(e) => Err(Failure::NotVerified(format!("demo: {what} refused for the wrong reason: {e}"))),
        Ok(_) => Err(Failure::NotVerified(format!("demo: {what} was accepted"))),
    }
}

fn tour(s: &Session, card_file: &std::path::Path) -> Result<Out, Failure> {
    let (quiet, json) = (s.opts.quiet, s.opts.json);
    let say = |line: &str| {
        if !quiet && !json {
            session::stdout(format!("{line}\n").as_bytes());
        }
    };
    let demo_refused = |what: &str, r: Refusal| Failure::NotVerified(format!("demo: {what} refused: {r}"));
    let mut c = Client::new(open::open(&open::Target::Sim(card_file.to_owned()), s.opts.trace, true)?);
    let info = c.select().and_then(|_| c.info())?;
    say(&format!("== A fresh simulated sub-SIM, serial {}", info.serial));

    say("== Personalise: management key (factory), device binding, keypad-only PIN entry");
    c.authenticate_default()?;
    c.set_binding(&PHONE)?;
    c.set_pin_entry(PinEntry::KeypadOnly)?;

    let now = SystemTime::now;
    let mut ca = TestCa::new("CN=subsim demo bank", now(), 30).map_err(usage)?;
    say(&format!("== The bank's {} issues the card's certificates", name(ca.certificate().subject_name())));
    let mut attestation = "skipped";
    let mut issued = Vec::new();
    for (slot, subject, role) in [
        (Slot::Authentication, "CN=Alice,OU=login", Role::Login),
        (Slot::Signature, "CN=Alice,OU=payments", Role::Transaction),
    ] {
        let public = c.generate(slot)?;
        say(&format!("   {slot}: RSA-2048 generated on the card; PKCS#10 request for {subject} signed on the card"));
        // The card signs the request: the binding must be presented, and the PIN entered.
        c.present_binding(&PHONE)?;
        keypad_pin(&mut c, &say)?;
        let csr = x509::csr(&CardSigner::new(&mut c, slot, public), subject)?;
        attestation = attest(&mut c, slot, &csr, &say)?;
        let cert = ca.issue(&csr, None, role, now(), 365).map_err(usage)?;
        let der = cert.to_der().map_err(usage)?;
        c.write_certificate(slot, &der)?;
        say(&format!("   the CA issued it for {role} (key usage checked by the server); stored in {slot}"));
        issued.push(der);
    }
    let crl = ca.crl(now(), now() + std::time::Duration::from_secs(86400)).map_err(usage)?;
    let mut server = Server::new(Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]));
    say("   the server trusts this CA only, and requires its CRL (in force, nothing revoked)");

    say("== Login: the server sends a single-use challenge for this session; 9A signs it");
    let session = SessionId::random();
    c.present_binding(&PHONE)?;
    keypad_pin(&mut c, &say)?;
    let challenge = server.challenge(&session, now());
    let sig = c.sign(Slot::Authentication, &challenge.bytes, Hash::Sha256, Padding::Pkcs1v15)?;
    let who =
        server.login(&session, &challenge.bytes, &sig, &issued[0], now()).map_err(|r| demo_refused("login", r))?;
    say(&format!("   login OK: {}, certificate path {}", who.subject, who.path.join(" <- ")));

    say("== Someone records that login and plays it again");
    let replay = server.login(&session, &challenge.bytes, &sig, &issued[0], now());
    let e = expect_refusal("the replayed login", replay, "replayed-challenge")?;
    say(&format!("   refused: {e}"));

    say("== A transfer: the server issues the statement, 9C signs it after its own PIN entry");
    let transfer = Transfer::new("DE89370400440532013000", "250.00", "EUR").map_err(usage)?;
    let statement = server.issue_transfer(&session, transfer.clone(), now());
    for line in String::from_utf8_lossy(&statement.encode()).lines() {
        say(&format!("   | {line}"));
    }
    keypad_pin(&mut c, &say)?;
    let tx_sig = c.sign(Slot::Signature, &statement.encode(), Hash::Sha256, Padding::Pkcs1v15)?;
    server
        .confirm(&session, &statement.encode(), &tx_sig, &issued[1], now())
        .map_err(|r| demo_refused("the transfer", r))?;
    say("   signature valid, and it is the statement the server issued: transfer confirmed");

    say("== The same transfer again; on its way to the card a man in the middle changes the amount");
    let statement = server.issue_transfer(&session, transfer, now());
    let tampered = String::from_utf8_lossy(&statement.encode()).replace("amount: 250.00", "amount: 950.00");
    keypad_pin(&mut c, &say)?;
    let tx_sig = c.sign(Slot::Signature, tampered.as_bytes(), Hash::Sha256, Padding::Pkcs1v15)?;
    let r = server.confirm(&session, tampered.as_bytes(), &tx_sig, &issued[1], now());
    let e = expect_refusal("the altered transfer", r, "altered-field")?;
    say(&format!("   the card signed what reached it, but the server refused: {e}; tampering caught"));

    say("== The phone is stolen: the CA revokes the login certificate and publishes a new CRL");
    let login_cert = certificates(&issued[0]).map_err(usage)?.remove(0);
    ca.revoke_certificate(&login_cert, now()).map_err(usage)?;
    let crl = ca.crl(now(), now() + std::time::Duration::from_secs(86400)).map_err(usage)?;
    server.trust = Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]);
    c.present_binding(&PHONE)?;
    keypad_pin(&mut c, &say)?;
    let challenge = server.challenge(&session, now());
    let sig = c.sign(Slot::Authentication, &challenge.bytes, Hash::Sha256, Padding::Pkcs1v15)?;
    let r = server.login(&session, &challenge.bytes, &sig, &issued[0], now());
    let e = expect_refusal("the revoked certificate's login", r, "revoked")?;
    say(&format!("   the card still signs, but the server refused: {e}"));
    // A card kept in a file stays bound to the demo's phone: its value is
    // shown, or the keys could never be used again.
    let binding = hex::encode(PHONE);
    let text = match &s.opts.sim {
        Some(p) => format!(
            "demo: complete\nthe card in {f} stays personalised: PIN 123456 (keypad only), bound to the device value \
             {binding}\nuse it with: SUBSIM_BINDING={binding} subsim --sim {f} login --keypad\n\
             or unbind it: subsim --sim {f} bind clear",
            f = p.display()
        ),
        None => "demo: complete (its card was temporary and is gone)".into(),
    };
    Ok(Out {
        text,
        json: json!({ "demo": "complete", "serial": info.serial, "attestation": attestation,
                      "replay_refused": true, "tampering_caught": true, "revoked_refused": true,
                      "card_file": s.opts.sim.as_ref().map(|p| p.display().to_string()),
                      "binding_hex": s.opts.sim.as_ref().map(|_| binding) }),
        bytes: None,
    })
}

/// Before issuing, the CA asks the card to attest the key (ATTEST) and
/// checks the chain: the simulated card's F9 certificate is issued by the
/// project's TEST manufacturer CA, which the demo's CA trusts as a bank's
/// CA would trust the real manufacturer's root (e.g. Yubico's PIV root).
fn attest<T: Transport>(
    c: &mut Client<T>,
    slot: Slot,
    csr: &[u8],
    say: &dyn Fn(&str),
) -> Result<&'static str, Failure> {
    let Some(CardAttestation { statement, device }) = card_attestation(c, slot)? else {
        say("   attestation: this card has no ATTEST command (Yubico's 00 F9): step skipped");
        return Ok("skipped");
    };
    let manufacturer =
        certificates(apdu_sim::attestation::TEST_MANUFACTURER_CA_PEM.as_bytes()).map_err(usage)?.remove(0);
    let trust = AttestationTrust::new(vec![manufacturer]);
    let a = trust
        .verify(&device, &statement, csr, slot.key_ref(), SystemTime::now())
        .map_err(|r| Failure::NotVerified(format!("demo: attestation refused: {r}")))?;
    say(&format!(
        "   attestation checked against the TEST manufacturer CA: the key was generated on the card ({}); the CA may issue",
        a.device
    ));
    Ok("checked")
}

/// The user enters the PIN on the card's random keypad: the demo plays the
/// user, finding each digit on the layout and tapping its position.
fn keypad_pin<T: Transport>(c: &mut Client<T>, say: &dyn Fn(&str)) -> Result<(), Failure> {
    let layout = c.keypad()?;
    let taps: Vec<u8> = PIN.iter().map(|d| layout.position_of(d - b'0').expect("every digit is on the pad")).collect();
    say(&format!("   keypad {:?}: the user taps positions {:?} (malware sees only positions)", layout.digit_at, taps));
    c.verify_keypad(&taps)?;
    Ok(())
}
