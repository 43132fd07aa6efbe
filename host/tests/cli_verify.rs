//! The server's checks on the command line: `subsim ca` (the test CA),
//! `login --ca/--crl`, `tx verify --ca/--crl/--expect`; every refusal exits
//! 4 and names its reason. Each test has its own simulated card and CA.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

struct Lab(PathBuf);

impl Lab {
    fn new(name: &str) -> Lab {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-verify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        Lab(home)
    }
    fn f(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("SUBSIM_HOME", &self.0)
            .env("SUBSIM_PIN", "123456")
            .env_remove("SUBSIM_MGM_KEY")
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "subsim {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    /// Runs, expects exit 4 ("did not verify"); the error line.
    fn refused(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(4), "subsim {args:?}: {err}");
        err
    }
    /// Keys in 9A and 9C, certificates from the lab's test CA.
    fn personalised(&self) {
        self.ok(&["init"]);
        self.ok(&["ca", "init"]);
        for (slot, role) in [("9a", "login"), ("9c", "transaction")] {
            std::fs::write(self.f(&format!("{slot}.pub")), self.ok(&["key", "generate", slot])).unwrap();
            let csr =
                self.ok(&["csr", slot, "--subject", "CN=Alice,O=Bank", "--pubkey", &self.f(&format!("{slot}.pub"))]);
            std::fs::write(self.f(&format!("{slot}.csr")), csr).unwrap();
            let crt = self.f(&format!("{slot}.crt"));
            self.ok(&["ca", "issue", &self.f(&format!("{slot}.csr")), "--role", role, "--out", &crt]);
            self.ok(&["cert", "import", slot, &crt]);
        }
        self.ok(&["ca", "crl", "--out", &self.f("crl.pem")]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn login_with_and_without_an_authority() {
    let lab = Lab::new("login");
    lab.personalised();
    let ca = lab.f("ca/ca.pem");
    assert!(lab.ok(&["login"]).contains("NOT checked against any authority"));
    let text = lab.ok(&["login", "--ca", &ca, "--crl", &lab.f("crl.pem")]);
    assert!(text.contains("login OK: CN=Alice,O=Bank") && text.contains("not revoked"), "{text}");
    assert!(lab.ok(&["login", "--ca", &ca]).contains("revocation NOT checked"));
    let j: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "login", "--ca", &ca])).unwrap();
    assert_eq!(j["authority_checked"], true);
    assert_eq!(j["path"][1], "CN=subsim lab (TEST CA)");

    // Another CA's certificate is not trusted.
    let other = Lab::new("login-other");
    other.ok(&["ca", "init"]);
    let e = lab.refused(&["login", "--ca", &other.f("ca/ca.pem")]);
    assert!(e.contains("login refused (unknown-issuer)"), "{e}");

    // Revoked, once a new CRL says so.
    lab.ok(&["ca", "revoke", &lab.f("9a.crt")]);
    assert!(lab.ok(&["login", "--ca", &ca, "--crl", &lab.f("crl.pem")]).contains("login OK"), "the old CRL");
    lab.ok(&["ca", "crl", "--out", &lab.f("crl.pem")]);
    let e = lab.refused(&["login", "--ca", &ca, "--crl", &lab.f("crl.pem")]);
    assert!(e.contains("login refused (revoked)"), "{e}");
    // A CRL from another CA does not say anything about ours.
    other.ok(&["ca", "crl", "--out", &other.f("crl.pem")]);
    let e = lab.refused(&["login", "--ca", &ca, "--crl", &other.f("crl.pem")]);
    assert!(e.contains("(no-crl)"), "{e}");
}

#[test]
fn transfers_verified_against_the_authority_and_the_issued_statement() {
    let lab = Lab::new("tx");
    lab.personalised();
    let ca = lab.f("ca/ca.pem");
    let crl = lab.f("crl.pem");
    let issued = "subsim transfer statement v1\nsession: s-1\nsequence: 1\nnonce: 00112233445566778899aabbccddeeff\n\
                  payee: DE89370400440532013000\namount: 250.00\ncurrency: EUR\n";
    std::fs::write(lab.f("issued.txt"), issued).unwrap();
    std::fs::write(lab.f("tx.txt"), issued).unwrap();
    let sig = lab.ok(&["tx", "sign", &lab.f("tx.txt")]).trim().to_string();
    let verify = |file: &str, extra: &[&str]| {
        let mut a = vec!["tx", "verify", file, "--signature", &sig];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let args = verify(&lab.f("tx.txt"), &["--ca", &ca, "--crl", &crl, "--expect", &lab.f("issued.txt")]);
    let text = lab.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(text.contains("transaction signature valid (CN=Alice,O=Bank)") && text.contains("not revoked"), "{text}");

    // The man in the middle changes the amount after signing.
    std::fs::write(lab.f("mitm.txt"), issued.replace("250.00", "950.00")).unwrap();
    let args = verify(&lab.f("mitm.txt"), &["--ca", &ca, "--crl", &crl, "--expect", &lab.f("issued.txt")]);
    let e = lab.refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("transaction refused (altered-field): altered amount"), "{e}");
    let args = verify(&lab.f("mitm.txt"), &["--ca", &ca, "--crl", &crl]);
    let e = lab.refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("(bad-signature)"), "{e}");
}

#[test]
fn the_test_ca_refuses_what_it_should() {
    let lab = Lab::new("ca");
    lab.ok(&["ca", "init"]);
    assert_eq!(lab.run(&["ca", "init"]).status.code(), Some(2), "no silent overwrite");
    lab.ok(&["ca", "init", "--force", "--subject", "CN=Second"]);
    assert!(std::fs::read_to_string(lab.f("ca/README.txt")).unwrap().contains("TEST"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(lab.f("ca/ca.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the CA key is private to its owner");
    }
    std::fs::write(lab.f("junk.csr"), "not a request").unwrap();
    assert_eq!(lab.run(&["ca", "issue", &lab.f("junk.csr"), "--role", "login"]).status.code(), Some(2));
    assert_eq!(lab.run(&["ca", "revoke", "ABCDEF"]).status.code(), Some(2), "not issued here");
}

#[test]
fn issuance_can_require_an_attestation_made_by_openssl() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: issuance_can_require_an_attestation_made_by_openssl: needs the openssl command");
        return;
    }
    let lab = Lab::new("attest");
    lab.ok(&["ca", "init"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier/tests/pki/openssl-attestation.sh");
    let o = Command::new("sh").arg(script).arg(lab.f("att")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let with = |csr: &str, role: &str| {
        vec![
            "ca".to_string(),
            "issue".into(),
            lab.f(&format!("att/{csr}")),
            "--role".into(),
            role.into(),
            "--attestation-ca".into(),
            lab.f("att/root.pem"),
            "--attestation".into(),
            lab.f("att/statement.pem"),
            "--device-cert".into(),
            lab.f("att/f9.pem"),
        ]
    };
    let args = with("slot.csr", "login");
    let j: serde_json::Value = serde_json::from_str(
        &lab.ok(&[&["--json"][..], &args.iter().map(String::as_str).collect::<Vec<_>>()].concat()),
    )
    .unwrap();
    assert_eq!(j["attested"], true);
    let e = lab.refused(&with("other.csr", "login").iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("attestation refused (attested-key-mismatch)"), "{e}");
    let e = lab.refused(&with("slot.csr", "transaction").iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("(attested-wrong-slot)"), "the statement is for 9A: {e}");
    // Requiring attestation without the card's evidence is a usage error.
    let o = lab.run(&[
        "ca",
        "issue",
        &lab.f("att/slot.csr"),
        "--role",
        "login",
        "--attestation-ca",
        &lab.f("att/root.pem"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_demo_tells_the_whole_story() {
    let lab = Lab::new("demo");
    let text = lab.ok(&["demo"]);
    for step in [
        "attestation",
        "the server trusts this CA only",
        "login OK: CN=Alice,OU=login",
        "refused: replayed challenge",
        "transfer confirmed",
        "altered amount: the server issued \"250.00\", the signed statement says \"950.00\"",
        "refused: revoked: CN=Alice,OU=login",
        "demo: complete",
    ] {
        assert!(text.contains(step), "{step:?} missing:\n{text}");
    }
    let j: serde_json::Value = serde_json::from_str(&lab.ok(&["--json", "demo"])).unwrap();
    assert_eq!(
        (&j["replay_refused"], &j["tampering_caught"], &j["revoked_refused"]),
        (&true.into(), &true.into(), &true.into())
    );
    // The simulated card has ATTEST, chained to the TEST manufacturer CA.
    assert_eq!(j["attestation"], "checked", "{j}");
}
