//! Issue 22: what tripped a new user, each a test that failed before.
//! Part of the `cli` test target (it uses its `Sim` and `pty`).

use super::*;

fn tries(sim: &Sim) -> u64 {
    sim.json(&["info"], &[]).1["pin_tries"].as_u64().unwrap()
}

#[test]
fn destructive_commands_ask_or_need_yes_and_pin_retries_checks_its_range_first() {
    let sim = Sim::new("ux-confirm");
    let err = sim.fails(&["pin", "retries", "16", "5", "--yes"], &[PIN], 2);
    assert!(err.contains("1..=15"), "{err}");
    let err = sim.fails(&["pin", "retries", "5", "5"], &[PIN], 2);
    assert!(err.contains("confirm with --yes") && err.contains("factory values"), "{err}");
    assert_eq!(tries(&sim), 3, "nothing done");
    sim.ok(&["pin", "retries", "5", "4", "-f"], &[PIN]);
    assert_eq!(tries(&sim), 5);
    sim.ok(&["pin", "set-retries", "4", "4", "--force"], &[PIN]);
    assert_eq!(tries(&sim), 4);
    // The same rule for the other commands that reset or destroy.
    sim.key_and_cert("9a", "CN=gone");
    for args in [&["reset"][..], &["terminate"], &["cert", "delete", "9a"]] {
        let err = sim.fails(args, &[], 2);
        assert!(err.contains("confirm with --yes (or -f, --force)"), "{args:?}: {err}");
    }
    let o = sim.ok(&["cert", "delete", "9a", "--yes"], &[]);
    assert!(o.contains("CN=gone") && o.contains("deleted"), "{o}");
    sim.fails(&["cert", "export", "9a"], &[], 1);
}

#[test]
fn local_checks_come_before_the_card() {
    let sim = Sim::new("ux-local");
    sim.ok(&["key", "generate", "9a"], &[]);
    let wrong_pin = ("SUBSIM_PIN", "000000");
    let err = sim.fails(&["csr", "9a", "--subject", "Bob"], &[wrong_pin], 2);
    assert!(err.contains("subject \"Bob\"") && !err.contains("signing on the card"), "{err}");
    let err = sim.fails(&["cert", "selfsign", "9a", "--subject", "Bob"], &[wrong_pin], 2);
    assert!(err.contains("CN=Alice"), "how to write it: {err}");
    assert_eq!(tries(&sim), 3, "no PIN try spent on a bad subject");
    let err = sim.fails(&["bind", "present", PHONE], &[], 2);
    assert!(err.contains("bound to no device"), "{err}");
    let err = sim.fails(&["bind", "set", "0011"], &[], 2);
    assert!(err.contains("16 to 64 bytes") && !err.contains("6A80"), "{err}");
    for typed in [&b"\n"[..], b"abc\n", b"12\n"] {
        let o = sim.run(&["pin", "keypad"], &[], typed);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("6A8") && (err.contains("typed") || err.contains("not a key")), "{err}");
    }
    assert_eq!(tries(&sim), 3, "no PIN try spent on keys that cannot be a PIN");
}

#[test]
fn messages_say_what_happened_and_an_empty_slot_is_one_outcome() {
    let sim = Sim::new("ux-messages");
    sim.ok(&["key", "generate", "9a", "--algorithm", "p256"], &[]);
    let rsa = sim.ok(&["key", "generate", "9d"], &[]);
    std::fs::write(sim.file("9d.pub"), rsa).unwrap();
    let err = sim.fails(&["csr", "9a", "--subject", "CN=x", "--pubkey", "9d.pub"], &[PIN], 2);
    assert!(err.contains("slot 9A holds a p256 key") && !err.contains("holds no key"), "{err}");
    for args in [&["csr", "83", "--subject", "CN=x"][..], &["key", "public", "83"], &["key", "attest", "83"]] {
        let (code, j) = sim.json(args, &[PIN]);
        let e = j["error"].as_str().unwrap();
        assert_eq!((code, j["sw"].as_str()), (1, Some("6A88")), "{args:?}: {j}");
        assert!(e.contains("slot 83 holds no key") && !e.contains("GET METADATA"), "{args:?}: {j}");
        assert!(!j["hint"].as_str().unwrap().contains("printed"), "{j}");
    }
    let (code, j) = sim.json(&["cert", "export", "9c"], &[]);
    assert_eq!((code, j["sw"].as_str()), (1, Some("6A82")), "{j}");
    assert!(j["hint"].as_str().unwrap().contains("`subsim cert import 9c FILE`"), "the code span holds FILE: {j}");
    sim.fails(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], 1);
    let err = sim.fails(&["pin", "verify"], &[("SUBSIM_PIN", "000000")], 1);
    assert!(err.contains("1 try left"), "{err}");
    let info = sim.ok(&["info"], &[]);
    assert!(!info.contains("change counter") && !info.contains("binding none ("), "{info}");
    let keys = sim.ok(&["key", "info"], &[]);
    assert!(!keys.contains("pin: pin") && keys.contains("PIN: factory value"), "{keys}");
}

#[test]
fn secrets_come_from_prompts_files_or_the_environment_and_arguments_are_warned_about() {
    let sim = Sim::new("ux-secrets");
    let aes = "00112233445566778899aabbccddeeff";
    // The new management key from the environment: no warning, nothing on the command line.
    let o = sim.run(&["mgm", "set", "aes128"], &[("SUBSIM_NEW_MGM_KEY", aes)], b"");
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stderr).contains("visible"), "{o:?}");
    std::fs::write(sim.file("mgm.hex"), format!("{aes}\n")).unwrap();
    let o = sim.run(&["mgm", "auth", "--mgm-key-file", "mgm.hex"], &[], b"");
    assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sim.run(&["mgm", "auth", "--mgm-key", aes], &[], b"");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("visible to other users"), "{o:?}");
    // As an argument: it works, with the warning; in a `run` file there is no command line to warn about.
    std::fs::write(sim.file("s.txt"), format!("pin verify --pin 123456\nmgm auth --mgm-key {aes}\n")).unwrap();
    let o = sim.run(&["run", "s.txt"], &[], b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("visible"), "{err}");
    // An empty variable is no value.
    let err = sim.fails(&["pin", "verify"], &[("SUBSIM_PIN", "")], 2);
    assert!(err.contains("no PIN"), "{err}");
    // A generated key is shown once, and works.
    let (code, j) = sim.json(&["mgm", "set", "aes256", "--generate"], &[("SUBSIM_MGM_KEY", aes)]);
    assert_eq!(code, 0, "{j}");
    let key = j["new_key_hex"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    sim.ok(&["mgm", "auth"], &[("SUBSIM_MGM_KEY", &key)]);
    // The binding from a file or the environment.
    std::fs::write(sim.file("phone.hex"), PHONE).unwrap();
    sim.ok(&["bind", "set", "--binding-file", "phone.hex"], &[("SUBSIM_MGM_KEY", &key)]);
    sim.ok(&["bind", "present"], &[("SUBSIM_BINDING", PHONE)]);
}

#[test]
fn a_pin_protected_management_key_is_stored_as_ykman_stores_it() {
    let sim = Sim::new("ux-protect");
    let o = sim.ok(&["mgm", "set", "aes192", "--generate", "--protect"], &[PIN]);
    assert!(o.contains("PIN-protected"), "{o}");
    let admin = sim.run(&["object", "export", "admin_data", "--out", "-"], &[], b"");
    assert_eq!(admin.stdout, [0x80, 0x03, 0x81, 0x01, 0x02], "5FFF00: flags, key stored");
    let (_, j) = sim.json(&["object", "export", "printed"], &[PIN]);
    let printed = base64_decode(j["data_base64"].as_str().unwrap());
    assert_eq!(&printed[..4], &[0x88, 26, 0x89, 24], "5FC109: 88 {{ 89 <AES-192 key> }}: {j}");
    // From now on the PIN unlocks the management key.
    sim.ok(&["key", "generate", "9e", "--algorithm", "p256"], &[PIN]);
    let key = hex(&printed[4..]);
    sim.ok(&["mgm", "auth"], &[("SUBSIM_MGM_KEY", &key)]);
    // Unprotected again: the stored key is removed and the flag cleared.
    sim.ok(&["mgm", "set", "3des"], &[PIN, ("SUBSIM_NEW_MGM_KEY", &"01".repeat(24))]);
    let admin = sim.run(&["object", "export", "admin_data", "--out", "-"], &[], b"");
    assert_eq!(admin.stdout, [0x80, 0x03, 0x81, 0x01, 0x00]);
}

fn base64_decode(s: &str) -> Vec<u8> {
    let o = Command::new("base64").arg("-d").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    o.stdin.as_ref().unwrap().write_all(s.as_bytes()).unwrap();
    o.wait_with_output().unwrap().stdout
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn objects_by_tag_and_chuid_ccc_generated() {
    let sim = Sim::new("ux-objects");
    sim.ok(&["object", "generate", "chuid"], &[]);
    sim.ok(&["objects", "generate", "ccc"], &[]);
    let list = sim.ok(&["object", "list"], &[]);
    assert!(list.contains("5FC102") && list.contains("chuid") && list.contains("5FC107"), "{list}");
    std::fs::write(sim.file("v.bin"), [1u8, 2, 3]).unwrap();
    sim.ok(&["object", "import", "5fc10c", "v.bin"], &[]);
    let o = sim.run(&["object", "export", "key_history", "--out", "-"], &[], b"");
    assert_eq!(o.stdout, [1, 2, 3]);
    let err = sim.fails(&["object", "import", "7e", "v.bin"], &[], 2);
    assert!(err.contains("cannot be written"), "{err}");
    let (code, j) = sim.json(&["object", "export", "security"], &[]);
    assert_eq!((code, j["sw"].as_str()), (1, Some("6A82")), "{j}");
}

#[test]
fn rough_edges() {
    let sim = Sim::new("ux-edges");
    // No 100 ms floor under a fast card's key generation (P-256 on the simulated card).
    let fastest = (0..3)
        .map(|_| sim.json(&["key", "generate", "9e", "--algorithm", "p256"], &[]).1["seconds"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert!(fastest < 0.1, "the progress thread holds generation back: {fastest} s");
    // A key generated over a certificate: warned, and info and login say so.
    sim.key_and_cert("9a", "CN=old");
    let o = sim.run(&["key", "generate", "9a", "--algorithm", "p256"], &[], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds the old key"), "{o:?}");
    let info = sim.ok(&["info"], &[]);
    assert!(info.contains("CN=old") && info.contains("STALE"), "{info}");
    let err = sim.fails(&["login"], &[("SUBSIM_PIN", "000000")], 2);
    assert!(err.contains("another key than the slot's"), "{err}");
    assert_eq!(tries(&sim), 3, "refused before the PIN");
    // ykman's slot names, any case.
    for (name, slot) in [("KEY_MANAGEMENT", "9D"), ("card_auth", "9E"), ("Card_Auth", "9E")] {
        assert_eq!(sim.json(&["key", "info", name], &[]).1["slot"], slot, "{name}");
    }
    // A card file others may change.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sim.file("card.json"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = sim.run(&["info"], &[], b"");
    assert!(String::from_utf8_lossy(&o.stderr).contains("chmod 600"), "{o:?}");
    std::fs::set_permissions(sim.file("card.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = sim.run(&["info"], &[], b"");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("chmod"), "{o:?}");
}

#[test]
fn a_certificate_in_a_keyless_retired_slot_is_in_info() {
    let sim = Sim::new("ux-retired");
    let pem = sim.ok(&["key", "generate", "9c"], &[]);
    let Some(crt) = issue(&sim, &pem, "r") else { return };
    sim.ok(&["cert", "import", "85", &crt.display().to_string(), "--no-check"], &[]);
    let info = sim.ok(&["info"], &[]);
    assert!(info.contains("certificate 85: CN=r") && info.contains("no key in the slot"), "{info}");
}

#[test]
fn the_demo_says_how_to_use_the_card_it_leaves() {
    let sim = Sim::empty("ux-demo");
    let o = sim.ok(&["--sim", "kept.json", "demo"], &[]);
    assert!(o.contains(&format!("bound to the device value {PHONE}")), "{o}");
    sim.ok(&["--sim", "kept.json", "bind", "clear"], &[]);
    let (_, j) = sim.json(&["--sim", "kept.json", "info"], &[]);
    assert_eq!(j["binding"], "none", "{j}");
}

#[test]
fn binary_results_are_not_written_to_a_terminal() {
    let sim = Sim::new("ux-binary");
    sim.key_and_cert("9a", "CN=bin");
    let mut t = pty::Pty::spawn(sim.cmd(&["cert", "export", "9a", "--format", "der"]));
    t.expect("binary");
    assert_eq!(t.wait(), Some(2), "{}", t.seen);
    std::fs::write(sim.file("data.txt"), "data").unwrap();
    let mut c = sim.cmd(&["sign", "9a", "data.txt", "--output", "raw"]);
    c.env("SUBSIM_PIN", "123456");
    let mut t = pty::Pty::spawn(c);
    t.expect("binary");
    assert_eq!(t.wait(), Some(2), "{}", t.seen);
}

#[test]
fn key_import_reads_der_encrypted_pkcs8_and_pkcs12() {
    let sim = Sim::new("ux-import");
    if !openssl() {
        return;
    }
    let sh = |script: &str| {
        let o = Command::new("sh").args(["-e", "-c", script]).current_dir(&sim.home).output().unwrap();
        assert!(o.status.success(), "{script}: {}", String::from_utf8_lossy(&o.stderr));
    };
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER -out ec.der");
    let o = sim.ok(&["key", "import", "9d", "ec.der"], &[]);
    assert!(o.contains("p256 key imported into 9D"), "{o}");
    // Encrypted PKCS#8, PEM and DER: the password from a file, the environment, never an argument.
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -aes-128-cbc -pass pass:s3cret -out enc.pem");
    sh("openssl pkcs8 -topk8 -in enc.pem -passin pass:s3cret -v2 aes-128-cbc -passout pass:s3cret -outform DER -out enc.der");
    std::fs::write(sim.file("pass.txt"), "s3cret\n").unwrap();
    let err = sim.fails(&["key", "import", "9e", "enc.pem"], &[], 2);
    assert!(err.contains("--password-file") && err.contains("SUBSIM_KEY_PASSWORD"), "{err}");
    let err = sim.fails(&["key", "import", "9e", "enc.pem"], &[("SUBSIM_KEY_PASSWORD", "wrong")], 2);
    assert!(err.contains("password does not open"), "{err}");
    sim.ok(&["key", "import", "9e", "enc.pem", "--password-file", "pass.txt"], &[]);
    let o = sim.ok(&["key", "import", "82", "enc.der"], &[("SUBSIM_KEY_PASSWORD", "s3cret")]);
    assert!(o.contains("p384 key imported into 82"), "{o}");
    // PKCS#12: the key and its certificate, stored together.
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout p.key -out p.crt -subj /CN=p12 -days 2 && \
        openssl pkcs12 -export -inkey p.key -in p.crt -passout pass:s3cret -out p.p12");
    let o = sim.ok(&["key", "import", "9c", "p.p12", "--password-file", "pass.txt"], &[]);
    assert!(o.contains("rsa2048 key imported into 9C") && o.contains("certificate for CN=p12 stored"), "{o}");
    assert!(sim.ok(&["info"], &[]).contains("certificate 9C: CN=p12"));
    std::fs::write(sim.file("t.txt"), "transfer").unwrap();
    let sig = sim.ok(&["tx", "sign", "t.txt"], &[PIN]);
    sim.ok(&["tx", "verify", "t.txt", "--signature", sig.trim()], &[]);
}

#[test]
fn the_shell_edits_lines_keeps_history_and_ctrl_c_cancels_only_the_line() {
    let sim = Sim::new("ux-shell");
    let mut t = pty::Pty::spawn(sim.cmd(&["shell"]));
    t.expect("subsim> ");
    t.send(b"pin verify --status\r");
    t.expect("PIN not verified, 3 tries left");
    t.expect("subsim> ");
    // Ctrl-C drops what is typed; the session goes on.
    t.send(b"reset --yes");
    t.send(b"\x03");
    t.expect("line cancelled");
    t.expect("subsim> ");
    // Up arrow: the last line again; Ctrl-A and a word typed at the start of the line.
    t.send(b"\x1b[A\r");
    t.expect("PIN not verified, 3 tries left");
    t.expect("subsim> ");
    t.send(b"--status\x01pin verify \r");
    t.expect("PIN not verified, 3 tries left");
    t.expect("subsim> ");
    t.send(b"pin verify --pin 123456\r");
    t.expect("PIN verified");
    t.expect("subsim> ");
    t.send(b"\x04");
    assert_eq!(t.wait(), Some(0), "Ctrl-D ends it: {}", t.seen);
    assert!(!t.seen.contains("reset:"), "the cancelled line did not run: {}", t.seen);
    let history = std::fs::read_to_string(sim.file("shell_history")).unwrap();
    assert!(history.contains("pin verify --status") && !history.contains("123456"), "{history}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(sim.file("shell_history")).unwrap().permissions().mode() & 0o777, 0o600);
    // The next shell has it: up arrow recalls the last line kept.
    let mut t = pty::Pty::spawn(sim.cmd(&["shell"]));
    t.expect("subsim> ");
    t.send(b"\x1b[A\r");
    t.expect("PIN not verified");
    // Ctrl-D only once the shell reads again: typed while the command runs, the
    // terminal is in cooked mode and the end-of-file may be lost to the next prompt.
    t.expect("subsim> ");
    t.send(b"\x04");
    assert_eq!(t.wait(), Some(0), "{}", t.seen);
}

/// A card that tells nothing of a slot's key (no GET METADATA: `--profile
/// piv`, as on piv-authenticator) is asked for RSA-2048; an EC key there
/// is refused, and the words say why, not "holds no key".
#[test]
fn a_key_the_card_does_not_describe_is_not_called_missing() {
    let sim = Sim::new("ux-undescribed");
    let pem = sim.ok(&["--profile", "piv", "key", "generate", "9a", "--algorithm", "p256"], &[]);
    std::fs::write(sim.file("9a.pub"), pem).unwrap();
    std::fs::write(sim.file("data.txt"), "data").unwrap();
    let err = sim.fails(&["--profile", "piv", "sign", "9a", "data.txt"], &[PIN], 1);
    assert!(err.contains("does not tell slot 9A's key") && !err.contains("holds no key"), "{err}");
    assert!(err.contains("cert selfsign 9a"), "{err}");
    // With its certificate the card tells the key, and the signature is ECDSA.
    sim.ok(&["--profile", "piv", "cert", "selfsign", "9a", "--subject", "CN=x", "--pubkey", "9a.pub"], &[PIN]);
    sim.ok(&["--profile", "piv", "sign", "9a", "data.txt"], &[PIN]);
}

/// ykman's `certificates request SLOT PUBLIC-KEY CSR-OUTPUT -s SUBJECT`
/// is `subsim cert request` (= `subsim csr`), in ykman's words too.
#[test]
fn cert_request_is_csr_by_ykmans_name() {
    let sim = Sim::new("ux-request");
    let pem = sim.ok(&["key", "generate", "9a", "--algorithm", "p256"], &[]);
    std::fs::write(sim.file("9a.pub"), pem).unwrap();
    sim.ok(&["cert", "request", "9a", "9a.pub", "9a.csr", "-s", "CN=Alice"], &[PIN]);
    let csr = std::fs::read_to_string(sim.file("9a.csr")).unwrap();
    assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{csr}");
    let (code, j) = sim.json(&["cert", "request", "9a", "--subject", "CN=Bob"], &[PIN]);
    assert_eq!((code, j["subject"].as_str()), (0, Some("CN=Bob")), "{j}");
    assert!(j["csr_pem"].as_str().unwrap().contains("CERTIFICATE REQUEST"), "{j}");
    let err = sim.fails(&["cert", "request", "9a", "9a.pub", "--pubkey", "9a.pub", "-s", "CN=x"], &[PIN], 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// docs/cli.md's table of tasks beside ykman: every `subsim` command it
/// names runs, in the table's order, on a fresh card.
#[test]
fn every_command_of_the_ykman_task_table_runs() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md")).unwrap();
    let table = doc.split("<!-- ykman-tasks -->").nth(1).expect("the task table");
    let rows: Vec<Vec<String>> = table
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    assert!(rows.len() >= 20, "{rows:?}");
    let sim = Sim::new("ux-tasks");
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&secret, p256::pkcs8::LineEnding::LF).unwrap();
    std::fs::write(sim.file("key.pem"), pem.as_bytes()).unwrap();
    let envs = [PIN, ("SUBSIM_NEW_PIN", "123456"), ("SUBSIM_PUK", "12345678"), ("SUBSIM_NEW_PUK", "12345678")];
    for row in &rows {
        let (task, ykman, ours) = (&row[1], &row[2], &row[3]);
        assert!(ykman.starts_with("`ykman piv ") || ykman == "(none)", "{task}: {ykman}");
        let command = ours.split('`').nth(1).unwrap_or_else(|| panic!("{task}: no subsim command"));
        let words = shlex::split(command).unwrap();
        assert_eq!(words[0], "subsim", "{task}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let o = sim.run(&args, &envs, b"");
        assert!(o.status.success(), "{task}: `{command}`: {}", String::from_utf8_lossy(&o.stderr));
    }
}
