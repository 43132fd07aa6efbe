//! The card manager's key sets: PUT KEY (GPCS 11.8, Amendment D 7.2) and
//! per-card keys diversified from an issuer's master key (KDF3 of SCP03,
//! EMV CPS 1.1), as GlobalPlatformPro computes them. In process only: the
//! tests replace the card's keys and personalize production cards.

use apdu_sim::gp::diversification_data;
use apdu_sim::SimCard;
use applet_spec::gp::{self, DEVELOPMENT_KEY};
use applet_spec::scp03::{Diversification, SecurityLevel, StaticKeys};
use applet_spec::{Command, Sw};
use subsim_conformance::sim_only;
use subsim_host::gp::GpClient;
use subsim_host::SimTransport;

type Gp = GpClient<SimTransport>;

fn dev() -> StaticKeys {
    StaticKeys::single(&DEVELOPMENT_KEY)
}
fn keys(base: u8) -> StaticKeys {
    let k = |d: u8| (0..16).map(|i| base.wrapping_add(d).wrapping_add(i)).collect::<Vec<u8>>();
    StaticKeys::new(&k(0), &k(0x10), &k(0x20))
}
fn level(p1: u8) -> SecurityLevel {
    SecurityLevel::from_p1(p1).unwrap()
}
fn gp(card: SimCard) -> Gp {
    let mut gp = GpClient::new(SimTransport::new(card));
    gp.select().unwrap();
    gp
}
fn versions(gp: &Gp) -> Vec<u8> {
    gp.transport().card().persistent().card_manager.key_sets.iter().map(|k| k.version).collect()
}

#[test]
fn put_key_adds_and_replaces_key_sets_checked_by_their_kcvs() {
    if !sim_only("replaces the card manager's keys") {
        return;
    }
    let mut gp = gp(SimCard::seeded(21));
    gp.open(&dev(), 0, level(0x33)).unwrap();
    // A new key set, 31: both work.
    gp.put_keys(0x31, None, &keys(0x60)).unwrap();
    assert_eq!(versions(&gp), [0x30, 0x31]);
    assert_eq!(gp.open(&keys(0x60), 0x31, level(0x01)).unwrap().key_version, 0x31);
    assert_eq!(gp.open(&dev(), 0x30, level(0x01)).unwrap().key_version, 0x30);
    // Key set 30 replaced by 32: the development key is gone for good.
    gp.put_keys(0x32, Some(0x30), &keys(0x80)).unwrap();
    assert_eq!(versions(&gp), [0x32, 0x31]);
    assert_eq!(gp.open(&dev(), 0x30, level(0x01)).unwrap_err().sw(), Some(Sw::REFERENCE_NOT_FOUND));
    let e = gp.open(&dev(), 0, level(0x01)).unwrap_err();
    assert!(e.to_string().contains("card cryptogram"), "{e}");
    gp.open(&keys(0x80), 0x32, level(0x13)).unwrap();

    // Bad input changes nothing (GPCS 11.8.3): a KCV that does not match,
    // a version in use, a version out of range, a P2 other than 81.
    let before = versions(&gp);
    let mut data = gp::encode_put_key(0x33, &keys(0x80).dek, &keys(0x10)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    let put = |p1: u8, p2: u8, data: Vec<u8>| Command::new(0x80, gp::PUT_KEY, p1, p2).with_data(data).with_ne(256);
    assert_eq!(gp.send(&put(0, 0x81, data)).unwrap().sw, Sw::INCORRECT_DATA, "a bad KCV");
    let taken = gp::encode_put_key(0x31, &keys(0x80).dek, &keys(0x10)).unwrap();
    assert_eq!(gp.send(&put(0, 0x81, taken)).unwrap().sw, Sw::INCORRECT_DATA, "version 31 exists");
    let high = gp::encode_put_key(0x80, &keys(0x80).dek, &keys(0x10)).unwrap();
    assert_eq!(gp.send(&put(0, 0x81, high)).unwrap().sw, Sw::INCORRECT_DATA, "80 is no key version");
    let good = gp::encode_put_key(0x33, &keys(0x80).dek, &keys(0x10)).unwrap();
    assert_eq!(gp.send(&put(0, 0x01, good.clone())).unwrap().sw, Sw::INCORRECT_P1_P2);
    assert_eq!(gp.send(&put(0x7E, 0x81, good)).unwrap().sw, Sw::REFERENCE_NOT_FOUND, "no key set 7E to replace");
    assert_eq!(versions(&gp), before);

    // Without C-MAC (level 00) PUT KEY is refused: keys go only where nobody can alter them.
    gp.open(&keys(0x80), 0x32, level(0x00)).unwrap();
    assert_eq!(gp.put_keys(0x34, None, &keys(0x10)).unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    // The key sets survive a power cycle.
    gp.transport_mut().card_mut().power_cycle();
    gp.select().unwrap();
    gp.open(&keys(0x60), 0x31, level(0x01)).unwrap();
}

/// A production card: its key set diversified from `master` by `div`
/// over its own diversification data, not a development card.
fn production_card(seed: u64, master: &StaticKeys, div: Diversification) -> SimCard {
    let mut card = SimCard::seeded(seed);
    let kdd = diversification_data(card.applet());
    let mine = div.apply(master, &kdd).unwrap();
    assert!(card.personalize_card_manager(|cm| {
        cm.development = false;
        cm.key_sets = vec![apdu_sim::gp::state::KeySet::new(0x01, mine)];
    }));
    card
}

#[test]
fn per_card_keys_diversified_from_a_master_key() {
    if !sim_only("personalizes production cards") {
        return;
    }
    let master = StaticKeys::single(&[0x5A; 16]);
    for div in [Diversification::Kdf3, Diversification::Emv] {
        let mut a = gp(production_card(31, &master, div));
        let mut b = gp(production_card(32, &master, div));
        // The issuer's master key opens each card, through that card's own keys.
        a.open_diversified(&master, div, 0, level(0x33)).unwrap();
        b.open_diversified(&master, div, 0, level(0x33)).unwrap();
        // The master itself, the development key, or another method does not.
        for (keys, d) in [(&master, Diversification::None), (&dev(), Diversification::None)] {
            let e = a.open_diversified(keys, d, 0, level(0x01)).unwrap_err();
            assert!(e.to_string().contains("card cryptogram"), "{div:?}: {e}");
        }
        let other = if div == Diversification::Kdf3 { Diversification::Emv } else { Diversification::Kdf3 };
        assert!(a.open_diversified(&master, other, 0, level(0x01)).is_err(), "{div:?} is not {other:?}");
        // A production card does not take the development key by PUT KEY.
        a.open_diversified(&master, div, 0, level(0x01)).unwrap();
        assert_eq!(a.put_keys(0x02, None, &dev()).unwrap_err().sw(), Some(Sw::INCORRECT_DATA));
        let kdd =
            (diversification_data(a.transport().card().applet()), diversification_data(b.transport().card().applet()));
        assert_ne!(kdd.0, kdd.1, "each card its own diversification data");
    }
}
