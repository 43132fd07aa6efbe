//! The `subsim` command line, run as a program against the embedded
//! simulated card (a fresh card file per test). Each test reads what a
//! person or a program would read: the words on stderr, the JSON on stdout,
//! the exit code (docs/cli.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");
const PIN: (&str, &str) = ("SUBSIM_PIN", "123456");
const PHONE: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

struct Sim {
    home: PathBuf,
}

impl Sim {
    /// A fresh card (`subsim init`) in a directory of its own.
    fn new(name: &str) -> Sim {
        let sim = Sim::empty(name);
        sim.ok(&["init"], &[]);
        sim
    }
    /// A directory without a card file.
    fn empty(name: &str) -> Sim {
        let home = std::env::temp_dir().join(format!("subsim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        Sim { home }
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(&self.home).env("SUBSIM_HOME", &self.home);
        for v in ["SUBSIM_PIN", "SUBSIM_MGM_KEY", "SUBSIM_PUK", "SUBSIM_NEW_PIN", "SUBSIM_NEW_PUK", "SUBSIM_PROFILE"] {
            c.env_remove(v);
        }
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
    /// Runs and expects failure with `code`; stderr.
    fn fails(&self, args: &[&str], envs: &[(&str, &str)], code: i32) -> String {
        let o = self.run(args, envs, b"");
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "subsim {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }
    /// `--json` output of a run that may fail: (exit code, the one JSON object).
    fn json(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, serde_json::Value) {
        let args: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let o = self.run(&args, envs, b"");
        let text = String::from_utf8(o.stdout).unwrap();
        assert_eq!(text.trim().lines().count(), 1, "one JSON object on one line: {text}");
        (o.status.code().unwrap(), json(&text))
    }
    fn file(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }
    fn path(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }
    /// A key in `slot` and a self-signed certificate for it (PIN from the environment).
    fn key_and_cert(&self, slot: &str, subject: &str) -> String {
        let pem = self.ok(&["key", "generate", slot], &[]);
        std::fs::write(self.file(&format!("{slot}.pub")), &pem).unwrap();
        let pubkey = self.path(&format!("{slot}.pub"));
        self.ok(&["cert", "selfsign", slot, "--subject", subject, "--pubkey", &pubkey], &[PIN]);
        pem
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn openssl() -> bool {
    let there = Command::new("openssl").arg("version").output().is_ok();
    if !there {
        eprintln!("SKIPPED: OpenSSL cross-checks need openssl (Debian: openssl)");
    }
    there
}

/// A certificate for the public key in `pem` (throw-away CA, OpenSSL).
fn issue(sim: &Sim, pem: &str, name: &str) -> Option<PathBuf> {
    if !openssl() {
        return None;
    }
    let f = |n: &str| sim.path(n);
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

/// Runs a command that shows the card's keypad on stderr, and types the
/// letters of 1-2-3-4-5-6 on stdin for every keypad it draws.
fn with_keypad(sim: &Sim, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut child = sim
        .cmd(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    let mut letter_of = [0u8; 10];
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        stderr.push_str(&line);
        if line.contains("Type the letters") {
            let taps: Vec<u8> = b"123456".iter().map(|d| letter_of[(d - b'0') as usize]).collect();
            stdin.write_all(&[&taps[..], b"\n"].concat()).unwrap();
        }
        for key in line.split('[').skip(1) {
            if let Some((l, rest)) = key.split_once(']') {
                if let Some(d) = rest.split_whitespace().next().and_then(|d| d.parse::<usize>().ok()) {
                    letter_of[d] = l.as_bytes()[0];
                }
            }
        }
        line.clear();
    }
    drop(stdin);
    let mut o = child.wait_with_output().unwrap();
    o.stderr = stderr.into_bytes();
    o
}

// ---- the basics ------------------------------------------------------------------------

#[test]
fn info_in_words_and_json() {
    let sim = Sim::new("info");
    let text = sim.ok(&["info"], &[]);
    assert!(text.contains("PIN tries left 3") && text.contains("version 5.7.1"), "{text}");
    assert!(text.contains("profile subsim"), "{text}");
    let o = sim.run(&["-v", "info"], &[], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("using the simulated card"));
    assert!(sim.ok(&["--help"], &[]).contains("Exit codes: 0 done; 1 the card refused"));
    let (code, j) = sim.json(&["info"], &[]);
    assert_eq!(code, 0);
    assert_eq!((j["pin_tries"].as_u64(), j["binding"].as_str()), (Some(3), Some("none")));
    assert_eq!((j["mgm_algorithm"].as_str(), j["pin_entry"].as_str()), (Some("3des"), Some("any")));
    assert_eq!((j["ok"].as_bool(), j["profile"].as_str()), (Some(true), Some("subsim")));
    // The state persists between runs: same serial.
    assert_eq!(sim.json(&["info"], &[]).1["serial"], j["serial"]);
}

/// Issue 20: what a card reports of itself (discovery object, key history)
/// is shown field by field, and a value another card's tools may write (a
/// key history with only C1 and a tag table 19 has not) is a note, never
/// the end of `info`.
#[test]
fn info_shows_the_discovery_object_and_key_history_field_by_field() {
    let sim = Sim::new("info-reports");
    let text = sim.ok(&["info"], &[]);
    assert!(text.contains("PIN usage policy PIV PIN"), "{text}");
    assert!(!text.contains("key history") && !text.contains("note:"), "none yet: {text}");
    std::fs::write(sim.file("history.bin"), [0xC1, 0x01, 0x02, 0xC7, 0x01, 0x05, 0xFE, 0x00]).unwrap();
    sim.ok(&["object", "import", "key_history", "history.bin"], &[]);
    let text = sim.ok(&["info"], &[]);
    assert!(text.contains("key history: 2 retired keys with certificates on the card, ? off it"), "{text}");
    assert!(text.contains("note: key history without C2") && text.contains("tag C7"), "{text}");
    let (code, j) = sim.json(&["info"], &[]);
    assert_eq!(code, 0, "{j}");
    assert_eq!((j["key_history"]["on_card"].as_u64(), j["key_history"]["off_card"].as_u64()), (Some(2), None));
    assert_eq!(j["pin_usage_policy"]["bytes"].as_str(), Some("4000"), "{j}");
    assert_eq!(j["pin_usage_policy"]["methods"][0].as_str(), Some("PIV PIN"), "{j}");
    assert_eq!(j["oddities"].as_array().map(Vec::len), Some(2), "{j}");
}

#[test]
fn the_life_of_a_card() {
    let sim = Sim::new("life");
    let pem9a = sim.ok(&["key", "generate", "9a"], &[]);
    assert!(pem9a.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem9a}");
    let pem9c = sim.ok(&["key", "generate", "9c"], &[]);
    let Some(crt9a) = issue(&sim, &pem9a, "login") else { return };
    let crt9c = issue(&sim, &pem9c, "payments").unwrap();
    sim.ok(&["cert", "import", "9a", crt9a.to_str().unwrap()], &[PIN]);
    sim.ok(&["cert", "import", "9c", crt9c.to_str().unwrap()], &[PIN]);
    let info = sim.ok(&["info"], &[]);
    assert!(info.contains("certificate 9A: CN=login") && info.contains("keys in 9A, 9C"), "{info}");
    assert_eq!(sim.ok(&["key", "public", "9a"], &[]), pem9a, "the certificate holds the card's key");
    assert!(sim.ok(&["login"], &[PIN]).contains("login OK: CN=login"));
    let tx = sim.file("tx.txt");
    std::fs::write(&tx, "transfer 250.00 EUR to DE89370400440532013000").unwrap();
    let sig = sim.ok(&["tx", "sign", tx.to_str().unwrap()], &[PIN]);
    assert!(sim.ok(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()], &[]).contains("valid"));
    std::fs::write(&tx, "transfer 950.00 EUR to DE89370400440532013000").unwrap();
    let err = sim.fails(&["tx", "verify", tx.to_str().unwrap(), "--signature", sig.trim()], &[], 4);
    assert!(err.contains("INVALID"));
    let pem = sim.ok(&["cert", "export", "9c"], &[]);
    assert_eq!(pem.trim(), std::fs::read_to_string(&crt9c).unwrap().trim());
    sim.ok(&["terminate", "--yes"], &[]);
    assert!(sim.ok(&["info"], &[]).contains("keys in no slot"));
}

#[test]
fn sign_in_every_encoding_from_stdin() {
    let sim = Sim::new("sign");
    sim.ok(&["key", "generate", "9e"], &[]);
    let o = sim.run(&["sign", "9e", "-", "--output", "raw"], &[], b"message");
    assert!(o.status.success());
    assert_eq!(o.stdout.len(), 256);
    let hex = sim.run(&["sign", "9e", "--output", "hex", "--hash", "sha512"], &[], b"message");
    assert_eq!(String::from_utf8(hex.stdout).unwrap().trim().len(), 512);
    // JSON names the signature the same whatever --output says.
    for output in ["base64", "hex", "raw"] {
        let o = sim.run(&["--json", "sign", "9e", "--pss", "--output", output], &[], b"message");
        let j = json(&String::from_utf8(o.stdout).unwrap());
        assert!(j["signature_base64"].is_string() && j.get("signature_hex").is_none(), "{j}");
    }
}

#[test]
fn pin_verify_change_unblock_and_change_puk() {
    let sim = Sim::new("pin");
    let err = sim.fails(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], 1);
    assert!(err.contains("wrong PIN: 2 tries left") && err.contains("63C2"), "{err}");
    assert!(sim.ok(&["pin", "verify", "--status"], &[]).contains("2 tries left"));
    sim.ok(&["pin", "change"], &[PIN, ("SUBSIM_NEW_PIN", "24680135")]);
    sim.ok(&["pin", "verify"], &[("SUBSIM_PIN", "24680135")]);
    let pin_file = sim.file("pin");
    std::fs::write(&pin_file, "24680135\n").unwrap();
    sim.ok(&["pin", "verify", "--pin-file", pin_file.to_str().unwrap()], &[]);
    // The PIN from stdin with `--pin-file -`.
    let o = sim.run(&["pin", "verify", "--pin-file", "-"], &[], b"24680135\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for _ in 0..3 {
        sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], b"");
    }
    assert!(sim.ok(&["pin", "verify", "--status"], &[]).contains("blocked"));
    let err = sim.fails(&["pin", "verify"], &[PIN], 1);
    assert!(err.contains("the PIN is blocked") && err.contains("subsim pin unblock"), "{err}");
    // Without a terminal, unblock names the options it really has.
    let err = sim.fails(&["pin", "unblock"], &[], 2);
    assert!(err.contains("--puk-file") && !err.contains("--pin-file"), "{err}");
    let o = sim.run(&["pin", "unblock"], &[("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")], b"");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("factory PUK"), "factory PUK warned");
    // PUK change, then the old PUK is wrong.
    sim.ok(&["pin", "change-puk"], &[("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PUK", "87654321")]);
    let err = sim.fails(&["pin", "unblock"], &[("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")], 1);
    assert!(err.contains("wrong PUK: 2 tries left"), "{err}");
    // A PIN as a plain argument works, with a warning.
    let o = sim.run(&["pin", "verify", "--pin", "123456"], &[], b"");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("visible to other users"));
}

#[test]
fn factory_credentials_are_warned_about() {
    let sim = Sim::new("factory");
    let o = sim.run(&["pin", "verify"], &[PIN], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("factory PIN"));
    let o = sim.run(&["mgm", "auth"], &[], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("factory management key"));
    // -q: no warnings, but the result.
    let o = sim.run(&["-q", "mgm", "auth"], &[], b"");
    assert!(o.stderr.is_empty() && String::from_utf8_lossy(&o.stdout).contains("authenticated"));
    sim.ok(&["pin", "change"], &[PIN, ("SUBSIM_NEW_PIN", "24680135")]);
    let o = sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "24680135")], b"");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("factory"));
}

#[test]
fn keypad_through_stdin() {
    let sim = Sim::new("keypad");
    let o = with_keypad(&sim, &["pin", "keypad"], &[]);
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
    assert_eq!(sim.json(&["info"], &[]).1["mgm_algorithm"], "aes128");
    // A wrong key of the right size: the card refuses it.
    let err = sim.fails(&["mgm", "auth", "--mgm-key", &"11".repeat(16)], &[], 1);
    assert!(err.contains("wrong key") && err.contains("--mgm-key"), "{err}");
    sim.ok(&["mgm", "auth", "--mgm-key", aes], &[]);
    sim.ok(&["bind", "set", PHONE], &[("SUBSIM_MGM_KEY", aes)]);
    assert!(sim.ok(&["info"], &[]).contains("binding set, not presented"));
    assert_eq!(sim.json(&["info"], &[]).1["binding"], "required");
    sim.ok(&["bind", "present", PHONE], &[]);
    let err = sim.fails(&["bind", "present", &"b2".repeat(32)], &[], 1);
    assert!(err.contains("wrong binding value"), "{err}");
    sim.ok(&["bind", "clear", "--mgm-key", aes], &[]);
    let out = sim.ok(&["apdu", "00FD0000", "80 3A 00 00 00"], &[]);
    assert!(out.starts_with("050701  9000 (success)"), "{out}");
    assert!(sim.fails(&["apdu", "zz"], &[], 2).contains("not hex"));
}

#[test]
fn apdu_exits_non_zero_on_an_error_status_unless_allowed() {
    let sim = Sim::new("apdu");
    // VERIFY without data: 63C3, the tries left; not 9000 or 61xx.
    let (code, j) = sim.json(&["apdu", "0020008000"], &[]);
    assert_eq!((code, j["sw"].as_str(), j["kind"].as_str()), (1, Some("63C3"), Some("card_refused")), "{j}");
    assert_eq!(j["responses"][0]["sw"], "63C3", "the answers are in the error's JSON too");
    let o = sim.run(&["apdu", "0020008000"], &[], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("63C3"), "the answers are still shown");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-sw 63C3"));
    sim.ok(&["apdu", "0020008000", "--allow-sw", "63C0-63CF"], &[]);
    let (code, j) = sim.json(&["apdu", "0020008000", "--allow-sw", "63C3"], &[]);
    assert_eq!((code, j["responses"][0]["sw"].as_str()), (0, Some("63C3")));
    // Only the last answer counts: 9000 after an error is fine.
    sim.ok(&["apdu", "0020008000", "00FD0000"], &[]);
}

#[test]
fn trace_names_commands_and_hides_the_pin() {
    let sim = Sim::new("trace");
    let o = sim.run(&["--trace", "pin", "verify"], &[PIN], b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("> SELECT") && err.contains("> VERIFY  00 20 00 80 08 <8 bytes redacted>"), "{err}");
    assert!(!err.contains("31 32 33 34 35 36"), "{err}");
}

#[test]
fn csr_and_selfsign_are_signed_on_the_card() {
    let sim = Sim::new("csr");
    let pem = sim.ok(&["key", "generate", "9a"], &[]);
    std::fs::write(sim.file("9a.pub"), &pem).unwrap();
    let pubkey = sim.path("9a.pub");
    let csr = sim.ok(&["csr", "9a", "--subject", "CN=Alice,O=Bank", "--pubkey", &pubkey], &[PIN]);
    assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{csr}");
    std::fs::write(sim.file("req.pem"), &csr).unwrap();
    if openssl() {
        let o = Command::new("openssl")
            .args(["req", "-in", &sim.path("req.pem"), "-verify", "-noout", "-subject"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && text.contains("Alice"), "{text}");
    }
    sim.ok(&["cert", "selfsign", "9a", "--subject", "CN=Lab Card", "--pubkey", &pubkey], &[PIN]);
    assert!(sim.ok(&["info"], &[]).contains("certificate 9A: CN=Lab Card"));
    assert!(sim.ok(&["login"], &[PIN]).contains("login OK"));
    // A request without --pubkey: the key from the slot's certificate.
    assert!(sim.ok(&["csr", "9a", "--subject", "CN=x"], &[PIN]).contains("BEGIN CERTIFICATE REQUEST"));
    let err = sim.fails(&["csr", "9a", "--subject", "CN=x"], &[("SUBSIM_PIN", "000000")], 1);
    assert!(err.contains("wrong PIN"), "{err}");
}

#[test]
fn the_demo_runs_the_whole_life_on_a_fresh_card() {
    let sim = Sim::empty("demo");
    let text = sim.ok(&["demo"], &[]);
    for step in ["login OK", "signature valid", "tampering caught", "malware sees only positions", "demo: complete"] {
        assert!(text.contains(step), "{step:?} missing:\n{text}");
    }
    assert_eq!(sim.json(&["demo"], &[]).1["tampering_caught"], true);
    assert!(!sim.file("card.json").exists(), "the demo leaves the user's card alone");
    // With --sim FILE the tour's card is kept there, and a file in use is not overwritten.
    let card = sim.path("demo-card.json");
    sim.ok(&["--sim", &card, "demo"], &[]);
    let info = sim.ok(&["--sim", &card, "info"], &[]);
    assert!(info.contains("certificate 9A: CN=Alice") && info.contains("PIN entry keypad-only"), "{info}");
    let err = sim.fails(&["--sim", &card, "demo"], &[], 2);
    assert!(err.contains("exists"), "{err}");
}

#[test]
fn readers_lists_readers_or_says_pcscd_is_missing() {
    let sim = Sim::new("readers");
    let o = sim.run(&["readers"], &[], b"");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    match o.status.code() {
        Some(0) => assert!(out.contains(": no card") || out.contains(": card") || out.trim() == "no readers", "{out}"),
        Some(3) => assert!(err.contains("pcscd is not running") && err.contains("hint:"), "{err}"),
        other => panic!("readers exited {other:?}: {err}"),
    }
}

// ---- issue 13: whole flows and sessions ---------------------------------------------------

/// A personalised card: 9A and 9C keys with certificates, bound, keypad-only.
fn bound_keypad_only_card(name: &str) -> Sim {
    let sim = Sim::new(name);
    sim.key_and_cert("9a", "CN=Alice,OU=login");
    sim.key_and_cert("9c", "CN=Alice,OU=payments");
    sim.ok(&["bind", "set", PHONE], &[]);
    sim.ok(&["pin", "policy", "keypad-only"], &[]);
    sim
}

#[test]
fn a_bound_keypad_only_card_logs_in_and_signs_in_one_command() {
    let sim = bound_keypad_only_card("flows");
    // Neither: the message says both.
    let err = sim.fails(&["login"], &[PIN], 1);
    assert!(err.contains("keypad-only") && err.contains("--keypad") && err.contains("--binding"), "{err}");
    // The keypad without the binding: the message says how to give it.
    let o = with_keypad(&sim, &["login", "--keypad"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("binding was not presented") && err.contains("--binding"), "{err}");
    // The binding, PIN as digits: the message says the keypad.
    let err = sim.fails(&["login", "--binding", PHONE], &[PIN], 1);
    assert!(err.contains("keypad-only") && err.contains("--keypad"), "{err}");
    // Binding and keypad in one command.
    let o = with_keypad(&sim, &["login", "--binding", PHONE, "--keypad"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("login OK: CN=Alice,OU=login"));
    std::fs::write(sim.file("phone.bin"), PHONE).unwrap();
    std::fs::write(sim.file("transfer.txt"), "transfer 250.00 EUR to DE89370400440532013000").unwrap();
    let o = with_keypad(
        &sim,
        &["tx", "sign", "transfer.txt", "--binding-file", "phone.bin", "--keypad", "--out", "transfer.sig"],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sim.ok(&["tx", "verify", "transfer.txt", "--signature-file", "transfer.sig"], &[]).contains("valid"));
    // The wrong binding: told so, with the tries left.
    let tries = sim.json(&["info"], &[]).1["binding_tries"].as_u64().unwrap();
    let (code, j) = sim.json(&["login", "--binding", &"b2".repeat(32), "--keypad"], &[]);
    assert_eq!((code, j["kind"].as_str()), (1, Some("card_refused")), "{j}");
    assert_eq!(j["sw"].as_str(), Some(format!("63C{:X}", tries - 1).as_str()), "{j}");
    assert_eq!(j["tries_left"].as_u64(), Some(tries - 1), "{j}");
    assert!(j["error"].as_str().unwrap().contains("wrong binding value"), "{j}");
}

#[test]
fn a_session_keeps_the_binding_and_the_pin_between_commands() {
    let sim = bound_keypad_only_card("session");
    std::fs::write(sim.file("transfer.txt"), "transfer 1.00 EUR").unwrap();
    let script = format!(
        "# one card session, as a card left in a reader\n\
         bind present {PHONE}\n\
         pin keypad\n\
         login\n\
         pin keypad\n\
         tx sign transfer.txt --out transfer.sig\n"
    );
    std::fs::write(sim.file("session.txt"), script).unwrap();
    let o = with_keypad(&sim, &["run", "session.txt"], &[]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("binding presented") && out.contains("login OK"), "{out}");
    assert!(sim.ok(&["tx", "verify", "transfer.txt", "--signature-file", "transfer.sig"], &[]).contains("valid"));
    // The same lines as separate commands: the session ends with each.
    sim.ok(&["bind", "present", PHONE], &[]);
    let o = with_keypad(&sim, &["login", "--keypad"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("binding was not presented"), "{err}");
    // A failing line stops the run with its code and says where; JSON: one object per line.
    std::fs::write(sim.file("bad.txt"), "info\nsign 9d\n").unwrap();
    let o = sim.run(&["--json", "run", "bad.txt"], &[], b"");
    assert_eq!(o.status.code(), Some(2), "sign with no input at a pipe... or no key: {o:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout).unwrap().lines().map(json).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["ok"].as_bool(), lines[1]["ok"].as_bool()), (Some(true), Some(false)));
    assert_eq!(lines[1]["line"], 2, "the failing line: {}", lines[1]);
    // Lines cannot switch cards.
    std::fs::write(sim.file("switch.txt"), "--sim other.json info\n").unwrap();
    let err = sim.fails(&["run", "switch.txt"], &[], 2);
    assert!(err.contains("a session uses one card"), "{err}");
    // `shell` reads the same lines from stdin.
    let o = sim.run(&["shell"], &[], format!("bind present {PHONE}\ninfo\n").as_bytes());
    assert!(String::from_utf8_lossy(&o.stdout).contains("binding presented"), "{o:?}");
}

// ---- issue 13: one output contract ------------------------------------------------------------

#[test]
fn quiet_never_silences_the_result() {
    let sim = Sim::new("quiet");
    let pem = sim.ok(&["-q", "key", "generate", "9a"], &[]);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem:?}");
    sim.ok(&["-q", "key", "generate", "9c"], &[]);
    sim.ok(&["-q", "key", "generate", "9e"], &[]);
    std::fs::write(sim.file("9a.pub"), &pem).unwrap();
    sim.ok(&["-q", "cert", "selfsign", "9a", "--subject", "CN=q", "--pubkey", "9a.pub"], &[PIN]);
    let o = sim.run(&["-q", "sign", "9e", "-"], &[], b"m");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).trim().len() == 344, "{o:?}");
    std::fs::write(sim.file("t.txt"), "t").unwrap();
    assert_eq!(sim.ok(&["-q", "tx", "sign", "t.txt"], &[PIN]).trim().len(), 344);
    assert!(sim.ok(&["-q", "csr", "9a", "--subject", "CN=q"], &[PIN]).contains("BEGIN CERTIFICATE REQUEST"));
    assert!(sim.ok(&["-q", "cert", "export", "9a"], &[]).contains("BEGIN CERTIFICATE"));
    assert_eq!(sim.ok(&["-q", "key", "public", "9a"], &[]), pem);
    assert!(sim.ok(&["-q", "apdu", "00FD0000"], &[]).contains("9000"));
    assert!(sim.ok(&["-q", "info"], &[]).contains("PIN tries left"));
}

#[test]
fn json_for_every_outcome() {
    let sim = Sim::new("json");
    // Usage errors.
    let (code, j) = sim.json(&["frobnicate"], &[]);
    assert_eq!((code, j["kind"].as_str(), j["exit_code"].as_u64()), (2, Some("usage"), Some(2)), "{j}");
    assert!(j["error"].as_str().unwrap().contains("frobnicate"));
    let (code, j) = sim.json(&["cert", "selfsign", "9a", "--subject", "CN=x", "--days", "0"], &[]);
    assert_eq!((code, j["ok"].as_bool()), (2, Some(false)), "{j}");
    // A card refusal with its status word and tries left, also when blocked.
    let (code, j) = sim.json(&["pin", "verify"], &[("SUBSIM_PIN", "000000")]);
    assert_eq!((code, j["sw"].as_str(), j["tries_left"].as_u64()), (1, Some("63C2"), Some(2)), "{j}");
    sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], b"");
    sim.run(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], b"");
    let (_, j) = sim.json(&["pin", "verify"], &[PIN]);
    assert_eq!((j["sw"].as_str(), j["tries_left"].as_u64()), (Some("6983"), Some(0)), "{j}");
    let (_, j) = sim.json(&["pin", "verify", "--status"], &[]);
    assert_eq!((j["blocked"].as_bool(), j["tries_left"].as_u64()), (Some(true), Some(0)), "{j}");
    sim.ok(&["pin", "unblock"], &[("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")]);
    // Enums in snake_case words.
    sim.ok(&["pin", "policy", "keypad-only"], &[]);
    let (_, j) = sim.json(&["info"], &[]);
    assert_eq!(j["pin_entry"], "keypad_only");
    let (_, j) = sim.json(&["pin", "policy", "any"], &[]);
    assert_eq!(j["pin_entry"], "any");
    let (_, j) = sim.json(&["mgm", "set", "aes256", &"ab".repeat(32)], &[]);
    assert_eq!(j["mgm_algorithm"], "aes256");
    sim.ok(
        &["mgm", "set", "3des", "010203040506070801020304050607080102030405060708", "--mgm-key", &"ab".repeat(32)],
        &[],
    );
    // Binary results come as base64 in JSON.
    let pem = sim.ok(&["key", "generate", "9a"], &[]);
    std::fs::write(sim.file("9a.pub"), &pem).unwrap();
    sim.ok(&["cert", "selfsign", "9a", "--subject", "CN=j", "--pubkey", "9a.pub"], &[PIN]);
    let (code, j) = sim.json(&["cert", "export", "9a", "--der"], &[]);
    assert_eq!(code, 0);
    assert!(j["certificate_der_base64"].as_str().unwrap().starts_with("MII"), "{j}");
    let (_, j) = sim.json(&["key", "generate", "9d", "--format", "der"], &[]);
    assert!(j["public_key_pem"].as_str().unwrap().contains("BEGIN PUBLIC KEY"), "{j}");
    // A timeout of 0 s could only fail: refused before the card is touched.
    let (code, j) = sim.json(&["key", "generate", "9d", "--timeout", "0"], &[]);
    assert_eq!((code, j["kind"].as_str()), (2, Some("usage")), "{j}");
    // Not verified.
    std::fs::write(sim.file("t.txt"), "t").unwrap();
    let (code, j) = sim.json(&["tx", "verify", "t.txt", "--signature", "AAAA", "--cert", "9a.pub"], &[]);
    assert_eq!((code, j["ok"].as_bool()), (2, Some(false)), "not a certificate: {j}");
    // The card lacks the feature.
    let (code, j) = sim.json(&["--profile", "piv", "bind", "present", PHONE], &[]);
    assert_eq!((code, j["kind"].as_str()), (6, Some("unsupported")), "{j}");
}

// ---- issue 13: refuse what cannot work, say what went wrong ----------------------------------

#[test]
fn mismatched_keys_and_certificates_are_refused() {
    let sim = Sim::new("mismatch");
    let stale = sim.ok(&["key", "generate", "9a"], &[]);
    std::fs::write(sim.file("stale.pub"), &stale).unwrap();
    let fresh = sim.ok(&["key", "generate", "9a"], &[]);
    assert_ne!(stale, fresh);
    let err = sim.fails(&["csr", "9a", "--subject", "CN=x", "--pubkey", "stale.pub"], &[PIN], 2);
    assert!(err.contains("stale.pub is not slot 9A's public key"), "{err}");
    let pem9d = sim.ok(&["key", "generate", "9d"], &[]);
    std::fs::write(sim.file("9d.pub"), &pem9d).unwrap();
    sim.ok(&["key", "generate", "9e"], &[]);
    let err = sim.fails(&["cert", "selfsign", "9e", "--subject", "CN=x", "--pubkey", "9d.pub"], &[], 2);
    assert!(err.contains("9d.pub is not slot 9E's public key"), "{err}");
    assert!(!sim.ok(&["info"], &[]).contains("certificate 9E"), "nothing stored");
    // A certificate for 9C's key refused in 9A, by a test signature with the PIN.
    let pem9c = sim.ok(&["key", "generate", "9c"], &[]);
    std::fs::write(sim.file("9c.pub"), &pem9c).unwrap();
    sim.ok(&["cert", "selfsign", "9c", "--subject", "CN=c", "--pubkey", "9c.pub"], &[PIN]);
    sim.ok(&["cert", "export", "9c", "--out", "9c.crt"], &[]);
    let err = sim.fails(&["cert", "import", "9a", "9c.crt"], &[PIN], 2);
    assert!(err.contains("does not hold slot 9A's key"), "{err}");
    // In a session, against the key just generated (no PIN needed): the
    // check a card without GET METADATA gets (--profile piv: standard PIV).
    std::fs::write(sim.file("s.txt"), "key generate 9a\ncert import 9a 9c.crt\n").unwrap();
    let err = sim.fails(&["--profile", "piv", "run", "s.txt"], &[], 2);
    assert!(err.contains("the key generated in this session differs"), "{err}");
    // A certificate for a slot that holds no key (the sub-SIM's status tells).
    let other = Sim::new("mismatch-empty");
    std::fs::copy(sim.file("9c.crt"), other.file("9c.crt")).unwrap();
    let err = other.fails(&["cert", "import", "9d", "9c.crt"], &[], 2);
    assert!(err.contains("slot 9D holds no key"), "{err}");
    // Validity of 0 days.
    let err = sim.fails(&["cert", "selfsign", "9c", "--subject", "CN=x", "--days", "0"], &[PIN], 2);
    assert!(err.contains("--days") && err.contains("0"), "{err}");
}

#[test]
fn errors_point_the_right_way() {
    let sim = Sim::new("messages");
    // An empty slot.
    let o = sim.run(&["sign", "9c", "-"], &[PIN], b"m");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("slot 9C holds no key") && err.contains("subsim key generate 9c"), "{err}");
    // A PIN the card no longer counts as verified (a raw logout in the session).
    sim.ok(&["key", "generate", "9c"], &[]);
    std::fs::write(sim.file("pin"), "123456").unwrap();
    std::fs::write(sim.file("logout.txt"), "pin verify --pin-file pin\napdu 0020FF80\nsign 9c t.txt\n").unwrap();
    std::fs::write(sim.file("t.txt"), "t").unwrap();
    let err = sim.fails(&["run", "logout.txt"], &[], 1);
    assert!(err.contains("the PIN must be verified first") && err.contains("9C"), "{err}");
    // An empty public-key file.
    std::fs::write(sim.file("empty.pub"), "").unwrap();
    sim.ok(&["key", "generate", "9a"], &[]);
    let err = sim.fails(&["csr", "9a", "--subject", "CN=x", "--pubkey", "empty.pub"], &[PIN], 2);
    assert!(err.contains("empty.pub is empty") && !err.contains("NUL"), "{err}");
    // A signature file where base64 text is wanted.
    std::fs::write(sim.file("tx.sig"), "AAAA").unwrap();
    let err = sim.fails(&["tx", "verify", "t.txt", "--signature", "tx.sig"], &[], 2);
    assert!(err.contains("--signature-file tx.sig"), "{err}");
    // An EC certificate is checked against the slot's key like any other.
    if openssl() {
        let sh = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.crt -subj /CN=ec -days 2";
        let o = Command::new("sh").args(["-c", sh]).current_dir(&sim.home).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = sim.fails(&["cert", "import", "9a", "ec.crt"], &[], 2);
        assert!(err.contains("does not hold slot 9A's key"), "{err}");
        // An Ed25519 certificate (a kind 5.7 cards hold) is checked the same way.
        let sh = "openssl req -x509 -newkey ed25519 -nodes -keyout ed.key -out ed.crt -subj /CN=ed -days 2";
        if Command::new("sh").args(["-c", sh]).current_dir(&sim.home).output().unwrap().status.success() {
            let err = sim.fails(&["cert", "import", "9a", "ed.crt"], &[], 2);
            assert!(err.contains("does not hold slot 9A's key"), "{err}");
        }
    }
    // An AES-256 management key, and no key given.
    sim.ok(&["mgm", "set", "aes256", &"cd".repeat(32)], &[]);
    let err = sim.fails(&["mgm", "auth"], &[], 2);
    assert!(err.contains("AES-256") && err.contains("--mgm-key") && !err.contains("Aes256"), "{err}");
    // A wrong 3DES key.
    sim.ok(&["mgm", "set", "3des", &"0f".repeat(24), "--mgm-key", &"cd".repeat(32)], &[]);
    let err = sim.fails(&["mgm", "auth"], &[], 1);
    assert!(err.contains("refused the factory management key") && !err.contains("verify the PIN"), "{err}");
    // A blocked PUK.
    for _ in 0..3 {
        sim.run(&["pin", "change-puk"], &[("SUBSIM_PUK", "00000000"), ("SUBSIM_NEW_PUK", "11111111")], b"");
    }
    let err = sim.fails(&["pin", "unblock"], &[("SUBSIM_PUK", "00000000"), ("SUBSIM_NEW_PIN", "123456")], 1);
    assert!(
        err.contains("the PUK is blocked")
            && err.contains("terminate")
            && !err.contains("unblock the PIN with the PUK"),
        "{err}"
    );
}

// ---- issue 13: conventions of the field ---------------------------------------------------------

#[test]
fn slots_in_any_case_and_by_name_and_dash_for_stdio() {
    let sim = Sim::new("conventions");
    let pem = sim.ok(&["key", "generate", "9A"], &[]);
    let der = sim.run(&["key", "generate", "card-authentication", "--format", "der"], &[], b"");
    assert!(der.status.success() && der.stdout[0] == 0x30, "DER on stdout");
    // --pubkey - reads stdin; --out - writes stdout.
    let o =
        sim.run(&["cert", "selfsign", "Authentication", "--subject", "CN=s", "--pubkey", "-"], &[PIN], pem.as_bytes());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cert = sim.ok(&["cert", "export", "authentication", "--out", "-"], &[]);
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    let o = sim.run(&["cert", "import", "9a", "-"], &[PIN], cert.as_bytes());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!sim.file("-").exists(), "no file named -");
    let der = sim.run(&["key", "public", "9a", "--format", "der"], &[], b"");
    assert_eq!(der.stdout[0], 0x30);
    sim.ok(&["key", "public", "9a", "--format", "der", "--out", "9a.der"], &[]);
    assert_eq!(std::fs::read(sim.file("9a.der")).unwrap(), der.stdout);
    let err = sim.fails(&["key", "public", "9b"], &[], 2);
    assert!(err.contains("authentication"), "the names are listed: {err}");
}

#[test]
fn the_sim_option_and_card_files() {
    let sim = Sim::empty("simfile");
    let err = sim.fails(&["info"], &[], 2);
    assert!(err.contains("no card file at") && err.contains("subsim init"), "{err}");
    let err = sim.fails(&["--sim", "typo.json", "info"], &[], 2);
    assert!(err.contains("no card file at typo.json"), "{err}");
    assert!(!sim.file("typo.json").exists(), "a mistyped path creates nothing");
    let err = sim.fails(&["--sim", "info"], &[], 2);
    assert!(err.contains("--sim FILE info"), "{err}");
    let err = sim.fails(&["info", "--sim"], &[], 2);
    assert!(err.contains("--sim <FILE>"), "{err}");
    sim.ok(&["--sim", "new.json", "--create", "info"], &[]);
    assert!(sim.file("new.json").exists());
    assert!(sim.ok(&["--sim", "other.json", "init"], &[]).contains("created"));
    assert!(sim.ok(&["--sim", "other.json", "init"], &[]).contains("exists"));
}

#[test]
fn broken_pipes_end_quietly() {
    let sim = Sim::new("pipes");
    for args in [&["man"][..], &["completions", "bash"], &["demo"], &["--help"]] {
        let mut child = sim.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut first = [0u8; 16];
        child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "subsim {args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    }
}

#[test]
fn man_pages_for_every_command_and_help_with_examples() {
    let sim = Sim::new("man");
    let bash = sim.ok(&["completions", "bash"], &[]);
    assert!(bash.contains("subsim") && bash.contains("keypad"), "bash completion");
    let man = sim.ok(&["man"], &[]);
    assert!(man.contains(".TH subsim") && man.contains("subsim terminate"), "{man}");
    assert!(!man.contains("subsim-pin(1)"), "subsim(1) alone refers to no page it does not come with");
    if Command::new("man").arg("--version").output().is_ok() {
        std::fs::write(sim.file("subsim.1"), &man).unwrap();
        let o = Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(sim.file("subsim.1"))
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && text.contains("subsim pin") && text.contains("--dir"), "man renders it: {text}");
    } else {
        eprintln!("SKIPPED: rendering subsim(1) with man needs man-db");
    }
    let dir = sim.file("man1");
    assert!(sim.ok(&["man", "--dir", dir.to_str().unwrap()], &[]).contains("man pages written"));
    let pages: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(pages.contains(&"subsim-pin-change-puk.1".to_string()), "{pages:?}");
    // Every page a page refers to exists.
    for page in &pages {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        for reference in text.split_whitespace().filter(|w| w.starts_with("subsim-") && w.ends_with("(1)")) {
            let file = reference.trim_end_matches("(1)").to_string() + ".1";
            assert!(pages.contains(&file), "{page} refers to {reference}, not written");
        }
    }
    for cmd in
        [&["login", "--help"][..], &["tx", "sign", "--help"], &["key", "generate", "--help"], &["apdu", "--help"]]
    {
        assert!(sim.ok(cmd, &[]).contains("Example"), "{cmd:?} has examples");
    }
}

// ---- issue 10 item 7: the CLI on any PIV card -----------------------------------------------------

#[test]
fn standard_piv_commands_only_with_profile_piv() {
    let sim = Sim::new("piv");
    let piv = ("SUBSIM_PROFILE", "piv");
    let text = sim.ok(&["info"], &[piv]);
    assert!(text.contains("profile piv") && text.contains("PIN tries left 3"), "{text}");
    assert!(!text.contains("PUK tries left"), "GET STATUS not used: {text}");
    let o = sim.run(&["--profile", "piv", "--trace", "info"], &[], b"");
    let trace = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && trace.contains("> GET STATUS"), "the probe is the only GET STATUS: {trace}");
    assert_eq!(trace.matches("> GET STATUS").count(), 1, "{trace}");
    // Keys, certificates, signatures, login, transactions.
    let pem9a = sim.ok(&["key", "generate", "authentication"], &[piv]);
    let err = sim.fails(&["key", "public", "9a"], &[piv], 2);
    assert!(err.contains("no certificate in the slot, and no GET METADATA"), "{err}");
    std::fs::write(sim.file("9a.pub"), &pem9a).unwrap();
    sim.ok(&["cert", "selfsign", "9a", "--subject", "CN=piv", "--pubkey", "9a.pub"], &[piv, PIN]);
    assert_eq!(sim.ok(&["key", "public", "9a"], &[piv]), pem9a);
    assert!(sim.ok(&["csr", "9a", "--subject", "CN=piv"], &[piv, PIN]).contains("REQUEST"));
    sim.ok(&["cert", "export", "9a", "--out", "9a.crt"], &[piv]);
    sim.ok(&["cert", "import", "9a", "9a.crt"], &[piv, PIN]);
    assert!(sim.ok(&["info"], &[piv]).contains("certificate 9A: CN=piv"));
    assert!(sim.ok(&["login"], &[piv, PIN]).contains("login OK"));
    let err = sim.fails(&["sign", "9c", "-"], &[piv, PIN], 1);
    assert!(err.contains("slot 9C holds no key"), "{err}");
    let pem9c = sim.ok(&["key", "generate", "9c"], &[piv]);
    std::fs::write(sim.file("9c.pub"), pem9c).unwrap();
    sim.ok(&["cert", "selfsign", "9c", "--subject", "CN=pay", "--pubkey", "9c.pub"], &[piv, PIN]);
    std::fs::write(sim.file("t.txt"), "t").unwrap();
    sim.ok(&["tx", "sign", "t.txt", "--out", "t.sig"], &[piv, PIN]);
    assert!(sim.ok(&["tx", "verify", "t.txt", "--signature-file", "t.sig"], &[piv]).contains("valid"));
    // PIN and PUK.
    sim.ok(&["pin", "verify"], &[piv, PIN]);
    sim.ok(&["pin", "change"], &[piv, PIN, ("SUBSIM_NEW_PIN", "654321")]);
    sim.ok(&["pin", "unblock"], &[piv, ("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")]);
    sim.ok(&["pin", "change-puk"], &[piv, ("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PUK", "11223344")]);
    // The management key: its algorithm from --mgm-algorithm (no GET STATUS, no metadata here).
    sim.ok(&["mgm", "set", "aes128", &"42".repeat(16)], &[piv]);
    let err = sim.fails(&["mgm", "auth", "--mgm-key", &"42".repeat(16)], &[piv], 2);
    assert!(err.contains("3DES"), "3DES is the default: {err}");
    sim.ok(&["mgm", "auth", "--mgm-key", &"42".repeat(16), "--mgm-algorithm", "aes128"], &[piv]);
    // Sub-SIM-only commands: exit 6, and why.
    for cmd in [&["pin", "keypad"][..], &["pin", "policy", "any"], &["bind", "present", PHONE], &["terminate", "--yes"]]
    {
        let err = sim.fails(cmd, &[piv], 6);
        assert!(err.contains("this card has no sub-SIM extensions (profile piv)"), "{cmd:?}: {err}");
    }
    let err = sim.fails(&["login", "--keypad"], &[piv], 6);
    assert!(err.contains("no sub-SIM extensions"), "{err}");
    // Yubico's commands add the version (as GET VERSION tells it).
    let version = sim.ok(&["apdu", "00FD0000"], &[]);
    let v = hex::decode(&version[..6]).unwrap();
    let version = format!("{}.{}.{}", v[0], v[1], v[2]);
    let (_, j) = sim.json(&["--profile", "yubico", "info"], &[]);
    assert_eq!(
        (j["profile"].as_str(), j["version"].as_str(), j["puk_tries"].as_u64()),
        (Some("yubico"), Some(version.as_str()), None)
    );
    let err = sim.fails(&["--profile", "yubico", "pin", "keypad"], &[], 6);
    assert!(err.contains("(profile yubico)"), "{err}");
}

#[test]
fn mgm_key_and_pin_are_not_read_from_a_terminal_without_a_prompt() {
    // stdin is a terminal only in a pty: see the pty tests below.
    let sim = Sim::new("noprompt");
    let err = sim.fails(&["pin", "verify"], &[], 2);
    assert!(err.contains("stdin is not a terminal") && err.contains("--pin-file"), "{err}");
}

// ---- a terminal: prompts, Ctrl-C, and stdin at a terminal ----------------------------------------

mod pty {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// A program on a pseudo-terminal of its own (its controlling terminal).
    pub struct Pty {
        master: std::fs::File,
        slave: OwnedFd,
        pub child: Child,
        output: mpsc::Receiver<u8>,
        pub seen: String,
        matched: usize,
        /// Whether the terminal echoed before the program started (read
        /// then: by the time spawn returns, the program may have prompted).
        pub echoed_at_start: bool,
    }

    fn echoes(slave: &OwnedFd) -> bool {
        // SAFETY: tcgetattr fills a plain struct from an open descriptor.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(slave.as_raw_fd(), &mut t) }, 0);
        t.c_lflag & libc::ECHO != 0
    }

    impl Pty {
        pub fn spawn(mut cmd: Command) -> Pty {
            let (mut m, mut s) = (0, 0);
            // SAFETY: openpty fills two descriptors; no name, settings or size given.
            let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
            assert_eq!(rc, 0, "openpty");
            // SAFETY: both descriptors were just opened and are owned here.
            let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
            let io = || Stdio::from(slave.try_clone().unwrap());
            cmd.stdin(io()).stdout(io()).stderr(io());
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let echoed_at_start = echoes(&slave);
            let child = cmd.spawn().unwrap();
            let (tx, rx) = mpsc::channel();
            let mut reader = master.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut b = [0u8; 256];
                while let Ok(n) = reader.read(&mut b) {
                    if n == 0 {
                        break;
                    }
                    for x in &b[..n] {
                        if tx.send(*x).is_err() {
                            return;
                        }
                    }
                }
            });
            Pty { master, slave, child, output: rx, seen: String::new(), matched: 0, echoed_at_start }
        }

        /// Waits until the program writes `text` (after what earlier calls matched).
        pub fn expect(&mut self, text: &str) {
            let end = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(at) = self.seen[self.matched..].find(text) {
                    self.matched += at + text.len();
                    return;
                }
                let left = end.saturating_duration_since(Instant::now());
                match self.output.recv_timeout(left) {
                    Ok(b) => self.seen.push(b as char),
                    Err(_) => panic!("waited for {text:?}; the terminal shows {:?}", self.seen),
                }
            }
        }

        pub fn send(&mut self, bytes: &[u8]) {
            self.master.write_all(bytes).unwrap();
        }

        /// Whether the terminal echoes what is typed.
        pub fn echo(&self) -> bool {
            echoes(&self.slave)
        }

        /// The exit code, after draining what it wrote.
        pub fn wait(&mut self) -> Option<i32> {
            // Bounded: a program that does not end fails the test, never hangs it.
            let end = Instant::now() + Duration::from_secs(30);
            let code = loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    break status.code();
                }
                if Instant::now() > end {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("the program did not end within 30 s; the terminal shows {:?}", self.seen);
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            while let Ok(b) = self.output.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(b as char);
            }
            code
        }
    }
}

#[test]
fn ctrl_c_at_a_prompt_restores_the_terminal() {
    let sim = Sim::new("ctrlc");
    for args in [&["pin", "verify"][..], &["pin", "keypad"]] {
        let mut t = pty::Pty::spawn(sim.cmd(args));
        assert!(t.echoed_at_start, "the terminal echoes before");
        t.expect(if args[1] == "keypad" { "keys:" } else { "PIN:" });
        // The prompt is written just before echo goes off.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while t.echo() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!t.echo(), "echo is off while the PIN is typed");
        t.send(b"12\x03");
        assert_eq!(t.wait(), Some(130), "{}", t.seen);
        assert!(t.echo(), "subsim {args:?}: Ctrl-C left the terminal without echo");
        assert!(t.seen.contains("interrupted"), "{}", t.seen);
    }
}

#[test]
fn at_a_terminal_new_secrets_are_asked_twice_and_no_input_is_read_unprompted() {
    let sim = Sim::new("tty");
    // The new PIN twice; two different entries change nothing.
    let mut c = sim.cmd(&["pin", "change"]);
    c.env("SUBSIM_PIN", "123456");
    let mut t = pty::Pty::spawn(c);
    t.expect("new PIN:");
    t.send(b"24680135\n");
    t.expect("new PIN again:");
    t.send(b"24680136\n");
    assert_eq!(t.wait(), Some(2));
    assert!(t.seen.contains("differ"), "{}", t.seen);
    sim.ok(&["pin", "verify"], &[PIN]);
    let mut c = sim.cmd(&["pin", "change"]);
    c.env("SUBSIM_PIN", "123456");
    let mut t = pty::Pty::spawn(c);
    t.expect("new PIN:");
    t.send(b"24680135\n");
    t.expect("new PIN again:");
    t.send(b"24680135\n");
    assert_eq!(t.wait(), Some(0), "{}", t.seen);
    sim.ok(&["pin", "verify"], &[("SUBSIM_PIN", "24680135")]);
    // A transaction is never read from a terminal: typing it there signs nothing.
    sim.ok(&["key", "generate", "9c"], &[]);
    let mut c = sim.cmd(&["tx", "sign"]);
    c.env("SUBSIM_PIN", "24680135");
    let mut t = pty::Pty::spawn(c);
    assert_eq!(t.wait(), Some(2), "{}", t.seen);
    assert!(t.seen.contains("not typed at a terminal"), "{}", t.seen);
    // The management key is asked for, hidden, when the factory key is refused.
    sim.ok(&["mgm", "set", "3des", &"0f".repeat(24)], &[]);
    let mut t = pty::Pty::spawn(sim.cmd(&["mgm", "auth"]));
    t.expect("management key (3DES, hex):");
    t.send(format!("{}\n", "0f".repeat(24)).as_bytes());
    assert_eq!(t.wait(), Some(0), "{}", t.seen);
    assert!(t.seen.contains("management key authenticated"), "{}", t.seen);
}

// ---- the JSON schema in docs/cli.md, for every command ------------------------------------------

/// docs/cli.md's table of result fields: command to (field, optional).
fn documented_fields() -> std::collections::HashMap<String, Vec<(String, bool)>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md")).unwrap();
    let table = doc.split("| command | fields |").nth(1).expect("the results table");
    let mut map = std::collections::HashMap::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let command = cells[1].trim_matches('`').to_string();
        // Top-level fields only: "(each: ...)" describes the items of a list.
        let mut top = String::new();
        let mut depth = 0;
        for ch in cells[2].chars() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => top.push(c),
                _ => {}
            }
        }
        let fields = top
            .split(", ")
            .filter(|f| f.starts_with('`'))
            .map(|f| {
                let name = f.split('`').nth(1).unwrap();
                (name.trim_end_matches('?').to_string(), name.ends_with('?'))
            })
            .collect();
        map.insert(command, fields);
    }
    map
}

#[test]
fn json_results_match_docs_cli_md() {
    let docs = documented_fields();
    let sim = Sim::new("schema");
    std::fs::write(sim.file("t.txt"), "t").unwrap();
    let mgm = "010203040506070801020304050607080102030405060708";
    let pk = |slot: &str| sim.path(&format!("{slot}.pub"));
    type Run<'a> = (&'a str, Vec<String>, Vec<(&'a str, &'a str)>);
    let runs: Vec<Run> = vec![
        ("init", vec!["init".into()], vec![]),
        ("info", vec!["info".into()], vec![]),
        ("pin verify", vec!["pin".into(), "verify".into()], vec![PIN]),
        ("pin verify --status", vec!["pin".into(), "verify".into(), "--status".into()], vec![]),
        ("pin change", vec!["pin".into(), "change".into()], vec![PIN, ("SUBSIM_NEW_PIN", "123456")]),
        (
            "pin change-puk",
            vec!["pin".into(), "change-puk".into()],
            vec![("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PUK", "12345678")],
        ),
        (
            "pin unblock",
            vec!["pin".into(), "unblock".into()],
            vec![("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PIN", "123456")],
        ),
        ("pin policy", vec!["pin".into(), "policy".into(), "any".into()], vec![]),
        ("mgm auth", vec!["mgm".into(), "auth".into()], vec![]),
        ("mgm set", vec!["mgm".into(), "set".into(), "3des".into(), mgm.into()], vec![]),
        ("key generate", vec!["key".into(), "generate".into(), "9a".into(), "--out".into(), pk("9a")], vec![]),
        ("key generate", vec!["key".into(), "generate".into(), "9e".into()], vec![]),
        (
            "cert selfsign",
            vec![
                "cert".into(),
                "selfsign".into(),
                "9a".into(),
                "--subject".into(),
                "CN=s".into(),
                "--pubkey".into(),
                pk("9a"),
            ],
            vec![PIN],
        ),
        ("key public", vec!["key".into(), "public".into(), "9a".into()], vec![]),
        ("key info", vec!["key".into(), "info".into()], vec![]),
        ("key info SLOT", vec!["key".into(), "info".into(), "9a".into()], vec![]),
        ("key info SLOT", vec!["key".into(), "info".into(), "9d".into()], vec![]),
        ("key attest", vec!["key".into(), "attest".into(), "9a".into(), "--chain".into()], vec![]),
        ("key attest", vec!["key".into(), "attest".into(), "9a".into(), "--format".into(), "der".into()], vec![]),
        ("key import", vec!["key".into(), "import".into(), "9d".into(), sim.path("9d.key")], vec![]),
        (
            "key generate",
            vec!["key".into(), "generate".into(), "82".into(), "--algorithm".into(), "p384".into()],
            vec![],
        ),
        ("key move", vec!["key".into(), "move".into(), "82".into(), "83".into()], vec![]),
        ("key delete", vec!["key".into(), "delete".into(), "83".into(), "--yes".into()], vec![]),
        ("cert export", vec!["cert".into(), "export".into(), "9a".into(), "--out".into(), sim.path("9a.crt")], vec![]),
        ("cert export", vec!["cert".into(), "export".into(), "9a".into(), "--format".into(), "der".into()], vec![]),
        ("cert import", vec!["cert".into(), "import".into(), "9a".into(), sim.path("9a.crt")], vec![PIN]),
        ("csr", vec!["csr".into(), "9a".into(), "--subject".into(), "CN=s".into()], vec![PIN]),
        ("sign", vec!["sign".into(), "9e".into(), sim.path("t.txt")], vec![]),
        ("login", vec!["login".into()], vec![PIN]),
        ("bind set", vec!["bind".into(), "set".into(), PHONE.into()], vec![]),
        ("bind present", vec!["bind".into(), "present".into(), PHONE.into()], vec![]),
        ("bind clear", vec!["bind".into(), "clear".into()], vec![]),
        ("apdu", vec!["apdu".into(), "00FD0000".into()], vec![]),
        ("completions", vec!["completions".into(), "fish".into()], vec![]),
        ("man", vec!["man".into()], vec![]),
        ("man", vec!["man".into(), "--dir".into(), sim.path("man")], vec![]),
        ("ca init", vec!["ca".into(), "init".into(), "--dir".into(), sim.path("ca")], vec![]),
        (
            "csr",
            vec!["csr".into(), "9a".into(), "--subject".into(), "CN=s".into(), "--out".into(), sim.path("9a.csr")],
            vec![PIN],
        ),
        (
            "ca issue",
            vec![
                "ca".into(),
                "issue".into(),
                "--dir".into(),
                sim.path("ca"),
                sim.path("9a.csr"),
                "--role".into(),
                "login".into(),
                "--out".into(),
                sim.path("issued.crt"),
            ],
            vec![],
        ),
        (
            "ca revoke",
            vec!["ca".into(), "revoke".into(), "--dir".into(), sim.path("ca"), sim.path("issued.crt")],
            vec![],
        ),
        ("ca crl", vec!["ca".into(), "crl".into(), "--dir".into(), sim.path("ca")], vec![]),
        ("object generate", vec!["object".into(), "generate".into(), "chuid".into()], vec![]),
        ("object list", vec!["object".into(), "list".into()], vec![]),
        (
            "object export",
            vec!["object".into(), "export".into(), "chuid".into(), "--out".into(), sim.path("chuid.bin")],
            vec![],
        ),
        ("object import", vec!["object".into(), "import".into(), "chuid".into(), sim.path("chuid.bin")], vec![]),
        ("cert delete", vec!["cert".into(), "delete".into(), "9a".into(), "--yes".into()], vec![]),
        ("pin retries", vec!["pin".into(), "retries".into(), "4".into(), "5".into(), "--yes".into()], vec![PIN]),
        ("reset", vec!["reset".into(), "--yes".into()], vec![]),
        ("terminate", vec!["terminate".into(), "--yes".into()], vec![]),
        ("rules add", vec!["rules".into(), "add".into(), "--hash".into(), "AB".repeat(32)], vec![]),
        ("rules list", vec!["rules".into(), "list".into()], vec![]),
        ("rules remove", vec!["rules".into(), "remove".into(), "--hash".into(), "AB".repeat(32)], vec![]),
        ("demo", vec!["demo".into()], vec![]),
        ("gp info", vec!["gp".into(), "info".into()], vec![]),
        ("gp list", vec!["gp".into(), "list".into()], vec![]),
        ("gp lock", vec!["gp".into(), "lock".into(), "A000000308000010000100".into()], vec![]),
        ("gp unlock", vec!["gp".into(), "unlock".into(), "A000000308000010000100".into()], vec![]),
        ("gp lock-card", vec!["gp".into(), "lock-card".into(), "--yes".into()], vec![]),
        ("gp unlock-card", vec!["gp".into(), "unlock-card".into()], vec![]),
        ("gp load", vec!["gp".into(), "load".into(), sim.path("small.cap")], vec![]),
        ("gp delete", vec!["gp".into(), "delete".into(), "A000000308000010000100".into(), "--yes".into()], vec![]),
        ("gp install", vec!["gp".into(), "install".into()], vec![]),
        (
            "gp put-key",
            vec!["gp".into(), "put-key".into(), "--new-key-version".into(), "31".into()],
            vec![("SUBSIM_GP_NEW_KEY", "00112233445566778899AABBCCDDEEFF")],
        ),
    ];
    std::fs::write(sim.file("small.cap"), small_cap()).unwrap();
    // A P-256 private key made elsewhere, for `key import`.
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&secret, p256::pkcs8::LineEnding::LF).unwrap();
    std::fs::write(sim.file("9d.key"), pem.as_bytes()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (command, args, envs) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, j) = sim.json(&args, envs);
        assert_eq!((code, j["ok"].as_bool()), (0, Some(true)), "{command}: {j}");
        let fields = docs.get(*command).unwrap_or_else(|| panic!("docs/cli.md has no row for {command}"));
        let keys: Vec<&String> = j.as_object().unwrap().keys().filter(|k| *k != "ok" && *k != "file").collect();
        for k in &keys {
            assert!(fields.iter().any(|(f, _)| f == *k), "{command}: {k} not in docs/cli.md");
        }
        for (f, optional) in fields {
            assert!(*optional || f == "file" || j.get(f).is_some(), "{command}: documented {f} missing: {j}");
        }
        seen.insert(command.to_string());
    }
    // The flows with a 9C key and certificate, and tx verify.
    sim.key_and_cert("9c", "CN=pay");
    let (_, j) = sim.json(&["tx", "sign", "t.txt", "--out", "t.sig"], &[PIN]);
    assert!(j["signature_base64"].is_string() && j["file"].is_string(), "{j}");
    let (_, j) = sim.json(&["tx", "verify", "t.txt", "--signature-file", "t.sig"], &[]);
    assert_eq!(j["valid"], true);
    seen.extend(["tx sign".to_string(), "tx verify".to_string(), "readers".to_string(), "pin keypad".to_string()]);
    // Last, as it ends the card's life: only GET DATA answers after it.
    let (code, j) = sim.json(&["gp", "terminate-card", "--yes"], &[]);
    assert_eq!((code, j["life_cycle"].as_str()), (0, Some("TERMINATED")), "{j}");
    seen.insert("gp terminate-card".to_string());
    for documented in docs.keys() {
        assert!(seen.contains(documented), "docs/cli.md documents {documented}, untested here");
    }
}

#[test]
fn errors_are_one_line_with_a_code() {
    let sim = Sim::new("errors");
    let err = sim.fails(&["terminate"], &[], 2);
    assert!(err.contains("--yes"), "no --yes, no terminal: refused: {err}");
    let (code, j) = sim.json(&["sign", "9a", "-"], &[PIN]);
    assert_eq!((code, j["exit_code"].as_u64(), j["sw"].as_str()), (1, Some(1), Some("6A88")), "{j}");
    // A reader that is not there: a transport error, exit 3.
    let (code, j) = sim.json(&["--reader", "No Such Reader", "info"], &[]);
    assert_eq!((code, j["kind"].as_str()), (3, Some("transport")), "{j}");
    // A damaged card file is refused, not replaced.
    std::fs::write(sim.file("card.json"), "{ broken").unwrap();
    sim.fails(&["info"], &[], 2);
    assert_eq!(std::fs::read_to_string(sim.file("card.json")).unwrap(), "{ broken");
    sim.fails(&["init"], &[], 2);
    assert_eq!(std::fs::read_to_string(sim.file("card.json")).unwrap(), "{ broken", "init does not replace it either");
}

#[test]
fn the_shell_at_a_terminal_keeps_one_card_session() {
    let sim = Sim::new("shell");
    let mut t = pty::Pty::spawn(sim.cmd(&["shell"]));
    t.expect("subsim> ");
    t.send(b"pin verify\n");
    t.expect("PIN:");
    t.send(b"123456\n");
    t.expect("PIN verified");
    t.expect("subsim> ");
    t.send(b"pin verify --status\n");
    t.expect("PIN verified\r\n");
    t.expect("subsim> ");
    t.send(b"sign 9z\n");
    t.expect("invalid value '9z'");
    t.expect("subsim> ");
    t.send(b"\x04");
    assert_eq!(t.wait(), Some(2), "the last command's code: {}", t.seen);
}

#[test]
fn a_failing_session_line_never_repeats_its_secrets() {
    let sim = Sim::new("session-secrets");
    let lines = [
        ("pin verify --pin 987654", "987654", 1),
        ("mgm set aes128 0123456789abcdef0123456789abcdZZ", "0123456789abcdef", 2),
        ("pin verify --pin \"876543", "876543", 2),
        (
            "bind set 00112233445566778899aabbccddeeff0011223344556677 --mgm-key 0123456789ABCDEF0123456X",
            "0123456789",
            2,
        ),
        // Mistakes the parser quotes: the PIN without --pin, a PIN file run as a session.
        ("pin verify 765432", "765432", 2),
        ("654321", "654321", 2),
        ("pin verify --pin=543210 --days=432109", "432109", 2),
    ];
    for (i, (line, secret, code)) in lines.into_iter().enumerate() {
        let file = format!("s{i}.txt");
        std::fs::write(sim.file(&file), format!("info\n{line}\n")).unwrap();
        for json in [false, true] {
            let args: &[&str] = if json { &["--json", "run", &file] } else { &["run", &file] };
            let o = sim.run(args, &[], b"");
            let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert_eq!(o.status.code(), Some(code), "{line}: {err}");
            assert!(!out.contains(secret) && !err.contains(secret), "{line:?} repeated:\n{out}\n{err}");
            if !json {
                assert!(err.contains(&format!("{file}:2")), "the line is named: {err}");
            }
        }
        let o = sim.run(&["--json", "shell"], &[], format!("{line}\n").as_bytes());
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!out.contains(secret) && !err.contains(secret), "shell: {line:?} repeated:\n{out}\n{err}");
    }
}

#[test]
fn sigterm_ends_a_session_whose_output_nobody_reads() {
    let sim = Sim::new("sigterm-blocked");
    // Far more JSON than a pipe holds; stdout is never read.
    std::fs::write(sim.file("many.txt"), "pin verify --status\n".repeat(20_000)).unwrap();
    let mut child = sim
        .cmd(&["--json", "run", "many.txt"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wchan = format!("/proc/{}/wchan", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&wchan).unwrap_or_default().contains("pipe_write") {
        assert!(std::time::Instant::now() < deadline, "the output never filled the pipe");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGTERM did not end subsim blocked on its output (the card file stayed held)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    sim.ok(&["info"], &[]);
}

#[test]
fn ca_validity_periods_outside_1_to_36500_days_are_refused() {
    let sim = Sim::empty("ca-days");
    for days in ["0", "36501", "4294967295"] {
        let err = sim.fails(&["ca", "init", "--dir", "ca", "--days", days], &[], 2);
        assert!(err.contains("--days"), "{err}");
        assert!(!sim.file("ca").exists(), "--days {days}: a CA was made");
    }
    sim.ok(&["ca", "init", "--dir", "ca", "--days", "36500"], &[]);
    for cmd in [&["ca", "crl", "--dir", "ca"][..], &["ca", "issue", "--dir", "ca", "--role", "login", "req.pem"]] {
        for days in ["0", "4294967295"] {
            let args: Vec<&str> = cmd.iter().copied().chain(["--days", days]).collect();
            let err = sim.fails(&args, &[], 2);
            assert!(err.contains("--days"), "{args:?}: {err}");
        }
    }
}

/// Runs `args` with stdin from `stdin_file`; (exit code, stderr), or a panic after `limit`.
fn bounded_run(sim: &Sim, args: &[&str], stdin_file: &str, limit: std::time::Duration) -> (Option<i32>, String) {
    let mut child = sim
        .cmd(args)
        .stdin(std::fs::File::open(stdin_file).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("subsim {args:?} < {stdin_file} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn endless_session_input_is_refused_at_a_bound() {
    let sim = Sim::new("endless");
    let limit = std::time::Duration::from_secs(10);
    for (args, input) in
        [(&["run", "/dev/zero"][..], "/dev/null"), (&["run", "-"], "/dev/zero"), (&["shell"], "/dev/zero")]
    {
        let (code, err) = bounded_run(&sim, args, input, limit);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("longer than"), "{args:?}: {err}");
    }
    sim.ok(&["info"], &[]);
}

#[test]
fn endless_input_files_are_refused_at_a_bound() {
    let sim = Sim::new("endless-files");
    sim.ok(&["ca", "init", "--dir", "ca"], &[]);
    let limit = std::time::Duration::from_secs(10);
    let cases: [&[&str]; 7] = [
        &["pin", "verify", "--pin-file", "/dev/zero"],
        &["pin", "verify", "--pin-file", "-"],
        &["sign", "9a", "/dev/zero", "--pin-file", "/dev/null"],
        &["cert", "import", "9a", "/dev/zero"],
        &["tx", "verify", "/dev/zero", "--signature-file", "/dev/null"],
        &["ca", "revoke", "--dir", "ca", "/dev/zero"],
        &["ca", "issue", "--dir", "ca", "--role", "login", "-"],
    ];
    for args in cases {
        let (code, err) = bounded_run(&sim, args, "/dev/zero", limit);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("longer than"), "{args:?}: {err}");
    }
    assert_eq!(json(&sim.ok(&["--json", "info"], &[]))["pin_tries"], 3, "no PIN try spent");
}

#[test]
fn a_bad_raw_apdu_is_named_by_its_place_and_header_not_its_data() {
    let sim = Sim::new("apdu-secret");
    // A VERIFY with the PIN 1234 56, made bad two ways; the first APDU is good.
    for bad in ["00200080083132333435363FFFFZ", "0020008008313233343536FF"] {
        let (code, j) = sim.json(&["apdu", "00A4040005A000000308", bad], &[]);
        assert_eq!(code, 2, "{j}");
        let error = j["error"].as_str().unwrap();
        assert!(error.contains("APDU 2") && !error.contains("313233"), "{error}");
    }
}

#[test]
fn empty_or_relative_home_variables_are_ignored_as_unset() {
    let sim = Sim::empty("xdg");
    let home = sim.file("home");
    let cwd = sim.file("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let default = home.join(".local/share/subsim/card.json");
    // XDG base directories: an empty or relative $XDG_DATA_HOME is not a path (it would
    // put the card in whatever folder the command runs from); an empty $SUBSIM_HOME likewise.
    for (subsim_home, xdg) in [(None, Some("")), (None, Some("relative")), (Some(""), None), (Some(""), Some(""))] {
        let mut c = sim.cmd(&["--json", "init"]);
        c.current_dir(&cwd).env("HOME", &home).env_remove("SUBSIM_HOME").env_remove("XDG_DATA_HOME");
        if let Some(v) = subsim_home {
            c.env("SUBSIM_HOME", v);
        }
        if let Some(v) = xdg {
            c.env("XDG_DATA_HOME", v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{subsim_home:?} {xdg:?}: {}", String::from_utf8_lossy(&o.stderr));
        let j = json(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(
            j["file"].as_str(),
            Some(default.to_str().unwrap()),
            "SUBSIM_HOME={subsim_home:?} XDG_DATA_HOME={xdg:?}"
        );
        assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0, "nothing made in the working folder");
    }
}

/// A card that drops the keys' PIN state on every SELECT while VERIFY's
/// status still says verified (PivApplet; YubiKey 4, OpenSC issue 624; the
/// embedded card's lab mode): every private-key operation must come right
/// after its VERIFY, and a 6982 after one gets one more VERIFY and one retry.
#[test]
fn a_card_that_drops_the_pin_state_on_reselect() {
    let sim = Sim::new("drop-pin");
    let drop = ("SUBSIM_SIM_DROP_PIN_ON_RESELECT", "1");
    let pin = ("SUBSIM_PIN", "123456");
    std::fs::write(sim.file("data.txt"), b"pay 1 EUR").unwrap();
    // One command per process: each detects the card's profile (a SELECT) before its VERIFY.
    sim.ok(&["key", "generate", "9a", "--out", "9a.pub"], &[drop]);
    sim.ok(&["cert", "selfsign", "9a", "--subject", "CN=drop", "--pubkey", "9a.pub"], &[drop, pin]);
    sim.ok(&["sign", "9a", "data.txt", "--out", "9a.sig"], &[drop, pin]);
    sim.ok(&["csr", "9a", "--subject", "CN=drop", "--out", "9a.csr"], &[drop, pin]);
    sim.ok(&["login"], &[drop, pin]);
    sim.ok(&["cert", "export", "9a", "--out", "9a.crt"], &[drop]);
    // One session: `info` SELECTs after the login's VERIFY, so the card has
    // dropped the state while its status says verified; the certificate's
    // test signature (the piv profile reads no metadata) then meets 6982.
    let session = "login\ninfo\ncert import 9a 9a.crt\nkey generate 9c --out 9c.pub\n\
                   cert selfsign 9c --subject CN=drop-tx --pubkey 9c.pub\ninfo\ntx sign data.txt --out tx.sig\n\
                   tx verify data.txt --signature-file tx.sig\nlogin\n";
    let o = sim.run(&["-v", "--profile", "piv", "run", "-"], &[drop, pin], session.as_bytes());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("answered 6982 after the PIN was verified") && err.contains("retrying once"), "{err}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("transaction signature valid") && text.matches("login OK").count() == 2, "{text}");
    // The same session on the card as it is: no retry needed, none made.
    let o = sim.run(&["-v", "--profile", "piv", "run", "-"], &[pin], session.as_bytes());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("retrying once"), "{err}");
}

/// The key usage in a DER certificate or request (names, RFC 5280 order).
fn key_usage_of(der: &[u8], request: bool) -> Vec<&'static str> {
    use x509_cert::der::{Decode, Encode};
    use x509_cert::ext::pkix::KeyUsage;
    let ext: Vec<x509_cert::ext::Extension> = if request {
        let req = x509_cert::request::CertReq::from_der(der).unwrap();
        let attr = req.info.attributes.iter().find(|a| a.oid.to_string() == "1.2.840.113549.1.9.14").unwrap();
        let any = attr.values.iter().next().unwrap();
        x509_cert::request::ExtensionReq::from_der(&any.to_der().unwrap()).unwrap().0
    } else {
        x509_cert::Certificate::from_der(der).unwrap().tbs_certificate.extensions.unwrap()
    };
    let ku = ext.iter().find(|e| e.extn_id.to_string() == "2.5.29.15").expect("a keyUsage extension");
    assert!(ku.critical, "keyUsage is critical (RFC 5280, 4.2.1.3)");
    subsim_host::x509::key_usage_names(&KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap())
}

/// `cert selfsign` and `csr` give each slot its PIV key usage (9D: key
/// encipherment for RSA, key agreement for EC, so OpenSC offers ECDH), and
/// `--key-usage` chooses another; openssl reads the same.
#[test]
fn certificates_and_requests_carry_the_slots_key_usage() {
    let sim = Sim::new("key-usage");
    let pin = ("SUBSIM_PIN", "123456");
    let cases: [(&str, &str, &[&str]); 6] = [
        ("9a", "rsa2048", &["digitalSignature"]),
        ("9c", "p256", &["digitalSignature", "nonRepudiation"]),
        ("9d", "rsa2048", &["keyEncipherment"]),
        ("9d", "p384", &["keyAgreement"]),
        ("9e", "p256", &["digitalSignature"]),
        ("82", "p256", &["keyAgreement"]),
    ];
    for (slot, alg, want) in cases {
        sim.ok(&["key", "generate", slot, "--algorithm", alg, "--out", "k.pub"], &[]);
        sim.ok(&["cert", "selfsign", slot, "--subject", "CN=ku", "--pubkey", "k.pub"], &[pin]);
        sim.ok(&["cert", "export", slot, "--format", "der", "--out", "c.der"], &[]);
        let der = std::fs::read(sim.file("c.der")).unwrap();
        assert_eq!(key_usage_of(&der, false), want, "{slot} {alg} certificate");
        sim.ok(&["csr", slot, "--subject", "CN=ku", "--pubkey", "k.pub", "--out", "r.csr"], &[pin]);
        let (_, req) = pem_rfc7468::decode_vec(&std::fs::read(sim.file("r.csr")).unwrap()).unwrap();
        assert_eq!(key_usage_of(&req, true), want, "{slot} {alg} request");
    }
    // Chosen by hand.
    sim.ok(&["key", "generate", "9d", "--algorithm", "p256", "--out", "k.pub"], &[]);
    let args = ["cert", "selfsign", "9d", "--subject", "CN=ku", "--pubkey", "k.pub"];
    sim.ok(&[&args[..], &["--key-usage", "digitalSignature,keyAgreement"]].concat(), &[pin]);
    sim.ok(&["cert", "export", "9d", "--format", "der", "--out", "c.der"], &[]);
    let der = std::fs::read(sim.file("c.der")).unwrap();
    assert_eq!(key_usage_of(&der, false), ["digitalSignature", "keyAgreement"]);
    let err = sim.fails(&[&args[..], &["--key-usage", "sign"]].concat(), &[pin], 2);
    assert!(err.contains("unknown key usage \"sign\""), "{err}");
    if openssl() {
        let o = Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-ext", "keyUsage", "-in"])
            .arg(sim.file("c.der"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("critical") && text.contains("Digital Signature, Key Agreement"), "{text}");
    }
}

// ---- the new user's rough edges (issue 22): host/tests/ux/mod.rs ---------------------------

#[path = "ux/mod.rs"]
mod ux;

/// A small CAP file (a ZIP of components, as a converter writes it), for `gp load`.
fn small_cap() -> Vec<u8> {
    use std::io::Write;
    let c = |tag: u8, info: &[u8]| [&[tag][..], &(info.len() as u16).to_be_bytes(), info].concat();
    let pkg = [0xA0, 0, 0, 0, 0x62, 3, 7];
    let header = [&[0xDE, 0xCA, 0xFF, 0xED, 1, 2, 0, 0, 1, 7][..], &pkg].concat();
    let applet = [&[1, 8][..], &[0xA0, 0, 0, 0, 0x62, 3, 7, 1], &[0, 1]].concat();
    let parts = [
        ("Header", c(1, &header)),
        ("Directory", c(2, &[0; 20])),
        ("Import", c(4, &[0])),
        ("Applet", c(3, &applet)),
        ("Class", c(6, &[0; 4])),
        ("Method", c(7, &[0; 50])),
        ("StaticField", c(8, &[0; 10])),
        ("ConstantPool", c(5, &[0; 6])),
        ("RefLocation", c(9, &[0; 4])),
    ];
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in parts {
        w.start_file(format!("small/javacard/{name}.cap"), zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn gp_refusals_are_explained_and_keys_never_echoed() {
    let sim = Sim::new("gp-refusals");
    sim.ok(&["init"], &[]);
    let key = "00112233445566778899AABBCCDDEEFF";
    let err = sim.fails(&["gp", "list"], &[("SUBSIM_GP_KEY", key)], 4);
    assert!(err.contains("card cryptogram") && err.contains("no try was spent"), "{err}");
    assert!(!err.to_uppercase().contains(key), "the key is not echoed: {err}");
    let err = sim.fails(&["gp", "lock-card"], &[], 2);
    assert!(err.contains("--yes"), "{err}");
    sim.fails(&["gp", "lock", "A0XYZ"], &[], 2);
    let err = sim.fails(&["gp", "install"], &[], 1);
    assert!(err.contains("delete it first"), "{err}");
    std::fs::write(sim.file("not.cap"), b"not a zip").unwrap();
    let err = sim.fails(&["gp", "load", "not.cap"], &[], 2);
    assert!(err.contains("not a CAP file"), "{err}");
    let err = sim.fails(&["gp", "list", "--level", "02"], &[], 2);
    assert!(err.contains("00 01 03 11 13 33"), "{err}");
}
