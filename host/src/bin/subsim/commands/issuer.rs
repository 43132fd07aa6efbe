//! `subsim relay` (the phone: forwards APDUs between a socket and the card,
//! hostile on request) and `subsim issuer` (the bank's or TSM's side: an
//! SCP03 session to the card's ISD through the relay). The session is
//! `subsim gp`'s (`super::gp::open_session`); see docs/gp.md.

use std::net::TcpListener;

use applet_spec::gp::StatusScope;
use applet_spec::piv::PIV_AID;
use clap::Subcommand;
use subsim_host::gp::GpClient;
use subsim_host::relay::{self, Hostile, SocketTransport};

use super::gp::{open_session, refusal, select_isd, subsim_install, GpKeyArgs};
use super::*;

#[derive(Subcommand)]
pub enum IssuerCmd {
    /// The remote wipe: DELETE the sub-SIM instance (its keys, PIN, certificates and binding,
    /// for good) under the issuer's keys.
    Wipe {
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Lock the sub-SIM instance: nobody at the phone can select it until the issuer unlocks it.
    Lock,
    /// Unlock the sub-SIM instance.
    Unlock,
    /// The card's life cycle and applications, read in a new session.
    Status,
    /// A factory-fresh sub-SIM instance with install parameters (hex, C9's value).
    Install {
        /// Install parameters (hex, the C9 template's value; none by default).
        #[arg(long, value_name = "HEX", default_value = "")]
        params: String,
    },
}

/// The ISD through the relay at `via`, with an SCP03 session open.
fn remote(via: &str, keys: &GpKeyArgs) -> Result<GpClient<SocketTransport>, Failure> {
    open_session(select_isd(GpClient::new(SocketTransport::connect(via)?))?, keys)
}

/// What the issuer learns when a command does not go through: refused
/// (nothing done), or an answer that is not the card's / no answer (the
/// command may have run: `status` reads what it left).
fn told(e: Error) -> Failure {
    match e {
        e @ Error::Status { sw: Sw::SECURITY_STATUS_NOT_SATISFIED, .. } => Failure::Refused(Refusal {
            message: format!(
                "the card refused a command of this session and closed the channel ({e}): it was altered, \
                 replayed or preceded by another's on the way; a replayed command's original may have run"
            ),
            hint: Some("`subsim issuer status` reads what the card holds, in a new session".into()),
            sw: Sw::SECURITY_STATUS_NOT_SATISFIED,
        }),
        e @ Error::Status { .. } => refusal(e),
        Error::Transport { kind, message, hint } => Failure::Card(Error::Transport {
            kind,
            message: format!("{message}; `subsim issuer status` reads the card in a new session"),
            hint,
        }),
        e => Failure::Card(e),
    }
}

pub fn issuer(s: &mut Session, via: &str, keys: &GpKeyArgs, cmd: &IssuerCmd) -> Result<Out, Failure> {
    let aid = PIV_AID.to_vec();
    let hexaid = hex::encode_upper(&aid);
    match cmd {
        IssuerCmd::Wipe { confirm: c } => {
            super::card::confirm(
                s,
                *c,
                "Wipe the sub-SIM for good (DELETE its instance) on",
                "issuer wipe",
                "destroys the sub-SIM",
            )?;
            remote(via, keys)?.delete(&aid, false).map_err(told)?;
            out(format!("wiped: the sub-SIM instance {hexaid} is deleted"), json!({ "aid": hexaid, "deleted": true }))
        }
        IssuerCmd::Lock | IssuerCmd::Unlock => {
            let lock = matches!(cmd, IssuerCmd::Lock);
            remote(via, keys)?.lock_application(&aid, lock).map_err(told)?;
            let word = if lock { "locked" } else { "unlocked" };
            out(format!("{word}: {hexaid}"), json!({ "aid": hexaid, "locked": lock }))
        }
        IssuerCmd::Install { params } => {
            let install = subsim_install(&aid, params)?;
            remote(via, keys)?.install(&install).map_err(told)?;
            out(format!("installed: a factory-fresh sub-SIM at {hexaid}"), json!({ "aid": hexaid, "installed": true }))
        }
        IssuerCmd::Status => {
            let mut gp = remote(via, keys)?;
            let lc = gp.life_cycle().map_err(told)?;
            let apps = gp.status(StatusScope::Applications).map_err(told)?;
            let sub = apps.iter().find(|a| a.aid == aid);
            let state = match sub {
                None => "absent",
                Some(a) if a.life_cycle & applet_spec::gp::app_state::LOCKED != 0 => "locked",
                Some(_) => "selectable",
            };
            out(
                format!("card: {}\nsub-SIM {hexaid}: {state}", lc.name()),
                json!({ "life_cycle": lc.name(), "subsim": state }),
            )
        }
    }
}

pub fn relay(s: &mut Session, listen: &str, hostile: Hostile, once: bool) -> Result<Out, Failure> {
    let listener = TcpListener::bind(listen).map_err(|e| Failure::Usage(format!("--listen {listen}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Failure::Usage(e.to_string()))?;
    let verbose = s.opts.verbose;
    let card = s.card_unselected()?.transport_mut();
    // The first line on stderr says where (with port 0 the system chose it).
    eprintln!("subsim relay: listening on {addr}, forwarding to the {}", shown(&card.describe()));
    let mut log = |line: String| {
        if verbose {
            eprintln!("subsim relay: {line}");
        }
    };
    relay::serve(&listener, card, hostile, once, &mut log)?;
    out("relay done".to_string(), json!({ "relay": "done" }))
}
