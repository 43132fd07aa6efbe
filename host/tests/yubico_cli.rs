//! The `subsim` commands for Yubico's management commands (key info,
//! public, attest, import; pin retries; reset), run as a program against
//! the embedded simulated card.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

struct Home(PathBuf);

impl Home {
    fn new(name: &str) -> Home {
        let home = std::env::temp_dir().join(format!("subsim-ykcli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        Home(home)
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
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok();
    if !ok {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: openssl steps need the openssl command (scripts/setup)");
    }
    ok
}

#[test]
fn key_info_public_and_attest() {
    let h = Home::new("attest");
    let generated = h.ok(&["key", "generate", "9a"]);
    let info = h.ok(&["key", "info"]);
    assert!(info.contains("9A: rsa2048, generated on the card, PIN once"), "{info}");
    assert!(info.contains("9C: empty") && info.contains("F9: p256"), "{info}");
    assert!(info.contains("pin: pin, FACTORY VALUE, 3 of 3 tries left"), "{info}");
    // The public key comes from metadata: no certificate needed.
    assert_eq!(h.ok(&["key", "public", "9a"]).trim(), generated.trim());
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "key", "info", "9a"])).unwrap();
    assert_eq!((j["origin"].as_str(), j["pin_policy"].as_str()), (Some("generated on the card"), Some("once")));
    // The attestation and the F9 certificate verify against the test manufacturer CA.
    let chain = h.ok(&["key", "attest", "9a", "--chain"]);
    let end = "-----END CERTIFICATE-----\n";
    let split = chain.find(end).unwrap() + end.len();
    std::fs::write(h.file("att.pem"), &chain[..split]).unwrap();
    std::fs::write(h.file("f9.pem"), &chain[split..]).unwrap();
    std::fs::write(h.file("ca.pem"), apdu_sim::attestation::TEST_MANUFACTURER_CA_PEM).unwrap();
    if openssl() {
        let o = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .args([h.file("ca.pem"), "-untrusted".into(), h.file("f9.pem"), h.file("att.pem")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    assert_eq!(h.run(&["key", "attest", "9c"]).status.code(), Some(1), "an empty slot: the card refuses");
}

#[test]
fn import_retries_and_reset() {
    let h = Home::new("import");
    if !openssl() {
        return;
    }
    let key = h.file("p256.pem");
    let o = Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = h.ok(&["key", "import", "9d", key.to_str().unwrap()]);
    assert!(out.contains("p256 key imported into 9D"), "{out}");
    // The card's public key is the file's.
    let expected = Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).output().unwrap().stdout;
    assert_eq!(h.ok(&["key", "public", "9d"]).trim(), String::from_utf8(expected).unwrap().trim());
    assert!(h.ok(&["key", "info", "9d"]).contains("imported"));
    assert_eq!(h.run(&["key", "attest", "9d"]).status.code(), Some(1), "no attestation for an imported key");

    let out = h.ok(&["pin", "retries", "5", "4"]);
    assert!(out.contains("5 PIN tries, 4 PUK tries"), "{out}");
    assert!(h.ok(&["key", "info"]).contains("pin: pin, FACTORY VALUE, 5 of 5 tries left"));
    assert_eq!(h.run(&["pin", "retries", "0", "4"]).status.code(), Some(1));

    assert_eq!(h.run(&["reset"]).status.code(), Some(2), "needs --yes");
    h.ok(&["reset", "--yes"]);
    let info = h.ok(&["key", "info"]);
    assert!(info.contains("9D: empty") && info.contains("pin: pin, FACTORY VALUE, 3 of 3 tries left"), "{info}");
    assert!(info.contains("F9: p256, generated on the card"), "the attestation key stays: {info}");
}

/// `key generate --algorithm` and `sign` with every kind of key, checked by OpenSSL.
#[test]
fn generate_and_sign_with_each_algorithm() {
    let h = Home::new("algorithms");
    if !openssl() {
        return;
    }
    std::fs::write(h.file("msg"), b"transfer 10 EUR").unwrap();
    for alg in ["p256", "p384", "rsa1024", "rsa2048"] {
        std::fs::write(h.file("key.pem"), h.ok(&["key", "generate", "9c", "--algorithm", alg])).unwrap();
        assert!(h.ok(&["key", "info", "9c"]).contains(alg));
        let sig = h.run(&["sign", "9c", h.file("msg").to_str().unwrap(), "--output", "raw"]);
        assert!(sig.status.success(), "{alg}: {}", String::from_utf8_lossy(&sig.stderr));
        std::fs::write(h.file("sig"), &sig.stdout).unwrap();
        let o = Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(h.file("key.pem"))
            .arg("-signature")
            .arg(h.file("sig"))
            .arg(h.file("msg"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{alg}: {}", String::from_utf8_lossy(&o.stdout));
    }
    assert_eq!(h.run(&["key", "generate", "9c", "--algorithm", "ed25519"]).status.code(), Some(2));
}

/// A CSR and a self-signed certificate for EC keys, signed on the card
/// with ECDSA (SHA-256 for P-256, SHA-384 for P-384), checked by OpenSSL.
#[test]
fn ec_requests_and_self_signed_certificates() {
    let h = Home::new("ec-x509");
    if !openssl() {
        return;
    }
    for (alg, sig) in [("p256", "ecdsa-with-SHA256"), ("p384", "ecdsa-with-SHA384")] {
        std::fs::write(h.file("pub.pem"), h.ok(&["key", "generate", "9a", "--algorithm", alg])).unwrap();
        std::fs::write(h.file("req.pem"), h.ok(&["csr", "9a", "--subject", "CN=Alice,O=Bank"])).unwrap();
        let o =
            Command::new("openssl").args(["req", "-verify", "-noout", "-in"]).arg(h.file("req.pem")).output().unwrap();
        assert!(o.status.success(), "{alg}: {}", String::from_utf8_lossy(&o.stderr));
        h.ok(&["cert", "selfsign", "9a", "--subject", "CN=Alice", "--pubkey", h.file("pub.pem").to_str().unwrap()]);
        std::fs::write(h.file("cert.pem"), h.ok(&["cert", "export", "9a"])).unwrap();
        let text =
            Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(h.file("cert.pem")).output().unwrap();
        assert!(String::from_utf8_lossy(&text.stdout).contains(sig), "{alg}");
        let o = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(h.file("cert.pem"))
            .arg(h.file("cert.pem"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{alg}: {}", String::from_utf8_lossy(&o.stdout));
    }
}

/// Login and a transaction with EC keys: the card signs with ECDSA, the
/// command line checks against the certificates.
#[test]
fn login_and_transactions_with_ec_keys() {
    let h = Home::new("ec-flows");
    for (slot, alg) in [("9a", "p256"), ("9c", "p384")] {
        std::fs::write(h.file("pub.pem"), h.ok(&["key", "generate", slot, "--algorithm", alg])).unwrap();
        h.ok(&["cert", "selfsign", slot, "--subject", "CN=Alice", "--pubkey", h.file("pub.pem").to_str().unwrap()]);
    }
    assert!(h.ok(&["login"]).contains("login OK"));
    std::fs::write(h.file("tx"), b"transfer 250.00 EUR").unwrap();
    let sig = h.ok(&["tx", "sign", h.file("tx").to_str().unwrap()]);
    let tx = h.file("tx");
    let ok = h.ok(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()]);
    assert!(ok.contains("valid"), "{ok}");
    std::fs::write(h.file("tx"), b"transfer 950.00 EUR").unwrap();
    assert_eq!(h.run(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()]).status.code(), Some(4));
}
