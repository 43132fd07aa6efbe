//! The lean login: a warm login is SELECT, VERIFY and one signature; a cold
//! one adds only the certificate read; a changed card is read again.

use apdu_sim::SimCard;
use applet_spec::piv::Slot;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use subsim_host::{CertCache, Client, Result, SimTransport, Transport};

/// Counts APDUs and bytes each way.
struct Counting {
    inner: SimTransport,
    apdus: Vec<u8>,
    sent: usize,
    received: usize,
}

impl Transport for Counting {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.apdus.push(apdu[1]);
        self.sent += apdu.len();
        let r = self.inner.transmit(apdu)?;
        self.received += r.len();
        Ok(r)
    }
    fn capabilities(&self) -> subsim_host::Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        "counting".into()
    }
    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

fn personalised() -> (Client<Counting>, rsa::RsaPublicKey) {
    let mut c =
        Client::new(Counting { inner: SimTransport::new(SimCard::seeded(9)), apdus: vec![], sent: 0, received: 0 });
    c.select().unwrap();
    c.authenticate_default().unwrap();
    let key = c.generate(Slot::Authentication).unwrap();
    c.write_certificate(Slot::Authentication, &[0x30; 900]).unwrap();
    c.transport_mut().inner.reset().unwrap(); // a new session, as after connect
    (c, key)
}

/// One login; the INS of every APDU it sent. The proof must verify.
fn login(c: &mut Client<Counting>, key: &rsa::RsaPublicKey, cache: &mut CertCache) -> Vec<u8> {
    c.transport_mut().apdus.clear();
    let challenge = b"server challenge 0123456789";
    let proof = c.login(cache, b"123456", challenge).unwrap();
    assert_eq!(proof.certificate, vec![0x30; 900]);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &proof.signature).unwrap();
    std::mem::take(&mut c.transport_mut().apdus)
}

#[test]
fn cold_then_warm_then_changed() {
    let (mut c, key) = personalised();
    let mut cache = CertCache::default();
    // Cold: SELECT, GET DATA (the certificate), VERIFY, GENERAL AUTHENTICATE.
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0xCB, 0x20, 0x87]);
    // Warm, after reconnecting: no certificate read.
    c.transport_mut().inner.reset().unwrap();
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0x20, 0x87]);
    // Another host changes the card: the change counter tells, the cache re-reads.
    c.authenticate_default().unwrap();
    c.write_certificate(Slot::Authentication, &[0x30; 900]).unwrap();
    assert_eq!(login(&mut c, &key, &mut cache), [0xA4, 0xCB, 0x20, 0x87]);
}

#[test]
fn a_warm_login_moves_few_bytes() {
    let (mut c, key) = personalised();
    let mut cache = CertCache::default();
    login(&mut c, &key, &mut cache);
    c.transport_mut().sent = 0;
    c.transport_mut().received = 0;
    login(&mut c, &key, &mut cache);
    let (sent, received) = (c.transport().sent, c.transport().received);
    // SELECT (16) + VERIFY (13) + signing (275 with extended Lc/Le) out;
    // the template (~90) + 2 + the signature template (266) back.
    assert!(sent < 320 && received < 380, "sent {sent}, received {received}");
}
