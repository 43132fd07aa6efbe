//! Card state files of every format this project has written load, with
//! everything they hold: later builds never lose a card's keys. Add a fixture
//! (and a migration) whenever the format changes.

use std::path::Path;
use std::time::Duration;

use apdu_sim::persist;
use applet_spec::piv::{ObjectTag, Slot};

fn fixture(name: &str) -> apdu_sim::state::Persistent {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    persist::load(&path).unwrap().expect("fixture exists")
}

/// The card both fixtures hold: made by the first release with seed 2026,
/// a 9A key, a certificate, a binding, PIN changed to 24680135, one wrong PIN.
fn check(p: &apdu_sim::state::Persistent) {
    assert_eq!(p.serial, 48854840);
    assert_eq!(hex::encode(p.guid), "10e5aa80fea2d5d3892674a040cb6b70");
    assert_eq!(*p.pin.block, *b"24680135");
    assert_eq!((p.pin.tries_left, p.puk.tries_left), (2, 3));
    let key = &p.keys[&Slot::Authentication];
    assert_eq!(key.size(), 256);
    key.validate().expect("the private key is whole");
    assert_eq!(p.objects[&ObjectTag::CERT_9A].as_slice(), applet_spec::messages::cert_object(&[0x30, 3, 1, 2, 3]));
    assert_eq!(p.binding.as_ref().map(|b| b.value.to_vec()), Some(vec![0xB1; 32]));
    // Files from before the ARA-M: no access rules, refresh tag 0.
    assert_eq!(p.access_rules, apdu_sim::state::AccessRules::default());
}

#[test]
fn format_1_migrates() {
    check(&fixture("card-format-1.json"));
}

#[test]
fn format_2_loads() {
    check(&fixture("card-format-2.json"));
}

#[test]
fn a_migrated_card_saves_as_the_current_format_and_still_signs() {
    let dir = std::env::temp_dir().join(format!("subsim-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.json");
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/card-format-1.json");
    std::fs::copy(&original, &path).unwrap();
    let mut held =
        apdu_sim::cardfile::CardFile::open(&path, Duration::ZERO, || unreachable!("the file exists")).unwrap();
    assert!(!held.created);
    // Holding it writes nothing; the first write migrates it.
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&original).unwrap());
    held.file.save(&held.state).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains(&format!("\"format\": {}", persist::FORMAT)));
    check(&persist::load(&path).unwrap().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
