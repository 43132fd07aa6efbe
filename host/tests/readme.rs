//! The README's walkthrough and then its bank's side, run as written: the
//! shell blocks after the `readme-walkthrough` and `readme-bank` markers, in
//! that order in one shell, in a fresh directory, with the `subsim` just
//! built first on PATH and the PIN in `$SUBSIM_PIN` (the prompt's stand-in).
//! Every `# says: TEXT` of a line must be what the program printed (stdout
//! or stderr), `...` standing for anything, in the order the lines run.

use std::process::Command;

fn block(readme: &str, marker: &str) -> String {
    let after = readme.split(marker).nth(1).unwrap_or_else(|| panic!("the {marker} marker"));
    after.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block").to_string()
}

/// The `# says:` claims of a block, each split at `...`.
fn claims(block: &str) -> Vec<Vec<String>> {
    block
        .lines()
        .filter_map(|l| l.split("# says: ").nth(1))
        .map(|c| c.split("...").map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
        .collect()
}

/// Whether `output` holds every claim, in order, each claim's parts in order.
fn says(output: &str, claims: &[Vec<String>]) -> Result<(), String> {
    let mut at = 0;
    for claim in claims {
        for part in claim {
            match output[at..].find(part.as_str()) {
                Some(i) => at += i + part.len(),
                None => return Err(format!("the README says {part:?} (of {claim:?}); not printed there")),
            }
        }
    }
    Ok(())
}

#[test]
fn claims_are_matched_in_order() {
    let c = claims("a # says: x ... z\nb\nc # says: q");
    assert_eq!(c, vec![vec!["x".to_string(), "z".to_string()], vec!["q".to_string()]]);
    assert!(says("x y z q", &c).is_ok());
    assert!(says("q x y z", &c).is_err(), "out of order");
    assert!(says("x y q", &c).is_err(), "z missing");
}

#[test]
fn the_readme_walkthrough_and_the_banks_side_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let walkthrough = block(&readme, "<!-- readme-walkthrough -->");
    let bank = block(&readme, "<!-- readme-bank -->");
    assert!(walkthrough.contains("subsim tx verify") && bank.contains("--crl"), "{walkthrough}\n{bank}");
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: the_readme_walkthrough_and_the_banks_side_run_as_written: needs openssl (Debian: openssl)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("subsim-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_subsim")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    // One shell, stderr into the same stream: the claims are about what a reader sees, in order.
    let script = format!("exec 2>&1\n{walkthrough}\n{bank}\n");
    let o = Command::new("sh")
        .args(["-e", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env("SUBSIM_PIN", "123456")
        .env_remove("SUBSIM_HOME")
        .env_remove("SUBSIM_MGM_KEY")
        .env_remove("SUBSIM_PROFILE")
        .env_remove("SUBSIM_BINDING")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let (walkthrough_crt, bank_crt) = (std::fs::read(dir.join("9a.crt")), std::fs::read(dir.join("9a-bank.crt")));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "the README's blocks failed:\n{out}");
    let all: Vec<Vec<String>> = [claims(&walkthrough), claims(&bank)].concat();
    assert!(all.len() >= 6, "{all:?}");
    if let Err(e) = says(&out, &all) {
        panic!("{e}:\n{out}");
    }
    assert!(!out.contains("not checked"), "the certificate was checked against the slot's key: {out}");
    let (walkthrough_crt, bank_crt) = (walkthrough_crt.unwrap(), bank_crt.unwrap());
    assert!(
        walkthrough_crt.starts_with(b"-----BEGIN CERTIFICATE") && walkthrough_crt != bank_crt,
        "9a.crt not overwritten"
    );
}
