//! Private key files for `key import`, read by OpenSSL: PEM or DER;
//! PKCS#8 (encrypted too), PKCS#1 (RSA), SEC1 (EC), and PKCS#12 (its
//! certificate comes along). An encrypted file's password comes from
//! `--password-file`, `$SUBSIM_KEY_PASSWORD` or a hidden prompt. What
//! leaves here is the key as unencrypted PKCS#8 DER, wiped when dropped.

use super::*;
use clap::Args;
use openssl::pkey::{PKey, Private};

/// Where an encrypted key file's password comes from.
#[derive(Args, Clone, Default)]
pub struct KeyFileArgs {
    /// Read the password of an encrypted key file (PKCS#8, PEM, PKCS#12) from this file;
    /// else $SUBSIM_KEY_PASSWORD, else a hidden prompt.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// A key read from a file, and the certificate a PKCS#12 file carried.
pub struct Loaded {
    pub pkcs8_der: Zeroizing<Vec<u8>>,
    pub certificate: Option<Vec<u8>>,
}

fn password(a: &KeyFileArgs) -> Result<Zeroizing<String>, Failure> {
    let source = Source::file(a.password_file.clone(), "--password-file");
    Ok(source.get("password of the key file", "SUBSIM_KEY_PASSWORD")?)
}

fn is_encrypted_pem(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")
}

pub fn load(file: &Path, a: &KeyFileArgs) -> Result<Loaded, Failure> {
    let bytes = secret::read_private_key_bytes(file).map_err(Failure::Usage)?;
    let name = file.display();
    let pem = bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let (key, certificate): (PKey<Private>, Option<Vec<u8>>) = if pem {
        let key = if is_encrypted_pem(&bytes) {
            let pass = password(a)?;
            PKey::private_key_from_pem_passphrase(&bytes, pass.as_bytes())
                .map_err(|_| Failure::Usage(format!("{name}: the password does not open this key (or it is no key)")))?
        } else {
            PKey::private_key_from_pem(&bytes).map_err(|_| {
                Failure::Usage(format!(
                    "{name}: not a private key in PEM (PKCS#8, PKCS#1 or SEC1; RSA, P-256 or P-384)"
                ))
            })?
        };
        (key, None)
    } else if let Ok(key) = PKey::private_key_from_der(&bytes) {
        (key, None)
    } else if let Ok(p12) = openssl::pkcs12::Pkcs12::from_der(&bytes) {
        // PKCS#12: an empty password first (many tools write one), then the user's.
        let parsed = match p12.parse2("") {
            Ok(p) => p,
            Err(_) => {
                let pass = password(a)?;
                p12.parse2(&pass)
                    .map_err(|_| Failure::Usage(format!("{name}: the password does not open this PKCS#12 file")))?
            }
        };
        let key =
            parsed.pkey.ok_or_else(|| Failure::Usage(format!("{name}: the PKCS#12 file holds no private key")))?;
        let cert = match parsed.cert {
            Some(c) => {
                let public = c.public_key().map_err(|e| Failure::Usage(format!("{name}: {e}")))?;
                if !public.public_eq(&key) {
                    return Err(Failure::Usage(format!(
                        "{name}: the PKCS#12 file's certificate is not for its key: nothing imported"
                    )));
                }
                Some(c.to_der().map_err(|e| Failure::Usage(e.to_string()))?)
            }
            None => None,
        };
        (key, cert)
    } else if bytes.first() != Some(&0x30) {
        return Err(Failure::Usage(format!(
            "{name}: not a private key (PEM or DER: PKCS#8, encrypted PKCS#8, PKCS#1, SEC1; PKCS#12)"
        )));
    } else {
        // Encrypted PKCS#8 in DER, the one form left.
        let pass = password(a)?;
        let key = PKey::private_key_from_pkcs8_passphrase(&bytes, pass.as_bytes()).map_err(|_| {
            Failure::Usage(format!(
                "{name}: not a private key this reads (PEM or DER: PKCS#8, encrypted PKCS#8, PKCS#1, SEC1; PKCS#12), \
                 or the password does not open it"
            ))
        })?;
        (key, None)
    };
    let pkcs8_der = Zeroizing::new(key.private_key_to_pkcs8().map_err(|e| Failure::Usage(format!("{name}: {e}")))?);
    Ok(Loaded { pkcs8_der, certificate })
}
