//! A TEST certification authority, for labs, demos and tests: it issues
//! login (9A) and transaction (9C) certificates from certificate requests,
//! revokes them, and publishes CRLs. Its key is an unencrypted file: it is
//! not a CA to trust with anything real, and its name says so.
//!
//! On disk, a CA is a directory held like a card file ([`crate::ca_dir`]):
//! one state file holds everything (key, certificate, records, counters),
//! replaced whole; the certificate and CRLs are published beside it.
//!
//! Serials are 127 random bits, never one already issued; CRL numbers
//! count up from 1 and never wrap (a CA out of numbers refuses to publish).
//! Revocation is by issuer and serial: a certificate file is revoked only
//! if this CA's key signed it.

use std::path::Path;
use std::time::SystemTime;

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{
    X509Builder, X509Crl, X509CrlBuilder, X509Name, X509NameBuilder, X509Req, X509RevokedBuilder, X509,
};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Role};
use crate::time::unix;

/// Every test CA's name carries this, so nobody mistakes one for a real CA.
pub const TEST_MARK: &str = "TEST CA";

/// What can go wrong running the test CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A CA file could not be read or written.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What went wrong with it.
        detail: String,
    },
    /// Another program holds the CA's directory (and `--wait` did not outlast it).
    #[error("test CA {dir} is in use by {holder}")]
    InUse {
        /// The CA's directory.
        dir: String,
        /// Who holds it, as far as can be told.
        holder: String,
    },
    /// OpenSSL failed.
    #[error("OpenSSL: {0}")]
    Ssl(#[from] ErrorStack),
    /// A certificate or request was refused (e.g. a failed attestation).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// An argument cannot work (e.g. an unknown serial to revoke).
    #[error("{0}")]
    Invalid(String),
}

/// A certificate the test CA issued, as kept in its records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedRecord {
    /// Hex, as OpenSSL prints serials.
    pub serial: String,
    /// Subject DN, one line.
    pub subject: String,
    /// What it was issued for: `CA`, `login` or `transactions`.
    pub role: String,
    /// End of validity, as OpenSSL prints dates.
    pub not_after: String,
}

/// A certificate the test CA revoked, as kept in its records (and listed in its CRL).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokedRecord {
    /// Serial, hex as OpenSSL prints it.
    pub serial: String,
    /// Seconds since 1970.
    pub at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Records {
    issued: Vec<IssuedRecord>,
    revoked: Vec<RevokedRecord>,
    crl_number: u64,
}

/// A test CA: an EC P-256 key and its certificate (self-signed root, or an
/// intermediate signed by another test CA).
#[derive(Clone)]
pub struct TestCa {
    key: PKey<Private>,
    cert: X509,
    records: Records,
}

/// The state file's format: everything a CA is, in one JSON object.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: u32,
    /// PKCS#8 PEM: the file is the owner's alone (0600).
    key_pem: String,
    cert_pem: String,
    issued: Vec<IssuedRecord>,
    revoked: Vec<RevokedRecord>,
    /// The last CRL number used (0: none yet).
    crl_number: u64,
}

const STATE_FORMAT: u32 = 2;

/// Parses `CN=Alice,O=Bank` (RFC 4514: the last RDN first) or
/// `/O=Bank/CN=Alice` (OpenSSL's form: the first RDN first).
pub fn parse_name(s: &str) -> Result<X509Name, CaError> {
    let mut b = X509NameBuilder::new()?;
    let mut parts: Vec<&str> = match s.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => s.split(',').rev().collect(),
    };
    parts.retain(|p| !p.trim().is_empty());
    let mut any = false;
    for part in parts.into_iter().map(str::trim) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| CaError::Invalid(format!("name {s:?}: write it like CN=Alice,O=Bank")))?;
        b.append_entry_by_text(k.trim(), v.trim()).map_err(|e| CaError::Invalid(format!("name {s:?}: {k}: {e}")))?;
        any = true;
    }
    if !any {
        return Err(CaError::Invalid(format!("name {s:?} is empty")));
    }
    Ok(b.build())
}

/// A serial this CA never used: 16 random bytes, positive, 16 bytes long.
fn random_serial(records: &Records) -> Result<Asn1Integer, ErrorStack> {
    loop {
        let mut b = crate::random::<16>();
        b[0] &= 0x7F; // positive
        b[0] |= 0x01; // and 16 bytes long
        let n = BigNum::from_slice(&b)?;
        let hex = n.to_hex_str()?.to_string();
        if !records.issued.iter().any(|i| i.serial.eq_ignore_ascii_case(&hex)) {
            return n.to_asn1_integer();
        }
    }
}

fn time(t: SystemTime) -> Result<Asn1Time, ErrorStack> {
    Asn1Time::from_unix(unix(t) as _)
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_ec_key(EcKey::generate(&*EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?)?)
}

fn serial_hex(c: &X509) -> String {
    c.serial_number().to_bn().and_then(|b| b.to_hex_str().map(|s| s.to_string())).unwrap_or_default()
}

impl TestCa {
    /// A self-signed root valid from `now` for `days`; "TEST CA" is added to
    /// the name's CN when it is not there.
    pub fn new(subject: &str, now: SystemTime, days: u32) -> Result<TestCa, CaError> {
        let key = new_key()?;
        let name = parse_name(&marked(subject))?;
        let cert = ca_certificate(&name, &key, None, now, days)?;
        Ok(TestCa { key, cert, records: Records::default() })
    }

    /// An intermediate CA, issued by this one.
    pub fn intermediate(&mut self, subject: &str, now: SystemTime, days: u32) -> Result<TestCa, CaError> {
        let key = new_key()?;
        let name = parse_name(&marked(subject))?;
        let cert = ca_certificate(&name, &key, Some(self), now, days)?;
        self.records.issued.push(IssuedRecord {
            serial: serial_hex(&cert),
            subject: crate::chain::name(&name),
            role: "CA".into(),
            not_after: cert.not_after().to_string(),
        });
        Ok(TestCa { key, cert, records: Records::default() })
    }

    /// The CA's own certificate: the anchor a server trusts.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// Every certificate issued, the CA's own first.
    pub fn issued(&self) -> &[IssuedRecord] {
        &self.records.issued
    }

    /// Every certificate revoked.
    pub fn revoked(&self) -> &[RevokedRecord] {
        &self.records.revoked
    }

    /// Issues a certificate for a PKCS#10 request (PEM or DER), after
    /// checking the request is signed by the key it carries. The subject is
    /// the request's unless `subject` is given.
    pub fn issue(
        &mut self,
        request: &[u8],
        subject: Option<&str>,
        role: Role,
        now: SystemTime,
        days: u32,
    ) -> Result<X509, CaError> {
        let req = read_request(request)?;
        let public = req.public_key()?;
        if !req.verify(&public)? {
            return Err(Refusal::BadRequestSignature.into());
        }
        let name = match subject {
            Some(s) => parse_name(s)?,
            None => req.subject_name().to_owned()?,
        };
        let until = now + std::time::Duration::from_secs(u64::from(days) * 86400);
        self.issue_for_key(&name, &public, role, now, until)
    }

    /// Issues a certificate for a public key, valid from `not_before` to
    /// `not_after` (any window: tests make expired and future ones).
    pub fn issue_for_key(
        &mut self,
        subject: &X509Name,
        public: &PKeyRef<Public>,
        role: Role,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<X509, CaError> {
        let mut b = builder(subject, self.cert.subject_name(), public, not_before, not_after, &self.records)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let ku = match role {
            Role::Login => KeyUsage::new().critical().digital_signature().build()?,
            Role::Transaction => KeyUsage::new().critical().digital_signature().non_repudiation().build()?,
        };
        b.append_extension(ku)?;
        if role == Role::Login {
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        }
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        let cert = b.build();
        self.records.issued.push(IssuedRecord {
            serial: serial_hex(&cert),
            subject: crate::chain::name(subject),
            role: role.to_string(),
            not_after: cert.not_after().to_string(),
        });
        Ok(cert)
    }

    /// Revokes a certificate this CA issued, by serial (hex, any case) or
    /// by the certificate; from `now`. Revoking twice changes nothing.
    pub fn revoke(&mut self, serial: &str, now: SystemTime) -> Result<(), CaError> {
        let want = serial.trim().trim_start_matches("0x").to_ascii_uppercase();
        let found = self.records.issued.iter().find(|i| i.serial.eq_ignore_ascii_case(&want));
        let Some(found) = found else {
            return Err(CaError::Invalid(format!("this CA issued no certificate with serial {want}")));
        };
        if !self.records.revoked.iter().any(|r| r.serial == found.serial) {
            self.records.revoked.push(RevokedRecord { serial: found.serial.clone(), at: unix(now) });
        }
        Ok(())
    }

    /// Revokes `cert`, if this CA issued it (its issuer is this CA's name
    /// and this CA's key signed it: another CA's certificate that happens
    /// to carry one of our serials is refused); the next CRL lists it.
    pub fn revoke_certificate(&mut self, cert: &X509, now: SystemTime) -> Result<(), CaError> {
        let ours = cert.issuer_name().to_der()? == self.cert.subject_name().to_der()?;
        if !ours || !cert.verify(&self.key)? {
            return Err(CaError::Invalid(format!(
                "this CA did not issue the certificate of {} (issuer {}, serial {}): not revoked",
                crate::chain::name(cert.subject_name()),
                crate::chain::name(cert.issuer_name()),
                serial_hex(cert)
            )));
        }
        self.revoke(&serial_hex(cert), now)
    }

    /// A CRL listing every revoked certificate, in force from `this_update`
    /// until `next_update`, with the next CRL number.
    pub fn crl(&mut self, this_update: SystemTime, next_update: SystemTime) -> Result<X509Crl, CaError> {
        let number =
            self.records.crl_number.checked_add(1).ok_or_else(|| {
                CaError::Invalid("this CA used every CRL number it has (2^64 - 1): make a new CA".into())
            })?;
        let mut b = X509CrlBuilder::new()?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.set_last_update(&*time(this_update)?)?;
        b.set_next_update(&*time(next_update)?)?;
        for r in &self.records.revoked {
            let mut rb = X509RevokedBuilder::new()?;
            rb.set_serial_number(&*BigNum::from_hex_str(&r.serial)?.to_asn1_integer()?)?;
            rb.set_revocation_date(&*Asn1Time::from_unix(r.at as _)?)?;
            b.add_revoked(rb.build())?;
        }
        // RFC 5280 5.2.1 and 5.2.3: the authority key identifier and the CRL number.
        let ctx_holder = X509Builder::new()?;
        let aki =
            AuthorityKeyIdentifier::new().keyid(true).build(&ctx_holder.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        let number_der = BigNum::from_slice(&number.to_be_bytes())?.to_asn1_integer()?;
        b.append_extension(openssl::x509::X509Extension::new_from_der(
            &*Asn1Object::from_str("2.5.29.20")?,
            false,
            &*Asn1OctetString::new_from_bytes(&der_integer(&number_der)?)?,
        )?)?;
        b.sort()?;
        b.sign(&self.key, MessageDigest::sha256())?;
        let crl = b.build()?;
        self.records.crl_number = number;
        Ok(crl)
    }

    /// The last CRL number used (0: none yet).
    pub fn crl_number(&self) -> u64 {
        self.records.crl_number
    }

    /// Writes the CA into `dir` (created if needed), replacing a CA there:
    /// [`crate::ca_dir::CaDirectory::create`], waiting up to 10 s for its holder.
    pub fn save(&self, dir: &Path) -> Result<(), CaError> {
        let ca = self.clone();
        crate::ca_dir::CaDirectory::create(dir, std::time::Duration::from_secs(10), true, move || Ok(ca)).map(drop)
    }

    /// Reads the CA in `dir` ([`crate::ca_dir::CaDirectory::open`], letting go at once).
    pub fn open(dir: &Path) -> Result<TestCa, CaError> {
        crate::ca_dir::CaDirectory::open(dir, std::time::Duration::from_secs(10)).map(|d| d.ca().clone())
    }

    /// Whether `dir` holds a saved CA (of this or an older layout).
    pub fn exists(dir: &Path) -> bool {
        crate::ca_dir::CaDirectory::holds_a_ca(dir)
    }

    /// The whole CA as its state file's bytes (it holds the private key).
    pub(crate) fn to_state(&self) -> Result<Vec<u8>, CaError> {
        let file = StateFile {
            format: STATE_FORMAT,
            key_pem: String::from_utf8_lossy(&self.key.private_key_to_pem_pkcs8()?).into_owned(),
            cert_pem: String::from_utf8_lossy(&self.cert.to_pem()?).into_owned(),
            issued: self.records.issued.clone(),
            revoked: self.records.revoked.clone(),
            crl_number: self.records.crl_number,
        };
        let mut text = serde_json::to_vec_pretty(&file).map_err(|e| CaError::Invalid(e.to_string()))?;
        text.push(b'\n');
        Ok(text)
    }

    /// A CA from its state file's bytes: the key must match the certificate.
    pub(crate) fn from_state(bytes: &[u8]) -> Result<TestCa, String> {
        let f: StateFile = serde_json::from_slice(bytes).map_err(|e| format!("not a test CA's state: {e}"))?;
        if f.format != STATE_FORMAT {
            return Err(format!("unknown state format {} (this build reads {STATE_FORMAT})", f.format));
        }
        let cert = X509::from_pem(f.cert_pem.as_bytes()).map_err(|e| format!("cert_pem: {e}"))?;
        let key = PKey::private_key_from_pem(f.key_pem.as_bytes()).map_err(|e| format!("key_pem: {e}"))?;
        if !cert.public_key().map_err(|e| e.to_string())?.public_eq(&key) {
            return Err("the key does not match the certificate".into());
        }
        Ok(TestCa { key, cert, records: Records { issued: f.issued, revoked: f.revoked, crl_number: f.crl_number } })
    }
}

pub(crate) const README: &str = "This directory is a TEST certification authority made by `subsim ca init`.\n\
Its private key is in ca.json, an unencrypted file: it is for labs and demos only.\n\
Never trust it for anything real.\n";

fn marked(subject: &str) -> String {
    if subject.contains(TEST_MARK) {
        subject.to_string()
    } else if subject.starts_with('/') {
        format!("{subject} ({TEST_MARK})")
    } else if let Some(rest) = subject.strip_prefix("CN=") {
        match rest.split_once(',') {
            Some((cn, more)) => format!("CN={cn} ({TEST_MARK}),{more}"),
            None => format!("CN={rest} ({TEST_MARK})"),
        }
    } else {
        format!("CN={TEST_MARK},{subject}")
    }
}

/// A v3 certificate with a random serial, before its extensions.
fn builder<T: openssl::pkey::HasPublic>(
    subject: &openssl::x509::X509NameRef,
    issuer: &openssl::x509::X509NameRef,
    key: &PKeyRef<T>,
    not_before: SystemTime,
    not_after: SystemTime,
    records: &Records,
) -> Result<X509Builder, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*random_serial(records)?)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer)?;
    b.set_pubkey(key)?;
    b.set_not_before(&*time(not_before)?)?;
    b.set_not_after(&*time(not_after)?)?;
    Ok(b)
}

/// A CA certificate for `key`: issued by `parent`, or self-signed without one.
fn ca_certificate(
    subject: &X509Name,
    key: &PKey<Private>,
    parent: Option<&TestCa>,
    now: SystemTime,
    days: u32,
) -> Result<X509, ErrorStack> {
    let until = now + std::time::Duration::from_secs(u64::from(days) * 86400);
    let none = Records::default();
    let (issuer, issuer_key, records) = match parent {
        Some(p) => (p.cert.subject_name(), &p.key, &p.records),
        None => (&**subject, key, &none),
    };
    let issuer_cert = parent.map(|p| &p.cert);
    let mut b = builder(subject, issuer, key, now, until, records)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer_cert.map(|c| &**c), None))?;
    b.append_extension(ski)?;
    if let Some(parent) = issuer_cert {
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&b.x509v3_context(Some(parent), None))?;
        b.append_extension(aki)?;
    }
    b.sign(issuer_key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A certificate request, PEM or DER.
pub fn read_request(bytes: &[u8]) -> Result<X509Req, CaError> {
    let pem = std::str::from_utf8(bytes).is_ok_and(|t| t.contains("-----BEGIN"));
    let req = if pem { X509Req::from_pem(bytes) } else { X509Req::from_der(bytes) };
    req.map_err(|e| Refusal::malformed("certificate request", e).into())
}

fn der_integer(i: &openssl::asn1::Asn1IntegerRef) -> Result<Vec<u8>, ErrorStack> {
    let bytes = i.to_bn()?.to_vec();
    let mut v = if bytes.is_empty() || bytes[0] & 0x80 != 0 { vec![0] } else { Vec::new() };
    v.extend(bytes);
    let mut der = vec![0x02, v.len() as u8];
    der.extend(v);
    Ok(der)
}
