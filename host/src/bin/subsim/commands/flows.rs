//! The sub-SIM flows: login and transaction signing.

use super::*;

pub(super) fn login(c: &mut Card, p: &PinArgs) -> Result<Out, Failure> {
    // RSA or EC, as the certificate says.
    let (subject, key) = super::yubico::describe_cert_any(&slot_certificate(c, Slot::Authentication)?)?;
    verify_pin(c, p)?;
    let mut challenge = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut challenge);
    let sig = super::yubico::sign_for(c, Slot::Authentication, &key, &challenge)?;
    if !key.verifies(&challenge, &sig) {
        return Err(Failure::NotVerified(format!(
            "login FAILED: the card's signature does not match the certificate of {subject}"
        )));
    }
    out(
        format!("login OK: {subject} signed a fresh challenge"),
        json!({ "login": true, "subject": subject, "challenge": hex::encode(challenge) }),
    )
}

pub(super) fn tx(c: &mut Card, t: &TxCmd) -> Result<Out, Failure> {
    match t {
        TxCmd::Sign { file, pin } => {
            let text = read_input(file)?;
            verify_pin(c, pin)?;
            // RSA or ECDSA, as the 9C key is (GET METADATA).
            let sig = super::yubico::sign_slot(c, Slot::Signature, &text)?;
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
            let (subject, key) = super::yubico::describe_cert_any(&der)?;
            match key.verifies(&text, &sig).then_some(()).ok_or(()) {
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
