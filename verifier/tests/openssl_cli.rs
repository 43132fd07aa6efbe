//! The same refusals with certificates, CRLs and signatures made by the
//! `openssl` command line (`tests/pki/openssl-pki.sh`), so the verifier is
//! not only checked against what our own test CA writes. The PKI is made
//! with the real clock; the checks pass explicit times around it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use openssl::x509::X509;
use subsim_verifier::chain::{certificates, crls};
use subsim_verifier::{Refusal, Revocation, Role, Server, SessionId, Verifier};

const HOUR: Duration = Duration::from_secs(3600);

struct Pki {
    dir: PathBuf,
    /// When the PKI was made (CRLs' thisUpdate is just after).
    made: SystemTime,
}

/// Made once per test binary; None (and a SKIPPED line) without `openssl`.
fn pki() -> Option<&'static Pki> {
    static PKI: OnceLock<Option<Pki>> = OnceLock::new();
    PKI.get_or_init(|| {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("SKIPPED: openssl_cli: needs the openssl command (Debian: openssl)");
            return None;
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("openssl-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let made = SystemTime::now();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pki/openssl-pki.sh");
        let o = Command::new("sh").arg(script).arg(&dir).output().unwrap();
        assert!(o.status.success(), "openssl-pki.sh: {}", String::from_utf8_lossy(&o.stderr));
        Some(Pki { dir, made })
    })
    .as_ref()
}

impl Pki {
    fn bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn cert(&self, name: &str) -> X509 {
        certificates(&self.bytes(name)).unwrap().remove(0)
    }
    /// Trusts the root, knows the intermediate, holds these CRLs.
    fn verifier(&self, crl_files: &[&str]) -> Verifier {
        let crls = crl_files.iter().flat_map(|f| crls(&self.bytes(f)).unwrap()).collect();
        Verifier::new(vec![self.cert("root/cert.pem")]).intermediates(vec![self.cert("inter.pem")]).crls(crls)
    }
    fn now(&self) -> SystemTime {
        self.made + HOUR / 2
    }
    fn check(&self, v: &Verifier, cert: &str, role: Role, at: SystemTime) -> Result<(), Refusal> {
        v.verify(&self.bytes(cert), role, at).map(|_| ())
    }
}

fn signed_with_openssl(pki: &Pki, key: &str, message: &[u8]) -> Vec<u8> {
    let msg = pki.dir.join(format!("msg-{}", hex::encode(&message[..8])));
    std::fs::write(&msg, message).unwrap();
    let o =
        Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(pki.dir.join(key)).arg(&msg).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn a_login_through_the_intermediate_passes_with_both_crls() {
    let Some(p) = pki() else { return };
    let mut server = Server::new(p.verifier(&["inter.crl", "root.crl"]));
    let s = SessionId::new("cli").unwrap();
    let c = server.challenge(&s, p.now());
    let sig = signed_with_openssl(p, "login.key", &c.bytes);
    let who = server.login(&s, &c.bytes, &sig, &p.bytes("login.pem"), p.now()).unwrap();
    assert_eq!(who.path, ["CN=alice", "CN=OpenSSL Intermediate TEST CA", "CN=OpenSSL Root TEST CA"]);
    assert_eq!(
        server.login(&s, &c.bytes, &sig, &p.bytes("login.pem"), p.now()).unwrap_err(),
        Refusal::ReplayedChallenge
    );
}

#[test]
fn a_certificate_issued_by_the_root_directly_passes_too() {
    let Some(p) = pki() else { return };
    p.check(&p.verifier(&["root.crl"]), "direct.pem", Role::Login, p.now()).unwrap();
}

#[test]
fn revoked_by_the_openssl_ca() {
    let Some(p) = pki() else { return };
    let e = p.check(&p.verifier(&["inter.crl", "root.crl"]), "revoked.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(&e, Refusal::Revoked { subject, .. } if subject == "CN=eve"), "{e}");
}

#[test]
fn not_yet_valid_and_expired() {
    let Some(p) = pki() else { return };
    let v = p.verifier(&["inter.crl", "root.crl"]);
    let e = p.check(&v, "future.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(&e, Refusal::NotYetValid { subject, .. } if subject == "CN=dave"), "{e}");
    let e = p.check(&v, "expired.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(&e, Refusal::Expired { subject, .. } if subject == "CN=carol"), "{e}");
}

#[test]
fn a_crl_past_its_next_update_is_stale() {
    let Some(p) = pki() else { return };
    let v = p.verifier(&["inter-1h.crl", "root.crl"]);
    p.check(&v, "login.pem", Role::Login, p.now()).unwrap();
    let e = p.check(&v, "login.pem", Role::Login, p.made + 2 * HOUR).unwrap_err();
    assert!(matches!(&e, Refusal::StaleCrl { issuer, .. } if issuer.contains("Intermediate")), "{e}");
}

#[test]
fn a_crl_from_another_issuer_does_not_count() {
    let Some(p) = pki() else { return };
    let e = p.check(&p.verifier(&["other.crl", "root.crl"]), "login.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(&e, Refusal::NoCrl { issuer, .. } if issuer.contains("Intermediate")), "{e}");
    // Leaf-only revocation still needs the issuer's own CRL.
    let v = p.verifier(&["other.crl"]).revocation(Revocation::Leaf);
    assert_eq!(p.check(&v, "login.pem", Role::Login, p.now()).unwrap_err().reason(), "no-crl");
}

#[test]
fn the_intermediate_is_needed_and_the_other_root_is_not_trusted() {
    let Some(p) = pki() else { return };
    let v = Verifier::new(vec![p.cert("root/cert.pem")]).revocation(Revocation::NotChecked);
    assert_eq!(p.check(&v, "login.pem", Role::Login, p.now()).unwrap_err().reason(), "unknown-issuer");
    let v = Verifier::new(vec![p.cert("other/cert.pem")])
        .intermediates(vec![p.cert("inter.pem")])
        .revocation(Revocation::NotChecked);
    assert_eq!(p.check(&v, "login.pem", Role::Login, p.now()).unwrap_err().reason(), "unknown-issuer");
}

#[test]
fn key_usage_per_role() {
    let Some(p) = pki() else { return };
    let v = p.verifier(&["inter.crl", "root.crl"]);
    let refused = |cert: &str, role| match p.check(&v, cert, role, p.now()) {
        Err(Refusal::WrongKeyUsage { detail, .. }) => detail,
        other => panic!("{cert} for {role}: {other:?}"),
    };
    // nonRepudiation alone: a transaction key, not a login key.
    p.check(&v, "tx.pem", Role::Transaction, p.now()).unwrap();
    assert!(refused("tx.pem", Role::Login).contains("digitalSignature"));
    assert!(refused("enc.pem", Role::Transaction).contains("neither"));
    assert!(refused("noku.pem", Role::Login).contains("no keyUsage"));
    assert!(refused("server.pem", Role::Login).contains("clientAuth"));
    p.check(&v, "server.pem", Role::Transaction, p.now()).unwrap();
    assert!(refused("caflag.pem", Role::Transaction).contains("CA"));
}

#[test]
fn a_signature_made_by_openssl_with_another_key_is_refused() {
    let Some(p) = pki() else { return };
    let mut server = Server::new(p.verifier(&["inter.crl", "root.crl"]));
    let s = SessionId::new("cli").unwrap();
    let c = server.challenge(&s, p.now());
    let sig = signed_with_openssl(p, "tx.key", &c.bytes);
    let e = server.login(&s, &c.bytes, &sig, &p.bytes("login.pem"), p.now()).unwrap_err();
    assert_eq!(e.reason(), "bad-signature", "{e}");
}

#[test]
fn a_certificate_issued_by_an_end_entity_has_no_valid_ca() {
    let Some(p) = pki() else { return };
    let v = Verifier::new(vec![p.cert("root/cert.pem")])
        .intermediates(vec![p.cert("inter.pem"), p.cert("login.pem")])
        .revocation(Revocation::NotChecked);
    let e = p.check(&v, "sub.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(&e, Refusal::InvalidCa { subject, .. } if subject == "CN=alice"), "{e}");
}

#[test]
fn a_crl_from_a_ca_without_crl_sign_is_refused() {
    let Some(p) = pki() else { return };
    let crls = crls(&p.bytes("nocrlsign.crl")).unwrap();
    let v = Verifier::new(vec![p.cert("nocrlsign/cert.pem")]).crls(crls);
    let e = p.check(&v, "nocrl.pem", Role::Login, p.now()).unwrap_err();
    assert!(matches!(e, Refusal::CrlIssuer { .. }), "{e}");
}
