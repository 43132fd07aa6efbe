//! `subsim --phone --app-cert CERT ...`: a command run as that Android app
//! would run it, refused until the card's access rules name the app, and
//! `subsim rules` writing those rules.

use std::process::Command;

fn subsim(home: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_subsim"))
        .args(["--json"])
        .args(args)
        .env("SUBSIM_HOME", home)
        .env_remove("SUBSIM_MGM_KEY")
        .env_remove("SUBSIM_PROFILE")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"));
    (out.status.code().unwrap(), json)
}

#[test]
fn an_app_gets_in_only_once_a_rule_names_it() {
    let dir = std::env::temp_dir().join(format!("subsim-phone-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Any DER bytes stand for the app's certificate: the rule names their hash.
    let cert = dir.join("app.der");
    std::fs::write(&cert, [0x30, 0x03, 0x02, 0x01, 0x07]).unwrap();
    let cert = cert.to_str().unwrap();
    assert_eq!(subsim(&dir, &["init"]).0, 0);
    let (code, j) = subsim(&dir, &["--phone", "--app-cert", cert, "pin", "verify", "--status"]);
    assert_eq!((code, j["kind"].as_str()), (1, Some("access_denied")), "{j}");
    assert!(j["error"].as_str().unwrap().contains("SecurityException"), "{j}");
    assert_eq!(subsim(&dir, &["rules", "add", "--app-cert", cert]).0, 0);
    let (code, j) = subsim(&dir, &["--phone", "--app-cert", cert, "pin", "verify", "--status"]);
    assert_eq!((code, j["verified"].as_bool()), (0, Some(false)), "{j}");
    // A rule that allows GET DATA only: VERIFY stops at the phone.
    assert_eq!(subsim(&dir, &["rules", "remove", "--app-cert", cert]).0, 0);
    let filter = ["rules", "add", "--app-cert", cert, "--access", "filters", "--filter", "00CB3FFF/00FFFFFF"];
    assert_eq!(subsim(&dir, &filter).0, 0);
    let (code, j) = subsim(&dir, &["--phone", "--app-cert", cert, "pin", "verify", "--status"]);
    assert_eq!(code, 1, "{j}");
    assert!(j["error"].as_str().unwrap().contains("00 20 00 80"), "{j}");
    let (_, j) = subsim(&dir, &["rules", "list"]);
    assert_eq!(j["rules"][0]["apdu"], "filters", "{j}");
    // Rules are the issuer's: not through the phone, and not without the card's key.
    assert_eq!(subsim(&dir, &["--phone", "--app-cert", cert, "rules", "list"]).0, 2);
    let (code, _) = subsim(&dir, &["rules", "remove", "--every", "--mgm-key", &"11".repeat(24)]);
    assert_eq!(code, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
