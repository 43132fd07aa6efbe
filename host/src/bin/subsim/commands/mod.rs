//! What each command does, on top of the typed client: one module per area
//! of commands (`card`, `pin`, `keys`, `flows`), and the helpers every
//! command module shares, re-exported here so `use super::*` brings them:
//! - `output`: the contract. A command returns [`Out`] (words for people, a
//!   JSON object for programs, or bytes) or a [`Failure`] (its kind, exit
//!   code and JSON); JSON enums use the words of [`names`]; docs/cli.md is
//!   the schema.
//! - `explain`: card errors in words for the command ([`explain()`] with an [`Op`]).
//! - `credentials`: PIN, keypad, binding and management key as the options say.
//! - `slots`: what the card tells about a slot's key and certificate.
//! - `files`: inputs and outputs (`-` for stdin/stdout, PEM or DER).
//!
//! A new area of commands is a module here with `use super::*;` and
//! functions taking the [`Session`] (`s.card()?` is the card, opened once
//! per session; `s.profile()?` what it has; `s.require_subsim(..)` refuses
//! politely), returning `Result<Out, Failure>`, and one arm in [`run`]; its
//! JSON fields go into docs/cli.md, whose table a test holds every command to.

pub mod ca;
mod card;
mod credentials;
mod explain;
mod files;
mod flows;
pub mod gp;
pub mod issuer;
pub mod keyfile;
mod keys;
pub mod objects;
mod output;
mod pin;
mod protected;
mod pubkey;
mod rules;
mod slots;
mod yubico;

pub use credentials::*;
pub use explain::*;
pub use files::*;
pub use output::*;
pub use pubkey::*;
pub use slots::*;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use applet_spec::apdu::Command;
use applet_spec::messages::{BindingState, KeypadLayout, PinEntry};
use applet_spec::piv::{self, KeyAlgorithm, MgmAlgorithm, PinPolicy, Slot};
use applet_spec::Sw;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subsim_host::{list_readers, App, Client, Error, Hash, Padding, PinState, ReaderChoice, Transport, TransportKind};
use zeroize::Zeroizing;

use crate::secret::{self, Source};
use crate::session::{self, Session};
use crate::{
    BindCmd, CertCmd, Cmd, Confirm, CsrArgs, Encoding, FlowArgs, Format, HashArg, KeyCmd, MgmAlg, MgmArgs, MgmCmd,
    PinArgs, PinCmd, Policy, TxCmd,
};
use subsim_host::x509;
use x509_cert::ext::pkix::KeyUsage;

/// `csr` and `cert request`: a request for a slot's key, signed on the card;
/// `public_key` and `out` are `cert request`'s positional (ykman's) forms.
fn csr(s: &mut Session, c: &CsrArgs, public_key: Option<&Path>, out: Option<&Path>) -> Result<Out, Failure> {
    let (pubkey, out) = (public_key.or(c.pubkey.as_deref()), out.or(c.out.as_deref()));
    keys::csr(s, c.slot, &c.subject, pubkey, out, c.key_usage.as_ref().map(|k| &k.0), &c.pin)
}

/// The card, as every command module sees it.
pub type Card = Client<Box<dyn Transport>>;

/// Runs one command in the session.
pub fn run(cmd: &Cmd, s: &mut Session) -> Result<Out, Failure> {
    match cmd {
        Cmd::Init => card::init(s),
        Cmd::Readers => card::readers(),
        Cmd::Info => card::info(s),
        Cmd::Pin(p) => pin::pin(s, p),
        Cmd::Mgm(m) => pin::mgm(s, m),
        Cmd::Key(k) => keys::key(s, k),
        Cmd::Sign { slot, file, hash, pss, output, out, pin, flow } => {
            let msg = read_input(file, "the data to sign")?;
            let hash = match hash {
                HashArg::Sha256 => Hash::Sha256,
                HashArg::Sha384 => Hash::Sha384,
                HashArg::Sha512 => Hash::Sha512,
            };
            // RSA of any size or ECDSA, as the slot's key is: asked before
            // the VERIFY, so the signature comes right after it.
            let alg = slot_algorithm(s, *slot)?;
            if *pss && alg.rsa_bytes().is_none() {
                return Err(Failure::Usage(format!(
                    "--pss pads RSA signatures; slot {slot} holds a {} key, which signs with ECDSA: leave --pss out",
                    alg.name()
                )));
            }
            prepare_signature(s, *slot, pin, flow)?;
            let sig = sign(s, *slot, alg, &msg, hash, if *pss { Padding::Pss } else { Padding::Pkcs1v15 })?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
            let j = json!({ "slot": names::slot(*slot), "signature_base64": b64 });
            match output {
                Encoding::Raw => deliver(s, out.as_deref(), sig, false, "signature_base64", j),
                Encoding::Hex => deliver(
                    s,
                    out.as_deref(),
                    format!("{}\n", hex::encode(&sig)).into_bytes(),
                    true,
                    "signature_hex",
                    j,
                ),
                Encoding::Base64 => {
                    deliver(s, out.as_deref(), format!("{b64}\n").into_bytes(), true, "signature_base64", j)
                }
            }
            .map(|mut o| {
                // JSON has one name for the signature, whatever --output says.
                if let Some(obj) = o.json.as_object_mut() {
                    obj.remove("signature_hex");
                    obj.insert("signature_base64".into(), b64.clone().into());
                }
                o
            })
        }

        Cmd::Cert(c) => keys::cert(s, c),
        Cmd::Login { pin, flow, trust } => flows::login(s, pin, flow, trust),
        Cmd::Ca(c) => ca::run(c, s.opts.wait),
        Cmd::Rules(r) => rules::rules(s, r),
        Cmd::Gp(g) => gp::run(s, g),
        Cmd::Issuer { via, keys, op } => issuer::issuer(s, via, keys, op),
        Cmd::Relay { listen, hostile, once } => issuer::relay(s, listen, *hostile, *once),
        Cmd::Tx(t) => flows::tx(s, t),
        Cmd::Bind(b) => card::bind(s, b),
        Cmd::Terminate { confirm, mgm } => card::terminate(s, *confirm, mgm),
        Cmd::Reset { confirm } => yubico::reset(s, *confirm),
        Cmd::Object(o) => objects::run(s, o),
        Cmd::Apdu { apdus, allow_sw } => card::apdu(s, apdus, allow_sw),
        Cmd::Csr(c) => csr(s, c, None, None),
        Cmd::Run { .. } | Cmd::Shell => Err(Failure::Usage("sessions do not nest".into())),
        Cmd::Demo => crate::demo::run(s),
        Cmd::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut <crate::Cli as clap::CommandFactory>::command(), "subsim", &mut buf);
            let text = String::from_utf8_lossy(&buf).into_owned();
            out(text.trim_end().to_string(), json!({ "completions": text }))
        }
        Cmd::Man { dir } => card::man(dir.as_deref()),
    }
}
