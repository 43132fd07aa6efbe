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

/// Every order of `files`, one file each and all in one PEM file: the verdict on `cert`.
fn in_every_order(p: &Pki, files: &[&str], cert: &str, role: Role) -> Vec<Result<(), Refusal>> {
    let mut verdicts = Vec::new();
    let orders: Vec<Vec<&str>> = match files {
        [a, b] => vec![vec![a, b], vec![b, a]],
        [a, b, c] => vec![vec![a, b, c], vec![a, c, b], vec![b, a, c], vec![b, c, a], vec![c, a, b], vec![c, b, a]],
        _ => unreachable!(),
    };
    for order in orders {
        let mut with_root = order.clone();
        with_root.push("root.crl");
        verdicts.push(p.check(&p.verifier(&with_root), cert, role, p.now()));
        let joined: Vec<u8> = order.iter().flat_map(|f| p.bytes(f)).collect();
        let one_file = p.dir.join(format!("joined-{}.crl", order.join("+")));
        std::fs::write(&one_file, joined).unwrap();
        let name = one_file.file_name().unwrap().to_str().unwrap().to_string();
        verdicts.push(p.check(&p.verifier(&[&name, "root.crl"]), cert, role, p.now()));
    }
    verdicts
}

#[test]
fn the_newest_crl_by_number_counts_in_any_order_and_in_one_file() {
    let Some(p) = pki() else { return };
    // Number 01 is from before eve's revocation, 02 lists it.
    p.check(&p.verifier(&["inter-before.crl", "root.crl"]), "revoked.pem", Role::Login, p.now()).unwrap();
    for v in in_every_order(p, &["inter-before.crl", "inter.crl"], "revoked.pem", Role::Login) {
        assert_eq!(v.unwrap_err().reason(), "revoked");
    }
    // Number 03 lists eve as well; alice stays good whatever the order.
    for v in in_every_order(p, &["inter-before.crl", "inter-1h.crl", "inter.crl"], "revoked.pem", Role::Login) {
        assert_eq!(v.unwrap_err().reason(), "revoked");
    }
    for v in in_every_order(p, &["inter-before.crl", "inter-1h.crl", "inter.crl"], "login.pem", Role::Login) {
        v.unwrap();
    }
}

#[test]
fn unnumbered_crls_are_ordered_by_this_update() {
    let Some(p) = pki() else { return };
    p.check(&p.verifier(&["inter-nonum-old.crl", "root.crl"]), "tx.pem", Role::Transaction, p.now()).unwrap();
    for v in in_every_order(p, &["inter-nonum-old.crl", "inter-nonum-new.crl"], "tx.pem", Role::Transaction) {
        assert_eq!(v.unwrap_err().reason(), "revoked");
    }
}

#[test]
fn two_different_crls_with_one_number_are_refused() {
    let Some(p) = pki() else { return };
    for v in in_every_order(p, &["inter.crl", "inter-dup.crl"], "login.pem", Role::Login) {
        let e = v.unwrap_err();
        assert_eq!(e.reason(), "crl-conflict", "{e}");
    }
    // The same CRL twice is no conflict.
    p.check(&p.verifier(&["inter.crl", "inter.crl", "root.crl"]), "login.pem", Role::Login, p.now()).unwrap();
}

#[test]
fn a_delta_crl_is_refused_not_ignored() {
    let Some(p) = pki() else { return };
    for v in in_every_order(p, &["inter.crl", "inter-delta.crl"], "login.pem", Role::Login) {
        let e = v.unwrap_err();
        assert_eq!(e.reason(), "delta-crl", "{e}");
    }
}
