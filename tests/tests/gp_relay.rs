//! The issuer's commands through an untrusted phone: a relay between the
//! issuer's GP client and the card that can alter, replay, reorder, drop or
//! inject APDUs. Over SCP03 at level 33 (C-MAC, C-DECRYPTION, R-MAC,
//! R-ENCRYPTION) every hostile move ends in a refused command or a failed
//! answer check, the card's state unchanged or exactly as the last
//! authenticated command left it, and the issuer told; nothing secret
//! crosses the relay in clear. The relay here is a transport wrapper in
//! this process (the socket relay process of issue 18 is not built).

use apdu_sim::SimCard;
use applet_spec::gp::{self, DEVELOPMENT_KEY};
use applet_spec::piv::PIV_AID;
use applet_spec::scp03::{SecurityLevel, StaticKeys};
use applet_spec::Sw;
use subsim_conformance::sim_only;
use subsim_host::gp::GpClient;
use subsim_host::{Capabilities, Error, SimTransport, Transport, TransportKind};

/// What the relay does to the first command with the target INS.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Move {
    Honest,
    /// Flips a bit of the command's last data byte (its MAC or data).
    AlterCommand,
    /// Flips a bit of the answer's first byte.
    AlterAnswer,
    /// Forwards it, then sends it again (the card's answer to the copy is returned).
    Replay,
    /// Sends its own plain command first: SET STATUS lock PIV.
    Inject,
    /// Keeps it, says the card went away; sends it with the next command's place.
    Hold,
}

struct Relay {
    card: SimTransport,
    ins: u8,
    act: Move,
    done: bool,
    held: Option<Vec<u8>>,
    /// Every byte that crossed, both ways.
    seen: Vec<u8>,
}

impl Relay {
    fn new(card: SimCard, ins: u8, act: Move) -> Relay {
        Relay { card: SimTransport::new(card), ins, act, done: false, held: None, seen: Vec::new() }
    }
    fn forward(&mut self, apdu: &[u8]) -> subsim_host::Result<Vec<u8>> {
        self.seen.extend_from_slice(apdu);
        let r = self.card.transmit(apdu)?;
        self.seen.extend_from_slice(&r);
        Ok(r)
    }
}

impl Transport for Relay {
    fn transmit(&mut self, apdu: &[u8]) -> subsim_host::Result<Vec<u8>> {
        if let Some(held) = self.held.take() {
            // The held command goes first, in the place of this one.
            let _ = self.forward(&held)?;
        }
        if self.done || apdu.get(1) != Some(&self.ins) || apdu[0] & 0x04 == 0 {
            return self.forward(apdu);
        }
        self.done = true;
        match self.act {
            Move::Honest => self.forward(apdu),
            Move::AlterCommand => {
                let mut a = apdu.to_vec();
                let at = 5 + a[4] as usize - 1;
                a[at] ^= 0x01;
                self.forward(&a)
            }
            Move::AlterAnswer => {
                let mut r = self.forward(apdu)?;
                r[0] ^= 0x01;
                Ok(r)
            }
            Move::Replay => {
                self.forward(apdu)?;
                self.forward(apdu)
            }
            Move::Inject => {
                let own = [&[0x80, 0xF0, 0x40, 0x80, PIV_AID.len() as u8][..], &PIV_AID].concat();
                self.forward(&own)?;
                self.forward(apdu)
            }
            Move::Hold => {
                self.held = Some(apdu.to_vec());
                Err(Error::transport(TransportKind::CardRemoved, "the phone lost the card", None))
            }
        }
    }
    fn capabilities(&self) -> Capabilities {
        self.card.capabilities()
    }
    fn describe(&self) -> String {
        "a phone relaying the issuer's commands".into()
    }
    fn reset(&mut self) -> subsim_host::Result<()> {
        self.card.reset()
    }
    fn exclusive(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Transport) -> subsim_host::Result<()>,
    ) -> subsim_host::Result<()> {
        f(self)
    }
}

fn locked(gp: &GpClient<Relay>) -> bool {
    gp.transport().card.card().persistent().card_manager.locked.contains(&PIV_AID.to_vec())
}

/// The issuer, through a relay doing `act` to SET STATUS: open at 33, lock PIV.
fn issuer(act: Move) -> (GpClient<Relay>, subsim_host::Result<()>) {
    let mut gp = GpClient::new(Relay::new(SimCard::seeded(51), gp::SET_STATUS, act));
    gp.select().unwrap();
    gp.open(&StaticKeys::single(&DEVELOPMENT_KEY), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
    let r = gp.lock_application(&PIV_AID, true);
    (gp, r)
}

#[test]
fn every_hostile_move_is_refused_or_seen_and_the_state_is_what_the_issuer_authenticated() {
    if !sim_only("the relay runs in this process") {
        return;
    }
    let (gp, r) = issuer(Move::Honest);
    assert!(r.is_ok() && locked(&gp), "an honest relay carries the lock");

    // An altered command: its C-MAC fails, the card refuses (6982) and ends the session.
    let (gp, r) = issuer(Move::AlterCommand);
    assert_eq!(r.unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    assert!(!locked(&gp), "nothing changed");
    assert!(!gp.is_open(), "the issuer knows the session is gone");

    // An altered answer: the command ran (it was the issuer's), the R-MAC
    // check tells the issuer the answer is not the card's.
    let (gp, r) = issuer(Move::AlterAnswer);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("failed its check"), "{e}");
    assert!(locked(&gp), "exactly as the authenticated command left it");

    // A replay of the lock: the copy's MAC is stale (the chain moved on): refused.
    let (mut gp, r) = issuer(Move::Replay);
    assert_eq!(r.unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED), "the issuer sees the copy refused");
    assert!(locked(&gp), "the one authenticated lock, once");
    assert!(!gp.is_open());
    let _ = gp.select();

    // An injected command of the relay's own: plain in a C-MAC session, refused;
    // it ends the session, so the issuer's own command is refused after it.
    let (gp, r) = issuer(Move::Inject);
    assert_eq!(r.unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    assert!(!locked(&gp), "neither the relay's lock nor the issuer's");

    // A held command, sent later when the relay chooses: the issuer was
    // told the command did not get through and that its session is closed
    // (its fate unknown); its next command, without the session, is refused
    // (the card's session asks for a C-MAC), and a new session reads the
    // state the held, authentic command left.
    let (mut gp, r) = issuer(Move::Hold);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("secure channel is closed"), "{e}");
    assert!(!gp.is_open());
    assert!(!locked(&gp), "held: not yet on the card");
    assert_eq!(gp.life_cycle().unwrap_err().sw(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    assert!(locked(&gp), "the relay delivered the held command: authentic, so it ran");
    gp.select().unwrap();
    gp.open(&StaticKeys::single(&DEVELOPMENT_KEY), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
    let apps = gp.status(applet_spec::gp::StatusScope::Applications).unwrap();
    let piv = apps.iter().find(|a| a.aid == PIV_AID).unwrap();
    assert_eq!(piv.life_cycle & gp::app_state::LOCKED, gp::app_state::LOCKED, "and the issuer reads what happened");
}

#[test]
fn no_secret_crosses_the_relay_in_clear() {
    if !sim_only("the relay runs in this process") {
        return;
    }
    let mut gp = GpClient::new(Relay::new(SimCard::seeded(52), 0x00, Move::Honest));
    gp.select().unwrap();
    gp.open(&StaticKeys::single(&DEVELOPMENT_KEY), 0, SecurityLevel::from_p1(0x33).unwrap()).unwrap();
    let new_key = [0x5C, 0x3A, 0x91, 0x07, 0xE2, 0x44, 0xB8, 0x1D, 0x6F, 0x20, 0xCC, 0x93, 0x08, 0x7E, 0xA5, 0x31];
    gp.put_keys(0x31, None, &StaticKeys::single(&new_key)).unwrap();
    let cplc = gp.get_data(gp::data::CPLC).unwrap().unwrap();
    let seen = &gp.transport().seen;
    let has = |needle: &[u8]| seen.windows(needle.len()).any(|w| w == needle);
    assert!(!has(&new_key), "the new key crossed only wrapped with the DEK and encrypted");
    assert!(!has(&cplc[3..19]), "R-ENCRYPTION: the card's data crossed encrypted");
    assert!(!has(&DEVELOPMENT_KEY), "the static keys never cross");
    gp.open(&StaticKeys::single(&new_key), 0x31, SecurityLevel::from_p1(0x01).unwrap()).unwrap();
}
