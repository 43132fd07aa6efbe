//! The test CA's directory on disk: one state file holding everything,
//! held by one process at a time, replaced whole; published files 0644 and
//! the state 0600 whatever the umask; no symlink followed; reads bounded;
//! serials and CRL numbers never reused or wrapped; revocation by issuer
//! and serial.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use subsim_verifier::ca_dir::{CaDirectory, STATE_FILE};
use subsim_verifier::testca::parse_name;
use subsim_verifier::{CaError, Role, TestCa};

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn new_ca() -> Result<TestCa, CaError> {
    TestCa::new("CN=Files", SystemTime::now(), 10)
}

fn request() -> Vec<u8> {
    let key = openssl::pkey::PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut b = openssl::x509::X509ReqBuilder::new().unwrap();
    b.set_subject_name(&parse_name("CN=Req").unwrap()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
    b.build().to_pem().unwrap()
}

#[test]
fn the_ca_is_one_private_state_file_and_public_copies_whatever_the_umask() {
    // SAFETY: umask(2) cannot fail; this test binary has this one test.
    unsafe { libc::umask(0) };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new").join("ca");
    let (mut held, made) = CaDirectory::create(&dir, Duration::ZERO, false, new_ca).unwrap();
    assert!(made);
    assert_eq!(mode(&dir.join(STATE_FILE)), 0o600, "the state holds the key");
    assert_eq!(mode(&dir) & 0o077, 0, "a new CA directory is the owner's alone");
    assert_eq!(mode(&dir.join("ca.pem")), 0o644);
    assert_eq!(names(&dir), ["README.txt", "ca.json", "ca.pem"]);
    // One holder: a second opener is told who holds it.
    match CaDirectory::open(&dir, Duration::ZERO) {
        Err(e @ CaError::InUse { .. }) => assert!(e.to_string().contains("in use by"), "{e}"),
        Err(e) => panic!("not in use: {e}"),
        Ok(_) => panic!("two holders"),
    }
    // Planted symlinks at published names are replaced, never written through.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("crl.pem")).unwrap();
    let crl = held.ca_mut().crl(SystemTime::now(), SystemTime::now() + Duration::from_secs(3600)).unwrap();
    held.commit().unwrap();
    let at = held.publish("crl.pem", &crl.to_pem().unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&at).unwrap().is_file());
    assert_eq!(mode(&at), 0o644);
    let cert = held.ca_mut().issue(&request(), None, Role::Login, SystemTime::now(), 1).unwrap();
    held.commit().unwrap();
    let serial = held.ca().issued().last().unwrap().serial.clone();
    let file = held.publish_issued(&serial, &cert.to_pem().unwrap()).unwrap();
    assert_eq!(mode(&file), 0o644);
    drop(held);
    // ca.pem removed or wrong (a kill mid-init): put back from the state on open.
    std::fs::write(dir.join("ca.pem"), "stale").unwrap();
    let back = CaDirectory::open(&dir, Duration::ZERO).unwrap();
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), back.ca().certificate().to_pem().unwrap());
    assert_eq!(back.ca().issued().len(), 1);
    assert_eq!(back.ca().crl_number(), 1);
    drop(back);
    // A symlinked issued/ is not followed.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(dir.join("issued"), tmp.path().join("old-issued")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("issued")).unwrap();
    let held = CaDirectory::open(&dir, Duration::ZERO).unwrap();
    assert!(held.publish_issued("AB", b"x").is_err());
    assert!(names(&elsewhere).is_empty());
    assert_eq!(std::fs::metadata(dir.join("ca.pem")).unwrap().uid(), std::fs::metadata(&dir).unwrap().uid());
}

#[test]
fn a_second_init_keeps_the_first_and_force_replaces_it_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let (first, _) = CaDirectory::create(&dir, Duration::ZERO, false, new_ca).unwrap();
    let first_cert = first.ca().certificate().to_der().unwrap();
    drop(first);
    let (again, made) = CaDirectory::create(&dir, Duration::ZERO, false, || panic!("not made")).unwrap();
    assert!(!made);
    assert_eq!(again.ca().certificate().to_der().unwrap(), first_cert);
    drop(again);
    let (forced, made) = CaDirectory::create(&dir, Duration::ZERO, true, new_ca).unwrap();
    assert!(made);
    assert_ne!(forced.ca().certificate().to_der().unwrap(), first_cert);
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), forced.ca().certificate().to_pem().unwrap());
}

#[test]
fn reads_are_bounded_and_never_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join(STATE_FILE)).unwrap();
    let e = CaDirectory::open(&dir, Duration::ZERO).err().unwrap().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    std::fs::remove_file(dir.join(STATE_FILE)).unwrap();
    std::fs::write(dir.join(STATE_FILE), vec![b' '; (16 << 20) + 1]).unwrap();
    let e = CaDirectory::open(&dir, Duration::ZERO).err().unwrap().to_string();
    assert!(e.contains("larger than"), "{e}");
    std::fs::remove_file(dir.join(STATE_FILE)).unwrap();
    let e = CaDirectory::open(&dir, Duration::ZERO).err().unwrap().to_string();
    assert!(e.contains("holds no test CA"), "{e}");
}

#[test]
fn crl_numbers_never_wrap_and_run_out_loudly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    drop(CaDirectory::create(&dir, Duration::ZERO, false, new_ca).unwrap());
    let edit = |n: u64| {
        let p = dir.join(STATE_FILE);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v["crl_number"] = n.into();
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    edit(u64::from(u32::MAX));
    let mut held = CaDirectory::open(&dir, Duration::ZERO).unwrap();
    let now = SystemTime::now();
    let crl = held.ca_mut().crl(now, now + Duration::from_secs(60)).unwrap();
    let number = crl.extension::<openssl::x509::CrlNumber>().unwrap().unwrap().1;
    assert_eq!(number.to_bn().unwrap().to_dec_str().unwrap().to_string(), "4294967296");
    drop(held);
    edit(u64::MAX);
    let mut held = CaDirectory::open(&dir, Duration::ZERO).unwrap();
    let e = held.ca_mut().crl(now, now + Duration::from_secs(60)).err().unwrap().to_string();
    assert!(e.contains("every CRL number"), "{e}");
}

#[test]
fn a_foreign_certificate_with_our_serial_is_not_revoked() {
    let mut ours = new_ca().unwrap();
    let mut theirs = new_ca().unwrap(); // the same name, another key
    let now = SystemTime::now();
    let mine = ours.issue(&request(), None, Role::Login, now, 1).unwrap();
    // A certificate of theirs with our certificate's serial.
    let mut b = openssl::x509::X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(mine.serial_number()).unwrap();
    b.set_subject_name(mine.subject_name()).unwrap();
    b.set_issuer_name(ours.certificate().subject_name()).unwrap();
    b.set_pubkey(&mine.public_key().unwrap()).unwrap();
    b.set_not_before(mine.not_before()).unwrap();
    b.set_not_after(mine.not_after()).unwrap();
    let other = new_ca().unwrap();
    let _ = theirs.issue(&request(), None, Role::Login, now, 1).unwrap();
    let foreign_key = openssl::pkey::PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    b.sign(&foreign_key, openssl::hash::MessageDigest::sha256()).unwrap();
    let forged = b.build();
    let e = ours.revoke_certificate(&forged, now).unwrap_err().to_string();
    assert!(e.contains("did not issue"), "{e}");
    assert!(ours.revoked().is_empty());
    let e = ours.revoke_certificate(other.certificate(), now).unwrap_err().to_string();
    assert!(e.contains("did not issue"), "{e}");
    ours.revoke_certificate(&mine, now).unwrap();
    assert_eq!(ours.revoked().len(), 1);
}
