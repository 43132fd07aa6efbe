//! Declarative conformance vectors: every `tests/vectors/*.vectors` file,
//! one APDU each with the answers its clause allows (format: the comment at
//! the top of `tests/vectors/piv.vectors`). Lab engineers add cases there
//! without writing Rust.

use std::io::Write;
use std::path::{Path, PathBuf};

use applet_spec::Sw;
use subsim_conformance::*;

#[derive(Debug, Default, Clone)]
struct Vector {
    file: String,
    name: String,
    clause: String,
    profile: Option<Profile>,
    fresh: bool,
    login: String,
    send: String,
    expect: Vec<String>,
    variants: Vec<String>,
    data: Option<Vec<u8>>,
}

/// Parses one file; a malformed line is an error naming file and line.
fn parse(path: &Path) -> Result<Vec<Vector>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let mut out: Vec<Vector> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", n + 1);
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Vector { file: file.clone(), name: name.to_string(), login: "none".into(), ..Default::default() });
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| format!("{}: expected key = value", at()))?;
        let v = out.last_mut().ok_or_else(|| format!("{}: a [name] line first", at()))?;
        let value = value.trim().to_string();
        let words = || value.split_whitespace().map(str::to_uppercase).collect::<Vec<_>>();
        match key.trim() {
            "clause" => v.clause = value,
            "profile" => v.profile = Some(value.parse().map_err(|e| format!("{}: {e}", at()))?),
            "card" => {
                v.fresh = match value.as_str() {
                    "fresh" => true,
                    "live" => false,
                    _ => return Err(format!("{}: card is live or fresh", at())),
                }
            }
            "login" if ["none", "pin", "admin"].contains(&value.as_str()) => v.login = value,
            "send" => v.send = value,
            "expect" => v.expect = words(),
            "variants" => v.variants = words(),
            "data" => v.data = Some(hex::decode(value.replace(' ', "")).map_err(|e| format!("{}: {e}", at()))?),
            other => return Err(format!("{}: unknown key {other:?}", at())),
        }
    }
    for v in &out {
        let ok = v.profile.is_some() && !v.clause.is_empty() && !v.expect.is_empty();
        let sws_ok = v
            .expect
            .iter()
            .chain(&v.variants)
            .all(|s| s.len() == 4 && s.chars().all(|c| c.is_ascii_hexdigit() || c == 'X'));
        let apdu_ok = hex::decode(v.send.replace(' ', "")).is_ok_and(|a| a.len() >= 4);
        if !(ok && sws_ok && apdu_ok) {
            return Err(format!(
                "{file}: [{}] needs clause, profile, send (hex APDU) and expect (4 hex digits or X)",
                v.name
            ));
        }
        if !v.fresh && v.login != "none" {
            return Err(format!("{file}: [{}]: login needs card = fresh", v.name));
        }
    }
    Ok(out)
}

/// Whether a status word matches a pattern like `63CX`.
fn matches(sw: Sw, pattern: &str) -> bool {
    let got = format!("{:04X}", sw.0);
    got.chars().zip(pattern.chars()).all(|(g, p)| p == 'X' || g == p)
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vectors"))
        .collect();
    files.sort();
    files
}

/// Runs one vector; `Err` says how it failed.
fn run(v: &Vector, card: &mut Card) -> Result<(), String> {
    let r = match try_raw(card, &v.send) {
        Ok(r) => r,
        // OMAPI lets an app select only its own applet: such vectors are the card's, not an app's.
        Err(e) if on_phone() => {
            let _ = writeln!(std::io::stderr(), "vector [{}] in {} not run through the phone: {e}", v.name, v.file);
            return Ok(());
        }
        Err(e) => panic!("[{}] {}: transport: {e}", v.name, v.send),
    };
    let label = format!("[{}] {}", v.name, v.send);
    if v.expect.iter().any(|p| matches(r.sw, p)) {
    } else if v.variants.iter().any(|p| matches(r.sw, p)) && !card.has(Profile::Subsim) {
        finding(&label, r.sw, &v.clause, &format!("the clause asks for {}", v.expect.join("/")));
    } else {
        return Err(format!("{label}: the card answered {}; {} allows {}", r.sw, v.clause, v.expect.join("/")));
    }
    if let Some(prefix) = &v.data {
        if (r.sw == Sw::OK || r.sw.remaining().is_some()) && !r.data.starts_with(prefix) {
            return Err(format!("{label}: answer {:02X?} does not start with {:02X?} [{}]", r.data, prefix, v.clause));
        }
    }
    Ok(())
}

#[test]
fn every_vector_file_parses() {
    let files = vector_files();
    assert!(!files.is_empty(), "no tests/vectors/*.vectors");
    for f in files {
        let vectors = parse(&f).unwrap();
        assert!(!vectors.is_empty(), "{}: no vectors", f.display());
    }
    assert!(parse(Path::new("/nonexistent.vectors")).is_err());
}

#[test]
fn the_parser_refuses_what_it_cannot_run() {
    let dir = std::env::temp_dir().join(format!("subsim-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, why) in [
        ("[a]\nclause = c\nprofile = piv\ncard = live\nsend = 00 20 00 80\n", "no expect"),
        ("[a]\nclause = c\nprofile = card\ncard = live\nsend = 00\nexpect = 9000\n", "unknown profile"),
        (
            "[a]\nclause = c\nprofile = piv\ncard = live\nlogin = pin\nsend = 00 20 00 80\nexpect = 9000\n",
            "login on live",
        ),
        ("[a]\nclause = c\nprofile = piv\ncard = live\nsend = 00 20 00 80\nexpect = 90\n", "short SW"),
        ("clause = c\n", "no name"),
    ] {
        let f = dir.join("bad.vectors");
        std::fs::write(&f, text).unwrap();
        assert!(parse(&f).is_err(), "{why}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches(Sw(0x63C2), "63CX") && !matches(Sw(0x6983), "63CX"));
}

#[test]
fn live_vectors() {
    let all: Vec<Vector> = vector_files().iter().flat_map(|f| parse(f).unwrap()).filter(|v| !v.fresh).collect();
    // One card for every live vector: they change nothing.
    let mut card = live_card!(Profile::Piv);
    let mut failures = Vec::new();
    for v in &all {
        let need = v.profile.unwrap();
        if !card.has(need) {
            let _ = writeln!(std::io::stderr(), "vector [{}] in {} not run: needs the {need} profile", v.name, v.file);
            continue;
        }
        if let Err(e) = run(v, &mut card) {
            failures.push(e);
        }
        card.select().unwrap();
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn fresh_vectors() {
    let all: Vec<Vector> = vector_files().iter().flat_map(|f| parse(f).unwrap()).filter(|v| v.fresh).collect();
    let mut failures = Vec::new();
    // Skipped as a whole where the card may not be wiped.
    let mut first = Some(fresh_card!(Profile::Piv));
    let profile = first.as_ref().unwrap().profile.clone();
    for v in &all {
        let need = v.profile.unwrap();
        if !profile.has(need) {
            let _ = writeln!(std::io::stderr(), "vector [{}] in {} not run: needs the {need} profile", v.name, v.file);
            continue;
        }
        // A factory-fresh card for each: they may change it.
        let Some(mut card) = first.take().or_else(|| try_card(Needs::fresh(need))) else { continue };
        match v.login.as_str() {
            "pin" => card.verify_pin(b"123456").unwrap(),
            "admin" => admin(&mut card),
            _ => {}
        }
        if let Err(e) = run(v, &mut card) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
}
