//! The README's walkthrough, run as written: the shell block after the
//! `readme-walkthrough` marker, in a fresh directory, with the `subsim`
//! just built first on PATH and the PIN in `$SUBSIM_PIN` (the prompt's
//! stand-in).

use std::process::Command;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = readme.split("<!-- readme-walkthrough -->").nth(1).expect("the walkthrough marker");
    let block = after.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block");
    assert!(block.contains("subsim tx verify"), "{block}");
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: the_readme_walkthrough_runs_as_written: needs openssl (Debian: openssl)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("subsim-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_subsim")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("sh")
        .args(["-e", "-c", block])
        .current_dir(&dir)
        .env("PATH", path)
        .env("SUBSIM_PIN", "123456")
        .env_remove("SUBSIM_HOME")
        .env_remove("SUBSIM_MGM_KEY")
        .env_remove("SUBSIM_PROFILE")
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "the walkthrough failed:\n{out}\n{err}");
    for said in ["created: a fresh card", "login OK: CN=Alice,O=Bank", "transaction signature valid"] {
        assert!(out.contains(said), "{said:?} missing:\n{out}\n{err}");
    }
    assert!(!err.contains("not checked"), "the certificate was checked against the slot's key: {err}");
}
