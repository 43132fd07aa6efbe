//! Key and certificate commands.

use super::*;

pub(super) fn key(c: &mut Card, k: &KeyCmd, quiet: bool) -> Result<Out, Failure> {
    match k {
        KeyCmd::Generate { slot: s, algorithm, timeout, mgm } => {
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
            let result = c.generate_key(slot(*s), super::yubico::key_algorithm(*algorithm));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = watcher.join();
            let pem = super::yubico::public_key_pem(&result?)?;
            out(
                pem.trim_end().to_string(),
                json!({ "slot": slot(*s).to_string(), "public_key_pem": pem, "seconds": started.elapsed().as_secs_f64() }),
            )
        }
        KeyCmd::Public { slot: s } => super::yubico::key_public(c, slot(*s)),
        KeyCmd::Info { slot: s } => super::yubico::key_info(c, s.map(slot)),
        KeyCmd::Attest { slot: s, chain } => super::yubico::key_attest(c, slot(*s), *chain),
        KeyCmd::Import { slot: s, file, mgm } => super::yubico::key_import(c, slot(*s), file, mgm),
    }
}

pub(super) fn cert(c: &mut Card, k: &CertCmd) -> Result<Out, Failure> {
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
            let der = match super::yubico::ec_certificate(c, slot(*s), subject, Some(*days), pin)? {
                Some(der) => der,
                None => {
                    let public = slot_public_key(c, slot(*s), Some(pubkey))?;
                    if slot(*s) != Slot::CardAuthentication {
                        verify_pin(c, pin)?;
                    }
                    x509::selfsign(&x509::CardSigner::new(c, slot(*s), public), subject, *days)?
                }
            };
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
