//! Certificate path validation, revocation and key usage, by OpenSSL's
//! verifier (`X509_verify_cert`): we build its trust store and read its
//! verdict; the path itself is OpenSSL's work, not ours.
//!
//! What a [`Verifier`] accepts for a role:
//! - a path from the certificate through the given intermediates to one of
//!   the trust anchors, every signature good, every CA certificate allowed
//!   to issue (basicConstraints, keyCertSign, path length), every
//!   certificate valid at the time given (the clock is the caller's);
//! - revocation ([`Revocation::Chain`], the default): for every certificate
//!   below the anchor, a CRL issued and signed by its issuer, in force at
//!   that time (thisUpdate ≤ time < nextUpdate), not listing it. A missing
//!   CRL or one past its nextUpdate is a refusal, never a pass. Of the
//!   CRLs held, only each issuer's newest counts ([`crate::crl`]);
//! - key usage, per [`Role`], on the end-entity certificate:
//!   - the keyUsage extension must be present and must not include
//!     keyCertSign or cRLSign, and basicConstraints must not say CA: a
//!     login or signing key is not a CA key;
//!   - login (9A): digitalSignature; if an extendedKeyUsage is present it
//!     must allow clientAuth, Microsoft smart-card logon or any purpose;
//!   - transactions (9C): digitalSignature or nonRepudiation
//!     (contentCommitment); extendedKeyUsage is not examined.

use std::os::raw::c_int;
use std::time::SystemTime;

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::{X509StoreBuilder, X509StoreBuilderRef};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Crl, X509CrlRef, X509KeyUsage, X509NameRef, X509Ref, X509StoreContext, X509};
use openssl_sys as sys;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode;

use crate::error::{Refusal, Role};
use crate::time::unix;

extern "C" {
    // In libcrypto since 0.9.x; the `openssl` crate has no wrapper for it.
    fn X509_STORE_add_crl(store: *mut sys::X509_STORE, crl: *mut sys::X509_CRL) -> c_int;
}

fn add_crl(store: &mut X509StoreBuilderRef, crl: &X509CrlRef) -> Result<(), ErrorStack> {
    // SAFETY: both pointers are valid for the call; the store takes its
    // own reference to the CRL (up-ref) and keeps nothing of ours.
    if unsafe { X509_STORE_add_crl(store.as_ptr(), crl.as_ptr()) } == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// Which certificates must be shown not revoked by a CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Every certificate below the trust anchor (the default).
    Chain,
    /// The end-entity certificate only.
    Leaf,
    /// Not checked: for labs without CRLs. Say so wherever it is used.
    NotChecked,
}

/// The server's trust: anchors, known intermediates, CRLs, and how
/// strictly revocation is checked.
pub struct Verifier {
    anchors: Vec<X509>,
    intermediates: Vec<X509>,
    crls: Vec<X509Crl>,
    revocation: Revocation,
}

/// A certificate that passed, and what it says.
#[derive(Debug)]
pub struct Verified {
    /// The certificate's subject DN, one line.
    pub subject: String,
    /// The certificate's serial number, hex as OpenSSL prints it.
    pub serial: String,
    /// Subjects from the end entity up to the trust anchor.
    pub path: Vec<String>,
    /// The certified public key: what the card's signature is checked with.
    pub public_key: PKey<Public>,
}

/// Every certificate in PEM text (one or more blocks) or one DER certificate.
pub fn certificates(bytes: &[u8]) -> Result<Vec<X509>, Refusal> {
    if bytes.starts_with(b"-----") || std::str::from_utf8(bytes).is_ok_and(|t| t.contains("-----BEGIN")) {
        let all = X509::stack_from_pem(bytes).map_err(|e| Refusal::malformed("certificate", e))?;
        if all.is_empty() {
            return Err(Refusal::malformed("certificate", "no CERTIFICATE block"));
        }
        Ok(all)
    } else {
        Ok(vec![X509::from_der(bytes).map_err(|e| Refusal::malformed("certificate", e))?])
    }
}

/// Every CRL in PEM text (one or more blocks) or one DER CRL.
pub fn crls(bytes: &[u8]) -> Result<Vec<X509Crl>, Refusal> {
    let text = std::str::from_utf8(bytes).ok().filter(|t| t.contains("-----BEGIN"));
    match text {
        Some(t) => {
            let mut out = Vec::new();
            let mut rest = t;
            while let Some(start) = rest.find("-----BEGIN X509 CRL-----") {
                let end_marker = "-----END X509 CRL-----";
                let end =
                    rest[start..].find(end_marker).ok_or_else(|| Refusal::malformed("CRL", "unterminated PEM"))?;
                let block = &rest[start..start + end + end_marker.len()];
                out.push(X509Crl::from_pem(block.as_bytes()).map_err(|e| Refusal::malformed("CRL", e))?);
                rest = &rest[start + end + end_marker.len()..];
            }
            if out.is_empty() {
                return Err(Refusal::malformed("CRL", "no X509 CRL block"));
            }
            Ok(out)
        }
        None => Ok(vec![X509Crl::from_der(bytes).map_err(|e| Refusal::malformed("CRL", e))?]),
    }
}

/// A distinguished name as RFC 4514 writes it (last RDN first): `CN=Alice,O=Bank`.
pub fn name(n: &X509NameRef) -> String {
    let mut parts: Vec<String> = n
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().map(str::to_string).unwrap_or_else(|_| e.object().to_string());
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect();
    parts.reverse();
    if parts.is_empty() {
        "(empty name)".into()
    } else {
        parts.join(",")
    }
}

fn serial(c: &X509Ref) -> String {
    c.serial_number().to_bn().and_then(|b| b.to_hex_str().map(|s| s.to_string())).unwrap_or_else(|_| "?".into())
}

impl Verifier {
    /// Trust these anchors: self-signed roots, or an issuing CA the server
    /// pins as the top of its paths (OpenSSL's `PARTIAL_CHAIN`: a path may
    /// end at any trusted certificate). With [`Revocation::Chain`] (the
    /// default) OpenSSL checks every certificate of the path that is not
    /// self-signed, a pinned intermediate too, whose issuer's CRL it cannot
    /// check without that issuer: with a pinned intermediate, choose
    /// [`Revocation::Leaf`].
    pub fn new(anchors: Vec<X509>) -> Verifier {
        Verifier { anchors, intermediates: Vec::new(), crls: Vec::new(), revocation: Revocation::Chain }
    }

    /// Intermediate CA certificates the server knows (not trusted by
    /// themselves: each must chain to an anchor).
    pub fn intermediates(mut self, certs: Vec<X509>) -> Verifier {
        self.intermediates = certs;
        self
    }

    /// The CRLs the server holds.
    pub fn crls(mut self, crls: Vec<X509Crl>) -> Verifier {
        self.crls = crls;
        self
    }

    /// How far revocation is checked; [`Revocation::Chain`] unless set.
    pub fn revocation(mut self, r: Revocation) -> Verifier {
        self.revocation = r;
        self
    }

    /// The revocation policy in force.
    pub fn revocation_policy(&self) -> Revocation {
        self.revocation
    }

    /// Checks a DER or PEM certificate for `role` at time `at`.
    pub fn verify(&self, cert: &[u8], role: Role, at: SystemTime) -> Result<Verified, Refusal> {
        let leaf = certificates(cert)?.swap_remove(0);
        self.verify_x509(&leaf, role, at)
    }

    /// Checks a parsed certificate for `role` at time `at`: path, revocation, key usage.
    pub fn verify_x509(&self, leaf: &X509Ref, role: Role, at: SystemTime) -> Result<Verified, Refusal> {
        let path = self.verify_path(leaf, at)?;
        check_role(leaf, role)?;
        Ok(Verified {
            subject: name(leaf.subject_name()),
            serial: serial(leaf),
            path,
            public_key: leaf.public_key().map_err(|e| Refusal::malformed("public key", e))?,
        })
    }

    /// The path alone (no role): the subjects from `cert` to the anchor.
    pub fn verify_path(&self, cert: &X509Ref, at: SystemTime) -> Result<Vec<String>, Refusal> {
        let known: Vec<&X509> = self.anchors.iter().chain(&self.intermediates).collect();
        let crls = crate::crl::newest(&self.crls, &known, at)?;
        self.path(cert, &crls, at).map_err(|e| Refusal::malformed("trust store", e))?
    }

    /// OpenSSL's verdict on the path, with each issuer's chosen CRL; the subjects on success.
    fn path(
        &self,
        leaf: &X509Ref,
        crls: &[&X509Crl],
        at: SystemTime,
    ) -> Result<Result<Vec<String>, Refusal>, ErrorStack> {
        let mut store = X509StoreBuilder::new()?;
        for a in &self.anchors {
            store.add_cert(a.clone())?;
        }
        for crl in crls {
            add_crl(&mut store, crl)?;
        }
        let mut param = X509VerifyParam::new()?;
        param.set_time(unix(at) as _);
        let revocation = match self.revocation {
            Revocation::Chain => X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL,
            Revocation::Leaf => X509VerifyFlags::CRL_CHECK,
            Revocation::NotChecked => X509VerifyFlags::empty(),
        };
        param.set_flags(revocation | X509VerifyFlags::PARTIAL_CHAIN)?;
        store.set_param(&param)?;
        let store = store.build();
        let mut untrusted = Stack::new()?;
        for i in &self.intermediates {
            untrusted.push(i.clone())?;
        }
        let mut ctx = X509StoreContext::new()?;
        ctx.init(&store, leaf, &untrusted, |c| {
            if c.verify_cert()? {
                let subjects =
                    c.chain().map(|s| s.iter().map(|x| name(x.subject_name())).collect()).unwrap_or_default();
                return Ok(Ok(subjects));
            }
            let code = c.error().as_raw();
            let detail = c.error().error_string().to_string();
            let at_cert = c.current_cert().unwrap_or(leaf);
            Ok(Err(refusal(crls, code, detail, at_cert)))
        })
    }
}

/// OpenSSL's verify error, as our reason (`crls`: the CRLs it was given).
fn refusal(crls: &[&X509Crl], code: c_int, detail: String, c: &X509Ref) -> Refusal {
    {
        let subject = name(c.subject_name());
        let issuer = name(c.issuer_name());
        let crl_of_issuer = || crls.iter().find(|l| name(l.issuer_name()) == issuer);
        match code {
            sys::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
            | sys::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            | sys::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
            | sys::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
            | sys::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN => Refusal::UnknownIssuer { subject },
            sys::X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE | sys::X509_V_ERR_CERT_SIGNATURE_FAILURE => {
                Refusal::BadCertificateSignature { subject }
            }
            sys::X509_V_ERR_CERT_NOT_YET_VALID => {
                Refusal::NotYetValid { subject, not_before: c.not_before().to_string() }
            }
            sys::X509_V_ERR_CERT_HAS_EXPIRED => Refusal::Expired { subject, not_after: c.not_after().to_string() },
            sys::X509_V_ERR_CERT_REVOKED => Refusal::Revoked { subject, serial: serial(c) },
            sys::X509_V_ERR_UNABLE_TO_GET_CRL => Refusal::NoCrl { subject, issuer },
            sys::X509_V_ERR_CRL_HAS_EXPIRED => Refusal::StaleCrl {
                next_update: crl_of_issuer()
                    .and_then(|l| l.next_update().map(|t| t.to_string()))
                    .unwrap_or_else(|| "?".into()),
                issuer,
            },
            sys::X509_V_ERR_CRL_NOT_YET_VALID => Refusal::CrlNotYetValid {
                this_update: crl_of_issuer().map(|l| l.last_update().to_string()).unwrap_or_else(|| "?".into()),
                issuer,
            },
            sys::X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE | sys::X509_V_ERR_CRL_SIGNATURE_FAILURE => {
                Refusal::BadCrlSignature { issuer }
            }
            sys::X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER
            | sys::X509_V_ERR_KEYUSAGE_NO_CRL_SIGN
            | sys::X509_V_ERR_DIFFERENT_CRL_SCOPE
            | sys::X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION
            | sys::X509_V_ERR_CRL_PATH_VALIDATION_ERROR => {
                Refusal::CrlIssuer { detail: format!("{detail} (issuer {issuer}, OpenSSL verify error {code})") }
            }
            sys::X509_V_ERR_INVALID_CA
            | sys::X509_V_ERR_PATH_LENGTH_EXCEEDED
            | sys::X509_V_ERR_KEYUSAGE_NO_CERTSIGN
            | sys::X509_V_ERR_INVALID_NON_CA => Refusal::InvalidCa { subject, detail },
            sys::X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD | sys::X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD => {
                Refusal::malformed("certificate", format!("{subject}: {detail}"))
            }
            sys::X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD | sys::X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD => {
                Refusal::malformed("CRL", format!("{issuer}: {detail}"))
            }
            _ => Refusal::PathRefused { subject, code, detail },
        }
    }
}

const EKU: &str = "2.5.29.37";
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const EKU_ANY: &str = "2.5.29.37.0";
const EKU_MS_SMARTCARD_LOGON: &str = "1.3.6.1.4.1.311.20.2.2";

/// The end-entity rules of the module documentation.
fn check_role(leaf: &X509Ref, role: Role) -> Result<(), Refusal> {
    let subject = name(leaf.subject_name());
    let refuse = |detail: &str| Refusal::WrongKeyUsage { subject: subject.clone(), role, detail: detail.into() };
    let ku = leaf.key_usage().ok_or_else(|| refuse("it has no keyUsage extension"))?;
    if ku.intersects(X509KeyUsage::KEY_CERT_SIGN | X509KeyUsage::CRL_SIGN) {
        return Err(refuse("its key may sign certificates or CRLs (a CA key)"));
    }
    match role {
        Role::Login if !ku.contains(X509KeyUsage::DIGITAL_SIGNATURE) => {
            return Err(refuse("keyUsage lacks digitalSignature"));
        }
        Role::Transaction if !ku.intersects(X509KeyUsage::DIGITAL_SIGNATURE | X509KeyUsage::NON_REPUDIATION) => {
            return Err(refuse("keyUsage has neither digitalSignature nor nonRepudiation"));
        }
        _ => {}
    }
    let der = leaf.to_der().map_err(|e| Refusal::malformed("certificate", e))?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|e| Refusal::malformed("certificate", e))?;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == ObjectIdentifier::new_unwrap(BASIC_CONSTRAINTS) {
            let bc = x509_cert::ext::pkix::BasicConstraints::from_der(value)
                .map_err(|e| Refusal::malformed("basicConstraints", e))?;
            if bc.ca {
                return Err(refuse("basicConstraints says it is a CA"));
            }
        }
        if ext.extn_id == ObjectIdentifier::new_unwrap(EKU) && role == Role::Login {
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value)
                .map_err(|e| Refusal::malformed("extendedKeyUsage", e))?;
            let allowed = [EKU_CLIENT_AUTH, EKU_ANY, EKU_MS_SMARTCARD_LOGON].map(ObjectIdentifier::new_unwrap);
            if !eku.0.iter().any(|o| allowed.contains(o)) {
                return Err(refuse("extendedKeyUsage allows neither clientAuth nor smart-card logon"));
            }
        }
    }
    Ok(())
}

/// The certificate's time window, for messages.
pub fn validity(c: &X509Ref) -> (String, String) {
    (c.not_before().to_string(), c.not_after().to_string())
}
