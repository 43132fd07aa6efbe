//! Key and certificate commands. Certificates and requests are checked
//! against the slot's key before anything is stored or printed.

use super::yubico::{self, key_algorithm};
use super::*;

/// Generates on the card, showing that we wait (the card works in silence
/// for seconds) and giving up at the timeout (exit 3; the card may finish
/// anyway). The watcher wakes the moment the card answers: no floor on a
/// fast card's time.
fn generate(
    s: &mut Session,
    slot: Slot,
    alg: KeyAlgorithm,
    policies: applet_spec::messages::Policies,
    timeout: u64,
) -> Result<PublicKey, Failure> {
    let started = Instant::now();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let show = !s.opts.quiet && !s.opts.json && std::io::stderr().is_terminal();
    let json = s.opts.json;
    let limit = Duration::from_secs(timeout);
    let watcher = std::thread::spawn(move || {
        use std::sync::mpsc::RecvTimeoutError;
        loop {
            match finished.recv_timeout(Duration::from_millis(100)) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => break,
            }
            if started.elapsed() > limit {
                let f = Failure::Timeout(format!(
                    "key generation did not finish within {} s; the card may still be working: check with `subsim info`",
                    limit.as_secs()
                ));
                let r = f.report();
                if json {
                    session::stdout(format!("{}\n", r.json()).as_bytes());
                }
                eprintln!("\nsubsim: {}", r.message);
                std::process::exit(r.code.into());
            }
            if show {
                eprint!("\rgenerating on the card... {:>3} s", started.elapsed().as_secs());
            }
        }
        if show {
            eprint!("\r\x1b[K");
        }
    });
    let result = s.card().map(|c| c.generate_key_with(slot, alg, policies));
    let _ = done.send(());
    let _ = watcher.join();
    let key = PublicKey::from_card(alg, &result?.map_err(|e| explain(s, e, Op::NeedsMgm))?)?;
    s.generated.insert(slot, key.clone());
    Ok(key)
}

/// A new key over a slot that holds a certificate leaves that certificate
/// naming the old key: said at once, and `info` and `login` say so too.
fn warn_stale_certificate(s: &mut Session, slot: Slot, before: Option<Vec<u8>>) {
    let Some(der) = before else { return };
    let subject = describe_cert(&der).map(|(subject, _, _)| subject).unwrap_or_else(|_| "?".into());
    s.say(&format!(
        "warning: slot {slot}'s certificate ({subject}) holds the old key, not this new one: logins and checks with it \
         fail until a certificate for the new key is imported (`subsim cert delete {}` removes it)",
        slot.to_string().to_lowercase()
    ));
}

pub(super) fn key(s: &mut Session, k: &KeyCmd) -> Result<Out, Failure> {
    match k {
        KeyCmd::Generate { slot, algorithm, timeout, format, out: to, policy, force, mgm } => {
            yubico::f9_needs_force(*slot, *force, "key generate")?;
            authenticate(s, mgm)?;
            let before =
                if *slot == Slot::Attestation { None } else { s.card()?.read_certificate(*slot).ok().flatten() };
            let started = Instant::now();
            let key = generate(s, *slot, key_algorithm(*algorithm), yubico::policies(policy), *timeout)?;
            warn_stale_certificate(s, *slot, before);
            let pem = key.encode(Format::Pem)?;
            let j = json!({
                "slot": names::slot(*slot),
                "algorithm": key.algorithm().name(),
                "public_key_pem": String::from_utf8_lossy(&pem),
                "seconds": started.elapsed().as_secs_f64(),
            });
            let content = key.encode(*format)?;
            deliver(s, to.as_deref(), content, *format == Format::Pem, "public_key", j).map(|mut o| {
                if let Some(obj) = o.json.as_object_mut() {
                    obj.remove("public_key");
                }
                o
            })
        }
        KeyCmd::Info { slot } => yubico::key_info(s, *slot),
        KeyCmd::Attest { slot, chain, format, out: to } => yubico::key_attest(s, *slot, *chain, *format, to.as_deref()),
        KeyCmd::Import { slot, file, policy, force, mgm, key_file } => {
            yubico::key_import(s, *slot, file, mgm, key_file, policy, *force)
        }
        KeyCmd::Move { from, to, mgm } => {
            s.require(subsim_host::Profile::Yubico, "key move")?;
            authenticate(s, mgm)?;
            let r = s.card()?.move_key(*from, *to);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            if let Some(k) = s.generated.remove(from) {
                s.generated.insert(*to, k);
            }
            out(
                format!("key moved from {from} to {to} (with its policies; certificates stay where they are)"),
                json!({ "from": names::slot(*from), "to": names::slot(*to), "moved": true }),
            )
        }
        KeyCmd::Delete { slot, confirm, mgm } => {
            s.require(subsim_host::Profile::Yubico, "key delete")?;
            let question = format!("Destroy the key in slot {slot} on");
            super::card::confirm(s, *confirm, &question, "key delete", "destroys the slot's key")?;
            authenticate(s, mgm)?;
            let r = s.card()?.delete_key(*slot);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            s.generated.remove(slot);
            out(
                format!("key in {slot} destroyed (its certificate, if any, stays: `subsim cert delete`)"),
                json!({ "slot": names::slot(*slot), "deleted": true }),
            )
        }
        KeyCmd::Public { slot, format, out: to } => {
            let Some((key, source)) = known_public_key(s, *slot)? else {
                if said_empty(s, *slot)? {
                    return Err(empty_slot(*slot, Holds::Key));
                }
                return Err(Failure::Usage(format!(
                    "the card does not tell slot {slot}'s public key (no certificate in the slot, and no GET METADATA): \
                     use the public key file `subsim key generate` wrote"
                )));
            };
            let pem = key.encode(Format::Pem)?;
            let j = json!({ "slot": names::slot(*slot), "public_key_pem": String::from_utf8_lossy(&pem), "source": source });
            let content = key.encode(*format)?;
            deliver(s, to.as_deref(), content, *format == Format::Pem, "public_key", j).map(|mut o| {
                if let Some(obj) = o.json.as_object_mut() {
                    obj.remove("public_key");
                }
                o
            })
        }
    }
}

/// Refuses a certificate whose key is not the slot's key, where the card
/// (or this session) tells the slot's key, or a test signature can show it.
fn check_certificate_key(s: &mut Session, slot: Slot, cert_key: &PublicKey, pin: &PinArgs) -> Result<(), Failure> {
    let mismatch = |how: &str| {
        Failure::Usage(format!(
            "the certificate does not hold slot {slot}'s key ({how}): it would fail every login or signature; \
             import the certificate issued for this slot's key (or --no-check)"
        ))
    };
    if let Some(k) = s.generated.get(&slot) {
        return if k == cert_key { Ok(()) } else { Err(mismatch("the key generated in this session differs")) };
    }
    if let Some(k) = metadata_public_key(s, slot)? {
        return if &k == cert_key { Ok(()) } else { Err(mismatch("the card's metadata says so")) };
    }
    // A sub-SIM tells which slots hold a key: an empty one can match no certificate.
    if s.profile()?.subsim && s.card()?.status()?.keys & slot.bit() == 0 {
        return Err(Failure::Usage(format!(
            "slot {slot} holds no key: a certificate there could never be used; generate the key first \
             (`subsim key generate {}`), then import the certificate issued for it",
            slot.to_string().to_lowercase()
        )));
    }
    // No way to read the key: a test signature, where the PIN is at hand.
    // At a terminal the PIN is asked for; elsewhere it must be given.
    let pin_at_hand = pin_source(pin).given("SUBSIM_PIN") || std::io::stdin().is_terminal();
    let verified = slot.pin_policy() == PinPolicy::Once && s.card()?.pin_state()? == PinState::Verified;
    if slot.pin_policy() != PinPolicy::Never && !pin_at_hand && !verified {
        s.say(&format!(
            "warning: not checked against slot {slot}'s key (the card does not tell it; give the PIN to check by a test signature)"
        ));
        return Ok(());
    }
    if slot.pin_policy() != PinPolicy::Never && !verified {
        verify_pin(s, pin)?;
    }
    if slot.pin_policy() != PinPolicy::Never && pin_at_hand {
        s.pin_retry = Some((pin.clone(), false));
    }
    let mut challenge = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
    let sig = sign(s, slot, cert_key.algorithm(), &challenge, cert_key.hash(), Padding::Pkcs1v15)?;
    if cert_key.verifies(&challenge, &sig) {
        Ok(())
    } else {
        Err(mismatch("a test signature by the slot's key does not verify with it"))
    }
}

pub(super) fn csr(
    s: &mut Session,
    slot: Slot,
    subject: &str,
    pubkey: Option<&Path>,
    to: Option<&Path>,
    key_usage: Option<&KeyUsage>,
    pin: &PinArgs,
) -> Result<Out, Failure> {
    x509::name(subject).map_err(Failure::Usage)?; // before the card is asked for a PIN or a signature
    let public = slot_public_key(s, slot, pubkey)?;
    let usage = key_usage.cloned().unwrap_or_else(|| x509::slot_key_usage(slot, public.algorithm()));
    prepare_signature(s, slot, pin, &FlowArgs::default())?;
    let der = with_pin_retry(s, slot, builder_6982, |s| card_x509(s, slot, &public, subject, None, &usage))?;
    s.pin_fresh = false;
    let der = der.map_err(|e| signing_failed(s, slot, &public, e))?;
    check_request(&der, &public, slot, pubkey)?;
    let pem = pem_rfc7468::encode_string("CERTIFICATE REQUEST", pem_rfc7468::LineEnding::LF, &der)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    deliver(s, to, pem.into_bytes(), true, "csr_pem", json!({ "slot": names::slot(slot), "subject": subject }))
}

/// Whether the X.509 builder's error is the card's `6982` (its text carries
/// the card's error: "... card answered 6982 ...").
fn builder_6982(e: &String) -> bool {
    e.contains(&Sw::SECURITY_STATUS_NOT_SATISFIED.to_string())
}

/// The card refused while signing a request or certificate: find out why.
fn signing_failed(s: &mut Session, slot: Slot, key: &PublicKey, e: String) -> Failure {
    // The builder's error hides the status word: ask the card in words.
    let probe = s.card().map(|c| c.sign_with(slot, key.algorithm(), b"probe", key.hash(), Padding::Pkcs1v15));
    match probe {
        Ok(Err(card_error)) => explain(s, card_error, Op::Sign(slot)),
        _ => Failure::Usage(format!("signing on the card failed: {e}")),
    }
}

/// The card's signature on the request must verify with the key it names.
fn check_request(der: &[u8], public: &PublicKey, slot: Slot, pubkey: Option<&Path>) -> Result<(), Failure> {
    use x509_cert::der::{Decode, Encode};
    let req = x509_cert::request::CertReq::from_der(der).map_err(|e| Failure::Usage(e.to_string()))?;
    let body = req.info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    if public.verifies(&body, req.signature.raw_bytes()) {
        return Ok(());
    }
    Err(Failure::Usage(match pubkey {
        Some(p) => format!(
            "{} is not slot {slot}'s public key: the card's signature does not verify with it (a key generated since?); \
             nothing written. Leave --pubkey out to use what the card tells, or give the key `key generate` printed last",
            p.display()
        ),
        None => format!("slot {slot}'s certificate does not hold the slot's current key: give the key with --pubkey FILE"),
    }))
}

pub(super) fn cert(s: &mut Session, k: &CertCmd) -> Result<Out, Failure> {
    match k {
        CertCmd::Import { slot, file, no_check, pin, mgm } => {
            let der = read_certificate(file)?;
            let (subject, not_after, key) = describe_cert(&der)?;
            if !no_check {
                check_certificate_key(s, *slot, &key, pin)?;
            }
            authenticate(s, mgm)?;
            let r = s.card()?.write_certificate(*slot, &der);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            out(
                format!("certificate for {} (valid until {not_after}) stored in {slot}", shown(&subject)),
                json!({ "slot": names::slot(*slot), "subject": subject, "not_after": not_after }),
            )
        }
        CertCmd::Selfsign { slot, subject, pubkey, days, key_usage, pin, mgm } => {
            x509::name(subject).map_err(Failure::Usage)?; // before the card is asked for a PIN or a signature
            let public = slot_public_key(s, *slot, pubkey.as_deref())?;
            let usage =
                key_usage.as_ref().map_or_else(|| x509::slot_key_usage(*slot, public.algorithm()), |k| k.0.clone());
            prepare_signature(s, *slot, pin, &FlowArgs::default())?;
            let der =
                with_pin_retry(s, *slot, builder_6982, |s| card_x509(s, *slot, &public, subject, Some(*days), &usage))?;
            s.pin_fresh = false;
            let der = der.map_err(|e| signing_failed(s, *slot, &public, e))?;
            check_selfsigned(&der, &public, *slot, pubkey.as_deref())?;
            authenticate(s, mgm)?;
            let r = s.card()?.write_certificate(*slot, &der);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            let (_, not_after, _) = describe_cert(&der)?;
            out(
                format!("self-signed certificate for {} (valid until {not_after}) stored in {slot}", shown(subject)),
                json!({ "slot": names::slot(*slot), "subject": subject, "not_after": not_after }),
            )
        }
        CertCmd::Request { csr, public_key, csr_output } => {
            super::csr(s, csr, public_key.as_deref(), csr_output.as_deref())
        }
        CertCmd::Delete { slot, confirm, mgm } => super::objects::cert_delete(s, *slot, *confirm, mgm),
        CertCmd::Export { slot, format, der, out: to } => {
            let cert = slot_certificate(s, *slot)?;
            let format = if *der { Format::Der } else { *format };
            let pem = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &cert)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            let j = json!({ "slot": names::slot(*slot), "certificate_pem": pem });
            match format {
                Format::Pem => deliver(s, to.as_deref(), pem.clone().into_bytes(), true, "certificate_pem", j),
                Format::Der => deliver(s, to.as_deref(), cert, false, "certificate_der_base64", j),
            }
        }
    }
}

/// The self-signed certificate's signature must verify with its own key.
fn check_selfsigned(der: &[u8], public: &PublicKey, slot: Slot, pubkey: Option<&Path>) -> Result<(), Failure> {
    use x509_cert::der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| Failure::Usage(e.to_string()))?;
    let body = cert.tbs_certificate.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    if public.verifies(&body, cert.signature.raw_bytes()) {
        return Ok(());
    }
    Err(Failure::Usage(match pubkey {
        Some(p) => format!(
            "{} is not slot {slot}'s public key: the card's signature does not verify with it; nothing stored",
            p.display()
        ),
        None => {
            format!("slot {slot}'s certificate does not hold the slot's current key: give the key with --pubkey FILE")
        }
    }))
}
