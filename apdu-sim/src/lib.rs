//! The simulated sub-SIM card.
//!
//! - [`iso`]: the ISO 7816-4 transport layer and runtime (framing, logical
//!   channels, SELECT by AID, chaining, GET RESPONSE);
//! - [`applet`]: the card's two applications: the sub-SIM applet model (PIV
//!   core and class-80 extensions) and the ARA-M ([`applet::aram`]);
//! - [`gp`]: the card manager, GlobalPlatform's Issuer Security Domain (SCP03,
//!   GET STATUS, SET STATUS, the card's life cycle);
//! - [`state`]: persistent and transient card state, atomic updates;
//! - [`persist`]: the card state file's format and its checks;
//! - [`cardfile`]: a card file held like a card in a reader (one holder,
//!   write-through, atomic replace);
//! - [`rng`], [`crypto`]: the card's randomness and RSA operations;
//! - [`vpcd`]: the card served to `pcscd` through vsmartcard's vpcd driver.
//!
//! [`SimCard`] puts the transport layer in front of the applications: raw
//! C-APDU bytes in, raw R-APDU bytes out, for any transport to carry.
//!
//! # Quick start
//!
//! A factory-fresh card in memory, driven with raw APDUs as a reader would:
//!
//! ```
//! use apdu_sim::SimCard;
//! use applet_spec::piv::PIV_AID;
//!
//! let mut card = SimCard::seeded(42); // serial, GUID and keys all from the seed
//! let select = [&[0x00, 0xA4, 0x04, 0x00, PIV_AID.len() as u8][..], &PIV_AID, &[0x00]].concat();
//! let answer = card.transmit(&select);
//! assert_eq!(answer[answer.len() - 2..], [0x90, 0x00]);
//!
//! // VERIFY a wrong PIN (FF-padded to 8 bytes): 63C2, two tries left.
//! let wrong = [0x00, 0x20, 0x00, 0x80, 0x08, b'6', b'5', b'4', b'3', b'2', b'1', 0xFF, 0xFF];
//! assert_eq!(card.transmit(&wrong), [0x63, 0xC2]);
//!
//! // The try counter is persistent: a power cycle does not give it back.
//! card.power_cycle();
//! card.transmit(&select);
//! assert_eq!(card.transmit(&[0x00, 0x20, 0x00, 0x80]), [0x63, 0xC2]);
//! ```
//!
//! Next: `subsim-host`'s `Client` (through its `SimTransport`) for a typed
//! API over this card; [`SimCard::open`] for a card kept in a file; the
//! `apdu-sim` binary to run APDU scripts or serve the card to pcscd
//! ([`vpcd`]); [`SimCard::tear_at_write`] to cut power mid-command in tests.

#![warn(missing_docs)]

pub mod applet;
pub mod attestation;
pub mod cardfile;
pub mod crypto;
pub mod gp;
pub mod iso;
pub mod persist;
pub mod rng;
pub mod script;
pub mod state;
pub mod timing;
pub mod vpcd;

use applet::aram::AraM;
use applet::SubSim;
use applet_spec::apdu::Command;
use applet_spec::Sw;
use iso::{AppId, Applications, IsoLayer};
use rng::CardRng;
use state::Persistent;

/// The card's applications: PIV (the sub-SIM), the ARA-M and the card
/// manager (ISD). The ARA-M and the ISD keep their state in PIV's store,
/// so every write of any goes through one card file.
struct Apps {
    piv: SubSim,
    aram: AraM,
    isd: gp::Isd,
}

const PIV: AppId = 0;
const ARAM: AppId = 1;
const ISD: AppId = 2;

impl Apps {
    /// An application other than the ISD answers only while the card
    /// manager lets it be selected (not locked, card neither locked nor
    /// terminated: GPCS 5.1.1, 5.3.1), and a lock takes effect at once.
    fn available(&self, app: AppId) -> Result<(), Sw> {
        let aid: &[u8] = match app {
            PIV => &applet_spec::piv::PIV_AID,
            ARAM => &applet_spec::aram::ARAM_AID,
            _ => return Ok(()),
        };
        if self.piv.persistent().card_manager.selectable(aid) {
            Ok(())
        } else {
            Err(Sw::FILE_NOT_FOUND)
        }
    }
}

impl Applications for Apps {
    fn find(&self, aid: &[u8]) -> Option<AppId> {
        if applet_spec::piv::aid_matches(aid) {
            Some(PIV)
        } else if AraM::matches(aid) {
            Some(ARAM)
        } else if gp::Isd::matches(aid) {
            Some(ISD)
        } else {
            None
        }
    }
    fn select(&mut self, app: AppId, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
        self.available(app)?;
        match app {
            PIV => self.piv.select_on(channel, cmd),
            ARAM => self.aram.select(channel, cmd),
            _ => self.isd.select(channel, cmd, &self.piv),
        }
    }
    fn select_on_new_channel(&mut self, app: AppId, channel: u8) {
        match app {
            PIV => self.piv.select_on_new_channel(channel),
            ARAM => self.aram.deselect(channel),
            _ => self.isd.deselect(channel),
        }
    }
    fn deselect(&mut self, app: AppId, channel: u8) {
        match app {
            PIV => self.piv.deselect(channel),
            ARAM => self.aram.deselect(channel),
            _ => self.isd.deselect(channel),
        }
    }
    fn process(&mut self, app: AppId, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
        self.available(app)?;
        match app {
            PIV => self.piv.process(channel, cmd),
            ARAM => self.aram.process(channel, cmd, &mut self.piv),
            _ => self.isd.process(channel, cmd, &mut self.piv),
        }
    }
    fn takes_secure_messaging(&self, app: AppId) -> bool {
        app == ISD
    }
    fn power_reset(&mut self) {
        self.piv.power_reset();
        self.aram.power_reset();
        self.isd.power_reset();
    }
}

/// A whole card: transport layer plus applications.
pub struct SimCard {
    iso: IsoLayer,
    apps: Apps,
    /// Real chips' delays, when asked for.
    timing: Option<timing::Timing>,
}

impl SimCard {
    /// A card holding `state`, drawing its randomness from `rng`; kept in memory only.
    pub fn new(state: Persistent, rng: CardRng) -> SimCard {
        SimCard {
            iso: IsoLayer::default(),
            apps: Apps { piv: SubSim::new(state, rng), aram: AraM::default(), isd: gp::Isd::default() },
            timing: None,
        }
    }

    /// A factory-fresh card whose serial, GUID and keys all come from `seed`.
    pub fn seeded(seed: u64) -> SimCard {
        let mut rng = rng::seeded(seed);
        let state = Persistent::manufacture(&mut rng);
        SimCard::new(state, rng)
    }

    /// The card kept in the file at `path`, held for as long as the card
    /// lives (see [`cardfile`]): waits up to `wait` for another holder, else
    /// [`persist::StateError::InUse`]. A missing file is created holding a
    /// factory-fresh card made with `rng`. Every persistent write is on disk
    /// before the command's answer; a write that cannot be saved is a power
    /// cut that lasts ([`SimCard::failure`] says why).
    pub fn open(
        path: &std::path::Path,
        wait: std::time::Duration,
        mut rng: CardRng,
    ) -> Result<SimCard, persist::StateError> {
        let opened = cardfile::CardFile::open(path, wait, || Persistent::manufacture(&mut rng))?;
        let mut card = SimCard::new(opened.state, rng);
        card.apps.piv.store_mut().set_backing(Box::new(opened.file));
        Ok(card)
    }

    /// Why the card stopped for good: a write that could not be saved to
    /// its file. It answers nothing from then on, power cycles or not.
    pub fn failure(&self) -> Option<&str> {
        self.apps.piv.store().failure()
    }

    /// Runs one C-APDU, returns the R-APDU (data then SW1 SW2), or nothing
    /// at all when power was cut during the command (see [`SimCard::tear_at_write`]).
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        if self.power_lost() {
            return Vec::new();
        }
        let answer = self.iso.transmit(&mut self.apps, apdu);
        if self.power_lost() {
            return Vec::new();
        }
        if let Some(t) = &mut self.timing {
            std::thread::sleep(t.transfer(apdu.len() + answer.len()) + chip_time(t, apdu, &answer));
        }
        answer
    }

    /// Makes the card as slow as a real chip (see [`timing`]).
    pub fn set_timing(&mut self, timing: Option<timing::Timing>) {
        self.timing = timing;
    }

    /// Fault injection: power is cut when persistent write number `n` is
    /// about to happen (counting every write since the card was created or
    /// loaded, from 1). That write and everything after it in the command is
    /// lost; the card answers nothing until [`SimCard::power_cycle`].
    ///
    /// This is what a process death leaves too: a file-backed card saves
    /// each write before the next begins, so a program killed at any moment
    /// leaves its file as after write `n - 1` (cut at `n`) or, killed after
    /// write `n` reached the disk, as after write `n` (cut at `n + 1`).
    pub fn tear_at_write(&mut self, n: u64) {
        self.apps.piv.store_mut().tear_at(n);
    }

    /// A test card for hosts: re-SELECT drops the keys' PIN state, as on
    /// PivApplet (see [`SubSim::set_drop_pin_on_reselect`]).
    pub fn set_drop_pin_on_reselect(&mut self, on: bool) {
        self.apps.piv.set_drop_pin_on_reselect(on);
    }

    /// The card on a chip with only `keys` (see [`SubSim::set_key_algorithms`]).
    pub fn set_key_algorithms(&mut self, keys: applet_spec::piv::KeyAlgorithms) {
        self.apps.piv.set_key_algorithms(keys);
    }

    /// Chooses the library behind the private-key operation (default OpenSSL).
    pub fn set_rsa_backend(&mut self, backend: crypto::RsaBackend) {
        self.apps.piv.set_rsa_backend(backend);
    }

    /// Personalizes the card manager as a factory or a lab would (the
    /// challenge mode, a production card's key sets): one persistent write,
    /// through the card's file like any other. `false` when power is gone.
    pub fn personalize_card_manager(&mut self, f: impl FnOnce(&mut gp::state::CardManager)) -> bool {
        self.apps.piv.store_mut().write(|p| Ok::<_, Sw>(f(&mut p.card_manager))).is_ok()
    }

    /// Power was cut and not yet restored.
    pub fn power_lost(&self) -> bool {
        self.apps.piv.store().torn()
    }

    /// Persistent writes made so far.
    pub fn writes(&self) -> u64 {
        self.apps.piv.store().writes()
    }

    /// Power off and on: all transient state is lost, persistent state stays.
    pub fn power_cycle(&mut self) {
        self.iso.reset();
        self.apps.power_reset();
    }

    /// The applet behind the transport layer, for inspection.
    pub fn applet(&self) -> &SubSim {
        &self.apps.piv
    }
    /// What the card keeps across power loss.
    pub fn persistent(&self) -> &Persistent {
        self.apps.piv.persistent()
    }
    /// Takes the card apart into its persistent state (e.g. to save it).
    pub fn into_persistent(self) -> Persistent {
        self.apps.piv.into_persistent()
    }
}

/// The time the chip itself spends on a command that succeeded: key
/// generation, or a private-key operation.
fn chip_time(t: &mut timing::Timing, apdu: &[u8], answer: &[u8]) -> std::time::Duration {
    use applet_spec::piv::KeyAlgorithm;
    let ok = answer.len() >= 2 && matches!(answer[answer.len() - 2], 0x90 | 0x61);
    match apdu {
        // The algorithm is the template's last byte (AC 03 80 01 <alg>), as hosts send it.
        [cla, 0x47, _, _, 5, 0xAC, 3, 0x80, 1, alg, ..] if ok && cla & 0x80 == 0 => {
            t.keygen_of(KeyAlgorithm::from_id(*alg).unwrap_or(KeyAlgorithm::Rsa2048))
        }
        [cla, 0x47, ..] if ok && cla & 0x80 == 0 => t.keygen(),
        [cla, 0x87, p1, p2, ..] if ok && cla & 0x90 == 0 && applet_spec::piv::Slot::from_key_ref(*p2).is_some() => {
            KeyAlgorithm::from_id(*p1).map_or_else(|| t.sign(), |a| t.sign_of(a))
        }
        _ => std::time::Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A backing that counts its commits and fails from commit `fail_at` on.
    struct Counting {
        commits: Arc<AtomicUsize>,
        fail_at: usize,
    }

    impl state::Backing for Counting {
        fn commit(&mut self, _: &Persistent) -> Result<(), String> {
            let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.fail_at {
                return Err("disk on fire".into());
            }
            Ok(())
        }
    }

    use applet_spec::ins::CLA_PROPRIETARY;
    use std::sync::Arc;

    fn card(fail_at: usize) -> (SimCard, Arc<AtomicUsize>) {
        let mut card = SimCard::seeded(1);
        let commits = Arc::new(AtomicUsize::new(0));
        card.apps.piv.store_mut().set_backing(Box::new(Counting { commits: commits.clone(), fail_at }));
        (card, commits)
    }

    const SELECT: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
    const WRONG_PIN: [u8; 13] = [0x00, 0x20, 0x00, 0x80, 0x08, b'9', b'9', b'9', b'9', b'9', b'9', 0xFF, 0xFF];

    #[test]
    fn every_write_is_committed_and_commands_that_write_nothing_commit_nothing() {
        let (mut c, commits) = card(usize::MAX);
        let get_status = [CLA_PROPRIETARY, applet_spec::ins::GET_STATUS, 0x00, 0x00];
        for read_only in [&SELECT[..], &[0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00], &get_status] {
            let answer = c.transmit(read_only);
            assert!(matches!(answer[answer.len() - 2], 0x90 | 0x61), "{answer:02X?}");
        }
        assert_eq!(commits.load(Ordering::SeqCst), 0, "no write, no commit");
        assert_eq!(c.transmit(&WRONG_PIN), [0x63, 0xC2]);
        assert_eq!(commits.load(Ordering::SeqCst), 2, "VERIFY's two writes, each committed");
        assert_eq!(commits.load(Ordering::SeqCst) as u64, c.writes());
    }

    #[test]
    fn a_failed_commit_is_a_lasting_power_cut_that_changes_nothing() {
        // The second write (VERIFY's restore) cannot be saved.
        let (mut c, _) = card(2);
        c.transmit(&SELECT);
        assert!(c.transmit(&WRONG_PIN).is_empty(), "no answer");
        assert_eq!(c.failure(), Some("disk on fire"));
        assert_eq!(c.persistent().pin.tries_left, 2, "the first write stands, the second never happened");
        c.power_cycle();
        assert!(c.transmit(&SELECT).is_empty(), "power cycles do not revive it");
        assert_eq!(c.writes(), 1);
    }
}
