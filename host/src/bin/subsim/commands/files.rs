//! Files, stdin and stdout: inputs read (`-` is stdin, never a terminal
//! without a prompt), results delivered (`--out`, `-` is stdout), keys and
//! certificates in PEM or DER.

use super::*;

/// A file's bytes; `-` reads stdin (a pipe: a terminal is refused, since
/// nothing prompts there).
/// The most an input file or pipe may hold (data to sign, certificates,
/// requests): an endless one (`/dev/zero`) is refused, not read forever.
pub const MAX_INPUT: u64 = 64 << 20;

pub fn read_file(p: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    match session::file_arg(p) {
        Some(p) => {
            let name = p.display().to_string();
            let file = std::fs::File::open(p).map_err(|e| Failure::Usage(format!("{name}: {e}")))?;
            let mut bytes = Vec::new();
            session::read_bounded(file, MAX_INPUT, &name, &mut bytes).map_err(Failure::Usage)?;
            Ok(bytes)
        }
        None => read_stdin(what),
    }
}

pub fn read_stdin(what: &str) -> Result<Vec<u8>, Failure> {
    if std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "{what} is read from a file or a pipe, not typed at a terminal: name the file (or pipe it in with `-`)"
        )));
    }
    let mut bytes = Vec::new();
    session::read_bounded(std::io::stdin(), MAX_INPUT, "stdin", &mut bytes).map_err(Failure::Usage)?;
    Ok(bytes)
}

/// The input a command signs or checks: a file, or stdin when it is a pipe.
pub fn read_input(file: &Option<PathBuf>, what: &str) -> Result<Vec<u8>, Failure> {
    match file {
        Some(p) => read_file(p, what),
        None => read_stdin(what),
    }
}

/// A result that is a file's content (a key, a certificate, a signature):
/// to `--out FILE`, or to stdout (`-` or no --out). With --json the content
/// goes into `json` under `field` (text) and is never written raw.
pub fn deliver(
    s: &Session,
    to: Option<&Path>,
    content: Vec<u8>,
    text: bool,
    field: &str,
    mut j: Value,
) -> Result<Out, Failure> {
    if let Some(p) = to.and_then(session::file_arg) {
        std::fs::write(p, &content).map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
        j["file"] = p.display().to_string().into();
        if !s.opts.json {
            s.say(&format!("wrote {} bytes to {}", content.len(), p.display()));
        }
        return Ok(Out { text: String::new(), json: j, bytes: None });
    }
    // Bytes on a terminal garble it and help nobody: a file, or a pipe.
    if !text && !s.opts.json && std::io::stdout().is_terminal() {
        return Err(Failure::Usage(
            "the result is binary and stdout is a terminal: write it with --out FILE, pipe it (`| xxd`), or choose \
             a text form (PEM, --output base64 or hex)"
                .into(),
        ));
    }
    j[field] = if text {
        String::from_utf8_lossy(&content).into_owned().into()
    } else {
        base64::engine::general_purpose::STANDARD.encode(&content).into()
    };
    if text {
        Ok(Out { text: String::from_utf8_lossy(&content).trim_end().to_string(), json: j, bytes: None })
    } else {
        Ok(Out { text: String::new(), json: j, bytes: Some(content) })
    }
}

/// A public key from a file (PEM or DER; SubjectPublicKeyInfo, or PKCS#1 for RSA).
pub fn read_public_key(p: &Path) -> Result<PublicKey, Failure> {
    let bytes = read_file(p, "the public key")?;
    let name = p.display();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::Usage(format!(
            "{name} is empty: expected the slot's public key (PEM or DER), as `subsim key generate` writes it"
        )));
    }
    let parsed = match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) if pem.contains("RSA PUBLIC KEY") => RsaPublicKey::from_pkcs1_pem(pem)
            .map_err(|e| e.to_string())
            .and_then(|k| usable_rsa(&k).map(|()| PublicKey::Rsa(k))),
        Some(pem) => pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|(_, der)| PublicKey::from_spki_der(&der)),
        None => PublicKey::from_spki_der(&bytes),
    };
    parsed.map_err(|e| {
        Failure::Usage(format!(
            "{name} is not a public key a card holds (PEM or DER, as `subsim key generate` writes): {e}"
        ))
    })
}

/// A certificate from a file or stdin: PEM or DER, given back as DER.
pub fn read_certificate(p: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_file(p, "the certificate")?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::Usage(format!("{} is empty: expected a certificate (PEM or DER)", p.display())));
    }
    match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) => Ok(pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| Failure::Usage(format!("{}: not a PEM certificate: {e}", p.display())))?
            .1),
        None => Ok(bytes),
    }
}

/// The certificate's subject, expiry and public key (RSA, P-256 or P-384).
pub fn describe_cert(der: &[u8]) -> Result<(String, String, PublicKey), Failure> {
    use x509_cert::der::{Decode, Encode};
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|e| Failure::Usage(format!("not an X.509 certificate: {e}")))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs.subject_public_key_info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    let key = PublicKey::from_spki_der(&spki).map_err(|e| {
        Failure::Usage(format!(
            "the certificate for {} holds a key of algorithm {}: {e}",
            tbs.subject, tbs.subject_public_key_info.algorithm.oid
        ))
    })?;
    Ok((tbs.subject.to_string(), tbs.validity.not_after.to_string(), key))
}
