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
