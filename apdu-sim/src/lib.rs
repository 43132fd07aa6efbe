//! The simulated sub-SIM card.
//!
//! - [`iso`]: the ISO 7816-4 transport layer (framing, chaining, GET RESPONSE);
//! - [`applet`]: the sub-SIM applet model (PIV core and class-80 extensions);
//! - [`state`]: persistent and transient card state, atomic updates;
//! - [`persist`]: the card state file;
//! - [`rng`], [`crypto`]: the card's randomness and RSA operations;
//! - [`vpcd`]: the card served to `pcscd` through vsmartcard's vpcd driver.
//!
//! [`SimCard`] puts the transport layer in front of the applet: raw C-APDU
//! bytes in, raw R-APDU bytes out, for any transport to carry.

pub mod applet;
pub mod attestation;
pub mod crypto;
pub mod iso;
pub mod persist;
pub mod rng;
pub mod script;
pub mod state;
pub mod timing;
pub mod vpcd;

use applet::SubSim;
use iso::{Applet, IsoLayer};
use rng::CardRng;
use state::Persistent;

/// A whole card: transport layer plus applet.
pub struct SimCard {
    iso: IsoLayer,
    applet: SubSim,
    /// Real chips' delays, when asked for.
    timing: Option<timing::Timing>,
}

impl SimCard {
    pub fn new(state: Persistent, rng: CardRng) -> SimCard {
        SimCard { iso: IsoLayer::default(), applet: SubSim::new(state, rng), timing: None }
    }

    /// A factory-fresh card whose serial, GUID and keys all come from `seed`.
    pub fn seeded(seed: u64) -> SimCard {
        let mut rng = rng::seeded(seed);
        let state = Persistent::manufacture(&mut rng);
        SimCard::new(state, rng)
    }

    /// Runs one C-APDU, returns the R-APDU (data then SW1 SW2), or nothing
    /// at all when power was cut during the command (see [`SimCard::tear_at_write`]).
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        if self.power_lost() {
            return Vec::new();
        }
        let answer = self.iso.transmit(&mut self.applet, apdu);
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
    pub fn tear_at_write(&mut self, n: u64) {
        self.applet.store_mut().tear_at(n);
    }

    /// Chooses the library behind the private-key operation (default OpenSSL).
    pub fn set_rsa_backend(&mut self, backend: crypto::RsaBackend) {
        self.applet.set_rsa_backend(backend);
    }

    /// Power was cut and not yet restored.
    pub fn power_lost(&self) -> bool {
        self.applet.store().torn()
    }

    /// Persistent writes made so far.
    pub fn writes(&self) -> u64 {
        self.applet.store().writes()
    }

    /// Power off and on: all transient state is lost, persistent state stays.
    pub fn power_cycle(&mut self) {
        self.iso.reset();
        self.applet.power_reset();
    }

    pub fn applet(&self) -> &SubSim {
        &self.applet
    }
    pub fn persistent(&self) -> &Persistent {
        self.applet.persistent()
    }
    pub fn into_persistent(self) -> Persistent {
        self.applet.into_persistent()
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
