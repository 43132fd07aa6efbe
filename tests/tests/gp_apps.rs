//! The card manager's applications: DELETE of the sub-SIM instance (the
//! issuer's remote wipe: keys, PIN, certificates, binding gone for good)
//! and INSTALL [for install and make selectable] of a factory-fresh one
//! (GPCS 11.2, 11.5). In process only: the tests delete the card's applet.

use apdu_sim::gp::state::{SUBSIM_MODULE, SUBSIM_PACKAGE};
use apdu_sim::SimCard;
use applet_spec::gp::{self, InstallForInstall, StatusScope, DEVELOPMENT_KEY, ISD_AID};
use applet_spec::piv::{Slot, PIV_AID};
use applet_spec::scp03::{SecurityLevel, StaticKeys};
use applet_spec::{Command, Sw};
use subsim_conformance::sim_only;
use subsim_host::gp::GpClient;
use subsim_host::{Client, SimTransport};

fn subsim_install() -> InstallForInstall {
    InstallForInstall {
        load_file: SUBSIM_PACKAGE.to_vec(),
        module: SUBSIM_MODULE.to_vec(),
        instance: PIV_AID.to_vec(),
        privileges: vec![0x00],
        params: vec![0xC9, 0x00],
        token: vec![],
    }
}

fn open(gp: &mut GpClient<SimTransport>) {
    gp.select().unwrap();
    gp.open(&StaticKeys::single(&DEVELOPMENT_KEY), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
}

#[test]
fn delete_wipes_the_instance_for_good_and_install_makes_a_fresh_one() {
    if !sim_only("deletes the card's applet") {
        return;
    }
    // A card in use: a key, a certificate, a binding, a PIN of its own.
    let mut piv = Client::new(SimTransport::new(SimCard::seeded(41)));
    piv.select().unwrap();
    piv.authenticate_default().unwrap();
    piv.generate(Slot::Authentication).unwrap();
    piv.write_certificate(Slot::Authentication, &[0x30, 0x03, 1, 2, 3]).unwrap();
    piv.set_binding(&[0xB1; 32]).unwrap();
    piv.change_pin(b"123456", b"24681357").unwrap();
    let serial = piv.serial().unwrap();

    let mut gp = GpClient::new(piv.into_transport());
    open(&mut gp);
    gp.delete(&PIV_AID, false).unwrap();
    // Gone: not listed, not selectable, its secrets destroyed.
    let apps = gp.status(StatusScope::Applications).unwrap();
    assert!(apps.iter().all(|a| a.aid != PIV_AID), "GPCS 11.2: the deleted instance leaves the registry");
    let p = gp.transport().card().persistent();
    assert!(p.keys.is_empty() && p.binding.is_none(), "keys and binding destroyed");
    assert!(!p.objects.contains_key(&Slot::Authentication.cert_object()), "certificate destroyed");
    assert!(p.attestation.is_some(), "the card's identity (its attestation key) stays");
    // Deleting it again: nothing there (6A88); the ISD and the ARA-M are not deletable here (6985).
    assert_eq!(gp.delete(&PIV_AID, false).unwrap_err().sw(), Some(Sw::REFERENCE_NOT_FOUND));
    assert_eq!(gp.delete(&ISD_AID, false).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    assert_eq!(gp.delete(&applet_spec::aram::ARAM_AID, false).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    gp.transport_mut().card_mut().power_cycle();
    let mut piv = Client::new(gp.into_transport());
    assert_eq!(piv.select().unwrap_err().sw(), Some(Sw::FILE_NOT_FOUND), "after a power cycle too");

    // INSTALL: only the sub-SIM package's class, at the PIV AID; a package
    // not on the card is 6A88 (GPCS 11.5.3).
    let mut gp = GpClient::new(piv.into_transport());
    open(&mut gp);
    let not_loaded = InstallForInstall { load_file: vec![0xA0, 0, 0, 9, 9, 9], ..subsim_install() };
    assert_eq!(gp.install(&not_loaded).unwrap_err().sw(), Some(Sw::REFERENCE_NOT_FOUND));
    let other_aid = InstallForInstall { instance: vec![0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 9], ..subsim_install() };
    assert_eq!(gp.install(&other_aid).unwrap_err().sw(), Some(Sw::INCORRECT_DATA), "one instance, at the PIV AID");
    let bad = Command::new(0x80, gp::INSTALL, 0x0C, 0x00).with_data(vec![8, 1, 2]).with_ne(256);
    assert_eq!(gp.send(&bad).unwrap().sw, Sw::INCORRECT_DATA);
    gp.install(&subsim_install()).unwrap();
    assert_eq!(gp.install(&subsim_install()).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED), "there already");
    assert!(gp.status(StatusScope::Applications).unwrap().iter().any(|a| a.aid == PIV_AID));

    // A factory-fresh sub-SIM: factory PIN, no keys, the same card.
    let mut piv = Client::new(gp.into_transport());
    piv.select().unwrap();
    assert_eq!(piv.serial().unwrap(), serial);
    piv.verify_pin(b"123456").unwrap();
    assert!(piv.read_certificate(Slot::Authentication).unwrap().is_none());
    assert!(piv.transport().card().persistent().keys.is_empty());
}

#[test]
fn deleting_the_package_with_related_objects_takes_its_instance() {
    if !sim_only("deletes the card's applet") {
        return;
    }
    let mut gp = GpClient::new(SimTransport::new(SimCard::seeded(42)));
    open(&mut gp);
    // Without "related objects" a package with an instance stays (6985).
    assert_eq!(gp.delete(SUBSIM_PACKAGE, false).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    gp.delete(SUBSIM_PACKAGE, true).unwrap();
    assert!(gp.status(StatusScope::Applications).unwrap().iter().all(|a| a.aid != PIV_AID));
    // The package itself is in the card's ROM: still listed, and installable from.
    assert!(gp.status(StatusScope::LoadFiles).unwrap().iter().any(|f| f.aid == SUBSIM_PACKAGE));
    gp.install(&subsim_install()).unwrap();
    // Bad DELETE data: 6A80; bad P1: 6A86; an AID the card never had: 6A88.
    assert_eq!(
        gp.send(&Command::new(0x80, gp::DELETE, 0, 0).with_data(vec![0x4F, 2, 1, 2])).unwrap().sw,
        Sw::INCORRECT_DATA
    );
    let bad_p1 = Command::new(0x80, gp::DELETE, 1, 0).with_data(gp::encode_delete(&PIV_AID));
    assert_eq!(gp.send(&bad_p1).unwrap().sw, Sw::INCORRECT_P1_P2);
    assert_eq!(gp.delete(&[0xA0, 0, 0, 9, 9, 9], false).unwrap_err().sw(), Some(Sw::REFERENCE_NOT_FOUND));
    // DELETE needs the session (GPCS 11.2.2: the ISD's own security condition).
    gp.select().unwrap();
    assert_eq!(gp.delete(&PIV_AID, false).unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
}

/// A small load file: package `A0000000620301`, one applet class, the
/// components the load order needs.
fn components(package: &[u8]) -> Vec<Vec<u8>> {
    let c = |tag: u8, info: &[u8]| [&[tag][..], &(info.len() as u16).to_be_bytes(), info].concat();
    let header = [&[0xDE, 0xCA, 0xFF, 0xED, 1, 2, 0, 0, 1, package.len() as u8][..], package].concat();
    let applet = [&[1, 8][..], &[0xA0, 0, 0, 0, 0x62, 3, 1, 1], &[0, 1]].concat();
    vec![
        c(1, &header),
        c(2, &[0; 20]),
        c(4, &[0]),
        c(3, &applet),
        c(6, &[0; 4]),
        c(7, &[0; 600]),
        c(8, &[0; 10]),
        c(5, &[0; 6]),
        c(9, &[0; 4]),
    ]
}

#[test]
fn load_keeps_a_cap_file_and_install_names_the_limitation() {
    if !sim_only("loads into the card") {
        return;
    }
    use subsim_host::cap::CapFile;
    let pkg = [0xA0, 0, 0, 0, 0x62, 3, 1];
    let cap = CapFile::from_components(components(&pkg)).unwrap();
    let dir = std::env::temp_dir().join(format!("subsim-gp-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.json");
    let _ = std::fs::remove_file(&path);
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(43)).unwrap();
    let mut gp = GpClient::new(SimTransport::new(card));
    open(&mut gp);
    gp.load(&cap).unwrap(); // 3 blocks of LOAD
    let files = gp.status(StatusScope::LoadFilesAndModules).unwrap();
    let listed = files.iter().find(|f| f.aid == pkg).expect("GET STATUS lists the load file");
    assert_eq!(listed.modules, vec![vec![0xA0, 0, 0, 0, 0x62, 3, 1, 1]]);
    // INSTALL of its class: this card runs only the sub-SIM applet (6A80).
    let other = InstallForInstall {
        load_file: pkg.to_vec(),
        module: vec![0xA0, 0, 0, 0, 0x62, 3, 1, 1],
        instance: vec![0xA0, 0, 0, 0, 0x62, 3, 1, 1, 1],
        ..subsim_install()
    };
    assert_eq!(gp.install(&other).unwrap_err().sw(), Some(Sw::INCORRECT_DATA));
    // The same package again: 6985; LOAD without INSTALL [for load]: 6985.
    assert_eq!(gp.load(&cap).unwrap_err().sw(), Some(Sw::CONDITIONS_NOT_SATISFIED));
    let load = |p1: u8, p2: u8, data: Vec<u8>| Command::new(0x80, gp::LOAD, p1, p2).with_data(data).with_ne(256);
    assert_eq!(gp.send(&load(0x80, 0, vec![0xC4, 0])).unwrap().sw, Sw::CONDITIONS_NOT_SATISFIED);
    // Blocks out of sequence (GPCS 11.6.3): 6A86, and the load is over.
    let second = [0xA0, 0, 0, 0, 0x62, 3, 2];
    let block = CapFile::from_components(components(&second)).unwrap().load_file_data_block();
    let begin = Command::new(0x80, gp::INSTALL, 0x02, 0).with_data(gp::encode_install_for_load(&second)).with_ne(256);
    assert_eq!(gp.send(&begin).unwrap().sw, Sw::OK);
    assert_eq!(gp.send(&load(0x00, 0, block[..100].to_vec())).unwrap().sw, Sw::OK);
    assert_eq!(gp.send(&load(0x80, 2, block[100..200].to_vec())).unwrap().sw, Sw::INCORRECT_P1_P2);
    assert_eq!(gp.send(&load(0x80, 1, block[100..200].to_vec())).unwrap().sw, Sw::CONDITIONS_NOT_SATISFIED);
    // A load file whose Header names another package than INSTALL [for load]: 6A80.
    assert_eq!(gp.send(&begin).unwrap().sw, Sw::OK);
    let wrong = CapFile::from_components(components(&[0xA0, 0, 0, 0, 0x62, 3, 9])).unwrap().load_file_data_block();
    let parts: Vec<&[u8]> = wrong.chunks(224).collect();
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let want = if last { Sw::INCORRECT_DATA } else { Sw::OK };
        assert_eq!(gp.send(&load(if last { 0x80 } else { 0 }, n as u8, part.to_vec())).unwrap().sw, want);
    }
    assert!(gp.status(StatusScope::LoadFiles).unwrap().iter().all(|f| f.aid != second), "nothing kept");
    // The load file is in the card file; DELETE takes it away.
    drop(gp);
    let card = SimCard::open(&path, std::time::Duration::ZERO, apdu_sim::rng::seeded(44)).unwrap();
    assert!(card.persistent().card_manager.loaded.iter().any(|f| f.aid == pkg), "kept in the card file");
    let mut gp = GpClient::new(SimTransport::new(card));
    open(&mut gp);
    gp.delete(&pkg, false).unwrap();
    assert!(gp.status(StatusScope::LoadFiles).unwrap().iter().all(|f| f.aid != pkg));
}
