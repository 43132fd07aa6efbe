//! A GlobalPlatform client: the card manager (Issuer Security Domain) of
//! any GP card over any [`Transport`], with SCP03 from `applet-spec` (the
//! same code the simulated card's ISD runs).
//!
//! ```
//! use subsim_host::apdu_sim::SimCard;
//! use subsim_host::applet_spec::gp::{CardLifeCycle, StatusScope, DEVELOPMENT_KEY};
//! use subsim_host::applet_spec::scp03::{SecurityLevel, StaticKeys};
//! use subsim_host::gp::GpClient;
//! use subsim_host::SimTransport;
//!
//! let mut gp = GpClient::new(SimTransport::new(SimCard::seeded(1)));
//! gp.select()?;
//! let keys = StaticKeys::single(&DEVELOPMENT_KEY); // a development card's keys
//! gp.open(&keys, 0, SecurityLevel::from_p1(0x33).unwrap())?; // C-MAC, C-DEC, R-MAC, R-ENC
//! let apps = gp.status(StatusScope::Applications)?;
//! assert_eq!(apps.len(), 2); // PIV and the ARA-M
//! assert_eq!(gp.life_cycle()?, CardLifeCycle::Secured);
//! # Ok::<(), subsim_host::Error>(())
//! ```

use applet_spec::apdu::{Command, Response};
use applet_spec::gp::{self, CardLifeCycle, InitUpdateAnswer, KeyInfo, RegistryEntry, StatusScope, ISD_AID};
use applet_spec::scp03::{self, Diversification, SecurityLevel, Session, StaticKeys};
use applet_spec::{ins, Sw};
use rand::RngCore;

use crate::error::{Error, Result, TransportKind};
use crate::exchange::exchange;
use crate::transport::Transport;

/// What INITIALIZE UPDATE told about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The key set the card used.
    pub key_version: u8,
    /// The `i` parameter (b5: pseudo-random challenge).
    pub i: u8,
    /// The key set's sequence counter, when the challenge is pseudo-random.
    pub sequence_counter: Option<u32>,
    /// The card's key diversification data.
    pub diversification: [u8; 10],
    /// The level in force.
    pub level: SecurityLevel,
}

/// A GP client over a transport; after [`GpClient::open`], every command
/// goes through the secure channel.
pub struct GpClient<T: Transport> {
    t: T,
    session: Option<Session>,
    /// The card's static keys of the open session (PUT KEY wraps with its DEK).
    keys: Option<StaticKeys>,
    /// What INITIALIZE UPDATE told of the open session.
    info: Option<SessionInfo>,
    sd_aid: Vec<u8>,
}

/// LOAD's block size: with padding and the C-MAC it still fits a short APDU.
const LOAD_BLOCK: usize = 224;

fn protocol(message: String, hint: Option<&'static str>) -> Error {
    Error::transport(TransportKind::Protocol, message, hint)
}

impl<T: Transport> GpClient<T> {
    /// A client of the ISD at the default AID.
    pub fn new(t: T) -> GpClient<T> {
        GpClient { t, session: None, keys: None, info: None, sd_aid: ISD_AID.to_vec() }
    }
    /// The transport.
    pub fn transport(&self) -> &T {
        &self.t
    }
    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.t
    }
    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.t
    }

    /// SELECT the ISD; its FCI. Any session ends.
    pub fn select(&mut self) -> Result<Vec<u8>> {
        self.session = None;
        let cmd = Command::new(ins::CLA_ISO, ins::SELECT, 0x04, 0x00).with_data(self.sd_aid.clone()).with_ne(256);
        let r = exchange(&mut self.t, &cmd)?;
        if r.sw != Sw::OK {
            return Err(Error::Status { command: "SELECT ISD", sw: r.sw });
        }
        Ok(r.data)
    }

    /// Sends `cmd` as the session's level wants it (plain before
    /// [`GpClient::open`]), and checks and opens the answer.
    pub fn send(&mut self, cmd: &Command) -> Result<Response> {
        let Some(session) = &mut self.session else {
            return exchange(&mut self.t, cmd);
        };
        let wire = session.wrap(cmd).map_err(|e| Error::Invalid(e.to_string()))?;
        let r = match exchange(&mut self.t, &wire) {
            Ok(r) => r,
            Err(e) => {
                // The command may have reached the card, or may yet (a relay
                // can hold it): this session cannot tell, so it ends here.
                self.session = None;
                return Err(match e {
                    Error::Transport { kind, message, hint } => Error::Transport {
                        kind,
                        message: format!(
                            "{message}; the secure channel is closed: whether the card ran {:02X} {:02X} is \
                             unknown until a new session reads the card's state",
                            cmd.cla, cmd.ins
                        ),
                        hint,
                    },
                    other => other,
                });
            }
        };
        let session = self.session.as_mut().expect("open");
        match session.unwrap(r) {
            Ok(r) => {
                if r.sw == Sw::SECURITY_STATUS_NOT_SATISFIED {
                    // The card ended the session (Amendment D 7.1.3).
                    self.session = None;
                }
                Ok(r)
            }
            Err(e) => {
                self.session = None;
                Err(protocol(
                    format!("the card's answer to {:02X} {:02X} failed its check: {e}", cmd.cla, cmd.ins),
                    Some("something between here and the card altered the answer; the session is closed"),
                ))
            }
        }
    }

    fn call(&mut self, command: &'static str, cmd: &Command) -> Result<Vec<u8>> {
        let r = self.send(cmd)?;
        if r.sw != Sw::OK {
            return Err(Error::Status { command, sw: r.sw });
        }
        Ok(r.data)
    }

    /// GET DATA of the ISD (GPCS 11.3): the object, or `None` when the card has none (`6A88`).
    pub fn get_data(&mut self, tag: u16) -> Result<Option<Vec<u8>>> {
        let [p1, p2] = tag.to_be_bytes();
        let r = self.send(&Command::new(gp::CLA_GP, gp::GET_DATA, p1, p2).with_ne(256))?;
        match r.sw {
            Sw::OK => Ok(Some(r.data)),
            Sw::REFERENCE_NOT_FOUND | Sw::FILE_NOT_FOUND | Sw::INCORRECT_P1_P2 => Ok(None),
            sw => Err(Error::Status { command: "GET DATA", sw }),
        }
    }

    /// The Key Information Template (`00E0`), when the card answers it.
    pub fn key_info(&mut self) -> Result<Option<Vec<KeyInfo>>> {
        let Some(raw) = self.get_data(gp::data::KEY_INFO)? else { return Ok(None) };
        gp::decode_key_info(&raw).map(Some).map_err(|source| Error::Malformed { command: "GET DATA E0", source })
    }

    /// Opens an SCP03 session with `keys` (key version `version`, `00` for
    /// the card's first) at `level`: INITIALIZE UPDATE with a fresh host
    /// challenge, the card cryptogram checked (and a pseudo-random card
    /// challenge checked against its counter), EXTERNAL AUTHENTICATE.
    pub fn open(&mut self, keys: &StaticKeys, version: u8, level: SecurityLevel) -> Result<SessionInfo> {
        self.open_diversified(keys, Diversification::None, version, level)
    }

    /// As [`GpClient::open`], with the card's keys diversified from the
    /// master key(s) `master` by `div`, over the card's diversification data.
    pub fn open_diversified(
        &mut self,
        master: &StaticKeys,
        div: Diversification,
        version: u8,
        level: SecurityLevel,
    ) -> Result<SessionInfo> {
        self.session = None;
        self.keys = None;
        let mut host_challenge = [0u8; scp03::S8];
        rand::rngs::OsRng.fill_bytes(&mut host_challenge);
        let iu = Command::new(gp::CLA_GP, gp::INITIALIZE_UPDATE, version, 0x00).with_data(host_challenge).with_ne(256);
        let answer = self.call("INITIALIZE UPDATE", &iu)?;
        let a = InitUpdateAnswer::decode(&answer)
            .map_err(|source| Error::Malformed { command: "INITIALIZE UPDATE", source })?;
        if a.scp != gp::SCP03 {
            return Err(Error::Invalid(format!("the card offers SCP{:02X}; this client speaks SCP03", a.scp)));
        }
        if version != 0 && a.key_version != version {
            return Err(protocol(
                format!("asked for key version {version:02X}, the card used {:02X}", a.key_version),
                None,
            ));
        }
        let keys = &div
            .apply(master, &a.diversification)
            .ok_or_else(|| Error::Invalid(format!("{div:?} diversification takes a master key of another length")))?;
        let mut session = Session::open(keys, host_challenge, a.card_challenge)
            .ok_or_else(|| Error::Invalid("ENC, MAC and DEK must be AES keys of one length".into()))?;
        let same = subtle::ConstantTimeEq::ct_eq(&session.card_cryptogram()[..], &a.card_cryptogram[..]);
        if !bool::from(same) {
            return Err(protocol(
                "the card cryptogram does not verify".into(),
                Some("wrong keys or key version for this card (or a card that is not the one they belong to)"),
            ));
        }
        if let Some(counter) = a.sequence_counter.filter(|_| a.i & gp::i_param::PSEUDO_RANDOM != 0) {
            let want = scp03::pseudo_random_challenge(&keys.enc, counter, &self.sd_aid).expect("AES key");
            if want != a.card_challenge {
                return Err(protocol("the pseudo-random card challenge does not match its counter".into(), None));
            }
        }
        let ea = session.external_authenticate(level);
        let r = exchange(&mut self.t, &ea)?;
        if r.sw != Sw::OK {
            return Err(Error::Status { command: "EXTERNAL AUTHENTICATE", sw: r.sw });
        }
        self.session = Some(session);
        self.keys = Some(keys.clone());
        let info = SessionInfo {
            key_version: a.key_version,
            i: a.i,
            sequence_counter: a.sequence_counter,
            diversification: a.diversification,
            level,
        };
        self.info = Some(info.clone());
        Ok(info)
    }

    /// The card's key diversification data, once a session is open.
    pub fn diversification(&self) -> Option<[u8; 10]> {
        self.session.as_ref().map(|_| self.info.as_ref().expect("with the session").diversification)
    }
    /// The key version of the open session.
    pub fn key_version(&self) -> Option<u8> {
        self.session.as_ref().map(|_| self.info.as_ref().expect("with the session").key_version)
    }

    /// Whether a session is open.
    pub fn is_open(&self) -> bool {
        self.session.is_some()
    }

    /// GET STATUS (GPCS 11.4) of everything in `scope`, in the tag-list format.
    pub fn status(&mut self, scope: StatusScope) -> Result<Vec<RegistryEntry>> {
        let mut out = Vec::new();
        let mut p2 = gp::STATUS_TAG_LIST;
        loop {
            let cmd = Command::new(gp::CLA_GP, gp::GET_STATUS, scope.p1(), p2).with_data(vec![0x4F, 0x00]).with_ne(256);
            let r = self.send(&cmd)?;
            match r.sw {
                Sw::OK | Sw(0x6310) => {
                    out.extend(
                        RegistryEntry::decode_tagged(&r.data)
                            .map_err(|source| Error::Malformed { command: "GET STATUS", source })?,
                    );
                    if r.sw == Sw::OK {
                        return Ok(out);
                    }
                    p2 |= gp::STATUS_NEXT;
                }
                Sw::REFERENCE_NOT_FOUND => return Ok(out),
                sw => return Err(Error::Status { command: "GET STATUS", sw }),
            }
        }
    }

    /// The card's life cycle state (GET STATUS of the ISD).
    pub fn life_cycle(&mut self) -> Result<CardLifeCycle> {
        let isd = self.status(StatusScope::Isd)?;
        let lc = isd.first().map(|e| e.life_cycle).ok_or_else(|| protocol("GET STATUS listed no ISD".into(), None))?;
        CardLifeCycle::from_byte(lc).ok_or_else(|| protocol(format!("unknown card life cycle {lc:02X}"), None))
    }

    /// PUT KEY (Amendment D 7.2): `keys` as key set `new_version`, added
    /// (`replace` `None`) or in place of key set `replace`; the keys go
    /// wrapped with the session's DEK, and the card's KCVs are checked.
    pub fn put_keys(&mut self, new_version: u8, replace: Option<u8>, keys: &StaticKeys) -> Result<()> {
        let dek = self.keys.as_ref().ok_or_else(|| Error::Invalid("PUT KEY needs an open session".into()))?.dek.clone();
        let data = gp::encode_put_key(new_version, &dek, keys)
            .ok_or_else(|| Error::Invalid("the new keys must be AES keys of one length".into()))?;
        let cmd =
            Command::new(gp::CLA_GP, gp::PUT_KEY, replace.unwrap_or(0), gp::PUT_KEY_SET).with_data(data).with_ne(256);
        let answer = self.call("PUT KEY", &cmd)?;
        let want: Vec<u8> = [
            &[new_version][..],
            &[&keys.enc, &keys.mac, &keys.dek]
                .iter()
                .flat_map(|k| scp03::kcv(k).expect("checked above"))
                .collect::<Vec<u8>>(),
        ]
        .concat();
        if answer != want {
            return Err(protocol("PUT KEY: the card's key check values are not those of the keys sent".into(), None));
        }
        Ok(())
    }

    /// INSTALL [for load] and LOAD (GPCS 11.5, 11.6) of a CAP file's Load
    /// File Data Block, in numbered blocks that fit a secured short APDU.
    pub fn load(&mut self, cap: &crate::cap::CapFile) -> Result<()> {
        let cmd = Command::new(gp::CLA_GP, gp::INSTALL, gp::INSTALL_FOR_LOAD, 0x00)
            .with_data(gp::encode_install_for_load(&cap.info.aid))
            .with_ne(256);
        self.call("INSTALL [for load]", &cmd)?;
        let block = cap.load_file_data_block();
        let parts: Vec<&[u8]> = block.chunks(LOAD_BLOCK).collect();
        if parts.len() > 256 {
            return Err(Error::Invalid(format!(
                "a load file of {} bytes needs more than 256 LOAD blocks",
                block.len()
            )));
        }
        for (n, part) in parts.iter().enumerate() {
            let p1 = if n + 1 == parts.len() { gp::LOAD_LAST } else { 0x00 };
            let cmd = Command::new(gp::CLA_GP, gp::LOAD, p1, n as u8).with_data(part.to_vec()).with_ne(256);
            self.call("LOAD", &cmd)?;
        }
        Ok(())
    }

    /// DELETE (GPCS 11.2) of the application or load file `aid`, with its
    /// related objects when `related`.
    pub fn delete(&mut self, aid: &[u8], related: bool) -> Result<()> {
        let p2 = if related { gp::DELETE_RELATED } else { 0x00 };
        let cmd = Command::new(gp::CLA_GP, gp::DELETE, 0x00, p2).with_data(gp::encode_delete(aid)).with_ne(256);
        self.call("DELETE", &cmd).map(drop)
    }

    /// INSTALL [for install and make selectable] (GPCS 11.5.2.3.2).
    pub fn install(&mut self, install: &gp::InstallForInstall) -> Result<()> {
        let cmd = Command::new(gp::CLA_GP, gp::INSTALL, gp::INSTALL_AND_MAKE_SELECTABLE, 0x00)
            .with_data(install.encode())
            .with_ne(256);
        self.call("INSTALL", &cmd).map(drop)
    }

    /// SET STATUS of the card (GPCS 11.10): lock, unlock, terminate.
    pub fn set_card_life_cycle(&mut self, to: CardLifeCycle) -> Result<()> {
        let cmd = Command::new(gp::CLA_GP, gp::SET_STATUS, gp::status_type::ISD, to.byte());
        self.call("SET STATUS", &cmd).map(drop)
    }

    /// SET STATUS of an application: lock it, or unlock it.
    pub fn lock_application(&mut self, aid: &[u8], lock: bool) -> Result<()> {
        let p2 = if lock { gp::app_state::LOCKED } else { 0x00 };
        let cmd = Command::new(gp::CLA_GP, gp::SET_STATUS, gp::status_type::APPLICATION, p2).with_data(aid.to_vec());
        self.call("SET STATUS", &cmd).map(drop)
    }
}
