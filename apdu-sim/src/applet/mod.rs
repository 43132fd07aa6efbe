//! The sub-SIM applet: PIV-compatible core plus the class-80 extensions.
//!
//! [`SubSim::process`] dispatches on CLA and INS to the handlers in the
//! submodules, each named for the part of the interface it serves. Handlers
//! check in a fixed order: P1/P2 (6A86), data shape (6700/6A80), security
//! condition (6982/6985), then act.
//!
//! The applet is multiselectable: selected on several logical channels at
//! once, it keeps one [`Transient`] (PIN verified, 9B, keypad, binding) per
//! channel, and the handlers see the one of the channel the command came
//! on. Persistent state (try counters included) is one for the card.
//! [`aram`] is the card's second application, the ARA-M.

pub mod aram;
mod keys;
mod mgm;
mod objects;
mod pin;
mod subsim;
mod yubico;

use applet_spec::apdu::Command;
use applet_spec::ins::{self, CLA_PROPRIETARY};
use applet_spec::piv::KeyAlgorithms;
use applet_spec::Sw;

use crate::crypto::{PrivateOp, RsaBackend};
use crate::rng::CardRng;
use crate::state::{Persistent, Store, Transient};

/// The applet model: persistent store, transient state, the card's RNG and
/// its RSA engine.
pub struct SubSim {
    store: Store,
    /// The state of the channel whose command runs now (see [`SubSim::on_channel`]).
    t: Transient,
    /// Every channel's state while no command of it runs.
    parked: Vec<Transient>,
    rng: CardRng,
    private_op: PrivateOp,
    /// A lab mode: re-SELECT drops the keys' PIN state (see `set_drop_pin_on_reselect`).
    drop_pin_on_reselect: bool,
    /// The key algorithms the chip has (see `set_key_algorithms`).
    platform: KeyAlgorithms,
}

impl SubSim {
    /// The applet over `state`, powered up (nothing selected or verified).
    pub fn new(state: Persistent, rng: CardRng) -> SubSim {
        SubSim {
            store: Store::new(state),
            t: Transient::default(),
            parked: (0..applet_spec::apdu::CHANNELS).map(|_| Transient::default()).collect(),
            rng,
            private_op: PrivateOp::new(RsaBackend::default()),
            drop_pin_on_reselect: false,
            platform: KeyAlgorithms::ALL,
        }
    }
    /// A test card for hosts, not the sub-SIM's behaviour: every SELECT of
    /// PIV takes the keys' PIN state (9A/9D/retired and 9C refuse with
    /// `6982` until the next VERIFY), while VERIFY's status query still
    /// answers `9000`, as PivApplet does and YubiKey 4 is reported to
    /// (OpenSC issue 624). SP 800-73-4 part 2, 3.1.1 asks a card to keep the
    /// state; a host that sends each private-key operation right after its
    /// VERIFY works on both.
    pub fn set_drop_pin_on_reselect(&mut self, on: bool) {
        self.drop_pin_on_reselect = on;
    }
    /// The card on a chip with only `keys` (a Java Card 3.0.5 platform has
    /// no Ed25519 or X25519): SELECT lists just these, GENERATE and IMPORT
    /// KEY of any other answer `6A80`, as the Java Card applet does. Keys
    /// the card already holds keep working. Not kept in the card file: it
    /// is the chip's, not the card's state.
    pub fn set_key_algorithms(&mut self, keys: KeyAlgorithms) {
        self.platform = keys;
    }
    /// The key algorithms the chip has.
    pub fn key_algorithms(&self) -> KeyAlgorithms {
        self.platform
    }
    /// Chooses the library behind the private-key operation.
    pub fn set_rsa_backend(&mut self, backend: RsaBackend) {
        self.private_op = PrivateOp::new(backend);
    }
    /// The persistent state as of the last completed write.
    pub fn persistent(&self) -> &Persistent {
        self.store.get()
    }
    /// The store holding the persistent state.
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The card session's state on a logical channel: selection, PIN and
    /// management key status.
    pub fn transient(&self, channel: u8) -> &Transient {
        &self.parked[channel as usize]
    }

    /// Runs `f` with `channel`'s transient state as the current one.
    fn on_channel<R>(&mut self, channel: u8, f: impl FnOnce(&mut SubSim) -> R) -> R {
        let c = channel as usize;
        std::mem::swap(&mut self.t, &mut self.parked[c]);
        let out = f(self);
        std::mem::swap(&mut self.t, &mut self.parked[c]);
        out
    }

    /// One complete command on `channel`, where the applet is selected.
    pub fn process(&mut self, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
        self.on_channel(channel, |a| a.dispatch(cmd))
    }

    /// SELECT on `channel` (also a re-SELECT, which keeps the security state).
    pub fn select_on(&mut self, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
        self.on_channel(channel, |a| a.select(cmd))
    }

    /// Selected on a channel MANAGE CHANNEL opened: nothing verified there yet.
    pub fn select_on_new_channel(&mut self, channel: u8) {
        self.parked[channel as usize] = Transient { selected: true, ..Transient::default() };
    }

    /// Deselected on `channel`: its PIN, 9B and binding state go.
    pub fn deselect(&mut self, channel: u8) {
        self.parked[channel as usize] = Transient::default();
    }

    /// The issuer's proof for another application (the ARA-M): the
    /// management key exchange of GENERAL AUTHENTICATE 9B, run against
    /// `session` instead of a PIV channel's state. Java Card: a Shareable
    /// interface of this applet.
    pub fn issuer_authenticate(&mut self, session: &mut Transient, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p2 != applet_spec::piv::KEY_REF_MANAGEMENT {
            return Err(Sw::INCORRECT_P1_P2);
        }
        std::mem::swap(&mut self.t, session);
        let out = self.general_authenticate(cmd);
        std::mem::swap(&mut self.t, session);
        out
    }
    /// Gives the persistent state back.
    pub fn into_persistent(self) -> Persistent {
        self.store.into_inner()
    }
    /// Every channel's PIN, 9B and binding state goes (the card manager
    /// deleted or installed the instance: nothing of the old one may stay).
    pub(crate) fn forget_sessions(&mut self) {
        self.t = Transient::default();
        self.parked.iter_mut().for_each(|t| *t = Transient::default());
    }
    /// The card's random generator, for another application (the ISD's card challenges).
    pub(crate) fn rng_mut(&mut self) -> &mut CardRng {
        &mut self.rng
    }
    /// The store, mutably: for fault injection (power cuts) and a backing file.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    fn require_mgm(&self) -> Result<(), Sw> {
        if self.t.mgm_authenticated {
            Ok(())
        } else {
            Err(Sw::SECURITY_STATUS_NOT_SATISFIED)
        }
    }
}

/// P1 and P2 must be these values.
fn p1p2(cmd: &Command, p1: u8, p2: u8) -> Result<(), Sw> {
    if (cmd.p1, cmd.p2) == (p1, p2) {
        Ok(())
    } else {
        Err(Sw::INCORRECT_P1_P2)
    }
}

/// The command must carry no data.
fn no_data(cmd: &Command) -> Result<(), Sw> {
    if cmd.data.is_empty() {
        Ok(())
    } else {
        Err(Sw::WRONG_LENGTH)
    }
}

impl SubSim {
    fn dispatch(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.cla & CLA_PROPRIETARY == 0 && cmd.ins == ins::SELECT {
            return self.select(cmd);
        }
        if !self.t.selected {
            // No applet selected: the card manager knows none of these.
            return Err(Sw::INS_NOT_SUPPORTED);
        }
        if cmd.cla & CLA_PROPRIETARY == 0 {
            match cmd.ins {
                ins::GET_DATA => self.get_data(cmd),
                ins::PUT_DATA => self.put_data(cmd),
                ins::VERIFY => self.verify(cmd),
                ins::CHANGE_REFERENCE_DATA => self.change_reference_data(cmd),
                ins::RESET_RETRY_COUNTER => self.reset_retry_counter(cmd),
                ins::GENERAL_AUTHENTICATE => self.general_authenticate(cmd),
                ins::GENERATE_ASYMMETRIC_KEY_PAIR => self.generate(cmd),
                ins::SET_MANAGEMENT_KEY => self.set_management_key(cmd),
                ins::GET_SERIAL => self.get_serial(cmd),
                ins::GET_VERSION => self.get_version(cmd),
                ins::GET_METADATA => self.get_metadata(cmd),
                ins::ATTEST => self.attest(cmd),
                ins::SET_PIN_RETRIES => self.set_pin_retries(cmd),
                ins::RESET => self.reset(cmd),
                ins::IMPORT_KEY => self.import_key(cmd),
                ins::MOVE_KEY => self.move_key(cmd),
                _ => Err(Sw::INS_NOT_SUPPORTED),
            }
        } else {
            match cmd.ins {
                ins::GET_KEYPAD => self.get_keypad(cmd),
                ins::VERIFY_KEYPAD => self.verify_keypad(cmd),
                ins::SET_PIN_POLICY => self.set_pin_policy(cmd),
                ins::SET_BINDING => self.set_binding(cmd),
                ins::PRESENT_BINDING => self.present_binding(cmd),
                ins::GET_STATUS => self.get_status(cmd),
                ins::TERMINATE => self.terminate(cmd),
                ins::SET_IMPORT_POLICY => self.set_import_policy(cmd),
                _ => Err(Sw::INS_NOT_SUPPORTED),
            }
        }
    }

    /// Power-off, power-on or reset: every channel's transient state goes.
    pub fn power_reset(&mut self) {
        self.t = Transient::default();
        self.parked.iter_mut().for_each(|t| *t = Transient::default());
        self.store.power_restored();
    }
}
