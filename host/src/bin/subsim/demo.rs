//! `subsim demo`: the whole life of a sub-SIM on a fresh simulated card.

use applet_spec::messages::PinEntry;
use applet_spec::piv::Slot;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use subsim_host::{Client, Hash, Padding};

use crate::commands::Out;
use crate::open;
use crate::session::{self, Session};
use crate::Failure;
use subsim_host::x509::{self, CardSigner, TestCa};

const PIN: &[u8] = b"123456";
const PHONE: [u8; 32] = [0x5A; 32];

fn public_key_of(cert_der: &[u8]) -> Result<RsaPublicKey, Failure> {
    use x509_cert::der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| Failure::Usage(e.to_string()))?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| Failure::Usage(e.to_string()))
}

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

fn tour(s: &Session, card_file: &std::path::Path) -> Result<Out, Failure> {
    let (quiet, json) = (s.opts.quiet, s.opts.json);
    let say = |line: &str| {
        if !quiet && !json {
            session::stdout(format!("{line}\n").as_bytes());
        }
    };
    let mut c = Client::new(open::open(&open::Target::Sim(card_file.to_owned()), s.opts.trace, true)?);
    let info = c.select().and_then(|_| c.info())?;
    say(&format!("== A fresh simulated sub-SIM, serial {}", info.serial));

    say("== Personalise: management key (factory), device binding, keypad-only PIN entry");
    c.authenticate_default()?;
    c.set_binding(&PHONE)?;
    c.set_pin_entry(PinEntry::KeypadOnly)?;

    say("== Generate the login key (9A) and the transaction key (9C) on the card");
    let ca = TestCa::new("CN=subsim demo CA")?;
    let mut issued = Vec::new();
    for (slot, subject) in [(Slot::Authentication, "CN=Alice,OU=login"), (Slot::Signature, "CN=Alice,OU=payments")] {
        let public = c.generate(slot)?;
        say(&format!("   {slot}: RSA-2048 generated; PKCS#10 request for {subject} signed on the card"));
        // The card signs the request: the binding must be presented, and the PIN entered.
        c.present_binding(&PHONE)?;
        keypad_pin(&mut c, &say)?;
        let csr = x509::csr(&CardSigner::new(&mut c, slot, public), subject)?;
        let cert = ca.issue(&csr, 365)?;
        x509::verify_issued(&ca.certificate, &cert)?;
        c.write_certificate(slot, &cert)?;
        say(&format!("   the test CA issued the certificate; stored in {slot}"));
        issued.push(cert);
    }

    say("== Login: the server sends a random challenge; 9A signs it; the server checks the certificate");
    c.present_binding(&PHONE)?;
    keypad_pin(&mut c, &say)?;
    let mut challenge = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
    let sig = c.sign(Slot::Authentication, &challenge, Hash::Sha256, Padding::Pkcs1v15)?;
    let login_key = public_key_of(&c.read_certificate(Slot::Authentication)?.unwrap_or_default())?;
    login_key
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &sig)
        .map_err(|_| Failure::NotVerified("demo: the login signature does not verify".into()))?;
    say("   login OK");

    say("== A transfer, signed with 9C after its own PIN entry");
    let transfer = b"transfer 250.00 EUR to DE89370400440532013000";
    keypad_pin(&mut c, &say)?;
    let tx_sig = c.sign(Slot::Signature, transfer, Hash::Sha256, Padding::Pkcs1v15)?;
    let tx_key = public_key_of(&issued[1])?;
    tx_key
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(transfer), &tx_sig)
        .map_err(|_| Failure::NotVerified("demo: the transfer signature does not verify".into()))?;
    say(&format!("   \"{}\": signature valid", String::from_utf8_lossy(transfer)));

    say("== A man in the middle changes the amount");
    let tampered = b"transfer 950.00 EUR to DE89370400440532013000";
    let caught = tx_key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tampered), &tx_sig).is_err();
    if !caught {
        return Err(Failure::NotVerified("demo: a tampered transfer verified".into()));
    }
    say(&format!("   \"{}\": signature INVALID, tampering caught", String::from_utf8_lossy(tampered)));
    Ok(Out {
        text: "demo: complete".into(),
        json: json!({ "demo": "complete", "serial": info.serial, "tampering_caught": caught, "card_file": s.opts.sim.as_ref().map(|p| p.display().to_string()) }),
        bytes: None,
    })
}

/// The user enters the PIN on the card's random keypad: the demo plays the
/// user, finding each digit on the layout and tapping its position.
fn keypad_pin<T: subsim_host::Transport>(c: &mut Client<T>, say: &dyn Fn(&str)) -> Result<(), Failure> {
    let layout = c.keypad()?;
    let taps: Vec<u8> = PIN.iter().map(|d| layout.position_of(d - b'0').expect("every digit is on the pad")).collect();
    say(&format!("   keypad {:?}: the user taps positions {:?} (malware sees only positions)", layout.digit_at, taps));
    c.verify_keypad(&taps)?;
    Ok(())
}
