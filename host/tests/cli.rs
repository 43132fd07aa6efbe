//! The `subsim` command line, run as a program against the embedded
//! simulated card (a fresh state file per test).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

struct Sim {
    home: PathBuf,
}

impl Sim {
    fn new(name: &str) -> Sim {
        let home = std::env::temp_dir().join(format!("subsim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        Sim { home }
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).env("SUBSIM_HOME", &self.home).env_remove("SUBSIM_PIN").env_remove("SUBSIM_MGM_KEY");
        c
    }
    fn run(&self, args: &[&str], envs: &[(&str, &str)], stdin: &[u8]) -> Output {
        let mut c = self.cmd(args);
        c.envs(envs.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child.wait_with_output().unwrap()
    }
    /// Runs and expects success; stdout.
    fn ok(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let o = self.run(args, envs, b"");
        assert!(o.status.success(), "subsim {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn file(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

const PIN: (&str, &str) = ("SUBSIM_PIN", "123456");

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// A certificate for the public key in `pem` (throw-away CA, OpenSSL).
fn issue(sim: &Sim, pem: &str, name: &str) -> Option<PathBuf> {
    if Command::new("openssl").arg("version").output().is_err() {
        let _ = writeln!(std::io::stderr(), "SKIPPED: certificate steps need openssl (Debian: openssl)");
        return None;
    }
    let f = |n: &str| sim.file(n).display().to_string();
    std::fs::write(sim.file(&format!("{name}.pub")), pem).unwrap();
    let sh = format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout {ca_key} -out {ca} -subj /CN=test-CA -days 2 && \
         openssl req -new -newkey rsa:2048 -nodes -keyout {k} -out {csr} -subj /CN={name} && \
         openssl x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -force_pubkey {pubf} -out {crt} -days 2",
        ca_key = f("ca.key"),
        ca = f("ca.crt"),
        k = f("holder.key"),
        csr = f("holder.csr"),
        pubf = f(&format!("{name}.pub")),
        crt = f(&format!("{name}.crt")),
    );
    let o = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(sim.file(&format!("{name}.crt")))
}

#[test]
fn info_in_words_and_json() {
    let sim = Sim::new("info");
    let text = sim.ok(&["info"], &[]);
    assert!(text.contains("PIN tries left 3") && text.contains("version 5.4.3"), "{text}");
    let o = sim.run(&["-v", "info"], &[], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("using the simulated card"));
    assert!(sim.ok(&["--help"], &[]).contains("Exit codes: 0 done; 1 the card refused"));
    let j = json(&sim.ok(&["--json", "info"], &[]));
    assert_eq!((j["pin_tries"].as_u64(), j["binding"].as_str()), (Some(3), Some("none")));
    // The state persists between runs: same serial.
    assert_eq!(json(&sim.ok(&["--json", "info"], &[]))["serial"], j["serial"]);
    assert!(sim.file("card.json").exists());
}

#[test]
fn the_life_of_a_card() {
    let sim = Sim::new("life");
    let pem9a = sim.ok(&["key", "generate", "9a"], &[]);
    assert!(pem9a.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem9a}");
    let pem9c = sim.ok(&["key", "generate", "9c"], &[]);
    let Some(crt9a) = issue(&sim, &pem9a, "login") else { return };
    let crt9c = issue(&sim, &pem9c, "payments").unwrap();
    sim.ok(&["cert", "import", "9a", crt9a.to_str().unwrap()], &[]);
    sim.ok(&["cert", "import", "9c", crt9c.to_str().unwrap()], &[]);
    let info = sim.ok(&["info"], &[]);
    assert!(info.contains("certificate 9A: CN=login") && info.contains("keys in 9A, 9C"), "{info}");
    assert_eq!(sim.ok(&["key", "public", "9a"], &[]), pem9a, "the certificate holds the card's key");
    // Login: a fresh challenge signed with 9A, checked against the certificate.
    assert!(sim.ok(&["login"], &[PIN]).contains("login OK: CN=login"));
    // A transfer signed with 9C, verified; any altered byte is caught.
    let tx = sim.file("tx.txt");
    std::fs::write(&tx, "transfer 250.00 EUR to DE89370400440532013000").unwrap();
    let sig = sim.ok(&["tx", "sign", tx.to_str().unwrap()], &[PIN]);
    assert!(sim.ok(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()], &[]).contains("valid"));
    std::fs::write(&tx, "transfer 950.00 EUR to DE89370400440532013000").unwrap();
    let o = sim.run(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()], &[], b"");
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("INVALID"));
    // Certificates come back as PEM and DER.
    let pem = sim.ok(&["cert", "export", "9c"], &[]);
    assert_eq!(pem.trim(), std::fs::read_to_string(&crt9c).unwrap().trim());
    let der = sim.file("9c.der");
    sim.ok(&["cert", "export", "9c", "--der", "--out", der.to_str().unwrap()], &[]);
    assert_eq!(std::fs::read(&der).unwrap()[0], 0x30);
    // Wipe.
    sim.ok(&["terminate", "--yes"], &[]);
    assert!(sim.ok(&["info"], &[]).contains("keys in no slot"));
}

#[test]
fn sign_in_every_encoding_from_stdin() {
    let sim = Sim::new("sign");
    sim.ok(&["key", "generate", "9e"], &[]);
    let o = sim.run(&["sign", "9e", "--output", "raw"], &[], b"message");
    assert!(o.status.success());
    assert_eq!(o.stdout.len(), 256);
    let hex = sim.run(&["sign", "9e", "--output", "hex", "--hash", "sha512"], &[], b"message");
    assert_eq!(String::from_utf8(hex.stdout).unwrap().trim().len(), 512);
    let j = sim.run(&["--json", "sign", "9e", "--pss"], &[], b"message");
    assert!(json(&String::from_utf8(j.stdout).unwrap())["signature_base64"].is_string());
}

#[test]
fn pin_verify_change_unblock_and_policy() {
    let sim = Sim::new("pin");
    let o = sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], b"");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("63C2") && err.contains("2 tries left") && err.contains("hint:"), "{err}");
    assert!(sim.ok(&["pin", "verify", "--status"], &[]).contains("2 tries left"));
    sim.ok(&["pin", "change"], &[PIN, ("SUBSIM_NEW_PIN", "24680135")]);
    sim.ok(&["pin", "verify"], &[("SUBSIM_PIN", "24680135")]);
    let pin_file = sim.file("pin");
    std::fs::write(&pin_file, "24680135\n").unwrap();
    sim.ok(&["pin", "verify", "--pin-file", pin_file.to_str().unwrap()], &[]);
    for _ in 0..3 {
        sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], b"");
    }
    assert!(sim.ok(&["pin", "verify", "--status"], &[]).contains("blocked"));
    sim.ok(&["pin", "unblock"], &[("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")]);
    // A PIN as a plain argument works, with a warning.
    let o = sim.run(&["pin", "verify", "--pin", "123456"], &[], b"");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("warning"));
    sim.ok(&["pin", "policy", "keypad-only"], &[]);
    assert_eq!(sim.run(&["pin", "verify"], &[PIN], b"").status.code(), Some(1));
    assert!(sim.ok(&["info"], &[]).contains("PIN entry keypad-only"));
}

#[test]
fn keypad_through_stdin() {
    let sim = Sim::new("keypad");
    let mut child = sim
        .cmd(&["pin", "keypad"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The layout is drawn on stderr: "[a] 7   [b] 2 ..."; find where each digit is.
    let mut letter_of = [0u8; 10];
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("Type the letters") {
        for key in line.split('[').skip(1) {
            let (l, rest) = key.split_once(']').unwrap();
            let d: usize = rest.split_whitespace().next().unwrap().parse().unwrap();
            letter_of[d] = l.as_bytes()[0];
        }
        line.clear();
    }
    let taps: Vec<u8> = b"123456".iter().map(|d| letter_of[(d - b'0') as usize]).collect();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&[&taps[..], b"\n"].concat()).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PIN verified on the keypad"));
    // Digits are not keys.
    let o = sim.run(&["pin", "keypad"], &[], b"123456\n");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn management_key_binding_and_raw_apdus() {
    let sim = Sim::new("mgm");
    let aes = "000102030405060708090a0b0c0d0e0f";
    sim.ok(&["mgm", "set", "aes128", aes], &[]);
    // The factory key is 24 bytes; the card now wants 16: an input error.
    assert_eq!(sim.run(&["mgm", "auth"], &[], b"").status.code(), Some(2));
    // A wrong key of the right size: the card refuses it.
    let o = sim.run(&["mgm", "auth", "--mgm-key", &"11".repeat(16)], &[], b"");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    sim.ok(&["mgm", "auth", "--mgm-key", aes], &[]);
    sim.ok(&["bind", "set", &"b1".repeat(32)], &[("SUBSIM_MGM_KEY", aes)]);
    assert!(sim.ok(&["info"], &[]).contains("binding set, not presented"));
    sim.ok(&["bind", "present", &"b1".repeat(32)], &[]);
    assert_eq!(sim.run(&["bind", "present", &"b2".repeat(32)], &[], b"").status.code(), Some(1));
    sim.ok(&["bind", "clear", "--mgm-key", aes], &[]);
    let out = sim.ok(&["apdu", "00FD0000", "80 3A 00 00 00"], &[]);
    assert!(out.starts_with("050403  9000 (success)"), "{out}");
    let j = json(&sim.ok(&["--json", "apdu", "0020008000"], &[]));
    assert_eq!(j["responses"][0]["sw"], "63C3");
    assert_eq!(sim.run(&["apdu", "zz"], &[], b"").status.code(), Some(2));
}

#[test]
fn errors_are_one_line_with_a_code() {
    let sim = Sim::new("errors");
    let o = sim.run(&["terminate"], &[], b"");
    assert_eq!(o.status.code(), Some(2), "no --yes, no terminal: refused");
    let o = sim.run(&["sign", "9a"], &[PIN], b"m");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("6A88") && !err.contains("panicked"), "{err}");
    let o = sim.run(&["--json", "sign", "9a"], &[PIN], b"m");
    assert_eq!(json(&String::from_utf8(o.stdout).unwrap())["exit_code"], 1);
    // A reader that is not there: a transport error, exit 3.
    let o = sim.run(&["--reader", "No Such Reader", "info"], &[], b"");
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    // A damaged state file is refused, not replaced.
    std::fs::write(sim.file("card.json"), "{ broken").unwrap();
    let o = sim.run(&["info"], &[], b"");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(sim.file("card.json")).unwrap(), "{ broken");
}

#[test]
fn trace_names_commands_and_hides_the_pin() {
    let sim = Sim::new("trace");
    let o = sim.run(&["--trace", "pin", "verify"], &[PIN], b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("> SELECT") && err.contains("> VERIFY  00 20 00 80 08 <8 bytes redacted>"), "{err}");
    assert!(!err.contains("31 32 33 34 35 36"), "{err}");
    let _ = Path::new(BIN);
}

#[test]
fn csr_and_selfsign_are_signed_on_the_card() {
    let sim = Sim::new("csr");
    let pem = sim.ok(&["key", "generate", "9a"], &[]);
    let pubkey = sim.file("9a.pub");
    std::fs::write(&pubkey, &pem).unwrap();
    let csr = sim.ok(&["csr", "9a", "--subject", "CN=Alice,O=Bank", "--pubkey", pubkey.to_str().unwrap()], &[PIN]);
    assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{csr}");
    // OpenSSL checks the request's signature (made by the card).
    let csr_file = sim.file("req.pem");
    std::fs::write(&csr_file, &csr).unwrap();
    if let Ok(o) = Command::new("openssl")
        .args(["req", "-in", csr_file.to_str().unwrap(), "-verify", "-noout", "-subject"])
        .output()
    {
        let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && text.contains("Alice"), "{text}");
    }
    sim.ok(&["cert", "selfsign", "9a", "--subject", "CN=Lab Card", "--pubkey", pubkey.to_str().unwrap()], &[PIN]);
    assert!(sim.ok(&["info"], &[]).contains("certificate 9A: CN=Lab Card"));
    // The certificate now holds the key, so login works against it.
    assert!(sim.ok(&["login"], &[PIN]).contains("login OK"));
    // Without the PIN, the card refuses to sign the request.
    let o = sim.run(&["csr", "9a", "--subject", "CN=x"], &[("SUBSIM_PIN", "000000")], b"");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_demo_runs_the_whole_life_on_a_fresh_card() {
    let sim = Sim::new("demo");
    let text = sim.ok(&["demo"], &[]);
    for step in ["login OK", "signature valid", "tampering caught", "malware sees only positions", "demo: complete"] {
        assert!(text.contains(step), "{step:?} missing:\n{text}");
    }
    assert_eq!(json(&sim.ok(&["--json", "demo"], &[]))["tampering_caught"], true);
    assert!(!sim.file("card.json").exists(), "the demo leaves the user's card alone");
}

#[test]
fn completions_and_man_page_come_from_the_definitions() {
    let sim = Sim::new("docs");
    let bash = sim.ok(&["completions", "bash"], &[]);
    assert!(bash.contains("subsim") && bash.contains("keypad"), "bash completion");
    assert!(sim.ok(&["completions", "zsh"], &[]).contains("#compdef subsim"));
    let man = sim.ok(&["man"], &[]);
    assert!(man.contains(".TH subsim") && man.contains("terminate"), "{}", &man[..200.min(man.len())]);
}

#[test]
fn readers_lists_readers_or_says_pcscd_is_missing() {
    let sim = Sim::new("readers");
    let o = sim.run(&["readers"], &[], b"");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    match o.status.code() {
        Some(0) => assert!(out.contains(": no card") || out.contains(": card ") || out.trim() == "no readers", "{out}"),
        Some(3) => assert!(err.contains("pcscd is not running") && err.contains("hint:"), "{err}"),
        other => panic!("readers exited {other:?}: {err}"),
    }
}

#[test]
fn key_generation_gives_up_at_the_timeout() {
    let sim = Sim::new("timeout");
    let o = sim.run(&["key", "generate", "9d", "--timeout", "0"], &[], b"");
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not finish within 0 s"));
}
