//! The Issuer Security Domain: the card manager of GlobalPlatform Card
//! Specification 2.3 ("GPCS"), the card's third application beside PIV
//! and the ARA-M (docs/gp.md).
//!
//! It answers SELECT by its AID (and SELECT with no AID: the ISD is the
//! card's default application), GET DATA (CPLC, card data, key
//! information), and opens SCP03 sessions (Amendment D): INITIALIZE UPDATE
//! with a random or pseudo-random card challenge, EXTERNAL AUTHENTICATE
//! with any of the six security levels. An authenticated session then
//! carries GET STATUS and SET STATUS (lock and unlock an application; lock,
//! unlock and terminate the card).
//!
//! One session per logical channel, lost at deselect, reset and power-off.
//! Every persistent change (a try spent, a sequence counter, the life
//! cycle, a lock) goes through the card's one store: durable before the
//! answer. A failed EXTERNAL AUTHENTICATE spends a try of the key set the
//! way VERIFY spends a PIN try: before the comparison.

pub mod file;
pub mod state;

use applet_spec::apdu::{Class, Command};
use applet_spec::gp::{self, data, CardLifeCycle, InitUpdateAnswer, StatusScope, ISD_AID};
use applet_spec::scp03::{self, SecurityLevel, Session};
use applet_spec::tlv::{self, cons, prim};
use applet_spec::Sw;
use rand::RngCore;

use crate::applet::SubSim;
use state::{CardManager, ChallengeMode, KEY_SET_TRIES, MAX_SEQUENCE_COUNTER};

/// `6300`: EXTERNAL AUTHENTICATE's host cryptogram did not verify (Amendment D 7.1.2.3).
pub const AUTHENTICATION_FAILED: Sw = Sw::AUTHENTICATION_FAILED;

/// A secure channel session on one logical channel.
struct Channel {
    session: Session,
    /// The key set INITIALIZE UPDATE used.
    version: u8,
    /// EXTERNAL AUTHENTICATE succeeded.
    authenticated: bool,
}

/// A load under way: INSTALL [for load] named it, LOAD brings its blocks.
struct Loading {
    aid: Vec<u8>,
    next_block: u8,
    data: Vec<u8>,
}

/// The most a load file may hold (the card's code memory for one package).
pub const MAX_LOAD_FILE: usize = 64 * 1024;

/// The ISD: its sessions (its state is the card's, in [`CardManager`]).
pub struct Isd {
    channels: Vec<Option<Channel>>,
    loads: Vec<Option<Loading>>,
}

impl Default for Isd {
    fn default() -> Self {
        let n = applet_spec::apdu::CHANNELS;
        Isd { channels: (0..n).map(|_| None).collect(), loads: (0..n).map(|_| None).collect() }
    }
}

impl Isd {
    /// Whether SELECT by DF name with `aid` picks the ISD: its AID, or no
    /// AID at all (the default application, GPCS 11.9.2.3).
    pub fn matches(aid: &[u8]) -> bool {
        aid.is_empty() || aid == ISD_AID
    }

    /// SELECT on `channel`: any session there ends; the FCI (P2 `00`) or
    /// nothing (P2 `0C`).
    pub fn select(&mut self, channel: u8, cmd: &Command, card: &SubSim) -> Result<Vec<u8>, Sw> {
        if cmd.p2 != 0x00 && cmd.p2 != 0x0C {
            return Err(Sw::INCORRECT_P1_P2);
        }
        self.deselect(channel);
        Ok(if cmd.p2 == 0x0C { Vec::new() } else { fci(manager(card)) })
    }

    /// Deselected on `channel` (or the channel closed): its session goes.
    pub fn deselect(&mut self, channel: u8) {
        self.channels[channel as usize] = None;
        self.loads[channel as usize] = None;
    }

    /// Power-off or reset: every session goes.
    pub fn power_reset(&mut self) {
        *self = Isd::default();
    }

    /// One command on `channel`; the card manager's state is in `card`'s store.
    pub fn process(&mut self, channel: u8, cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let c = channel as usize;
        let proprietary = cmd.cla & 0x80 != 0;
        match cmd.ins {
            gp::INITIALIZE_UPDATE if proprietary => return self.initialize_update(c, cmd, card),
            gp::EXTERNAL_AUTHENTICATE if proprietary => return self.external_authenticate(c, cmd, card),
            _ => {}
        }
        let secure_messaging = Class::decode(cmd.cla).is_some_and(|k| k.secure_messaging);
        let authenticated = self.channels[c].as_ref().is_some_and(|ch| ch.authenticated);
        let plain = match &mut self.channels[c] {
            Some(ch) if ch.authenticated => match ch.session.unwrap_command(cmd) {
                Ok(plain) => plain,
                // Amendment D 7.1.3: the session ends, the command is refused.
                Err(e) => {
                    self.channels[c] = None;
                    return Err(e.into());
                }
            },
            _ if secure_messaging => {
                self.channels[c] = None;
                return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
            }
            _ => cmd.clone(),
        };
        let answer = self.command(c, &plain, authenticated, card);
        match (&mut self.channels[c], answer) {
            (Some(ch), Ok(data)) if ch.authenticated => Ok(ch.session.wrap_response(data, Sw::OK)),
            (_, answer) => answer,
        }
    }

    /// A command after its secure messaging came off.
    fn command(&mut self, c: usize, cmd: &Command, authenticated: bool, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let cm = manager(card);
        if cm.life_cycle == CardLifeCycle::Terminated && cmd.ins != gp::GET_DATA {
            // GPCS 5.1.1.5: a terminated card answers GET DATA only.
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        let proprietary = cmd.cla & 0x80 != 0;
        let needs_session = [gp::GET_STATUS, gp::SET_STATUS, gp::PUT_KEY, gp::INSTALL, gp::LOAD, gp::DELETE];
        if proprietary && needs_session.contains(&cmd.ins) && !authenticated {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        match cmd.ins {
            gp::GET_DATA => get_data(cmd, card),
            gp::GET_STATUS if proprietary => get_status(cmd, cm),
            gp::SET_STATUS if proprietary => set_status(cmd, card),
            gp::PUT_KEY if proprietary => self.put_key(c, cmd, card),
            gp::DELETE if proprietary => delete(cmd, card),
            gp::INSTALL if proprietary && cmd.p1 == gp::INSTALL_FOR_LOAD => self.install_for_load(c, cmd, card),
            gp::INSTALL if proprietary => install(cmd, card),
            gp::LOAD if proprietary => self.load(c, cmd, card),
            _ => Err(Sw::INS_NOT_SUPPORTED),
        }
    }

    /// INITIALIZE UPDATE (Amendment D 7.1.1): a new session on the
    /// channel, whatever was there before.
    fn initialize_update(&mut self, c: usize, cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        self.channels[c] = None;
        self.loads[c] = None;
        let cm = manager(card);
        if cm.life_cycle == CardLifeCycle::Terminated {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        if cmd.p2 != 0x00 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let host_challenge: [u8; scp03::S8] = cmd.data.as_slice().try_into().map_err(|_| Sw::WRONG_LENGTH)?;
        let ks = cm.key_set(cmd.p1).ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if ks.tries_left == 0 {
            return Err(Sw::AUTH_METHOD_BLOCKED);
        }
        let (version, keys, mode) = (ks.version, ks.keys.clone(), cm.challenge);
        let (card_challenge, counter) = match mode {
            ChallengeMode::Random => {
                let mut r = [0u8; scp03::S8];
                card.rng_mut().fill_bytes(&mut r);
                (r, None)
            }
            ChallengeMode::PseudoRandom => {
                // The counter moves before the challenge leaves the card, so
                // no two sessions ever see the same one.
                let next = card.store_mut().write(|p| {
                    let ks = p.card_manager.key_set_mut(version).expect("found above");
                    if ks.sequence_counter >= MAX_SEQUENCE_COUNTER {
                        return Err(Sw::CONDITIONS_NOT_SATISFIED);
                    }
                    ks.sequence_counter += 1;
                    Ok(ks.sequence_counter)
                })?;
                let challenge = scp03::pseudo_random_challenge(&keys.enc, next, &ISD_AID).expect("AES key");
                (challenge, Some(next))
            }
        };
        let session = Session::open(&keys, host_challenge, card_challenge).expect("key sets are checked on load");
        let answer = InitUpdateAnswer {
            diversification: diversification_data(card),
            key_version: version,
            scp: gp::SCP03,
            i: mode.i(),
            card_challenge,
            card_cryptogram: session.card_cryptogram(),
            sequence_counter: counter,
        };
        self.channels[c] = Some(Channel { session, version, authenticated: false });
        Ok(answer.encode())
    }

    /// EXTERNAL AUTHENTICATE (Amendment D 7.1.2): a try of the key set is
    /// spent, durably, before the host cryptogram and C-MAC are compared;
    /// success gives it back. Any failure ends the session.
    fn external_authenticate(&mut self, c: usize, cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let Some(mut ch) = self.channels[c].take() else {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if ch.authenticated {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        let Some(level) = SecurityLevel::from_p1(cmd.p1).filter(|_| cmd.p2 == 0x00) else {
            return Err(Sw::INCORRECT_P1_P2);
        };
        if cmd.data.len() != 2 * scp03::S8 {
            return Err(Sw::WRONG_LENGTH);
        }
        if !Class::decode(cmd.cla).is_some_and(|k| k.secure_messaging) {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        let version = ch.version;
        card.store_mut().write(|p| {
            let ks = p.card_manager.key_set_mut(version).ok_or(Sw::REFERENCE_NOT_FOUND)?;
            if ks.tries_left == 0 {
                return Err(Sw::AUTH_METHOD_BLOCKED);
            }
            ks.tries_left -= 1;
            Ok(())
        })?;
        if ch.session.check_external_authenticate(cmd, level).is_err() {
            return Err(AUTHENTICATION_FAILED);
        }
        card.store_mut().write(|p| {
            p.card_manager.key_set_mut(version).expect("found above").tries_left = KEY_SET_TRIES;
            Ok::<_, Sw>(())
        })?;
        ch.authenticated = true;
        self.channels[c] = Some(ch);
        Ok(Vec::new())
    }

    /// PUT KEY (GPCS 11.8, Amendment D 7.2): a key set of three AES keys,
    /// wrapped with the session's DEK and checked by their KCVs, added (P1
    /// `00`) or in place of the key set P1 names. Only under C-MAC: the
    /// issuer's keys never travel in a command a relay could alter.
    fn put_key(&mut self, c: usize, cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let ch = self.channels[c].as_ref().ok_or(Sw::SECURITY_STATUS_NOT_SATISFIED)?;
        if !ch.session.level().c_mac() {
            return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        if cmd.p2 != gp::PUT_KEY_SET {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let cm = manager(card);
        let dek = cm.key_set(ch.version).ok_or(Sw::REFERENCE_NOT_FOUND)?.keys.dek.clone();
        let (version, keys) = gp::decode_put_key(&cmd.data, &dek).map_err(|_| Sw::INCORRECT_DATA)?;
        if !(0x01..=0x7F).contains(&version) {
            return Err(Sw::INCORRECT_DATA);
        }
        let development = [&keys.enc, &keys.mac, &keys.dek].iter().any(|k| k[..] == gp::DEVELOPMENT_KEY);
        if development && !cm.development {
            // A production card never takes GP's published key.
            return Err(Sw::INCORRECT_DATA);
        }
        let kcvs: Vec<u8> =
            [&keys.enc, &keys.mac, &keys.dek].iter().flat_map(|k| scp03::kcv(k).expect("AES")).collect();
        let replace = cmd.p1;
        card.store_mut().write(|p| {
            let sets = &mut p.card_manager.key_sets;
            let clash = sets.iter().any(|k| k.version == version && k.version != replace);
            if clash {
                return Err(Sw::INCORRECT_DATA);
            }
            let fresh = state::KeySet::new(version, keys);
            match replace {
                0 if sets.len() >= state::MAX_KEY_SETS => return Err(Sw::NOT_ENOUGH_MEMORY),
                0 => sets.push(fresh),
                v => *sets.iter_mut().find(|k| k.version == v).ok_or(Sw::REFERENCE_NOT_FOUND)? = fresh,
            }
            Ok(())
        })?;
        Ok([&[version][..], &kcvs].concat())
    }

    /// INSTALL [for load] (GPCS 11.5.2.3.1): a load of this AID begins on
    /// the channel (any load under way there ends).
    fn install_for_load(&mut self, c: usize, cmd: &Command, card: &SubSim) -> Result<Vec<u8>, Sw> {
        self.loads[c] = None;
        if cmd.p2 != 0x00 {
            return Err(Sw::INCORRECT_P1_P2);
        }
        let aid = gp::decode_install_for_load(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
        let cm = manager(card);
        if cm.has_load_file(&aid) {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        if cm.loaded.len() >= state::MAX_LOADED {
            return Err(Sw::NOT_ENOUGH_MEMORY);
        }
        self.loads[c] = Some(Loading { aid, next_block: 0, data: Vec::new() });
        Ok(vec![0x00])
    }

    /// LOAD (GPCS 11.6): blocks numbered from 0 in P2, the last with P1
    /// b8; then the whole Load File Data Block is checked (components in
    /// load order, the Header's package AID that of INSTALL [for load]) and
    /// the load file kept. Any refusal ends the load.
    fn load(&mut self, c: usize, cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let mut l = self.loads[c].take().ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        if cmd.p1 & !gp::LOAD_LAST != 0 || cmd.p2 != l.next_block {
            return Err(Sw::INCORRECT_P1_P2);
        }
        if l.data.len() + cmd.data.len() > MAX_LOAD_FILE {
            return Err(Sw::NOT_ENOUGH_MEMORY);
        }
        l.data.extend_from_slice(&cmd.data);
        if cmd.p1 & gp::LOAD_LAST == 0 {
            l.next_block = l.next_block.checked_add(1).ok_or(Sw::INCORRECT_P1_P2)?;
            self.loads[c] = Some(l);
            return Ok(vec![0x00]);
        }
        let info = gp::parse_load_file(&l.data).map_err(|_| Sw::INCORRECT_DATA)?;
        if info.aid != l.aid {
            return Err(Sw::INCORRECT_DATA);
        }
        card.store_mut().write(|p| {
            p.card_manager.loaded.push(info);
            Ok::<_, Sw>(())
        })?;
        Ok(vec![0x00])
    }

    /// The security level of the session on `channel`, once authenticated.
    pub fn level(&self, channel: u8) -> Option<SecurityLevel> {
        let ch = self.channels.get(channel as usize)?.as_ref()?;
        ch.authenticated.then(|| ch.session.level())
    }
}

fn manager(card: &SubSim) -> &CardManager {
    &card.persistent().card_manager
}

/// Key diversification data (INITIALIZE UPDATE's first 10 bytes): the
/// card's serial and the first six bytes of its GUID, unique per card.
pub fn diversification_data(card: &SubSim) -> [u8; 10] {
    let p = card.persistent();
    let mut d = [0u8; 10];
    d[..4].copy_from_slice(&p.serial.to_be_bytes());
    d[4..].copy_from_slice(&p.guid[..6]);
    d
}

/// The ISD's FCI (GPCS 11.9.3.1): its AID, and in the proprietary template
/// the security domain management data (the card recognition data) and the
/// largest command data field it takes.
fn fci(cm: &CardManager) -> Vec<u8> {
    let card_data = gp::encode_card_data(cm.challenge.i());
    let recognition = tlv::parse_one(&card_data).expect("built above");
    let inner = tlv::children(&recognition, 0x66).expect("66").to_vec();
    let proprietary = cons(0xA5, [inner, vec![prim(0x9F65, vec![0xFF])]].concat());
    cons(0x6F, vec![prim(0x84, ISD_AID.to_vec()), proprietary]).to_vec()
}

/// CPLC (GP 2.1.1 Table H-1): a simulated IC, its serial the card's serial.
fn cplc(card: &SubSim) -> Vec<u8> {
    let mut v = vec![0u8; 42];
    v[0..2].copy_from_slice(b"SS"); // IC fabricator: the simulator
    v[2..4].copy_from_slice(&[0x00, 0x01]); // IC type
    v[4..6].copy_from_slice(b"SS"); // operating system
    v[6..8].copy_from_slice(&[0x60, 0x01]); // OS release date, YDDD: 2026, day 1
    v[8..10].copy_from_slice(&[0x01, 0x00]); // OS release level
    v[10..12].copy_from_slice(&[0x60, 0x01]); // IC fabrication date
    v[12..16].copy_from_slice(&card.persistent().serial.to_be_bytes());
    [&[0x9F, 0x7F, 42][..], &v].concat()
}

/// GET DATA (GPCS 11.3): P1-P2 is the tag; the answer the whole object.
fn get_data(cmd: &Command, card: &SubSim) -> Result<Vec<u8>, Sw> {
    if !cmd.data.is_empty() {
        return Err(Sw::WRONG_LENGTH);
    }
    let cm = manager(card);
    match u16::from_be_bytes([cmd.p1, cmd.p2]) {
        data::CPLC => Ok(cplc(card)),
        data::CARD_DATA => Ok(gp::encode_card_data(cm.challenge.i())),
        data::KEY_INFO => {
            let keys: Vec<gp::KeyInfo> = cm
                .key_sets
                .iter()
                .flat_map(|ks| {
                    let length = ks.keys.enc.len() as u8;
                    (1..=3).map(move |id| gp::KeyInfo { id, version: ks.version, key_type: gp::KEY_TYPE_AES, length })
                })
                .collect();
            Ok(gp::encode_key_info(&keys))
        }
        _ => Err(Sw::REFERENCE_NOT_FOUND),
    }
}

/// GET STATUS (GPCS 11.4): every entry at once (the registry is small), in
/// the tag-list format (P2 b2) or the legacy one.
fn get_status(cmd: &Command, cm: &CardManager) -> Result<Vec<u8>, Sw> {
    let scope = StatusScope::from_p1(cmd.p1).ok_or(Sw::INCORRECT_P1_P2)?;
    if cmd.p2 & !(gp::STATUS_TAG_LIST | gp::STATUS_NEXT) != 0 {
        return Err(Sw::INCORRECT_P1_P2);
    }
    let criteria = tlv::parse_seq(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
    let prefix = tlv::find(&criteria, 0x4F).ok_or(Sw::INCORRECT_DATA)?;
    if cmd.p2 & gp::STATUS_NEXT != 0 {
        // The first answer held everything.
        return Err(Sw::REFERENCE_NOT_FOUND);
    }
    let entries = cm.registry(scope, prefix);
    if entries.is_empty() {
        return Err(Sw::REFERENCE_NOT_FOUND);
    }
    let modules = scope == StatusScope::LoadFilesAndModules;
    Ok(entries
        .iter()
        .flat_map(|e| if cmd.p2 & gp::STATUS_TAG_LIST != 0 { e.encode_tagged() } else { e.encode_legacy(modules) })
        .collect())
}

/// SET STATUS (GPCS 11.10): the card's life cycle (P1 `80`, P2 the new
/// state), or an application's lock (P1 `40`, P2 b8 set locks, clear
/// unlocks; the data its AID).
fn set_status(cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
    match cmd.p1 {
        gp::status_type::ISD => {
            let to = CardLifeCycle::from_byte(cmd.p2).ok_or(Sw::INCORRECT_P1_P2)?;
            if !cmd.data.is_empty() && cmd.data != ISD_AID {
                return Err(Sw::INCORRECT_DATA);
            }
            card.store_mut().write(|p| {
                if !p.card_manager.life_cycle.may_become(to) {
                    return Err(Sw::CONDITIONS_NOT_SATISFIED);
                }
                p.card_manager.life_cycle = to;
                Ok(Vec::new())
            })
        }
        gp::status_type::APPLICATION => {
            if cmd.data == ISD_AID {
                return Err(Sw::CONDITIONS_NOT_SATISFIED);
            }
            if !CardManager::is_app(&cmd.data) {
                return Err(Sw::REFERENCE_NOT_FOUND);
            }
            let lock = cmd.p2 & gp::app_state::LOCKED != 0;
            let aid = cmd.data.clone();
            card.store_mut().write(|p| {
                if lock {
                    p.card_manager.locked.insert(aid);
                } else {
                    p.card_manager.locked.remove(&aid);
                }
                Ok(Vec::new())
            })
        }
        _ => Err(Sw::INCORRECT_P1_P2),
    }
}

/// DELETE (GPCS 11.2) of the sub-SIM instance: it goes for good with its
/// keys, PIN, PUK, certificates, binding and data objects (the card's
/// identity, its attestation key, stays: it is the card's, not the
/// instance's). The ISD, the ARA-M and the preloaded packages (the card's
/// ROM) are not deletable here: `6985`. Unknown AIDs: `6A88`.
fn delete(cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
    if cmd.p1 != 0x00 || cmd.p2 & !gp::DELETE_RELATED != 0 {
        return Err(Sw::INCORRECT_P1_P2);
    }
    let aid = gp::decode_delete(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
    let cm = manager(card);
    let piv = aid == applet_spec::piv::PIV_AID && cm.installed(&aid);
    // The sub-SIM package with its related objects: its one instance.
    let package_with_instance =
        aid == state::SUBSIM_PACKAGE && cmd.p2 & gp::DELETE_RELATED != 0 && cm.installed(&applet_spec::piv::PIV_AID);
    if let Some(i) = cm.loaded.iter().position(|f| f.aid == aid) {
        // A loaded package never has an instance here: it goes alone.
        card.store_mut().write(|p| {
            p.card_manager.loaded.remove(i);
            Ok::<_, Sw>(())
        })?;
        return Ok(vec![0x00]);
    }
    if !(piv || package_with_instance) {
        let known = aid == ISD_AID || state::APPS.iter().any(|a| a.aid == aid || a.load_file == aid);
        return Err(if known && cm.installed(&aid) { Sw::CONDITIONS_NOT_SATISFIED } else { Sw::REFERENCE_NOT_FOUND });
    }
    card.store_mut().write(|p| {
        p.wipe();
        p.card_manager.subsim_deleted = true;
        p.card_manager.locked.remove(&applet_spec::piv::PIV_AID[..]);
        Ok::<_, Sw>(())
    })?;
    card.forget_sessions();
    Ok(vec![0x00])
}

/// INSTALL [for install and make selectable] (GPCS 11.5): the one
/// application this card can make is a factory-fresh sub-SIM instance,
/// from the sub-SIM package's applet class, at the PIV AID (the model
/// holds one instance). A package that is not loaded: `6A88`; another
/// module or AID, or an instance already there: `6A80`/`6985`.
fn install(cmd: &Command, card: &mut SubSim) -> Result<Vec<u8>, Sw> {
    if cmd.p1 != gp::INSTALL_AND_MAKE_SELECTABLE || cmd.p2 != 0x00 {
        return Err(Sw::INCORRECT_P1_P2);
    }
    let i = gp::InstallForInstall::decode(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
    if !manager(card).has_load_file(&i.load_file) {
        return Err(Sw::REFERENCE_NOT_FOUND);
    }
    if i.load_file != state::SUBSIM_PACKAGE || i.module != state::SUBSIM_MODULE {
        return Err(Sw::INCORRECT_DATA);
    }
    if i.instance != applet_spec::piv::PIV_AID || !i.token.is_empty() {
        return Err(Sw::INCORRECT_DATA);
    }
    if manager(card).installed(&i.instance) {
        return Err(Sw::CONDITIONS_NOT_SATISFIED);
    }
    card.store_mut().write(|p| {
        p.wipe();
        p.card_manager.subsim_deleted = false;
        Ok::<_, Sw>(())
    })?;
    card.forget_sessions();
    Ok(vec![0x00])
}
