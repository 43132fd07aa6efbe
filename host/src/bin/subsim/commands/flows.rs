//! The sub-SIM flows: login and transaction signing, each a whole flow in
//! one command (binding presented, PIN entered as digits or on the keypad).
//! With `--ca`, the checks are the server's (`subsim_verifier`): certificate
//! path, CRLs, key usage, a single-use challenge; without, only the
//! signature against the card's own certificate, and the output says so.

use super::ca::{refused, trust_note, verifier, TrustArgs};
use super::*;
use subsim_verifier::{check_signed, Refusal, Role, RsaPadding, Server, SessionId, Statement};

pub(super) fn login(s: &mut Session, p: &PinArgs, f: &FlowArgs, trust: &TrustArgs) -> Result<Out, Failure> {
    let certificate = slot_certificate(s, Slot::Authentication)?;
    let (subject, _, key) = describe_cert(&certificate)?;
    let trust = verifier(trust)?;
    prepare_signature(s, Slot::Authentication, p, f)?;
    let Some(trust) = trust else {
        let mut challenge = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
        let sig = sign(s, Slot::Authentication, key.algorithm(), &challenge, key.hash(), Padding::Pkcs1v15)?;
        if !key.verifies(&challenge, &sig) {
            return Err(Failure::NotVerified(format!(
                "login FAILED: the card's signature does not match the certificate of {}",
                shown(&subject)
            )));
        }
        return out(
            format!("login OK: {} signed a fresh challenge; {}", shown(&subject), trust_note(None, &[])),
            json!({ "login": true, "subject": subject, "challenge": hex::encode(challenge), "authority_checked": false }),
        );
    };
    // The server's side, in-process: a challenge bound to a session, spent by this login.
    let now = std::time::SystemTime::now();
    let mut server = Server::new(trust);
    let session = SessionId::random();
    let challenge = server.challenge(&session, now);
    let sig = sign(s, Slot::Authentication, key.algorithm(), &challenge.bytes, key.hash(), Padding::Pkcs1v15)?;
    let who = server.login(&session, &challenge.bytes, &sig, &certificate, now).map_err(|r| refused("login", &r))?;
    out(
        format!(
            "login OK: {} signed a fresh single-use challenge; {}",
            shown(&who.subject),
            trust_note(Some(&server.trust), &who.path)
        ),
        json!({ "login": true, "subject": who.subject, "challenge": hex::encode(challenge.bytes),
                "authority_checked": true, "path": who.path }),
    )
}

/// The signature given to `tx verify`: base64 text, or a file of base64 or raw bytes.
fn signature_of(signature: &Option<String>, file: &Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(p) = file {
        let bytes = read_file(p, "the signature")?;
        let text = std::str::from_utf8(&bytes).ok().map(|t| t.split_whitespace().collect::<String>());
        return Ok(match text.and_then(|t| b64.decode(t).ok()) {
            Some(sig) => sig,
            None => bytes,
        });
    }
    let sig = signature.as_deref().unwrap_or_default();
    b64.decode(sig.trim()).map_err(|e| {
        if Path::new(sig).exists() {
            Failure::Usage(format!(
                "--signature takes the signature as base64 text; {sig} is a file: use --signature-file {sig}"
            ))
        } else {
            Failure::Usage(format!("--signature is not base64 ({e}); for a file use --signature-file FILE"))
        }
    })
}

pub(super) fn tx(s: &mut Session, t: &TxCmd) -> Result<Out, Failure> {
    match t {
        TxCmd::Sign { file, out: to, pin, flow } => {
            let text = read_input(file, "the transaction")?;
            prepare_signature(s, Slot::Signature, pin, flow)?;
            // RSA or ECDSA, as the 9C key is; the hash its kind pairs with.
            let alg = slot_algorithm(s, Slot::Signature)?;
            let sig = sign(s, Slot::Signature, alg, &text, paired_hash(alg), Padding::Pkcs1v15)?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
            deliver(
                s,
                to.as_deref(),
                format!("{b64}\n").into_bytes(),
                true,
                "signature_base64",
                json!({ "slot": "9C" }),
            )
            .map(|mut o| {
                o.json["signature_base64"] = b64.clone().into();
                o
            })
        }
        TxCmd::Verify { file, signature, signature_file, cert, expect, trust } => {
            let sig = signature_of(signature, signature_file)?;
            let text = read_input(file, "the transaction")?;
            let der = match cert {
                Some(p) => read_certificate(p)?,
                None => slot_certificate(s, Slot::Signature)?,
            };
            if let Some(issued) = expect {
                same_statement(&read_file(issued, "the issued statement")?, &text)?;
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
                    if !key.verifies(&text, &sig) {
                        return Err(Failure::NotVerified(
                            "transaction signature INVALID: the text or the signature was altered".into(),
                        ));
                    }
                    (subject, Vec::new())
                }
            };
            out(
                format!("transaction signature valid ({}); {}", shown(&subject), trust_note(trust.as_ref(), &path)),
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
