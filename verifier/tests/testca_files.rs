//! The test CA's directory on disk: its private key stays the owner's
//! alone, whatever was at its name before (a world-readable file, a planted
//! symlink), and each file is replaced whole.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::SystemTime;

use subsim_verifier::TestCa;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn the_ca_key_is_private_whatever_was_at_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new").join("ca");
    let ca = TestCa::new("CN=Files", SystemTime::now(), 10).unwrap();
    ca.save(&dir).unwrap();
    let key = dir.join("ca-key.pem");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&dir) & 0o077, 0, "a new CA directory is the owner's alone");
    // A key file left world-readable (an older tool, a careless copy): the new key is not written into it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    ca.save(&dir).unwrap();
    assert_eq!(mode(&key), 0o600, "the key was written into a 0644 file");
    // A symlink planted at the key's name: never followed, the victim untouched.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&victim, &key).unwrap();
    ca.save(&dir).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me", "the CA key went through the planted link");
    assert!(std::fs::symlink_metadata(&key).unwrap().is_file());
    assert_eq!(mode(&key), 0o600);
    // Nothing else left behind, and the CA reads back.
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["README.txt", "ca-key.pem", "ca.pem", "state.json"]);
    let back = TestCa::open(&dir).unwrap();
    assert_eq!(back.certificate().to_der().unwrap(), ca.certificate().to_der().unwrap());
    assert_eq!(std::fs::metadata(dir.join("ca.pem")).unwrap().uid(), std::fs::metadata(&key).unwrap().uid());
}
