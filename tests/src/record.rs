//! What a run leaves behind besides pass and fail: skips with their reason,
//! findings with their clause, the card met, and what each test needs.
//!
//! Every record goes to stderr (libtest would capture it in a passing test
//! otherwise) and, when `SUBSIM_REPORT_DIR` is set, as one JSON line to
//! `$SUBSIM_REPORT_DIR/events.jsonl`, which `conformance report` turns into
//! the per-card report and JUnit XML. Lines are appended with one write each,
//! so test binaries running one after another share the file.

use std::io::Write;

use applet_spec::Sw;
use serde_json::{json, Value};

/// The running test's name (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// The test binary's name: `pin` for `target/debug/deps/pin-0123abcd`.
pub fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("?");
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem.to_string(),
    }
}

/// Appends one event (with the test and binary names) to the events file.
pub fn event(kind: &str, mut fields: Value) {
    let Ok(dir) = std::env::var("SUBSIM_REPORT_DIR") else { return };
    if dir.is_empty() {
        return;
    }
    if let Value::Object(map) = &mut fields {
        map.insert("event".into(), kind.into());
        map.insert("binary".into(), binary_name().into());
        map.insert("test".into(), test_name().into());
    }
    let _ = std::fs::create_dir_all(&dir);
    let path = std::path::Path::new(&dir).join("events.jsonl");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(format!("{fields}\n").as_bytes());
    }
}

/// Says a test is skipped, and why. Written straight to stderr: libtest
/// captures `eprintln!` in passing tests, which would hide the message.
/// scripts/test counts these lines.
pub fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {}: {why}", test_name());
    event("skip", json!({ "reason": why }));
}

/// Records a finding: the card chose an answer the standard leaves room for,
/// or a common vendor behaviour. The test goes on.
pub fn finding(command: &str, sw: Sw, clause: &str, note: &str) {
    let _ = writeln!(std::io::stderr(), "FINDING: {}: {command} -> {sw}: {note} [{clause}]", test_name());
    event(
        "finding",
        json!({ "command": command, "sw": format!("{:04X}", sw.0), "meaning": sw.to_string(), "clause": clause, "note": note }),
    );
}

/// Records what a test needs before it meets the card.
pub fn needs(profile: &str, destructive: bool) {
    event("needs", json!({ "profile": profile, "destructive": destructive }));
}
