//! The lean login: a warm login is SELECT, the card-state object (serial
//! and change counter, a few bytes), VERIFY and one signature; a cold one
//! adds only the certificate read; a changed card is read again.

use apdu_sim::SimCard;
use applet_spec::piv::Slot;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use subsim_host::metered::Metered;
use subsim_host::{CertCache, Client, SimTransport, Transport};

fn personalised() -> (Client<Metered<SimTransport>>, rsa::RsaPublicKey) {
    let mut c = Client::new(Metered::new(SimTransport::new(SimCard::seeded(9))));
    c.select().unwrap();
    c.authenticate_default().unwrap();
    let key = c.generate(Slot::Authentication).unwrap();
    c.write_certificate(Slot::Authentication, &[0x30; 900]).unwrap();
    c.transport_mut().inner_mut().reset().unwrap(); // a new session, as after connect
    (c, key)
}

/// One login; the INS of every APDU it sent. The proof must verify.
fn login(c: &mut Client<Metered<SimTransport>>, key: &rsa::RsaPublicKey, cache: &mut CertCache) -> Vec<u8> {
    c.transport_mut().take();
    let challenge = b"server challenge 0123456789";
    let proof = c.login(cache, b"123456", challenge).unwrap();
    assert_eq!(proof.certificate, vec![0x30; 900]);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &proof.signature).unwrap();
    c.transport_mut().take().ins
}

#[test]
fn cold_then_warm_then_changed() {
    let (mut c, key) = personalised();
    let mut cache = CertCache::default();
    // Cold: SELECT, GET DATA (card state, then the certificate), VERIFY, GENERAL AUTHENTICATE.
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0xCB, 0xCB, 0x20, 0x87]);
    // Warm, after reconnecting: no certificate read.
    c.transport_mut().inner_mut().reset().unwrap();
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0xCB, 0x20, 0x87]);
    // Another host changes the card: the change counter tells, the cache re-reads.
    c.authenticate_default().unwrap();
    c.write_certificate(Slot::Authentication, &[0x30; 900]).unwrap();
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0xCB, 0xCB, 0x20, 0x87]);
}

#[test]
fn a_warm_login_moves_few_bytes() {
    let (mut c, key) = personalised();
    let mut cache = CertCache::default();
    login(&mut c, &key, &mut cache);
    c.transport_mut().take();
    let challenge = b"server challenge 0123456789";
    c.login(&mut cache, b"123456", challenge).unwrap();
    let m = c.transport_mut().take();
    let (sent, received) = (m.bytes_sent, m.bytes_received);
    // SELECT (16) + card state (12) + VERIFY (13) + signing (275 with
    // extended Lc/Le) out; the template (~125: ten algorithms, Ed25519 and
    // X25519 among them) + card state (16) + 2 + the signature template
    // (266) back.
    assert!(sent < 330 && received < 435, "sent {sent}, received {received}");
}
