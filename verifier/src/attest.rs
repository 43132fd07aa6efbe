//! Key attestation at issuance: the CA certifies a key only if the card
//! proves it generated that key itself.
//!
//! The format is Yubico's PIV attestation
//! (<https://developers.yubico.com/PIV/Introduction/PIV_attestation.html>):
//! - slot F9 holds the card's attestation key and its certificate (the
//!   "device certificate", object `5FFF01`), issued by the manufacturer's
//!   attestation CA, possibly through intermediates;
//! - ATTEST (`00 F9 <slot> 00`) answers an X.509 certificate for the slot's
//!   public key, signed by the F9 key, subject `CN=YubiKey PIV Attestation <slot>`,
//!   with Yubico's extensions: firmware version (`1.3.6.1.4.1.41482.3.3`,
//!   3 raw bytes), serial (`.3.7`, a DER INTEGER), PIN and touch policy
//!   (`.3.8`, 2 raw bytes), form factor (`.3.9`, 1 raw byte).
//!
//! The check: the device certificate's path to a trusted attestation CA
//! (OpenSSL's verifier, any purpose, no CRLs: manufacturers publish none);
//! the statement signed by the device key, issued under the device
//! certificate's name, valid at the time given, for the expected slot; the
//! request signed by its own key, and that key the attested one. The last
//! link is checked by signature and name rather than as an X.509 path
//! because device certificates are not always marked as CAs (go-piv checks
//! it the same way).

use std::time::SystemTime;

use openssl::asn1::Asn1Time;
use openssl::x509::X509;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode;

use crate::chain::{certificates, name, Revocation, Verifier};
use crate::error::Refusal;
use crate::testca::read_request;
use crate::time::unix;

/// Yubico attestation extension: firmware version, 3 raw bytes.
pub const OID_FIRMWARE: &str = "1.3.6.1.4.1.41482.3.3";
/// Yubico attestation extension: device serial, a DER INTEGER.
pub const OID_SERIAL: &str = "1.3.6.1.4.1.41482.3.7";
/// Yubico attestation extension: PIN and touch policy, 2 raw bytes.
pub const OID_POLICY: &str = "1.3.6.1.4.1.41482.3.8";
/// Yubico attestation extension: form factor, 1 raw byte.
pub const OID_FORM_FACTOR: &str = "1.3.6.1.4.1.41482.3.9";

/// What a valid attestation says about the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The attested slot's key reference (e.g. `0x9A`).
    pub slot: u8,
    /// The device certificate's subject.
    pub device: String,
    /// Firmware version, major, minor, patch.
    pub firmware: Option<[u8; 3]>,
    /// The device's serial number.
    pub serial: Option<u64>,
    /// Yubico's encoding: 1 never, 2 once, 3 always.
    pub pin_policy: Option<u8>,
    /// Yubico's encoding: 1 never, 2 always, 3 cached.
    pub touch_policy: Option<u8>,
    /// Yubico's form factor code (`0` unknown, as a sub-SIM reports).
    pub form_factor: Option<u8>,
}

/// The attestation CAs a CA trusts (e.g. Yubico's PIV root), and known
/// intermediates between them and the device certificates.
pub struct AttestationTrust {
    roots: Vec<X509>,
    intermediates: Vec<X509>,
}

impl AttestationTrust {
    /// Trust attestations that chain to one of `roots`.
    pub fn new(roots: Vec<X509>) -> AttestationTrust {
        AttestationTrust { roots, intermediates: Vec::new() }
    }

    /// Intermediate attestation CAs (not trusted by themselves: each must chain to a root).
    pub fn intermediates(mut self, certs: Vec<X509>) -> AttestationTrust {
        self.intermediates = certs;
        self
    }

    /// Checks that `statement` (the ATTEST answer for `slot`), under the
    /// card's `device` certificate (slot F9), attests the key in `request`
    /// (PKCS#10, PEM or DER), at time `at`.
    pub fn verify(
        &self,
        device: &[u8],
        statement: &[u8],
        request: &[u8],
        slot: u8,
        at: SystemTime,
    ) -> Result<Attested, Refusal> {
        let device = certificates(device)?.swap_remove(0);
        let statement = certificates(statement)?.swap_remove(0);
        let refuse = |d: String| Refusal::Attestation { detail: d };

        Verifier::new(self.roots.clone())
            .intermediates(self.intermediates.clone())
            .revocation(Revocation::NotChecked)
            .verify_path(&device, at)?;

        let device_key = device.public_key().map_err(|e| Refusal::malformed("device certificate", e))?;
        if !statement.verify(&device_key).unwrap_or(false) {
            return Err(refuse("the attestation statement is not signed by the card's attestation key (F9)".into()));
        }
        let der = |n: &openssl::x509::X509NameRef| n.to_der().unwrap_or_default();
        if der(statement.issuer_name()) != der(device.subject_name()) {
            return Err(refuse(format!(
                "the statement names {} as its issuer, the device certificate is {}",
                name(statement.issuer_name()),
                name(device.subject_name())
            )));
        }
        let now = Asn1Time::from_unix(unix(at) as _).map_err(|e| Refusal::malformed("time", e))?;
        let subject = name(statement.subject_name());
        if statement.not_before() > now {
            return Err(Refusal::NotYetValid { subject, not_before: statement.not_before().to_string() });
        }
        if statement.not_after() < now {
            return Err(Refusal::Expired { subject, not_after: statement.not_after().to_string() });
        }
        let attested_slot = subject
            .rsplit(' ')
            .next()
            .filter(|_| subject.contains("Attestation"))
            .and_then(|s| u8::from_str_radix(s, 16).ok());
        if attested_slot != Some(slot) {
            return Err(Refusal::AttestedWrongSlot { expected: slot, attested: subject });
        }

        let req = read_request(request).map_err(|e| Refusal::malformed("certificate request", e))?;
        let req_key = req.public_key().map_err(|e| Refusal::malformed("certificate request", e))?;
        if !req.verify(&req_key).unwrap_or(false) {
            return Err(Refusal::BadRequestSignature);
        }
        let attested_key = statement.public_key().map_err(|e| Refusal::malformed("attestation statement", e))?;
        if !attested_key.public_eq(&req_key) {
            return Err(Refusal::AttestedKeyMismatch);
        }

        let mut out = Attested {
            slot,
            device: name(device.subject_name()),
            firmware: None,
            serial: None,
            pin_policy: None,
            touch_policy: None,
            form_factor: None,
        };
        read_extensions(&statement, &mut out)?;
        Ok(out)
    }
}

fn read_extensions(statement: &X509, out: &mut Attested) -> Result<(), Refusal> {
    let der = statement.to_der().map_err(|e| Refusal::malformed("attestation statement", e))?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|e| Refusal::malformed("attestation statement", e))?;
    let bad = |what: &str| Refusal::Attestation { detail: format!("malformed Yubico extension: {what}") };
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let v = ext.extn_value.as_bytes();
        let is = |oid: &str| ext.extn_id == ObjectIdentifier::new_unwrap(oid);
        if is(OID_FIRMWARE) {
            out.firmware = Some(v.try_into().map_err(|_| bad("firmware version is not 3 bytes"))?);
        } else if is(OID_SERIAL) {
            out.serial = Some(u64::from_der(v).map_err(|_| bad("serial is not an INTEGER"))?);
        } else if is(OID_POLICY) {
            let [pin, touch] = <[u8; 2]>::try_from(v).map_err(|_| bad("policy is not 2 bytes"))?;
            (out.pin_policy, out.touch_policy) = (Some(pin), Some(touch));
        } else if is(OID_FORM_FACTOR) {
            let [f] = <[u8; 1]>::try_from(v).map_err(|_| bad("form factor is not 1 byte"))?;
            out.form_factor = Some(f);
        }
    }
    Ok(())
}
