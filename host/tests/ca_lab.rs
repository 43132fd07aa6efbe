//! The test CA under attack on the command line: concurrent `ca issue`,
//! `ca revoke` and `ca crl` processes, some killed with SIGKILL at random
//! moments, lose nothing they printed; and a certificate's subject cannot
//! write a line of our output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

fn home(name: &str) -> PathBuf {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ca-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    home
}

fn subsim(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("SUBSIM_HOME", home).env("SUBSIM_PIN", "123456").env_remove("SUBSIM_MGM_KEY");
    c.stdin(Stdio::null());
    c
}

fn ok(home: &Path, args: &[&str]) -> String {
    let o = subsim(home, args).output().unwrap();
    assert!(o.status.success(), "subsim {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A certificate request (PEM) for a fresh P-256 key, made with OpenSSL.
fn request(cn: &str) -> Vec<u8> {
    use openssl::{ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
    let key =
        PKey::from_ec_key(ec::EcKey::generate(&ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap())
            .unwrap();
    let mut name = x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let mut b = x509::X509ReqBuilder::new().unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build().to_pem().unwrap()
}

fn json(o: &Output) -> Option<serde_json::Value> {
    serde_json::from_slice(&o.stdout).ok()
}

/// The serials a CRL file lists (hex, upper case).
fn crl_serials(pem: &[u8]) -> Vec<String> {
    let crl = openssl::x509::X509Crl::from_pem(pem).unwrap();
    crl.get_revoked()
        .map(|r| r.iter().map(|e| e.serial_number().to_bn().unwrap().to_hex_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn concurrent_and_killed_ca_commands_lose_nothing_they_printed() {
    let home = home("race");
    let dir = home.join("ca");
    let d = dir.to_str().unwrap();
    ok(&home, &["ca", "init", "--dir", d]);
    let req = home.join("req.pem");
    std::fs::write(&req, request("racer")).unwrap();
    let r = req.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut issued, mut revoked, mut crl_numbers) = (Vec::<String>::new(), Vec::<String>::new(), Vec::<u64>::new());
    let mut killed = 0;
    let mut round = 0u64;
    while round < 5 && Instant::now() < deadline {
        round += 1;
        // 8 processes: issuers, revokers of what was issued, CRL publishers.
        let mut children = Vec::new();
        for i in 0..8 {
            let args: Vec<String> = match (i % 4, issued.get((round as usize * 3 + i) % issued.len().max(1))) {
                (1, Some(serial)) if !revoked.contains(serial) => {
                    vec!["ca".into(), "revoke".into(), "--dir".into(), d.into(), serial.clone()]
                }
                (3, _) => vec!["ca".into(), "crl".into(), "--dir".into(), d.into()],
                _ => vec![
                    "ca".into(),
                    "issue".into(),
                    "--dir".into(),
                    d.into(),
                    "--role".into(),
                    "login".into(),
                    r.into(),
                ],
            };
            let mut c = subsim(
                &home,
                &[&["--json", "--wait", "30"][..], &args.iter().map(String::as_str).collect::<Vec<_>>()].concat(),
            );
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            children.push((args, c.spawn().unwrap()));
        }
        // Kill two of them at a random moment.
        let nap = u64::from(openssl_rand_byte()) % 120;
        std::thread::sleep(Duration::from_millis(nap));
        for (n, (_, child)) in children.iter_mut().enumerate() {
            if (n as u64 + round).is_multiple_of(4) {
                let _ = child.kill();
                killed += 1;
            }
        }
        for (args, child) in children {
            let o = child.wait_with_output().unwrap();
            let Some(j) = json(&o).filter(|j| j["ok"] == true) else { continue };
            match args[1].as_str() {
                "issue" => issued.push(j["serial"].as_str().unwrap().to_string()),
                "revoke" => revoked.push(j["revoked"].as_str().unwrap().to_string()),
                _ => crl_numbers.push(crl_number(j["crl_pem"].as_str().unwrap().as_bytes())),
            }
        }
        // Every printed revocation is in the next CRL (and the CA loads).
        let out = ok(&home, &["--json", "--wait", "30", "ca", "crl", "--dir", d]);
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        let pem = j["crl_pem"].as_str().unwrap().as_bytes();
        crl_numbers.push(crl_number(pem));
        let listed = crl_serials(pem);
        for s in &revoked {
            assert!(listed.contains(s), "revoked {s} was printed but the next CRL does not list it");
        }
    }
    // Every printed issuance is recorded: each can be revoked, and then is listed.
    for s in issued.iter().filter(|s| !revoked.contains(s)) {
        let o = subsim(&home, &["--wait", "30", "ca", "revoke", "--dir", d, s]).output().unwrap();
        assert!(o.status.success(), "issued {s} was printed but not recorded: {}", String::from_utf8_lossy(&o.stderr));
    }
    let out = ok(&home, &["--json", "--wait", "30", "ca", "crl", "--dir", d]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pem = j["crl_pem"].as_str().unwrap().as_bytes();
    crl_numbers.push(crl_number(pem));
    let listed = crl_serials(pem);
    for s in &issued {
        assert!(listed.contains(s), "issued and revoked {s} is not in the CRL");
    }
    let mut sorted = crl_numbers.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), crl_numbers.len(), "a CRL number was printed twice: {crl_numbers:?}");
    assert!(!issued.is_empty() && killed > 0, "the test ran: {} issued, {killed} killed", issued.len());
    // ca.pem and the state's certificate agree.
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("ca.json")).unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("ca.pem")).unwrap(), state["cert_pem"].as_str().unwrap());
    eprintln!(
        "{round} rounds: {} issued, {} revoked, {} CRLs, {killed} killed",
        issued.len(),
        revoked.len(),
        crl_numbers.len()
    );
}

/// A CRL's number.
fn crl_number(pem: &[u8]) -> u64 {
    let crl = openssl::x509::X509Crl::from_pem(pem).unwrap();
    let n = crl.extension::<openssl::x509::CrlNumber>().unwrap().expect("a CRL number").1;
    n.to_bn().unwrap().to_dec_str().unwrap().parse().unwrap()
}

fn openssl_rand_byte() -> u8 {
    let mut b = [0u8; 1];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b[0]
}

#[test]
fn a_second_ca_command_waits_or_is_told_the_ca_is_in_use() {
    let home = home("lock");
    let dir = home.join("ca");
    let d = dir.to_str().unwrap();
    ok(&home, &["ca", "init", "--dir", d]);
    // Hold the CA's state file as a CA command does (its lock).
    let held = subsim_verifier::ca_dir::CaDirectory::open(&dir, Duration::ZERO).unwrap();
    let o = subsim(&home, &["--json", "ca", "crl", "--dir", d]).output().unwrap();
    assert_eq!(o.status.code(), Some(apdu_sim::cardfile::EXIT_IN_USE as i32));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o).unwrap()["kind"], "in_use");
    let waiter =
        subsim(&home, &["--wait", "20", "ca", "crl", "--dir", d, "--out", "-"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    let o = waiter.wait_with_output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("-----BEGIN X509 CRL-----"), "`--out -` is stdout");
    assert!(!Path::new("-").exists() && !home.join("-").exists());
}

#[test]
fn a_subject_cannot_forge_a_line_of_the_output() {
    let home = home("forge");
    let evil = "CN=Mallory\nlogin refused (revoked): Al \x1b[2K\x1b[1A\u{202e}KO";
    ok(&home, &["init"]);
    ok(&home, &["ca", "init"]);
    let public = ok(&home, &["key", "generate", "9a"]);
    std::fs::write(home.join("9a.pub"), public).unwrap();
    let pubkey = home.join("9a.pub");
    let csr = ok(&home, &["csr", "9a", "--subject", "CN=Plain", "--pubkey", pubkey.to_str().unwrap()]);
    std::fs::write(home.join("9a.csr"), csr).unwrap();
    let crt = home.join("9a.crt");
    let c = crt.to_str().unwrap();
    ok(
        &home,
        &["ca", "issue", home.join("9a.csr").to_str().unwrap(), "--role", "login", "--subject", evil, "--out", c],
    );
    ok(&home, &["cert", "import", "9a", c]);
    let crl = home.join("crl.pem");
    ok(&home, &["ca", "crl", "--out", crl.to_str().unwrap()]);
    let ca = home.join("ca/ca.pem");
    let (ca, crl) = (ca.to_str().unwrap(), crl.to_str().unwrap());
    for text in [ok(&home, &["login", "--ca", ca, "--crl", crl]), ok(&home, &["info"]), ok(&home, &["login"])] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("Mallory")).collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = lines[0];
        assert!(!line.contains('\x1b') && !line.contains('\u{202e}'), "{line:?}");
        // Escaped visibly: ours writes `\n`, `\x1b`, `\u{202e}`; a DN's own RFC 4514 `\0a` is visible too.
        assert!(line.contains("\\u{202e}"), "{line:?}");
        assert!(line.contains("Mallory\\nlogin refused") || line.contains("Mallory\\0alogin refused"), "{line:?}");
        assert!(!text.lines().any(|l| l.starts_with("login refused")), "{text}");
    }
    // JSON carries the exact value.
    let j: serde_json::Value =
        serde_json::from_str(&ok(&home, &["--json", "login", "--ca", ca, "--crl", crl])).unwrap();
    assert!(j["subject"].as_str().unwrap().contains("Mallory\nlogin refused (revoked): Al \x1b[2K"), "{j}");
    // A refusal's words too: revoked, the error line is one line.
    ok(&home, &["ca", "revoke", c]);
    ok(&home, &["ca", "crl", "--out", crl]);
    let o = subsim(&home, &["login", "--ca", ca, "--crl", crl]).output().unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().filter(|l| l.contains("Mallory")).count(), 1, "{err}");
    assert!(!err.contains('\x1b') && !err.contains('\u{202e}'), "{err:?}");
}

#[test]
fn concurrent_and_killed_inits_leave_one_whole_ca() {
    let home = home("init");
    let dir = home.join("ca");
    let d = dir.to_str().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| subsim(&home, &["--wait", "30", "ca", "init", "--dir", d]).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let codes: Vec<Option<i32>> = children.into_iter().map(|c| c.wait_with_output().unwrap().status.code()).collect();
    assert_eq!(codes.iter().filter(|c| **c == Some(0)).count(), 1, "exactly one CA made: {codes:?}");
    assert!(codes.iter().all(|c| matches!(c, Some(0 | 2))), "{codes:?}");
    let agree = || {
        let state: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("ca.json")).unwrap()).unwrap();
        std::fs::read_to_string(dir.join("ca.pem")).unwrap() == state["cert_pem"].as_str().unwrap()
    };
    assert!(agree());
    // `init --force` killed at random moments: the CA loads and ca.pem is its certificate after the next command.
    for round in 0..6u64 {
        let mut c = subsim(&home, &["ca", "init", "--force", "--dir", d]).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(round * 7 % 40));
        let _ = c.kill();
        let _ = c.wait();
        ok(&home, &["--wait", "30", "ca", "crl", "--dir", d]);
        assert!(agree(), "round {round}: ca.pem is not the CA's certificate");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp") || n.contains("key")), "leftovers: {names:?}");
    }
}
