//! The shared exchange layer: chaining when the transport lacks extended
//! length, extended APDUs when it has it, GET RESPONSE either way.

use apdu_sim::SimCard;
use applet_spec::apdu::Command;
use applet_spec::piv::Slot;
use subsim_host::{Capabilities, Client, Hash, Padding, Result, SimTransport, Transport};

/// Records every APDU that crosses the transport.
struct Recording {
    inner: SimTransport,
    sent: Vec<Vec<u8>>,
}

impl Transport for Recording {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.sent.push(apdu.to_vec());
        self.inner.transmit(apdu)
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

fn client(extended: bool) -> Client<Recording> {
    let sim = SimTransport::new(SimCard::seeded(3));
    let inner = if extended { sim } else { sim.without_extended_length() };
    let mut c = Client::new(Recording { inner, sent: vec![] });
    c.select().unwrap();
    c.authenticate_default().unwrap();
    c.generate(Slot::CardAuthentication).unwrap();
    c.transport_mut().sent.clear();
    c
}

#[test]
fn without_extended_length_the_sign_command_is_chained() {
    let mut c = client(false);
    let sig = c.sign(Slot::CardAuthentication, b"m", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    let sent = &c.transport().sent;
    // 266 data bytes: one chained part of 255, the last part of 11, then GET RESPONSE.
    assert_eq!(sent.len(), 3, "{sent:02X?}");
    assert_eq!(sent[0][..5], [0x10, 0x87, 0x07, 0x9E, 0xFF]);
    assert_eq!(sent[1][..5], [0x00, 0x87, 0x07, 0x9E, 0x0B]);
    assert_eq!(sent[2], [0x00, 0xC0, 0x00, 0x00, 0x08]);
    assert!(sent.iter().all(|a| a.len() <= 5 + 255 + 1), "short APDUs only");
    assert_eq!(sig.len(), 256);
}

#[test]
fn with_extended_length_one_round_trip_signs() {
    let mut c = client(true);
    let sig = c.sign(Slot::CardAuthentication, b"m", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    let sent = &c.transport().sent;
    assert_eq!(sent.len(), 1, "one extended APDU, whole answer at once");
    assert_eq!(sent[0][4], 0x00, "extended Lc marker");
    assert_eq!(sig.len(), 256);
}

#[test]
fn the_same_answer_either_way() {
    for extended in [false, true] {
        let mut c = client(extended);
        let der = vec![0x42; 1500];
        c.write_certificate(Slot::Authentication, &der).unwrap();
        assert_eq!(c.read_certificate(Slot::Authentication).unwrap().unwrap(), der);
        let reads = c.transport().sent.iter().filter(|a| a[1] == 0xC0).count();
        assert_eq!(reads > 0, !extended, "GET RESPONSE only without extended length");
    }
}

#[test]
fn wrong_le_is_retried_with_the_length_the_card_names() {
    // A card answering 6Cxx: the exchange layer resends with Le = xx.
    struct SixC(SimTransport, bool);
    impl Transport for SixC {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
            if !self.1 {
                self.1 = true;
                return Ok(vec![0x6C, 0x03]);
            }
            self.0.transmit(apdu)
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        fn describe(&self) -> String {
            "6C card".into()
        }
        fn reset(&mut self) -> Result<()> {
            self.0.reset()
        }
        fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
            f(self)
        }
    }
    let mut c = Client::new(SixC(SimTransport::new(SimCard::seeded(4)), true));
    c.select().unwrap();
    c.transport_mut().1 = false;
    let r = c.transmit(&Command::new(0, 0xFD, 0, 0).with_ne(1)).unwrap();
    assert_eq!(r.data, applet_spec::piv::VERSION);
}

#[test]
fn a_reader_that_refuses_extended_apdus_gets_chains() {
    // Offers extended length, then refuses it as pcsc-lite does for readers
    // without extended APDU support; the exchange must chain instead.
    struct NoExtended {
        inner: SimTransport,
        offered: bool,
        refused: usize,
    }
    impl Transport for NoExtended {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
            if apdu.len() >= 7 && apdu[4] == 0 {
                self.offered = false;
                self.refused += 1;
                return Err(subsim_host::Error::transport(subsim_host::TransportKind::ExtendedRejected, "no", None));
            }
            self.inner.transmit(apdu)
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities { extended_length: self.offered }
        }
        fn describe(&self) -> String {
            "short-only reader".into()
        }
        fn reset(&mut self) -> Result<()> {
            self.inner.reset()
        }
        fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
            f(self)
        }
    }
    let inner = SimTransport::new(SimCard::seeded(5));
    let mut c = Client::new(NoExtended { inner, offered: true, refused: 0 });
    c.select().unwrap();
    c.authenticate_default().unwrap();
    c.generate(Slot::CardAuthentication).unwrap();
    let sig = c.sign(Slot::CardAuthentication, b"m", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    assert_eq!(sig.len(), 256);
    assert_eq!(c.transport().refused, 1, "refused once, then never offered again");
}

#[test]
fn a_card_that_never_stops_answering_61xx_is_cut_off() {
    struct Endless;
    impl Transport for Endless {
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>> {
            Ok([&[0x7C; 256][..], &[0x61, 0x00]].concat())
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities { extended_length: false }
        }
        fn describe(&self) -> String {
            "endless card".into()
        }
        fn reset(&mut self) -> Result<()> {
            Ok(())
        }
        fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
            f(self)
        }
    }
    let e = Client::new(Endless).status().unwrap_err();
    assert_eq!(e.transport_kind(), Some(subsim_host::TransportKind::Protocol), "{e}");
    assert!(e.to_string().contains("exceeds"), "{e}");
}
