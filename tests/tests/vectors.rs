//! Declarative conformance vectors: every `tests/vectors/*.vectors` file,
//! one APDU each with the answers its clause allows (format: the comment at
//! the top of `tests/vectors/piv.vectors`). Lab engineers add cases there
//! without writing Rust.

use std::io::Write;
use std::path::Path;

use applet_spec::Sw;
use subsim_conformance::vectors::{matches, parse, vector_files, Vector};
use subsim_conformance::*;

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
