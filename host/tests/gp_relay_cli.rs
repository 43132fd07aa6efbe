//! The issuer's remote operations through an untrusted phone, as separate
//! processes: `subsim relay` (the phone, on a TCP socket, honest or
//! hostile) between `subsim issuer` (SCP03 at level 33: C-MAC,
//! C-DECRYPTION, R-MAC, R-ENCRYPTION) and the simulated card. Every hostile
//! move ends in a refusal or a failed answer check the issuer is told of,
//! and the card holds what the last authenticated command left (Amendment D
//! 7.1.3: a command whose C-MAC does not verify is refused and ends the
//! session). The same moves in process: tests/tests/gp_relay.rs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_subsim");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("subsim-gp-relay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `subsim --sim card relay --once` doing `hostile`; its address.
fn relay(card: &Path, hostile: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--sim")
        .arg(card)
        .args(["relay", "--listen", "127.0.0.1:0", "--once", "--hostile", hostile])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the relay says where it listens").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(',').next().unwrap().to_string();
        }
    };
    (child, addr)
}

/// `subsim --json issuer --via ADDR op...`: exit code and JSON.
fn issuer(addr: &str, op: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(BIN)
        .args(["--json", "issuer", "--via", addr])
        .args(op)
        .env_remove("SUBSIM_GP_KEY")
        .output()
        .unwrap();
    let j = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{op:?}: {e}: {out:?}"));
    (out.status.code().unwrap(), j)
}

/// One issuer command through one relay doing `hostile`; the relay ends with it.
fn through(card: &Path, hostile: &str, op: &[&str]) -> (i32, serde_json::Value) {
    let (mut child, addr) = relay(card, hostile);
    let r = issuer(&addr, op);
    assert!(child.wait().unwrap().success(), "the relay ends after its connection");
    r
}

/// The sub-SIM instance's state, read by the issuer in a new session through an honest relay.
fn subsim_state(card: &Path) -> String {
    let (code, j) = through(card, "honest", &["status"]);
    assert_eq!(code, 0, "{j}");
    j["subsim"].as_str().unwrap().to_string()
}

fn fresh(name: &str) -> (PathBuf, PathBuf) {
    let d = dir(name);
    let card = d.join("card.json");
    let ok = Command::new(BIN).arg("--sim").arg(&card).arg("init").output().unwrap();
    assert!(ok.status.success(), "{ok:?}");
    (d, card)
}

#[test]
fn the_issuer_locks_unlocks_wipes_and_reinstalls_through_an_honest_relay() {
    let (d, card) = fresh("honest");
    assert_eq!(subsim_state(&card), "selectable");
    assert_eq!(through(&card, "honest", &["lock"]).0, 0);
    assert_eq!(subsim_state(&card), "locked");
    assert_eq!(through(&card, "honest", &["unlock"]).0, 0);
    assert_eq!(subsim_state(&card), "selectable");
    // The remote wipe: DELETE of the instance under the issuer's keys.
    let (code, j) = through(&card, "honest", &["wipe", "--yes"]);
    assert_eq!((code, j["deleted"].as_bool()), (0, Some(true)), "{j}");
    assert_eq!(subsim_state(&card), "absent");
    // The wiped card's PIV is gone for the phone too.
    let out = Command::new(BIN).arg("--sim").arg(&card).args(["--json", "info"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "no PIV after the wipe: {out:?}");
    assert_eq!(through(&card, "honest", &["install"]).0, 0);
    assert_eq!(subsim_state(&card), "selectable");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn every_hostile_move_ends_in_a_refusal_or_a_failed_check_and_the_card_as_last_authenticated() {
    let (d, card) = fresh("hostile");
    // (move, exit code, what the issuer is told, the state after the issuer's `lock`)
    let cases = [
        // The C-MAC fails: refused (6982), nothing done.
        ("alter-command", 1, "refused", "selectable"),
        // The lock ran (authentic); the R-MAC check tells the answer is not the card's.
        ("alter-answer", 3, "failed its check", "locked"),
        // The original ran; the copy's MAC is stale: refused.
        ("replay", 1, "refused", "locked"),
        // The relay's own plain SET STATUS is refused and ends the session: neither lock ran.
        ("inject", 1, "refused", "selectable"),
        // The lock ran; no answer: the issuer is told its fate is unknown.
        ("drop-answer", 3, "unknown", "locked"),
    ];
    for (hostile, want_code, told, after) in cases {
        let (code, j) = through(&card, hostile, &["lock"]);
        let error = j["error"].as_str().unwrap_or_default();
        assert_eq!(code, want_code, "{hostile}: {j}");
        assert!(error.contains(told), "{hostile}: {j}");
        assert_eq!(subsim_state(&card), after, "{hostile}");
        // Back to the start for the next move.
        assert_eq!(through(&card, "honest", &["unlock"]).0, 0);
    }
    // A hostile relay cannot wipe: an altered DELETE is refused, the sub-SIM stays.
    let (code, _) = through(&card, "alter-command", &["wipe", "--yes"]);
    assert_eq!(code, 1);
    assert_eq!(subsim_state(&card), "selectable");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn the_relay_never_learns_the_issuer_keys_wrong_keys_stop_before_a_try() {
    let (d, card) = fresh("keys");
    let (mut child, addr) = relay(&card, "honest");
    let key = d.join("isd.hex");
    std::fs::write(&key, "00112233445566778899AABBCCDDEEFF").unwrap();
    let out = Command::new(BIN)
        .args(["--json", "issuer", "--via", &addr, "--key-file"])
        .arg(&key)
        .arg("lock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "the card cryptogram does not verify: {out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("00112233"), "the key is never echoed");
    assert!(child.wait().unwrap().success());
    assert_eq!(subsim_state(&card), "selectable");
    std::fs::remove_dir_all(d).unwrap();
}
