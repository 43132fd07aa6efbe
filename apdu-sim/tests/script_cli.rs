//! The `apdu-sim script` program: output format, state file, errors, pipes.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_apdu-sim");
const SELECT: &str = "00 A4 04 00 05 A0 00 00 03 08";
const WRONG_PIN: &str = "00 20 00 80 08 39 39 39 39 39 39 FF FF";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apdu-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the script program on `input` (stdin); returns exit code, stdout, stderr.
fn run(args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("script")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The program may refuse to start (a broken state file) before reading any input.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn one_uppercase_answer_per_command_line() {
    let input = format!("# a comment\n\n{SELECT}   # select\n00 fd 00 00\n{WRONG_PIN}\n");
    let (code, out, _) = run(&["--seed", "1"], &input);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("61") && lines[0].ends_with("9000"));
    assert_eq!(lines[1], format!("{}9000", hex::encode_upper(applet_spec::piv::VERSION)));
    assert_eq!(lines[2], "63C2");
    assert_eq!(out, out.to_uppercase());
}

#[test]
fn reads_a_script_file_and_a_seed_makes_it_reproducible() {
    let dir = temp_dir("file");
    let script = dir.join("s.apdu");
    std::fs::write(&script, format!("{SELECT}\n00 F8 00 00\n80 30 00 00\n")).unwrap();
    let path = script.to_str().unwrap();
    let (code, a, _) = run(&[path, "--seed", "9"], "");
    let (_, b, _) = run(&[path, "--seed", "9"], "");
    let (_, c, _) = run(&[path, "--seed", "10"], "");
    assert_eq!(code, 0);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn state_persists_between_runs() {
    let dir = temp_dir("state");
    let state = dir.join("card.json");
    let s = state.to_str().unwrap();
    let input = format!("{SELECT}\n{WRONG_PIN}\n");
    assert_eq!(run(&["--state", s], &input).1.lines().last(), Some("63C2"));
    assert!(state.exists());
    // The try counter and the card's identity survive.
    let (_, out, _) = run(&["--state", s], &format!("{SELECT}\n{WRONG_PIN}\n00 F8 00 00\n"));
    let (_, again, _) = run(&["--state", s], &format!("{SELECT}\n00 F8 00 00\n"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "63C1");
    assert_eq!(lines[2], again.lines().nth(1).unwrap(), "same serial");
}

#[test]
fn a_bad_line_names_itself_and_keeps_the_writes_answered_before_it() {
    let dir = temp_dir("bad");
    let state = dir.join("card.json");
    let s = state.to_str().unwrap();
    // Two wrong PINs answered, then a line that is not hex.
    let (code, out, err) = run(&["--state", s], &format!("{SELECT}\n{WRONG_PIN}\n{WRONG_PIN}\n00 2G\n{SELECT}\n"));
    assert_eq!(code, 2);
    assert!(err.contains("line 4") && err.contains("00 2G"), "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>()[1..], ["63C2", "63C1"], "lines before the error were answered");
    let saved = apdu_sim::persist::load(&state).unwrap().unwrap();
    assert_eq!(saved.pin.tries_left, 1, "both answered tries are spent on disk");
    // A card is created when its file is opened (its identity is durable
    // from the start), whatever the script holds.
    let fresh = dir.join("new.json");
    run(&["--state", fresh.to_str().unwrap()], "zz\n");
    assert_eq!(apdu_sim::persist::load(&fresh).unwrap().unwrap().pin.tries_left, 3);
}

#[test]
fn a_broken_state_file_is_refused() {
    let dir = temp_dir("broken");
    let state = dir.join("card.json");
    std::fs::write(&state, "{ not json").unwrap();
    let (code, _, err) = run(&["--state", state.to_str().unwrap()], &format!("{SELECT}\n"));
    assert_eq!(code, 2);
    assert!(err.contains("card.json"), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "{ not json");
}

#[test]
fn answers_flow_line_by_line_through_pipes() {
    // Each answer must arrive before the next command is written.
    let mut child =
        Command::new(BIN).args(["script", "--seed", "3"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for (cmd, want_end) in [(SELECT, "9000"), ("00 20 00 80", "63C3"), ("80 30 00 00", "9000")] {
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert!(line.trim_end().ends_with(want_end), "{cmd} -> {line}");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn tear_at_write_cuts_power_and_keeps_what_was_written() {
    let dir = temp_dir("tear");
    let state = dir.join("card.json");
    let s = state.to_str().unwrap();
    let right_pin = "00 20 00 80 08 31 32 33 34 35 36 FF FF";
    // VERIFY makes writes 1 (counter down) and 2 (counter back): cut at 2.
    let (code, out, err) =
        run(&["--state", s, "--tear-at-write", "2"], &format!("{SELECT}\n{right_pin}\n00 FD 00 00\n"));
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "only SELECT answered: {out}");
    assert!(err.contains("power cut at persistent write 2 during line 2"), "{err}");
    // The spent try is on the card.
    let (_, out, _) = run(&["--state", s], &format!("{SELECT}\n00 20 00 80\n"));
    assert_eq!(out.lines().nth(1), Some("63C2"));
    // A cut that never comes is said so.
    let (_, _, err) = run(&["--state", s, "--tear-at-write", "50"], &format!("{SELECT}\n"));
    assert!(err.contains("never came"), "{err}");
}

#[test]
fn timing_profiles_are_named_and_checked() {
    let o = Command::new(BIN).args(["--timing", "nonesuch", "script"]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("jcop4") && err.contains("secora"), "{err}");
    // A profile slows only the chip's work: a session without it answers as usual.
    let (code, out, _) = run(&["--seed", "1"], &format!("{SELECT}\n00 FD 00 00\n"));
    let mut child = Command::new(BIN)
        .args(["--timing", "secora", "--reader-bps", "115200", "script", "--seed", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{SELECT}\n00 FD 00 00\n").as_bytes()).unwrap();
    let timed = child.wait_with_output().unwrap();
    assert_eq!((code, out), (0, String::from_utf8(timed.stdout).unwrap()));
}

#[test]
fn help_gives_the_exit_code_a_held_card_file_really_gets() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let want = format!("{} the state file is in use", apdu_sim::cardfile::EXIT_IN_USE);
    assert!(help.contains(&want), "{want:?} not in the help:\n{help}");
}

#[test]
fn a_huge_line_is_refused_bounded_and_the_answered_writes_stay() {
    let dir = temp_dir("huge");
    let state = dir.join("card.json");
    let s = state.to_str().unwrap();
    // 3 MB of hex and then 3 MB of junk, neither ending: read up to the cap, never echoed whole.
    for junk in ["A", "z"] {
        let input = format!("{SELECT}\n{WRONG_PIN}\n{}", junk.repeat(3_000_000));
        let (code, out, err) = run(&["--state", s], &input);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("line 3") && err.len() < 400,
            "the line named, not echoed whole: {}",
            &err[..err.len().min(400)]
        );
        assert!(out.ends_with("63C2\n") || out.ends_with("63C1\n"), "{out}");
    }
    assert_eq!(apdu_sim::persist::load(&state).unwrap().unwrap().pin.tries_left, 1, "both answered tries are on disk");
    // The longest extended APDU, spaced out, is not a huge line.
    let mut longest = String::from("00 DB 3F FF 00 FF FF");
    longest.push_str(&" 00".repeat(65_535));
    let (code, out, err) = run(&[], &format!("{SELECT}\n{longest}\n"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn a_script_that_cannot_be_read_makes_no_card() {
    let dir = temp_dir("noscript");
    let state = dir.join("new.json");
    let missing = dir.join("missing.apdu");
    let (code, _, err) = run(&[missing.to_str().unwrap(), "--state", state.to_str().unwrap()], "");
    assert_eq!(code, 2);
    assert!(err.contains("missing.apdu"), "{err}");
    assert!(!state.exists(), "a card file was made for a script that never ran");
}

#[test]
fn past_the_file_size_limit_the_card_stops_with_a_message_not_a_signal() {
    use std::os::unix::process::ExitStatusExt;
    let dir = temp_dir("xfsz");
    let state = dir.join("card.json");
    let (code, _, err) = run(&["--state", state.to_str().unwrap()], &format!("{SELECT}\n"));
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(&state).unwrap();
    // A wrong PIN is a write; `ulimit -f 1` (512 bytes) makes the save fail.
    // No `trap '' XFSZ`: apdu-sim itself must not die of the signal.
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -f 1; exec \"$@\"", "sh", BIN, "script", "--state"])
        .arg(&state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(format!("{SELECT}\n{WRONG_PIN}\n").as_bytes());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), None, "killed by a signal: {err}");
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("card.json"), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("63C"), "a try was answered though its write failed");
    assert_eq!(std::fs::read(&state).unwrap(), before, "the card file is as it was");
}
