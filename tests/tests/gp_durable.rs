//! The card manager's promises that only the in-process card lets a test
//! break or watch: a key set's try counter is durable before the answer and
//! blocks for good, TERMINATED is for good, the pseudo-random challenge's
//! sequence counter never goes back, everything survives the card file, and
//! a power cut at any of the card manager's writes leaves the state from
//! before, after, or the one documented intermediate (a try spent).

use apdu_sim::gp::state::{ChallengeMode, KEY_SET_TRIES};
use apdu_sim::persist::snapshot;
use apdu_sim::SimCard;
use applet_spec::gp::{self, CardLifeCycle, StatusScope, DEVELOPMENT_KEY, ISD_AID};
use applet_spec::scp03::{self, SecurityLevel, StaticKeys};
use applet_spec::{Command, Response, Sw};
use subsim_conformance::sim_only;
use subsim_host::gp::GpClient;
use subsim_host::{SimTransport, TransportKind};

type Gp = GpClient<SimTransport>;

fn dev() -> StaticKeys {
    StaticKeys::single(&DEVELOPMENT_KEY)
}
fn wrong() -> StaticKeys {
    StaticKeys::single(&[0x11; 16])
}
fn c_mac() -> SecurityLevel {
    SecurityLevel::from_p1(0x01).unwrap()
}

fn gp(card: SimCard) -> Gp {
    let mut gp = GpClient::new(SimTransport::new(card));
    gp.select().unwrap();
    gp
}

fn raw(gp: &mut Gp, apdu: &[u8]) -> Response {
    Response::parse(&gp.transport_mut().card_mut().transmit(apdu)).unwrap()
}

fn tries(gp: &mut Gp) -> u8 {
    gp.transport_mut().card().persistent().card_manager.key_sets[0].tries_left
}

/// INITIALIZE UPDATE with the right keys' cryptogram, then an EXTERNAL
/// AUTHENTICATE the card must refuse (a host with the wrong keys that
/// ignores the card cryptogram, or an attacker guessing).
fn try_forged_authentication(gp: &mut Gp) -> subsim_host::Result<Sw> {
    gp.select()?;
    let iu = Command::new(0x80, 0x50, 0, 0).with_data(vec![1; 8]).with_ne(256);
    assert_eq!(gp.send(&iu)?.sw, Sw::OK);
    let ea = Command::new(0x84, 0x82, 0x01, 0x00).with_data(vec![0xEE; 16]);
    Ok(gp.send(&ea)?.sw)
}

fn forged_authentication(gp: &mut Gp) -> Sw {
    try_forged_authentication(gp).unwrap()
}

#[test]
fn a_key_set_blocks_after_its_tries_and_stays_blocked() {
    if !sim_only("blocks the card manager's key set for good") {
        return;
    }
    let dir = tempdir("blocked");
    let path = dir.join("card.json");
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(3)).unwrap();
    let mut gp = gp(card);
    assert_eq!(tries(&mut gp), KEY_SET_TRIES);
    for left in (1..KEY_SET_TRIES).rev() {
        assert_eq!(forged_authentication(&mut gp), Sw::AUTHENTICATION_FAILED, "Amendment D 7.1.2.3");
        assert_eq!(tries(&mut gp), left);
        // The try is on disk before the answer.
        let on_disk = apdu_sim::persist::load(&path).unwrap().unwrap();
        assert_eq!(on_disk.card_manager.key_sets[0].tries_left, left);
    }
    // A right authentication gives the tries back.
    gp.open(&dev(), 0, c_mac()).unwrap();
    assert_eq!(tries(&mut gp), KEY_SET_TRIES);
    for _ in 0..KEY_SET_TRIES {
        forged_authentication(&mut gp);
    }
    // Blocked: INITIALIZE UPDATE says so (6983), with the right keys too,
    // after a power cycle, and after the file is opened again.
    assert_eq!(gp.open(&dev(), 0, c_mac()).unwrap_err().sw(), Some(Sw::AUTH_METHOD_BLOCKED));
    gp.transport_mut().card_mut().power_cycle();
    gp.select().unwrap();
    assert_eq!(gp.open(&dev(), 0, c_mac()).unwrap_err().sw(), Some(Sw::AUTH_METHOD_BLOCKED));
    drop(gp);
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(4)).unwrap();
    let mut gp = self::gp(card);
    assert_eq!(gp.open(&dev(), 0, c_mac()).unwrap_err().sw(), Some(Sw::AUTH_METHOD_BLOCKED));
    // Wrong keys never reach EXTERNAL AUTHENTICATE: the host stops at the card cryptogram.
    let mut fresh = self::gp(SimCard::seeded(5));
    let e = fresh.open(&wrong(), 0, c_mac()).unwrap_err();
    assert!(e.to_string().contains("card cryptogram"), "{e}");
    assert_eq!(tries(&mut fresh), KEY_SET_TRIES, "the host gave up before spending a try");
}

#[test]
fn terminated_is_for_good() {
    if !sim_only("terminates the card") {
        return;
    }
    let mut gp = gp(SimCard::seeded(6));
    gp.open(&dev(), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
    gp.set_card_life_cycle(CardLifeCycle::Terminated).unwrap();
    // GPCS 5.1.1.5: GET DATA only; nothing else, no new session.
    assert_eq!(gp.status(StatusScope::Isd).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    gp.transport_mut().card_mut().power_cycle();
    gp.select().unwrap();
    assert!(gp.get_data(gp::data::CPLC).unwrap().is_some());
    assert_eq!(gp.open(&dev(), 0, c_mac()).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    let piv = [&[0x00, 0xA4, 0x04, 0x00, 11][..], &applet_spec::piv::PIV_AID].concat();
    assert_eq!(raw(&mut gp, &piv).sw, Sw::FILE_NOT_FOUND, "no application but the ISD");
    assert_eq!(
        raw(&mut gp, &[&[0x00, 0xA4, 0x04, 0x00, 9][..], &applet_spec::aram::ARAM_AID].concat()).sw,
        Sw::FILE_NOT_FOUND
    );
    // No way back (GPCS 5.1.1: TERMINATED is irreversible).
    let cm = &gp.transport_mut().card().persistent().card_manager;
    assert_eq!(cm.life_cycle, CardLifeCycle::Terminated);
    assert!(!cm.life_cycle.may_become(CardLifeCycle::Secured));
}

#[test]
fn both_challenge_modes_and_the_counter_that_never_goes_back() {
    if !sim_only("personalizes the card's challenge mode") {
        return;
    }
    // Pseudo-random (the factory setting): i = 70, the counter after the
    // cryptogram, one more at every INITIALIZE UPDATE, durable.
    let mut gp = gp(SimCard::seeded(7));
    let a = gp.open(&dev(), 0, c_mac()).unwrap();
    assert_eq!((a.i, a.sequence_counter), (0x70, Some(1)));
    let b = gp.open(&dev(), 0, c_mac()).unwrap();
    assert_eq!(b.sequence_counter, Some(2));
    gp.transport_mut().card_mut().power_cycle();
    gp.select().unwrap();
    assert_eq!(gp.open(&dev(), 0, c_mac()).unwrap().sequence_counter, Some(3), "the counter survives power loss");
    // The challenge is Amendment D 6.2.2.1's: the KDF of the counter and the ISD's AID.
    let r = raw(&mut gp, &[0x80, 0x50, 0, 0, 8, 9, 9, 9, 9, 9, 9, 9, 9, 0]);
    let answer = gp::InitUpdateAnswer::decode(&r.data).unwrap();
    let want = scp03::pseudo_random_challenge(&DEVELOPMENT_KEY, 4, &ISD_AID).unwrap();
    assert_eq!((answer.sequence_counter, answer.card_challenge), (Some(4), want));

    // Random: i = 60, no counter, a different challenge every time.
    let mut card = SimCard::seeded(8);
    assert!(card.personalize_card_manager(|cm| cm.challenge = ChallengeMode::Random));
    let mut gp = self::gp(card);
    let a = gp.open(&dev(), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
    assert_eq!((a.i, a.sequence_counter), (0x60, None));
    let data = gp.get_data(gp::data::CARD_DATA).unwrap().unwrap();
    assert_eq!(gp::card_data_scps(&data).unwrap(), vec![(0x03, 0x60)], "card data tells the mode");
    let one = raw(&mut gp, &[0x80, 0x50, 0, 0, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0]).data;
    let two = raw(&mut gp, &[0x80, 0x50, 0, 0, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0]).data;
    assert_eq!(one.len(), 29);
    assert_ne!(one[13..21], two[13..21]);
}

#[test]
fn the_card_manager_lives_in_the_card_file() {
    if !sim_only("reads the card file") {
        return;
    }
    let dir = tempdir("file");
    let path = dir.join("card.json");
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(9)).unwrap();
    let factory_text = std::fs::read_to_string(&path).unwrap();
    assert!(!factory_text.contains("\"gp\""), "a factory card manager is not written: old builds still read the file");
    let mut gp = gp(card);
    gp.open(&dev(), 0, c_mac()).unwrap();
    gp.lock_application(&applet_spec::piv::PIV_AID, true).unwrap();
    drop(gp);
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(10)).unwrap();
    let cm = &card.persistent().card_manager;
    assert!(cm.locked.contains(&applet_spec::piv::PIV_AID.to_vec()));
    assert_eq!(cm.key_sets[0].sequence_counter, 1);
    let mut gp = self::gp(card);
    let piv = [&[0x00, 0xA4, 0x04, 0x00, 11][..], &applet_spec::piv::PIV_AID].concat();
    assert_eq!(raw(&mut gp, &piv).sw, Sw::FILE_NOT_FOUND);
}

/// What a cut may leave besides "before" and "after".
#[derive(Clone, Copy, PartialEq)]
enum Intermediate {
    None,
    /// The key set's try spent, all else as before.
    TrySpent,
}

struct Scenario {
    name: &'static str,
    mode: ChallengeMode,
    command: fn(&mut Gp) -> subsim_host::Result<()>,
    intermediate: Intermediate,
}

fn scenarios() -> Vec<Scenario> {
    let open = |gp: &mut Gp| gp.open(&dev(), 0, c_mac()).map(drop);
    vec![
        Scenario {
            name: "EXTERNAL AUTHENTICATE right",
            mode: ChallengeMode::Random,
            command: open,
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "EXTERNAL AUTHENTICATE wrong",
            mode: ChallengeMode::Random,
            command: |gp| {
                assert_eq!(try_forged_authentication(gp)?, Sw::AUTHENTICATION_FAILED);
                Ok(())
            },
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "INITIALIZE UPDATE (pseudo-random: the counter)",
            mode: ChallengeMode::PseudoRandom,
            command: |gp| {
                let r = Command::new(0x80, 0x50, 0, 0).with_data(vec![1; 8]).with_ne(256);
                gp.send(&r).map(drop)
            },
            intermediate: Intermediate::None,
        },
        Scenario {
            name: "SET STATUS (lock PIV)",
            mode: ChallengeMode::Random,
            command: |gp| {
                gp.open(&dev(), 0, c_mac())?;
                gp.lock_application(&applet_spec::piv::PIV_AID, true)
            },
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "PUT KEY (a new key set)",
            mode: ChallengeMode::Random,
            command: |gp| {
                gp.open(&dev(), 0, SecurityLevel::from_p1(0x13).unwrap())?;
                gp.put_keys(0x31, None, &StaticKeys::single(&[0x77; 16]))
            },
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "DELETE (the sub-SIM instance)",
            mode: ChallengeMode::Random,
            command: |gp| {
                gp.open(&dev(), 0, SecurityLevel::from_p1(0x33).unwrap())?;
                gp.delete(&applet_spec::piv::PIV_AID, false)
            },
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "LOAD (the last block keeps the load file)",
            mode: ChallengeMode::Random,
            command: |gp| {
                gp.open(&dev(), 0, SecurityLevel::from_p1(0x03).unwrap())?;
                gp.load(&small_cap())
            },
            intermediate: Intermediate::TrySpent,
        },
        Scenario {
            name: "SET STATUS (lock the card)",
            mode: ChallengeMode::Random,
            command: |gp| {
                gp.open(&dev(), 0, SecurityLevel::from_p1(0x33).unwrap())?;
                gp.set_card_life_cycle(CardLifeCycle::CardLocked)
            },
            intermediate: Intermediate::TrySpent,
        },
    ]
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("subsim-gp-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_cut_of_a_card_manager_write_leaves_before_after_or_a_spent_try() {
    if !sim_only("the power cut is injected inside the simulated card") {
        return;
    }
    let path = tempdir("tearing").join("card.json");
    let fresh = |mode: ChallengeMode, path: Option<&std::path::Path>| {
        let mut card = match path {
            Some(p) => {
                let _ = std::fs::remove_file(p);
                SimCard::open(p, std::time::Duration::ZERO, apdu_sim::rng::seeded(11)).unwrap()
            }
            None => SimCard::seeded(11),
        };
        card.personalize_card_manager(|cm| cm.challenge = mode);
        gp(card)
    };
    let mut cuts = 0;
    for s in scenarios() {
        let mut whole = fresh(s.mode, None);
        let before_p = whole.transport_mut().card().persistent().clone();
        let before = snapshot(&before_p).to_string();
        let first = whole.transport_mut().card().writes();
        (s.command)(&mut whole).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let after = snapshot(whole.transport_mut().card().persistent()).to_string();
        let writes = whole.transport_mut().card().writes() - first;
        assert!(writes > 0, "{}: writes nothing", s.name);
        let mut allowed = vec![before.clone(), after];
        if s.intermediate == Intermediate::TrySpent {
            let mut p = before_p.clone();
            p.card_manager.key_sets[0].tries_left -= 1;
            allowed.push(snapshot(&p).to_string());
        }
        for k in 1..=writes {
            let mut c = fresh(s.mode, Some(&path));
            c.transport_mut().card_mut().tear_at_write(first + k);
            let e = (s.command)(&mut c).expect_err(&format!("{} cut at write {k}: the card answered", s.name));
            assert_eq!(e.transport_kind(), Some(TransportKind::CardRemoved), "{}: {e}", s.name);
            let on_disk = snapshot(&apdu_sim::persist::load(&path).unwrap().unwrap()).to_string();
            assert_eq!(on_disk, snapshot(c.transport_mut().card().persistent()).to_string(), "{}: file", s.name);
            c.transport_mut().card_mut().power_cycle();
            let now = snapshot(c.transport_mut().card().persistent()).to_string();
            assert!(allowed.contains(&now), "{} cut at write {k} of {writes}: a mixed state", s.name);
            cuts += 1;
        }
    }
    assert!(cuts >= 8, "{cuts} cuts");
}

/// A small load file (package A0000000620305, one applet class).
fn small_cap() -> subsim_host::cap::CapFile {
    let c = |tag: u8, info: &[u8]| [&[tag][..], &(info.len() as u16).to_be_bytes(), info].concat();
    let header = [&[0xDE, 0xCA, 0xFF, 0xED, 1, 2, 0, 0, 1, 7][..], &[0xA0, 0, 0, 0, 0x62, 3, 5]].concat();
    let applet = [&[1, 8][..], &[0xA0, 0, 0, 0, 0x62, 3, 5, 1], &[0, 1]].concat();
    let parts = [(1, header), (2, vec![0; 20]), (4, vec![0]), (3, applet), (6, vec![0; 4])];
    let rest = [(7, vec![0; 300]), (8, vec![0; 10]), (5, vec![0; 6]), (9, vec![0; 4])];
    let components = parts.iter().chain(rest.iter()).map(|(t, i)| c(*t, i)).collect();
    subsim_host::cap::CapFile::from_components(components).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Any APDU to the ISD, in a session or not, gets a precise status word:
    /// never a panic, a silence or a 6F00.
    #[test]
    fn any_command_gets_a_precise_answer(
        session in proptest::bool::ANY,
        cla in proptest::sample::select(vec![0x00u8, 0x80, 0x84, 0x81, 0x04]),
        ins in proptest::sample::select(vec![0x50u8, 0x82, 0xCA, 0xF2, 0xF0, 0xD8, 0xE6, 0xE8, 0xE4, 0xA4, 0x00]),
        p1 in proptest::num::u8::ANY,
        p2 in proptest::num::u8::ANY,
        data in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
    ) {
        let mut gp = gp(SimCard::seeded(61));
        if session {
            gp.open(&dev(), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
        }
        let mut apdu = vec![cla, ins, p1, p2];
        if !data.is_empty() {
            apdu.push(data.len() as u8);
            apdu.extend_from_slice(&data);
        }
        let r = gp.transport_mut().card_mut().transmit(&apdu);
        proptest::prop_assert!(r.len() >= 2, "an answer");
        let sw = Sw::from_bytes(r[r.len() - 2], r[r.len() - 1]);
        proptest::prop_assert_ne!(sw, Sw::UNKNOWN_ERROR);
        // Through the client too (wrapped when a session is open).
        let cmd = Command::new(cla & !0x04, ins, p1, p2).with_data(data.clone());
        let _ = gp.send(&cmd);
    }
}
