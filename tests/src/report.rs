//! The per-card conformance report (JSON and Markdown) and JUnit XML, built
//! from libtest's output (which test passed or failed, and why) and the
//! events the suite recorded (the card, what each test needs, skips with
//! their reason, findings with their clause).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::Profile;

/// One test's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub command: String,
    pub sw: String,
    pub meaning: String,
    pub clause: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The test file (binary): `pin` for tests/tests/pin.rs.
    pub file: String,
    pub name: String,
    /// The profile the test needs (`piv`, `yubico`, `subsim`), `sim` for
    /// in-process-only tests, `-` for tests that meet no card.
    pub needs: String,
    pub destructive: bool,
    pub outcome: Outcome,
    /// Why it was skipped, or how it failed.
    pub reason: Option<String>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub suite: String,
    pub suite_version: String,
    pub date: String,
    /// The card met (the first `card` event): target, ATR, serial, profile...
    pub card: Value,
    pub summary: Counts,
    /// Counts per needed profile.
    pub by_profile: BTreeMap<String, Counts>,
    pub findings: usize,
    pub tests: Vec<TestResult>,
}

/// The test file a cargo "Running" line names: `pin` for
/// "Running tests/pin.rs (target/debug/deps/pin-0123abcd)".
fn running_file(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("Running ")?;
    if rest.starts_with("unittests") {
        let exe = rest.rsplit('/').next().unwrap_or("?").trim_end_matches(')');
        return Some(exe.rsplit_once('-').map_or(exe, |(n, _)| n).to_string());
    }
    let path = rest.split_whitespace().next().unwrap_or("?");
    Some(std::path::Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string())
}

/// libtest's output: (file, test, outcome, failure text). Cargo prints its
/// "Running <file>" lines on stderr (`cargo_err`), libtest one "running N
/// tests" line per binary on stdout, in the same order.
fn parse_log(log: &str, cargo_err: &str) -> Vec<(String, String, Outcome, Option<String>)> {
    let mut out: Vec<(String, String, Outcome, Option<String>)> = Vec::new();
    let mut files = cargo_err.lines().filter_map(running_file);
    let mut file = String::from("?");
    let mut failure: Option<(String, String)> = None;
    let flush = |failure: &mut Option<(String, String)>, out: &mut Vec<(String, String, Outcome, Option<String>)>| {
        if let Some((name, text)) = failure.take() {
            if let Some(t) = out.iter_mut().rev().find(|t| t.1 == name && t.2 == Outcome::Failed) {
                // The message, without a backtrace RUST_BACKTRACE may have added.
                let text = text.split("\nstack backtrace:").next().unwrap_or(&text);
                t.3 = Some(text.trim().to_string());
            }
        }
    };
    for line in log.lines() {
        if let Some(f) = running_file(line) {
            // A log with cargo's lines in it.
            flush(&mut failure, &mut out);
            file = f;
        } else if line.starts_with("running ") && line.ends_with(" tests") || line == "running 1 test" {
            flush(&mut failure, &mut out);
            if let Some(f) = files.next() {
                file = f;
            }
        } else if let Some(name) = line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----")) {
            flush(&mut failure, &mut out);
            failure = Some((name.to_string(), String::new()));
        } else if line == "failures:" || line.starts_with("test result:") {
            flush(&mut failure, &mut out);
        } else if let Some((_, text)) = failure.as_mut() {
            text.push_str(line);
            text.push('\n');
        } else if let Some(rest) = line.strip_prefix("test ") {
            let Some((name, result)) = rest.rsplit_once(" ... ") else { continue };
            let outcome = match result.trim() {
                "ok" => Outcome::Passed,
                "FAILED" => Outcome::Failed,
                r if r.starts_with("ignored") => Outcome::Skipped,
                _ => continue,
            };
            out.push((file.clone(), name.to_string(), outcome, None));
        }
    }
    flush(&mut failure, &mut out);
    out
}

/// Builds the report from libtest's stdout, cargo's stderr and the events
/// file's lines.
pub fn build(log: &str, cargo_err: &str, events: &str, suite_version: &str, date: &str) -> Report {
    let events: Vec<Value> = events.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let of = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut card = events.iter().find(|e| of(e, "event") == "card").cloned().unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut card {
        // Where the event came from is not a property of the card.
        for k in ["event", "binary", "test"] {
            fields.remove(k);
        }
    }
    let mut tests = Vec::new();
    for (file, name, mut outcome, mut reason) in parse_log(log, cargo_err) {
        let mine: Vec<&Value> = events.iter().filter(|e| of(e, "binary") == file && of(e, "test") == name).collect();
        let needs = mine.iter().find(|e| of(e, "event") == "needs");
        let skip = mine.iter().find(|e| of(e, "event") == "skip");
        if outcome == Outcome::Passed {
            if let Some(s) = skip {
                outcome = Outcome::Skipped;
                reason = Some(of(s, "reason"));
            }
        } else if outcome == Outcome::Skipped && reason.is_none() {
            reason = Some("ignored".into());
        }
        let findings = mine
            .iter()
            .filter(|e| of(e, "event") == "finding")
            .map(|e| Finding {
                command: of(e, "command"),
                sw: of(e, "sw"),
                meaning: of(e, "meaning"),
                clause: of(e, "clause"),
                note: of(e, "note"),
            })
            .collect();
        tests.push(TestResult {
            file,
            name,
            needs: needs.map_or("-".into(), |e| of(e, "profile")),
            destructive: needs.and_then(|e| e.get("destructive")).and_then(Value::as_bool).unwrap_or(false),
            outcome,
            reason,
            findings,
        });
    }
    let mut summary = Counts::default();
    let mut by_profile: BTreeMap<String, Counts> = BTreeMap::new();
    for t in &tests {
        summary.add(t.outcome);
        by_profile.entry(t.needs.clone()).or_default().add(t.outcome);
    }
    let findings = tests.iter().map(|t| t.findings.len()).sum();
    Report {
        suite: "subsim-conformance".into(),
        suite_version: suite_version.into(),
        date: date.into(),
        card,
        summary,
        by_profile,
        findings,
        tests,
    }
}

/// The profiles in report order: narrowest first, then the rest.
fn profile_order(name: &str) -> usize {
    Profile::ALL.iter().position(|p| p.name() == name).unwrap_or(Profile::ALL.len() + usize::from(name == "-"))
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// One line per profile: "piv: 40 passed, 0 failed, 2 skipped".
    pub fn profile_lines(&self) -> Vec<String> {
        let mut names: Vec<&String> = self.by_profile.keys().collect();
        names.sort_by_key(|n| profile_order(n));
        names
            .into_iter()
            .map(|n| {
                let c = &self.by_profile[n];
                format!("{n}: {} passed, {} failed, {} skipped", c.passed, c.failed, c.skipped)
            })
            .collect()
    }

    pub fn to_markdown(&self) -> String {
        let c = |k: &str| match self.card.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "-".into(),
        };
        let mut md = String::new();
        let _ = writeln!(md, "# Conformance report: {}\n", c("target"));
        let _ = writeln!(md, "| | |\n|---|---|");
        for (label, key) in [
            ("Card", "target"),
            ("Profile", "profile_detail"),
            ("Detected", "detected"),
            ("Forced (SUBSIM_PROFILE)", "forced"),
            ("Version (GET VERSION)", "version"),
            ("Serial", "serial"),
            ("CHUID GUID", "guid"),
            ("ATR", "atr"),
            ("Reset mode", "reset"),
        ] {
            let _ = writeln!(md, "| {label} | {} |", c(key).replace('|', "\\|"));
        }
        let _ = writeln!(md, "| Date | {} |", self.date);
        let _ = writeln!(md, "| Suite | {} {} |", self.suite, self.suite_version);
        let s = &self.summary;
        let _ = writeln!(
            md,
            "\n**{} passed, {} failed, {} skipped; {} findings.**\n",
            s.passed, s.failed, s.skipped, self.findings
        );
        let _ = writeln!(md, "| Profile needed | Passed | Failed | Skipped |\n|---|---|---|---|");
        for line in self.profile_lines() {
            let (name, _) = line.split_once(':').unwrap_or((&line, ""));
            let n = &self.by_profile[name];
            let _ = writeln!(md, "| {name} | {} | {} | {} |", n.passed, n.failed, n.skipped);
        }
        let all: Vec<(&TestResult, &Finding)> =
            self.tests.iter().flat_map(|t| t.findings.iter().map(move |f| (t, f))).collect();
        if !all.is_empty() {
            let _ = writeln!(md, "\n## Findings\n\nAnswers the standard leaves room for, or common vendor behaviour:");
            let _ = writeln!(md, "not failures.\n\n| Test | Command | Answer | Clause | Note |\n|---|---|---|---|---|");
            for (t, f) in all {
                let _ = writeln!(
                    md,
                    "| {}::{} | `{}` | {} | {} | {} |",
                    t.file,
                    t.name,
                    f.command,
                    f.meaning,
                    f.clause,
                    f.note.replace('|', "\\|")
                );
            }
        }
        let failed: Vec<&TestResult> = self.tests.iter().filter(|t| t.outcome == Outcome::Failed).collect();
        if !failed.is_empty() {
            let _ = writeln!(md, "\n## Failures\n");
            for t in failed {
                let _ = writeln!(md, "### {}::{}\n\n```\n{}\n```\n", t.file, t.name, t.reason.as_deref().unwrap_or(""));
            }
        }
        let _ = writeln!(md, "\n## Every test\n\n| Test | Needs | Outcome | Why |\n|---|---|---|---|");
        for t in &self.tests {
            let outcome = match t.outcome {
                Outcome::Passed => "passed",
                Outcome::Failed => "**FAILED**",
                Outcome::Skipped => "skipped",
            };
            let why = match t.outcome {
                Outcome::Skipped => t.reason.clone().unwrap_or_default(),
                Outcome::Failed => "see Failures".into(),
                Outcome::Passed => String::new(),
            };
            let needs = if t.destructive { format!("{} (changes the card)", t.needs) } else { t.needs.clone() };
            let _ = writeln!(md, "| {}::{} | {needs} | {outcome} | {} |", t.file, t.name, why.replace('|', "\\|"));
        }
        md
    }

    /// JUnit XML: one testsuite per test file, skips with their reason,
    /// failures with the panic message, findings in system-out.
    pub fn to_junit(&self) -> String {
        let mut files: Vec<&str> = self.tests.iter().map(|t| t.file.as_str()).collect();
        files.dedup();
        let s = &self.summary;
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" timestamp=\"{}\">",
            esc(&self.suite),
            self.tests.len(),
            s.failed,
            s.skipped,
            esc(&self.date)
        );
        for file in files {
            let tests: Vec<&TestResult> = self.tests.iter().filter(|t| t.file == file).collect();
            let count = |o| tests.iter().filter(|t| t.outcome == o).count();
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
                esc(file),
                tests.len(),
                count(Outcome::Failed),
                count(Outcome::Skipped)
            );
            let _ = writeln!(x, "    <properties>");
            if let Value::Object(card) = &self.card {
                for (k, v) in card {
                    if v.is_null() {
                        continue;
                    }
                    let v = v.as_str().map_or(v.to_string(), str::to_string);
                    let _ = writeln!(x, "      <property name=\"card.{}\" value=\"{}\"/>", esc(k), esc(&v));
                }
            }
            let _ = writeln!(x, "    </properties>");
            for t in tests {
                let _ = write!(
                    x,
                    "    <testcase name=\"{}\" classname=\"conformance.{}.{}\">",
                    esc(&t.name),
                    esc(file),
                    esc(&t.needs)
                );
                match t.outcome {
                    Outcome::Passed => {}
                    Outcome::Skipped => {
                        let _ = write!(x, "<skipped message=\"{}\"/>", esc(t.reason.as_deref().unwrap_or("")));
                    }
                    Outcome::Failed => {
                        let text = t.reason.as_deref().unwrap_or("failed");
                        let first = text.lines().find(|l| !l.starts_with("thread ")).unwrap_or(text);
                        let _ = write!(x, "<failure message=\"{}\">{}</failure>", esc(first), esc(text));
                    }
                }
                if !t.findings.is_empty() {
                    let lines: Vec<String> = t
                        .findings
                        .iter()
                        .map(|f| format!("FINDING: {} -> {}: {} [{}]", f.command, f.meaning, f.note, f.clause))
                        .collect();
                    let _ = write!(x, "<system-out>{}</system-out>", esc(&lines.join("\n")));
                }
                let _ = writeln!(x, "</testcase>");
            }
            let _ = writeln!(x, "  </testsuite>");
        }
        x.push_str("</testsuites>\n");
        x
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// Today's date (UTC) as `YYYY-MM-DDTHH:MM:SSZ`, from the system clock.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERR: &str = "   Compiling x\n     Running tests/pin.rs (target/debug/deps/pin-0123abcd)\nSKIPPED: x\n";
    const LOG: &str = "running 3 tests
test verify_right_pin ... ok
test wrong_pins ... FAILED
test keypad_thing ... ok

failures:

---- wrong_pins stdout ----
thread 'wrong_pins' panicked at tests/tests/pin.rs:3:5:
VERIFY: the card answered 6A80 & <more>
stack backtrace:
   0: x


failures:
    wrong_pins

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    const EVENTS: &str = r#"{"event":"card","binary":"pin","test":"verify_right_pin","target":"sim","profile":"subsim"}
{"event":"needs","binary":"pin","test":"verify_right_pin","profile":"piv","destructive":true}
{"event":"finding","binary":"pin","test":"verify_right_pin","command":"00 20","sw":"6983","meaning":"6983 (blocked)","clause":"SP 800-73-4 Part 2, 3.2.1","note":"n"}
{"event":"needs","binary":"pin","test":"wrong_pins","profile":"piv","destructive":true}
{"event":"needs","binary":"pin","test":"keypad_thing","profile":"subsim","destructive":true}
{"event":"skip","binary":"pin","test":"keypad_thing","reason":"needs the subsim profile"}
not json
"#;

    #[test]
    fn outcomes_skips_findings_and_counts_per_profile() {
        let r = build(LOG, ERR, EVENTS, "0.1.0", "2026-01-01T00:00:00Z");
        let by: Vec<(&str, Outcome)> = r.tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
        assert_eq!(
            by,
            [
                ("verify_right_pin", Outcome::Passed),
                ("wrong_pins", Outcome::Failed),
                ("keypad_thing", Outcome::Skipped)
            ]
        );
        assert!(r.tests[1].reason.as_deref().unwrap().ends_with("6A80 & <more>"));
        assert_eq!(r.tests[2].reason.as_deref(), Some("needs the subsim profile"));
        assert_eq!(r.findings, 1);
        assert_eq!(r.profile_lines(), ["piv: 1 passed, 1 failed, 0 skipped", "subsim: 0 passed, 0 failed, 1 skipped"]);
        let md = r.to_markdown();
        assert!(md.contains("| pin::verify_right_pin | `00 20` | 6983 (blocked) | SP 800-73-4 Part 2, 3.2.1 | n |"));
        let xml = r.to_junit();
        assert!(xml.contains("<failure message=\"VERIFY: the card answered 6A80 &amp; &lt;more&gt;\">"));
        assert!(xml.contains("<skipped message=\"needs the subsim profile\"/>"));
        let json: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!((json["card"]["profile"].as_str(), json["card"].get("test")), (Some("subsim"), None));
    }

    #[test]
    fn dates_are_civil() {
        let d = now_utc();
        assert_eq!(d.len(), 20, "{d}");
        assert!(d.starts_with("20") && d.ends_with('Z'));
    }
}
