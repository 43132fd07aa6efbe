//! The `subsim` commands for Yubico's management commands (key info,
//! public, attest, import; pin retries; reset), EC and RSA keys of every
//! size, and the retired slots, run as a program against the embedded
//! simulated card.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

struct Home(PathBuf);

impl Home {
    /// A fresh card (`subsim init`) in a directory of its own.
    fn new(name: &str) -> Home {
        let home = std::env::temp_dir().join(format!("subsim-ykcli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let h = Home(home);
        h.ok(&["init"]);
        h
    }
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(&self.0).env("SUBSIM_HOME", &self.0).env("SUBSIM_PIN", "123456");
        for v in ["SUBSIM_MGM_KEY", "SUBSIM_PUK", "SUBSIM_NEW_PIN", "SUBSIM_NEW_PUK", "SUBSIM_PROFILE"] {
            c.env_remove(v);
        }
        c
    }
    /// Runs with stdin empty (not a terminal).
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }
    /// Runs with `input` on stdin; expects success.
    fn ok_with_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "subsim {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    /// Runs and expects failure with `code`; stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "subsim {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
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
    assert!(info.contains("PIN: factory value, 3 of 3 tries left"), "{info}");
    // The public key comes from metadata: no certificate needed.
    assert_eq!(h.ok(&["key", "public", "9a"]).trim(), generated.trim());
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "key", "info", "9a"])).unwrap();
    assert_eq!((j["origin"].as_str(), j["pin_policy"].as_str()), (Some("generated"), Some("once")));
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
    let err = h.fails(&["key", "attest", "9c"], 1);
    assert!(err.contains("slot 9C holds no key"), "an empty slot: the card refuses: {err}");
    // --out and --format der: the two certificates, DER, one after the other.
    h.ok(&["key", "attest", "9a", "--chain", "--format", "der", "--out", "att.der"]);
    let der = std::fs::read(h.file("att.der")).unwrap();
    assert_eq!(der[0], 0x30, "a DER certificate");
    let first = 4 + u16::from_be_bytes([der[2], der[3]]) as usize;
    assert!(der.len() > first && der[first] == 0x30, "the F9 certificate follows");
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
    let err = h.fails(&["key", "attest", "9d"], 1);
    assert!(err.contains("was imported"), "no attestation for an imported key: {err}");
    // From stdin: a P-384 key in SEC1 form.
    let o = Command::new("openssl").args(["ecparam", "-name", "secp384r1", "-genkey", "-noout"]).output().unwrap();
    assert!(o.status.success());
    let out = h.ok_with_stdin(&["key", "import", "retired3", "-"], &o.stdout);
    assert!(out.contains("p384 key imported into 84"), "{out}");
    assert!(h.ok(&["key", "info"]).contains("84: p384, imported"));

    let out = h.ok(&["pin", "retries", "5", "4", "--yes"]);
    assert!(out.contains("5 PIN tries, 4 PUK tries"), "{out}");
    assert!(h.ok(&["key", "info"]).contains("PIN: factory value, 5 of 5 tries left"));
    assert_eq!(h.run(&["pin", "retries", "0", "4", "--yes"]).status.code(), Some(2), "1 to 15, checked here");

    let err = h.fails(&["reset"], 2);
    assert!(err.contains("--yes"), "no terminal: needs --yes: {err}");
    h.ok(&["reset", "--yes"]);
    let info = h.ok(&["key", "info"]);
    assert!(info.contains("9D: empty") && info.contains("PIN: factory value, 3 of 3 tries left"), "{info}");
    assert!(info.contains("F9: p256, generated on the card"), "the attestation key stays: {info}");
    assert!(!info.contains("84:"), "retired slots wiped: {info}");
}

/// `key generate --algorithm` and `sign` with every kind of key, checked by OpenSSL.
#[test]
fn generate_and_sign_with_each_algorithm() {
    let h = Home::new("algorithms");
    if !openssl() {
        return;
    }
    std::fs::write(h.file("msg"), b"transfer 10 EUR").unwrap();
    for alg in ["p256", "p384", "rsa1024", "rsa2048", "rsa3072"] {
        let j: serde_json::Value =
            serde_json::from_str(&h.ok(&["--json", "key", "generate", "9c", "--algorithm", alg])).unwrap();
        assert_eq!(j["algorithm"].as_str(), Some(alg));
        std::fs::write(h.file("key.pem"), j["public_key_pem"].as_str().unwrap()).unwrap();
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
    // Ed25519 (5.7): the card signs the message itself; openssl verifies it raw.
    let j: serde_json::Value =
        serde_json::from_str(&h.ok(&["--json", "key", "generate", "9e", "--algorithm", "ed25519"])).unwrap();
    std::fs::write(h.file("ed.pem"), j["public_key_pem"].as_str().unwrap()).unwrap();
    let sig = h.run(&["sign", "9e", h.file("msg").to_str().unwrap(), "--output", "raw"]);
    assert!(sig.status.success(), "ed25519: {}", String::from_utf8_lossy(&sig.stderr));
    assert_eq!(sig.stdout.len(), 64);
    std::fs::write(h.file("ed.sig"), &sig.stdout).unwrap();
    let o = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey", "ed.pem", "-sigfile", "ed.sig", "-in", "msg"])
        .current_dir(&h.0)
        .output()
        .unwrap();
    assert!(o.status.success(), "ed25519: {}", String::from_utf8_lossy(&o.stdout));
    // The last key is RSA-3072: PSS works; an EC key refuses it before the card is asked.
    assert!(h.run(&["sign", "9c", "msg", "--pss"]).status.success());
    h.ok(&["key", "generate", "9c", "--algorithm", "p256"]);
    let err = h.fails(&["sign", "9c", "msg", "--pss"], 2);
    assert!(err.contains("--pss pads RSA signatures") && err.contains("p256"), "{err}");
}

/// A CSR and a self-signed certificate for EC keys, signed on the card
/// with ECDSA (SHA-256 for P-256, SHA-384 for P-384), and for an RSA key
/// other than 2048 bits, checked by OpenSSL.
#[test]
fn ec_requests_and_self_signed_certificates() {
    let h = Home::new("ec-x509");
    if !openssl() {
        return;
    }
    for (alg, sig) in [("p256", "ecdsa-with-SHA256"), ("p384", "ecdsa-with-SHA384"), ("rsa3072", "sha256WithRSA")] {
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

/// A P-384 login checked as a bank's server does (`--ca`, `--crl`): the
/// verifier takes the card's ECDSA signature over SHA-384.
#[test]
fn ec_login_through_the_verifier() {
    let h = Home::new("ec-verifier");
    h.ok(&["ca", "init", "--dir", "ca"]);
    h.ok(&["key", "generate", "9a", "--algorithm", "p384"]);
    h.ok(&["csr", "9a", "--subject", "CN=Alice", "--out", "9a.csr"]);
    h.ok(&["ca", "issue", "--dir", "ca", "9a.csr", "--role", "login", "--out", "9a.crt"]);
    h.ok(&["cert", "import", "9a", "9a.crt"]);
    h.ok(&["ca", "crl", "--dir", "ca", "--out", "ca.crl"]);
    let ca = std::fs::read_dir(h.file("ca"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n == "ca.pem"))
        .expect("ca init writes ca.pem");
    let ok = h.ok(&["login", "--ca", ca.to_str().unwrap(), "--crl", "ca.crl"]);
    assert!(ok.contains("login OK: CN=Alice") && ok.contains("not revoked"), "{ok}");
}

/// Keys and certificates in the retired slots, by number or by name.
#[test]
fn retired_slots_hold_keys_and_certificates() {
    let h = Home::new("retired");
    std::fs::write(h.file("82.pub"), h.ok(&["key", "generate", "82"])).unwrap();
    h.ok(&["cert", "selfsign", "retired1", "--subject", "CN=old", "--pubkey", "82.pub"]);
    let pem = h.ok(&["cert", "export", "82"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    std::fs::write(h.file("82.crt"), &pem).unwrap();
    h.ok(&["cert", "import", "RETIRED1", "82.crt"]);
    // `info` lists them, key and certificate.
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "info"])).unwrap();
    assert!(j["keys"].as_array().unwrap().iter().any(|k| k == "82"), "{j}");
    let certs = j["certificates"].as_array().unwrap();
    assert!(certs.iter().any(|c| c["slot"] == "82" && c["subject"] == "CN=old"), "{j}");
    let sig = h.run(&["sign", "82", "82.pub"]);
    assert!(sig.status.success(), "{}", String::from_utf8_lossy(&sig.stderr));
    let err = h.fails(&["key", "generate", "96"], 2);
    assert!(err.contains("82 to 95"), "{err}");
    let err = h.fails(&["sign", "f9", "82.pub"], 2);
    assert!(err.contains("not a slot"), "F9 signs attestations only: {err}");
}

/// On `--profile piv` the Yubico commands say the card lacks them (exit 6).
#[test]
fn yubico_commands_need_the_yubico_profile() {
    let h = Home::new("profile");
    for cmd in [
        &["key", "info"][..],
        &["key", "info", "9a"],
        &["key", "attest", "9a"],
        &["key", "import", "9a", "no.pem"],
        &["pin", "retries", "3", "3"],
        &["reset", "--yes"],
    ] {
        let args: Vec<&str> = ["--profile", "piv"].iter().chain(cmd).copied().collect();
        let err = h.fails(&args, 6);
        assert!(err.contains("no Yubico management commands (profile piv)"), "{cmd:?}: {err}");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&h.run(&["--json", "--profile", "piv", "reset", "--yes"]).stdout).unwrap();
    assert_eq!((j["kind"].as_str(), j["exit_code"].as_u64()), (Some("unsupported"), Some(6)), "{j}");
    // The card is untouched.
    assert!(h.ok(&["key", "info"]).contains("F9: p256"));
}

/// `key import` refuses what is not a private key, and an endless or huge
/// file, before the card is touched.
#[test]
fn key_import_refuses_what_is_not_a_private_key() {
    let h = Home::new("import-bad");
    std::fs::write(h.file("huge.pem"), vec![b'A'; 20 << 10]).unwrap();
    let err = h.fails(&["key", "import", "9d", "huge.pem"], 2);
    assert!(err.contains("longer than"), "{err}");
    std::fs::write(h.file("pub.pem"), h.ok(&["key", "generate", "9a", "--algorithm", "p256"])).unwrap();
    let err = h.fails(&["key", "import", "9d", "pub.pem"], 2);
    assert!(err.contains("not a private key"), "{err}");
    assert!(h.ok(&["key", "info", "9d"]).contains("9D: empty"), "nothing imported");
}

#[test]
fn unusable_rsa_exponents_are_refused_before_the_card_is_asked() {
    let h = Home::new("exponent");
    if !openssl() {
        return;
    }
    let key = h.file("e3.pem");
    let o = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-pkeyopt", "rsa_keygen_pubexp:3"])
        .arg("-out")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // --trace shows every APDU: no management-key authentication, no import.
    let err = h.fails(&["--trace", "key", "import", "9d", key.to_str().unwrap()], 2);
    assert!(err.contains("public exponent 3"), "{err}");
    assert!(!err.contains("GENERAL AUTHENTICATE") && !err.contains("IMPORT"), "the card was asked: {err}");
    // A public key with such an exponent (e=3, e even, e=1) is refused wherever one is taken.
    let public = h.file("e3.pub");
    let o =
        Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).arg("-out").arg(&public).output().unwrap();
    assert!(o.status.success());
    let err = h.fails(&["csr", "9a", "--subject", "CN=E3", "--pubkey", public.to_str().unwrap()], 2);
    assert!(err.contains("public exponent 3"), "{err}");
    use subsim_host::rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    let n = subsim_host::rsa::traits::PublicKeyParts::n(
        &subsim_host::rsa::RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&key).unwrap()).unwrap(),
    )
    .clone();
    for e in [4u32, 65538] {
        if let Ok(k) =
            subsim_host::rsa::RsaPublicKey::new_unchecked(n.clone(), e.into()).to_public_key_pem(Default::default())
        {
            let f = h.file(&format!("e{e}.pub"));
            std::fs::write(&f, k).unwrap();
            // Refused (by the RSA library's own parser already, or by our rule).
            h.fails(&["csr", "9a", "--subject", "CN=E", "--pubkey", f.to_str().unwrap()], 2);
        }
    }
}

/// Issue 22's key tasks beside ykman's: `--pin-policy`/`--touch-policy`,
/// Ed25519/X25519, `key move`, `key delete` (asks first).
#[test]
fn policies_curve25519_move_and_delete() {
    let h = Home::new("move");
    h.ok(&["key", "generate", "9a", "--algorithm", "ed25519", "--pin-policy", "always"]);
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "key", "info", "9a"])).unwrap();
    assert_eq!((j["algorithm"].as_str(), j["pin_policy"].as_str()), (Some("ed25519"), Some("always")), "{j}");
    assert!(h.ok(&["key", "public", "9a"]).contains("BEGIN PUBLIC KEY"));
    // What the card cannot enforce is refused, and nothing changes.
    let err = h.fails(&["key", "generate", "9a", "--algorithm", "p256", "--touch-policy", "always"], 1);
    assert!(err.contains("6A80") || err.to_lowercase().contains("refused"), "{err}");
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "key", "info", "9a"])).unwrap();
    assert_eq!(j["algorithm"].as_str(), Some("ed25519"));
    h.ok(&["key", "generate", "9d", "--algorithm", "x25519"]);
    // Move: the key and its policy go.
    h.ok(&["key", "move", "9a", "82"]);
    let info = h.ok(&["key", "info"]);
    assert!(info.contains("9A: empty") && info.contains("82: ed25519"), "{info}");
    let j: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "key", "info", "82"])).unwrap();
    assert_eq!(j["pin_policy"].as_str(), Some("always"));
    h.fails(&["key", "move", "82", "9d"], 1); // 9D holds a key
                                              // Delete asks; with --yes it goes.
    let err = h.fails(&["key", "delete", "82"], 2);
    assert!(err.contains("--yes"), "{err}");
    h.ok(&["key", "delete", "82", "--yes"]);
    assert!(!h.ok(&["key", "info"]).contains("82:"), "an empty retired slot is not listed");
}

/// F9 regenerated only with --force; its new certificate stored with
/// `cert import f9`; attestations then verify with openssl to the new CA.
#[test]
fn a_new_attestation_key_and_its_certificate() {
    let h = Home::new("f9");
    let err = h.fails(&["key", "generate", "f9", "--algorithm", "p256"], 2);
    assert!(err.contains("--force") && err.contains("cert import f9"), "{err}");
    h.ok(&["key", "generate", "f9", "--algorithm", "p256", "--force", "--out", "f9.pub"]);
    if !openssl() {
        return;
    }
    let sh = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
              -subj /CN=issuer-attestation-ca -days 2 2>/dev/null && \
              openssl req -new -key ca.key -subj /CN=issuer-f9 -out f9.csr && \
              printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\nkeyUsage=critical,keyCertSign\\n' > ext && \
              openssl x509 -req -in f9.csr -CA ca.crt -CAkey ca.key -CAcreateserial -force_pubkey f9.pub \
              -extfile ext -days 2 -out f9.crt 2>/dev/null";
    let o = Command::new("sh").args(["-c", sh]).current_dir(&h.0).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    h.ok(&["cert", "import", "f9", "f9.crt"]);
    h.ok(&["key", "generate", "9a", "--algorithm", "p256"]);
    let chain = h.ok(&["key", "attest", "9a", "--chain"]);
    let end = "-----END CERTIFICATE-----\n";
    let split = chain.find(end).unwrap() + end.len();
    std::fs::write(h.file("att.pem"), &chain[..split]).unwrap();
    std::fs::write(h.file("f9.pem"), &chain[split..]).unwrap();
    let o = Command::new("openssl")
        .args(["verify", "-CAfile", "ca.crt", "-untrusted", "f9.pem", "att.pem"])
        .current_dir(&h.0)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}
