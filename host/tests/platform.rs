//! The model on a chip with fewer key algorithms (a Java Card 3.0.5
//! platform): it lists only those in SELECT and refuses the rest as the Java
//! Card applet does, so the differential can hold the two to one behaviour.

use apdu_sim::SimCard;
use applet_spec::messages::ImportedKey;
use applet_spec::piv::{KeyAlgorithm, KeyAlgorithms, Slot};
use applet_spec::Sw;
use subsim_host::{Client, SimTransport};

#[test]
fn a_chip_without_ed25519_lists_and_makes_only_what_it_has() {
    let mut sim = SimCard::seeded(9);
    sim.set_key_algorithms(KeyAlgorithms::JAVA_CARD_3_0_5);
    let mut card = Client::new(SimTransport::new(sim));
    let listed = card.select().unwrap().algorithms;
    assert_eq!(KeyAlgorithms::from_ids(listed.iter().copied()), KeyAlgorithms::JAVA_CARD_3_0_5);
    assert!(!listed.contains(&KeyAlgorithm::Ed25519.id()) && !listed.contains(&KeyAlgorithm::X25519.id()));
    // The management key still comes first.
    fn sw<T: std::fmt::Debug>(r: subsim_host::Result<T>) -> Option<Sw> {
        r.unwrap_err().sw()
    }
    assert_eq!(sw(card.generate_key(Slot::Signature, KeyAlgorithm::Ed25519)), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    card.authenticate_default().unwrap();
    let old = card.generate_key(Slot::Signature, KeyAlgorithm::EccP256).unwrap();
    let keys = [
        (KeyAlgorithm::Ed25519, ImportedKey::Ed25519 { seed: vec![7; 32] }),
        (KeyAlgorithm::X25519, ImportedKey::X25519 { scalar: vec![7; 32] }),
    ];
    for (alg, key) in keys {
        assert_eq!(sw(card.generate_key(Slot::Signature, alg)), Some(Sw::INCORRECT_DATA), "GENERATE {alg:?}");
        assert_eq!(sw(card.import_key(Slot::Signature, alg, &key)), Some(Sw::INCORRECT_DATA), "IMPORT {alg:?}");
    }
    assert_eq!(card.public_key(Slot::Signature).unwrap(), old, "the slot keeps its key");
    // What it has still works, and a full chip has Ed25519.
    card.generate_key(Slot::Authentication, KeyAlgorithm::Rsa2048).unwrap();
    let mut full = Client::new(SimTransport::new(SimCard::seeded(9)));
    full.select().unwrap();
    full.authenticate_default().unwrap();
    full.generate_key(Slot::Signature, KeyAlgorithm::Ed25519).unwrap();
}
