//! The host's half of ISO 7816-4, used by every transport: a command too long
//! for one short APDU goes extended when the card can take it, else as a chain
//! of 255-byte parts; `61xx` answers are followed with GET RESPONSE and `6Cxx`
//! with the command again at the right Le, until the whole response is in.

use applet_spec::apdu::{Command, Response, SHORT_MAX_NC, SHORT_MAX_NE};
use applet_spec::ins::{CLA_CHAIN, GET_RESPONSE};
use applet_spec::Sw;

use crate::error::{Error, Result, TransportKind};
use crate::transport::Transport;

/// Response bytes the host accepts for one command before it calls the card
/// broken: above any real answer (the largest object is 3052 bytes), and low
/// enough that a hostile card cannot nest BER-TLV deep enough to overflow the
/// stack of `iso7816-tlv`'s recursive parser, nor keep us reading forever.
pub const MAX_RESPONSE: usize = 8192;

fn transmit(t: &mut dyn Transport, cmd: &Command) -> Result<Response> {
    let raw = t.transmit(&cmd.to_bytes())?;
    Response::parse(&raw).ok_or_else(|| {
        Error::transport(
            TransportKind::Protocol,
            format!("{}: answer of {} bytes has no status word", t.describe(), raw.len()),
            Some("the card or reader misbehaves; reinsert the card"),
        )
    })
}

/// Sends a command and collects its whole response, inside one exclusive
/// session of the card (a PC/SC transaction), so chained parts and GET
/// RESPONSE never interleave with another process's commands.
pub fn exchange(t: &mut dyn Transport, cmd: &Command) -> Result<Response> {
    let mut out = None;
    t.exclusive(&mut |t| {
        out = Some(exchange_in_session(t, cmd)?);
        Ok(())
    })?;
    Ok(out.expect("the session ran"))
}

fn exchange_in_session(t: &mut dyn Transport, cmd: &Command) -> Result<Response> {
    if cmd.needs_extended() && t.capabilities().extended_length {
        match collect(t, cmd.clone()) {
            // The reader refused it before the card saw it: chain instead
            // (the transport no longer offers extended length).
            Err(e) if e.transport_kind() == Some(TransportKind::ExtendedRejected) => {}
            other => return other,
        }
    }
    let mut cmd = cmd.clone();
    cmd.extended = false;
    while cmd.data.len() > SHORT_MAX_NC {
        let rest = cmd.data.split_off(SHORT_MAX_NC);
        let mut part = cmd.clone();
        part.cla |= CLA_CHAIN;
        part.ne = None;
        let r = transmit(t, &part)?;
        if r.sw != Sw::OK {
            return Ok(r);
        }
        cmd.data = rest;
    }
    cmd.ne = cmd.ne.map(|ne| ne.min(SHORT_MAX_NE));
    collect(t, cmd)
}

/// Sends one APDU and follows `6Cxx` and `61xx` until the answer is whole.
fn collect(t: &mut dyn Transport, mut cmd: Command) -> Result<Response> {
    let mut r = transmit(t, &cmd)?;
    if r.sw.sw1() == 0x6C {
        // Wrong Le: the card says how many bytes it has.
        cmd.ne = Some(match r.sw.sw2() {
            0 => SHORT_MAX_NE,
            n => n as usize,
        });
        r = transmit(t, &cmd)?;
    }
    let mut data = std::mem::take(&mut r.data);
    while let Some(n) = r.sw.remaining() {
        if data.len() > MAX_RESPONSE {
            return Err(Error::transport(
                TransportKind::Protocol,
                format!("{}: response exceeds {MAX_RESPONSE} bytes", t.describe()),
                None,
            ));
        }
        r = transmit(t, &Command::new(0x00, GET_RESPONSE, 0, 0).with_ne(n))?;
        data.append(&mut r.data);
    }
    Ok(Response::new(data, r.sw))
}
