//! The server side on the command line: the trust options of `login` and
//! `tx verify` (`--ca`, `--crl`, `--intermediate`), and `subsim ca`, a TEST
//! certification authority in a directory, for labs and demos.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use applet_spec::piv::Slot;
use applet_spec::Sw;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use subsim_host::{Client, Error, Transport};
use subsim_verifier::attest::AttestationTrust;
use subsim_verifier::ca_dir::CaDirectory;
use subsim_verifier::chain::{certificates, crls};
use subsim_verifier::testca::CaError;
use subsim_verifier::{Refusal, Revocation, Role, TestCa, Verifier};

use super::{out, shown, Out};
use crate::Failure;

/// Whom the server trusts, for `login` and `tx verify`.
#[derive(Args, Clone, Default)]
pub struct TrustArgs {
    /// Check the card's certificate against this trusted CA certificate
    /// (PEM or DER; repeat for several). Without it, nothing checks who
    /// issued the certificate.
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// An intermediate CA certificate between the card's certificate and a --ca.
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub intermediate: Vec<PathBuf>,
    /// A CRL (PEM or DER) from an issuer on the path; every certificate below
    /// the trusted CA needs its issuer's CRL, in force now. Without any
    /// --crl, revocation is not checked (and the output says so).
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub crl: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// 9A: digitalSignature, clientAuth.
    Login,
    /// 9C: digitalSignature and nonRepudiation.
    Transaction,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Login => Role::Login,
            RoleArg::Transaction => Role::Transaction,
        }
    }
    fn slot(self) -> Slot {
        match self {
            RoleArg::Login => Slot::Authentication,
            RoleArg::Transaction => Slot::Signature,
        }
    }
}

/// A TEST certification authority in a directory: never for real use.
#[derive(Subcommand)]
pub enum CaCmd {
    /// Create a test CA (a self-signed root, EC P-256) in the directory.
    Init {
        #[command(flatten)]
        dir: CaDir,
        /// Its name; "(TEST CA)" is added.
        #[arg(long, default_value = "CN=subsim lab")]
        subject: String,
        /// Days the CA's own certificate is valid, from now (1 to 36500).
        #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// Replace a CA already in the directory.
        #[arg(long)]
        force: bool,
    },
    /// Issue a certificate for a request (PEM or DER, e.g. from `subsim csr`).
    Issue {
        #[command(flatten)]
        dir: CaDir,
        /// The certificate request.
        request: PathBuf,
        /// What the key is for: sets key usage (and the slot an attestation must name).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The subject (default: the request's).
        #[arg(long)]
        subject: Option<String>,
        /// Days the certificate is valid, from now (1 to 36500).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// Write the certificate (PEM) here as well as into the CA's issued/ folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Require a valid key attestation chaining to this attestation CA
        /// (e.g. Yubico's PIV root); repeat for several.
        #[arg(long, value_name = "FILE")]
        attestation_ca: Vec<PathBuf>,
        /// The card's attestation statement for the slot (ATTEST's answer).
        #[arg(long, value_name = "FILE", requires = "attestation_ca", requires = "device_cert")]
        attestation: Option<PathBuf>,
        /// The card's attestation certificate (slot F9).
        #[arg(long, value_name = "FILE", requires = "attestation")]
        device_cert: Option<PathBuf>,
        /// An intermediate between the attestation CA and the device certificate.
        #[arg(long, value_name = "FILE", requires = "attestation_ca")]
        attestation_intermediate: Vec<PathBuf>,
    },
    /// Revoke a certificate this CA issued: by serial (hex) or certificate file.
    Revoke {
        #[command(flatten)]
        dir: CaDir,
        /// The certificate's serial number (hex) or its file (PEM or DER).
        serial_or_file: String,
    },
    /// Publish a CRL (PEM) listing every revoked certificate: into DIR/crl.pem and stdout.
    Crl {
        #[command(flatten)]
        dir: CaDir,
        /// Days until its nextUpdate (1 to 36500); past it, verifiers refuse it as stale.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// Write the CRL (PEM) here too (`-`: stdout only).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
pub struct CaDir {
    /// The CA's directory (default: `ca` next to the simulated card's state).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl CaDir {
    fn path(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| crate::open::default_sim_state().with_file_name("ca"))
    }
}

fn read(p: &Path) -> Result<Vec<u8>, Failure> {
    super::read_file(p, "the file")
}

fn in_file(p: &Path) -> impl Fn(Refusal) -> Failure + '_ {
    move |e| Failure::Usage(format!("{}: {e}", p.display()))
}

fn ca_failure(e: CaError) -> Failure {
    match e {
        CaError::Refused(Refusal::Malformed { what, detail }) => Failure::Usage(format!("malformed {what}: {detail}")),
        CaError::Refused(r) => refused("issuance", &r),
        e => Failure::Usage(e.to_string()),
    }
}

/// Exit 4 with the reason first: `login refused (revoked): ...`.
pub fn refused(what: &str, r: &Refusal) -> Failure {
    Failure::WithData(
        Box::new(Failure::NotVerified(format!("{what} refused ({}): {r}", r.reason()))),
        json!({ "reason": r.reason() }),
    )
}

/// Every certificate in the files (PEM, several per file, or DER).
fn load_certificates(files: &[PathBuf]) -> Result<Vec<openssl::x509::X509>, Failure> {
    let mut all = Vec::new();
    for f in files {
        all.extend(certificates(&read(f)?).map_err(in_file(f))?);
    }
    Ok(all)
}

/// The verifier the options describe; None without --ca.
pub fn verifier(t: &TrustArgs) -> Result<Option<Verifier>, Failure> {
    if t.ca.is_empty() {
        return Ok(None);
    }
    let mut lists = Vec::new();
    for f in &t.crl {
        lists.extend(crls(&read(f)?).map_err(in_file(f))?);
    }
    let revocation = if t.crl.is_empty() { Revocation::NotChecked } else { Revocation::Chain };
    Ok(Some(
        Verifier::new(load_certificates(&t.ca)?)
            .intermediates(load_certificates(&t.intermediate)?)
            .crls(lists)
            .revocation(revocation),
    ))
}

/// What the output says about trust, in words.
pub fn trust_note(v: Option<&Verifier>, path: &[String]) -> String {
    match v {
        None => "the certificate was NOT checked against any authority (no --ca)".into(),
        Some(v) => {
            let revocation = match v.revocation_policy() {
                Revocation::NotChecked => "revocation NOT checked (no --crl)",
                _ => "not revoked (CRLs in force)",
            };
            let path: Vec<String> = path.iter().map(|p| shown(p)).collect();
            format!("certificate path {} to a trusted CA; {revocation}", path.join(" <- "))
        }
    }
}

/// What a card shows for a slot's key: ATTEST's answer and its
/// attestation certificate (slot F9), both DER.
pub struct CardAttestation {
    pub statement: Vec<u8>,
    pub device: Vec<u8>,
}

/// The card's attestation for the slot, or None when the card has no
/// ATTEST command.
pub fn card_attestation<T: Transport>(c: &mut Client<T>, slot: Slot) -> Result<Option<CardAttestation>, Failure> {
    // Yubico's ATTEST (00 F9 <slot> 00); a card without it says so with 6D00/6E00.
    let statement = match c.attest(slot) {
        Ok(der) => der,
        Err(Error::Status { sw: Sw::INS_NOT_SUPPORTED | Sw::CLA_NOT_SUPPORTED, .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let device = c.attestation_certificate()?.ok_or_else(|| {
        Failure::Usage("the card answers ATTEST but holds no attestation certificate (5FFF01)".into())
    })?;
    Ok(Some(CardAttestation { statement, device }))
}

/// The CA's failure in the command line's words; another holder is exit 7 ("in use").
fn ca_error(e: CaError) -> Failure {
    match e {
        CaError::InUse { dir, holder } => Failure::Card(Error::transport(
            subsim_host::TransportKind::SharingViolation,
            format!("test CA {dir} is in use by {holder}"),
            Some("wait for it with --wait SECONDS"),
        )),
        e => ca_failure(e),
    }
}

/// Writes a published file's copy to `--out` (`-`: standard output,
/// where `text` says it is shown instead of the summary).
fn copy_out(to: &Option<PathBuf>, bytes: &[u8]) -> Result<Option<PathBuf>, Failure> {
    match to.as_deref().and_then(crate::session::file_arg) {
        Some(p) => {
            apdu_sim::cardfile::replace_file(p, bytes, 0o644)
                .map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?;
            Ok(Some(p.to_path_buf()))
        }
        None => Ok(None),
    }
}

pub fn run(cmd: &CaCmd, wait: Duration) -> Result<Out, Failure> {
    let now = SystemTime::now();
    match cmd {
        CaCmd::Init { dir, subject, days, force } => {
            let dir = dir.path();
            let make = || TestCa::new(subject, now, *days);
            let (held, made) = CaDirectory::create(&dir, wait, *force, make).map_err(ca_error)?;
            if !made {
                return Err(Failure::Usage(format!(
                    "{} already holds a CA (use --force to replace it)",
                    dir.display()
                )));
            }
            let name = subsim_verifier::chain::name(held.ca().certificate().subject_name());
            out(
                format!(
                    "TEST CA {} created in {}: certificate {}; its key is an unencrypted file: for labs only",
                    shown(&name),
                    dir.display(),
                    dir.join("ca.pem").display()
                ),
                json!({ "ca": name, "dir": dir, "certificate": dir.join("ca.pem"), "test_ca": true }),
            )
        }
        CaCmd::Issue {
            dir,
            request,
            role,
            subject,
            days,
            out: to,
            attestation_ca,
            attestation,
            device_cert,
            attestation_intermediate,
        } => {
            let csr = read(request)?;
            let attested = match (attestation, device_cert) {
                (Some(st), Some(dev)) => {
                    let trust = AttestationTrust::new(load_certificates(attestation_ca)?)
                        .intermediates(load_certificates(attestation_intermediate)?);
                    let a = trust
                        .verify(&read(dev)?, &read(st)?, &csr, role.slot().key_ref(), now)
                        .map_err(|r| refused("attestation", &r))?;
                    Some(a)
                }
                _ if !attestation_ca.is_empty() => {
                    return Err(Failure::Usage(
                        "--attestation-ca requires the card's --attestation and --device-cert".into(),
                    ))
                }
                _ => None,
            };
            let mut held = CaDirectory::open(&dir.path(), wait).map_err(ca_error)?;
            let cert = held.ca_mut().issue(&csr, subject.as_deref(), role.role(), now, *days).map_err(ca_failure)?;
            // Recorded before anything says it was issued.
            held.commit().map_err(ca_error)?;
            let pem = cert.to_pem().map_err(|e| Failure::Usage(e.to_string()))?;
            let serial = held.ca().issued().last().map(|i| i.serial.clone()).unwrap_or_default();
            let file = held.publish_issued(&serial, &pem).map_err(ca_error)?;
            let copy = copy_out(to, &pem)?;
            let who = subsim_verifier::chain::name(cert.subject_name());
            let note = match &attested {
                Some(a) => format!(", key attested by the card ({})", shown(&a.device)),
                None => String::new(),
            };
            let text = match copy {
                Some(_) => format!("issued {} for {}, serial {serial}{note}", shown(&who), role.role()),
                None => String::from_utf8_lossy(&pem).trim_end().to_string(),
            };
            out(
                text,
                json!({ "subject": who, "serial": serial, "role": role.role().to_string(), "file": file,
                        "attested": attested.is_some(), "certificate_pem": String::from_utf8_lossy(&pem) }),
            )
        }
        CaCmd::Revoke { dir, serial_or_file } => {
            let p = Path::new(serial_or_file);
            let cert = if p.exists() || serial_or_file == "-" {
                Some(certificates(&read(p)?).map_err(in_file(p))?.remove(0))
            } else {
                None
            };
            let mut held = CaDirectory::open(&dir.path(), wait).map_err(ca_error)?;
            let serial = match &cert {
                Some(cert) => {
                    held.ca_mut().revoke_certificate(cert, now).map_err(ca_failure)?;
                    cert.serial_number()
                        .to_bn()
                        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
                        .map_err(|e| Failure::Usage(e.to_string()))?
                }
                None => {
                    held.ca_mut().revoke(serial_or_file, now).map_err(ca_failure)?;
                    serial_or_file.trim().trim_start_matches("0x").to_ascii_uppercase()
                }
            };
            // Recorded before anything says it was revoked: the next CRL lists it.
            held.commit().map_err(ca_error)?;
            let total = held.ca().revoked().len();
            out(
                format!("revoked serial {serial}: publish a new CRL with `subsim ca crl` for verifiers to see it"),
                json!({ "revoked": serial, "revoked_total": total }),
            )
        }
        CaCmd::Crl { dir, days, out: to } => {
            let mut held = CaDirectory::open(&dir.path(), wait).map_err(ca_error)?;
            let until = now + Duration::from_secs(u64::from(*days) * 86400);
            let crl = held.ca_mut().crl(now, until).map_err(ca_failure)?;
            // The number is spent before the CRL is seen: never used twice.
            held.commit().map_err(ca_error)?;
            let pem = crl.to_pem().map_err(|e| Failure::Usage(e.to_string()))?;
            let file = held.publish("crl.pem", &pem).map_err(ca_error)?;
            let copy = copy_out(to, &pem)?;
            let (revoked, number) = (held.ca().revoked().len(), held.ca().crl_number());
            let text = match copy {
                Some(p) => {
                    format!("CRL number {number} with {revoked} revoked certificate(s) written to {}", p.display())
                }
                None => String::from_utf8_lossy(&pem).trim_end().to_string(),
            };
            out(
                text,
                json!({ "file": file, "revoked": revoked, "crl_number": number,
                        "crl_pem": String::from_utf8_lossy(&pem) }),
            )
        }
    }
}
