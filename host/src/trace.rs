//! APDU traces for people: every APDU both ways in hex, with the command's
//! name and the status word's meaning. Secrets never reach a trace: the data
//! of PIN, PUK, keypad, management key, binding and IMPORT KEY (a private
//! key) commands is redacted, and so is GET KEYPAD's answer (a layout plus
//! the taps gives the PIN).

use std::io::Write;

use applet_spec::ins::{self, CLA_CHAIN};
use applet_spec::{Response, Sw};

use crate::error::Result;
use crate::transport::{Capabilities, Transport};

/// Commands whose data field is secret.
fn data_is_secret(cla: u8, ins: u8, p2: u8) -> bool {
    let proprietary = cla & 0x80 != 0;
    match ins {
        ins::VERIFY
        | ins::CHANGE_REFERENCE_DATA
        | ins::RESET_RETRY_COUNTER
        | ins::SET_MANAGEMENT_KEY
        | ins::IMPORT_KEY
            if !proprietary =>
        {
            true
        }
        ins::GENERAL_AUTHENTICATE if !proprietary => p2 == applet_spec::piv::KEY_REF_MANAGEMENT,
        ins::VERIFY_KEYPAD | ins::SET_BINDING | ins::PRESENT_BINDING if proprietary => true,
        _ => false,
    }
}

/// Commands whose answer is secret.
fn answer_is_secret(cla: u8, ins: u8) -> bool {
    cla & 0x80 != 0 && ins == ins::GET_KEYPAD
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
}

fn name(cla: u8, ins: u8) -> &'static str {
    if cla & 0x80 == 0 && ins == ins::GET_RESPONSE {
        return "GET RESPONSE";
    }
    ins::lookup(cla & !CLA_CHAIN, ins).map_or("unknown command", |c| c.name)
}

/// The trace line of a C-APDU: `> NAME  CLA INS P1 P2 ...`.
pub fn command_line(apdu: &[u8]) -> String {
    let [cla, ins, _p1, p2, ..] = *apdu else {
        return format!("> (malformed)  {}", hex(apdu));
    };
    let shown = if apdu.len() > 5 && data_is_secret(cla, ins, p2) {
        format!("{} <{} bytes redacted>", hex(&apdu[..5]), apdu.len() - 5)
    } else {
        hex(apdu)
    };
    let chained = if cla & CLA_CHAIN != 0 { " (chained part)" } else { "" };
    format!("> {}{chained}  {shown}", name(cla, ins))
}

/// The trace line of the R-APDU answering `apdu`: `< data  SW (meaning)`.
pub fn response_line(apdu: &[u8], response: &[u8]) -> String {
    let Some(r) = Response::parse(response) else {
        return format!("< (no status word)  {}", hex(response));
    };
    let secret = matches!(apdu, [cla, ins, ..] if answer_is_secret(*cla, *ins));
    let data = match (r.data.is_empty(), secret) {
        (true, _) => String::new(),
        (false, true) => format!("<{} bytes redacted>  ", r.data.len()),
        (false, false) => format!("{}  ", hex(&r.data)),
    };
    format!("< {data}{:04X} ({})", r.sw.0, Sw::meaning(r.sw))
}

/// A transport that writes a trace of everything it carries to `out`.
pub struct Tracing<T, W: Write> {
    inner: T,
    out: W,
}

impl<T: Transport, W: Write> Tracing<T, W> {
    /// Traces what goes to `inner` into `out`, one line per APDU, secrets redacted.
    pub fn new(inner: T, out: W) -> Self {
        Tracing { inner, out }
    }
    /// Gives back the transport and the trace writer.
    pub fn into_inner(self) -> (T, W) {
        (self.inner, self.out)
    }
}

impl<T: Transport, W: Write> Transport for Tracing<T, W> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let _ = writeln!(self.out, "{}", command_line(apdu));
        let r = self.inner.transmit(apdu);
        let _ = match &r {
            Ok(response) => writeln!(self.out, "{}", response_line(apdu, response)),
            Err(e) => writeln!(self.out, "< error: {e}"),
        };
        r
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn reset(&mut self) -> Result<()> {
        let _ = writeln!(self.out, "* reset");
        self.inner.reset()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        // Inside the inner transport's transaction, keep tracing.
        let Tracing { inner, out } = self;
        // Erased to `dyn Write`, so nested sessions do not nest the type.
        let out: &mut dyn Write = out;
        inner.exclusive(&mut |t| f(&mut Tracing { inner: t, out: &mut *out }))
    }
}
