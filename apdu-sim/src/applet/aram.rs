//! The ARA-M (GlobalPlatform Secure Element Access Control 1.1): the card's
//! second application, which tells a phone's access control enforcer (the
//! Open Mobile API) which apps may reach which applet. Its rules live in the
//! card's persistent state ([`crate::state::AccessRules`]), written through
//! the same store as PIV's, so the card file has them before any answer.
//!
//! Reading is open to anyone (GET DATA). Writing (STORE DATA) needs the
//! issuer: GENERAL AUTHENTICATE with the card's management key (9B), sent
//! to the ARA-M on the channel that writes. That stands in for the
//! GlobalPlatform secure channel a real ARA-M takes its STORE DATA through,
//! which this card does not have yet (docs/phone.md).

use applet_spec::apdu::{Command, SHORT_MAX_NE};
use applet_spec::aram::{self, StoreCommand};
use applet_spec::ins::{CLA_PROPRIETARY, GENERAL_AUTHENTICATE};
use applet_spec::Sw;

use super::SubSim;
use crate::state::Transient;

/// A GET DATA [all] answer being read block by block.
struct Reading {
    rest: Vec<u8>,
    /// The refresh tag when it began: a change in between spoils it.
    tag: u64,
}

/// One channel's ARA-M session.
#[derive(Default)]
struct Session {
    /// The issuer's management key exchange and its outcome.
    issuer: Transient,
    reading: Option<Reading>,
}

/// The ARA-M: its per-channel sessions (its rules are persistent state).
pub struct AraM {
    sessions: Vec<Session>,
}

impl Default for AraM {
    fn default() -> Self {
        AraM { sessions: (0..applet_spec::apdu::CHANNELS).map(|_| Session::default()).collect() }
    }
}

impl AraM {
    /// Whether SELECT by DF name with `aid` picks the ARA-M (its whole AID).
    pub fn matches(aid: &[u8]) -> bool {
        aid == aram::ARAM_AID
    }

    /// SELECT on `channel`: a fresh session, no FCI (P2 `00` or `0C`).
    pub fn select(&mut self, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
        if cmd.p2 != 0x00 && cmd.p2 != 0x0C {
            return Err(Sw::INCORRECT_P1_P2);
        }
        self.deselect(channel);
        Ok(Vec::new())
    }

    /// Deselected on `channel` (or the channel closed): its session goes.
    pub fn deselect(&mut self, channel: u8) {
        self.sessions[channel as usize] = Session::default();
    }

    /// Power-off or reset: every session goes.
    pub fn power_reset(&mut self) {
        *self = AraM::default();
    }

    /// One command on `channel`; the rules and the issuer key are the card's (`piv` holds its store).
    pub fn process(&mut self, channel: u8, cmd: &Command, piv: &mut SubSim) -> Result<Vec<u8>, Sw> {
        let session = &mut self.sessions[channel as usize];
        if cmd.cla & CLA_PROPRIETARY == 0 {
            return match cmd.ins {
                GENERAL_AUTHENTICATE => piv.issuer_authenticate(&mut session.issuer, cmd),
                _ => Err(Sw::INS_NOT_SUPPORTED),
            };
        }
        match cmd.ins {
            aram::INS_GET_DATA => get_data(session, cmd, piv),
            aram::INS_STORE_DATA => {
                session.reading = None;
                store_data(session, cmd, piv)
            }
            _ => Err(Sw::INS_NOT_SUPPORTED),
        }
    }
}

/// The most a block of GET DATA [all] holds: Ne, at most 256.
fn block_len(cmd: &Command) -> usize {
    cmd.ne.unwrap_or(SHORT_MAX_NE).min(SHORT_MAX_NE)
}

fn get_data(session: &mut Session, cmd: &Command, piv: &SubSim) -> Result<Vec<u8>, Sw> {
    let rules = &piv.persistent().access_rules;
    let p1p2 = u16::from_be_bytes([cmd.p1, cmd.p2]);
    if p1p2 != aram::GET_SPECIFIC && !cmd.data.is_empty() {
        return Err(Sw::WRONG_LENGTH);
    }
    match p1p2 {
        aram::GET_ALL => {
            let mut all = aram::all_rules(&rules.rules);
            let rest = all.split_off(block_len(cmd).min(all.len()));
            session.reading = (!rest.is_empty()).then_some(Reading { rest, tag: rules.refresh_tag });
            Ok(all)
        }
        aram::GET_NEXT => {
            let Some(mut reading) = session.reading.take() else { return Err(Sw::REFERENCE_NOT_FOUND) };
            if reading.tag != rules.refresh_tag {
                return Err(Sw::DATA_NOT_USABLE);
            }
            let rest = reading.rest.split_off(block_len(cmd).min(reading.rest.len()));
            let block = std::mem::replace(&mut reading.rest, rest);
            if !reading.rest.is_empty() {
                session.reading = Some(reading);
            }
            Ok(block)
        }
        aram::GET_SPECIFIC => {
            let (aid, app) = aram::parse_specific_request(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
            let rule = rules.rules.iter().find(|r| r.aid == aid && r.app == app).ok_or(Sw::REFERENCE_NOT_FOUND)?;
            Ok(aram::specific_rule(rule))
        }
        aram::GET_REFRESH_TAG => Ok(aram::refresh_tag(rules.refresh_tag)),
        _ => Err(Sw::INCORRECT_P1_P2),
    }
}

/// STORE DATA: one command DO, checked whole before the one write it makes.
fn store_data(session: &Session, cmd: &Command, piv: &mut SubSim) -> Result<Vec<u8>, Sw> {
    if (cmd.p1, cmd.p2) != (aram::STORE_P1, 0x00) {
        return Err(Sw::INCORRECT_P1_P2);
    }
    let command = StoreCommand::decode(&cmd.data).map_err(|_| Sw::INCORRECT_DATA)?;
    if !session.issuer.mgm_authenticated {
        return Err(Sw::SECURITY_STATUS_NOT_SATISFIED);
    }
    let current = &piv.persistent().access_rules.rules;
    let mut next = current.clone();
    // Whether the command names something to change: a delete of a rule
    // that is not there is 6A88, and nothing is written.
    let found = match command {
        StoreCommand::Store(new) => {
            for (i, rule) in new.iter().enumerate() {
                if current.iter().chain(&new[..i]).any(|r| r.same_ref(rule)) {
                    return Err(Sw::ALREADY_EXISTS);
                }
            }
            if current.len() + new.len() > aram::MAX_RULES {
                return Err(Sw::NOT_ENOUGH_MEMORY);
            }
            next.extend(new);
            true
        }
        StoreCommand::DeleteAll => {
            next.clear();
            true
        }
        StoreCommand::UpdateRefreshTag => true,
        StoreCommand::DeleteAid(aid) => {
            next.retain(|r| r.aid != aid);
            next.len() < current.len()
        }
        StoreCommand::Delete(aid, app) => {
            next.retain(|r| (&r.aid, &r.app) != (&aid, &app));
            next.len() < current.len()
        }
    };
    if !found {
        return Err(Sw::REFERENCE_NOT_FOUND);
    }
    piv.store_mut().write(|p| {
        p.access_rules.rules = next;
        p.access_rules.refresh_tag = p.access_rules.refresh_tag.wrapping_add(1);
        Ok(Vec::new())
    })
}
