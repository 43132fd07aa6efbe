//! The sub-SIM flows: login and transaction signing, each a whole flow in
//! one command (binding presented, PIN entered as digits or on the keypad).

use super::*;

pub(super) fn login(s: &mut Session, p: &PinArgs, f: &FlowArgs) -> Result<Out, Failure> {
    let (subject, _, key) = describe_cert(&slot_certificate(s, Slot::Authentication)?)?;
    prepare_signature(s, Slot::Authentication, p, f)?;
    let mut challenge = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
    let sig = sign(s, Slot::Authentication, &challenge, Hash::Sha256, Padding::Pkcs1v15)?;
    if !rsa_verifies(&key, &challenge, &sig) {
        return Err(Failure::NotVerified(format!(
            "login FAILED: the card's signature does not match the certificate of {subject}"
        )));
    }
    out(
        format!("login OK: {subject} signed a fresh challenge"),
        json!({ "login": true, "subject": subject, "challenge": hex::encode(challenge) }),
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
            let sig = sign(s, Slot::Signature, &text, Hash::Sha256, Padding::Pkcs1v15)?;
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
        TxCmd::Verify { file, signature, signature_file, cert } => {
            let sig = signature_of(signature, signature_file)?;
            let text = read_input(file, "the transaction")?;
            let der = match cert {
                Some(p) => read_certificate(p)?,
                None => slot_certificate(s, Slot::Signature)?,
            };
            let (subject, _, key) = describe_cert(&der)?;
            if rsa_verifies(&key, &text, &sig) {
                out(format!("transaction signature valid ({subject})"), json!({ "valid": true, "subject": subject }))
            } else {
                Err(Failure::NotVerified("transaction signature INVALID: the text or the signature was altered".into()))
            }
        }
    }
}
