//! The sub-SIM flows: login and transaction signing. With `--ca`, the
//! checks are the server's (`subsim_verifier`): certificate path, CRLs, key
//! usage, a single-use challenge; without, only the signature against the
//! card's own certificate, and the output says so.

use super::ca::{refused, trust_note, verifier, TrustArgs};
use super::*;
use subsim_verifier::{check_signed, Refusal, Role, RsaPadding, Server, SessionId, Statement};

pub(super) fn login(c: &mut Card, p: &PinArgs, trust: &TrustArgs) -> Result<Out, Failure> {
    let certificate = slot_certificate(c, Slot::Authentication)?;
    let (subject, _, key) = describe_cert(&certificate)?;
    let trust = verifier(trust)?;
    verify_pin(c, p)?;
    let Some(trust) = trust else {
        let mut challenge = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
        let sig = c.sign(Slot::Authentication, &challenge, Hash::Sha256, Padding::Pkcs1v15)?;
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &sig).map_err(|_| {
            Failure::NotVerified(format!(
                "login FAILED: the card's signature does not match the certificate of {subject}"
            ))
        })?;
        return out(
            format!("login OK: {subject} signed a fresh challenge; {}", trust_note(None, &[])),
            json!({ "login": true, "subject": subject, "challenge": hex::encode(challenge), "authority_checked": false }),
        );
    };
    // The server's side, in-process: a challenge bound to a session, spent by this login.
    let now = std::time::SystemTime::now();
    let mut server = Server::new(trust);
    let session = SessionId::random();
    let challenge = server.challenge(&session, now);
    let sig = c.sign(Slot::Authentication, &challenge.bytes, Hash::Sha256, Padding::Pkcs1v15)?;
    let who = server.login(&session, &challenge.bytes, &sig, &certificate, now).map_err(|r| refused("login", &r))?;
    out(
        format!(
            "login OK: {} signed a fresh single-use challenge; {}",
            who.subject,
            trust_note(Some(&server.trust), &who.path)
        ),
        json!({ "login": true, "subject": who.subject, "challenge": hex::encode(challenge.bytes),
                "authority_checked": true, "path": who.path }),
    )
}

pub(super) fn tx(c: &mut Card, t: &TxCmd) -> Result<Out, Failure> {
    match t {
        TxCmd::Sign { file, pin } => {
            let text = read_input(file)?;
            verify_pin(c, pin)?;
            let sig = c.sign(Slot::Signature, &text, Hash::Sha256, Padding::Pkcs1v15)?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
            out(b64.clone(), json!({ "signature_base64": b64 }))
        }
        TxCmd::Verify { file, signature, cert, expect, trust } => {
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
            if let Some(issued) = expect {
                same_statement(
                    &std::fs::read(issued).map_err(|e| Failure::Usage(format!("{}: {e}", issued.display())))?,
                    &text,
                )?;
            }
            let trust = verifier(trust)?;
            let (subject, path) = match &trust {
                Some(v) => {
                    let now = std::time::SystemTime::now();
                    let who = check_signed(v, Role::Transaction, &der, &text, &sig, RsaPadding::Pkcs1v15, now)
                        .map_err(|r| refused("transaction", &r))?;
                    (who.subject, who.path)
                }
                None => {
                    let (subject, _, key) = describe_cert(&der)?;
                    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&text), &sig).map_err(|_| {
                        Failure::NotVerified(
                            "transaction signature INVALID: the text or the signature was altered".into(),
                        )
                    })?;
                    (subject, Vec::new())
                }
            };
            out(
                format!("transaction signature valid ({subject}); {}", trust_note(trust.as_ref(), &path)),
                json!({ "valid": true, "subject": subject, "authority_checked": trust.is_some(),
                        "statement_checked": expect.is_some() }),
            )
        }
    }
}

/// The signed text must be the statement the server issued: same nonce,
/// same fields (both in the canonical encoding).
fn same_statement(issued: &[u8], signed: &[u8]) -> Result<(), Failure> {
    let issued = Statement::decode(issued).map_err(|e| Failure::Usage(format!("--expect: {e}")))?;
    let signed = Statement::decode(signed).map_err(|r| refused("transaction", &r))?;
    if signed.nonce != issued.nonce {
        let r = Refusal::UnknownStatement { nonce: hex::encode(signed.nonce) };
        return Err(refused("transaction", &r));
    }
    match issued.first_difference(&signed) {
        Some((field, issued, received)) => {
            Err(refused("transaction", &Refusal::AlteredField { field, issued, received }))
        }
        None => Ok(()),
    }
}
