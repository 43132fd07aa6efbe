//! Shared ground for the conformance suite: which card to test, what each
//! test needs from it, and small helpers. Every test body talks to the card
//! only through the transport trait, so the same tests run against any target.
//!
//! The target comes from `SUBSIM_TARGET`:
//! - `sim` (the default): a fresh in-process simulated card for every test;
//! - `pcsc:<reader name or substring>`: the card in that PC/SC reader. PC/SC
//!   tests share one card: run them with `--test-threads=1`.
//! - `phone:sim` or `phone:pcsc:<reader>`: that card as an Android app
//!   reaches it ([`subsim_host::phone`]): every test runs on a logical
//!   channel the phone opened for the suite's app ([`conformance_app`]),
//!   after its access rule is on the card (written as the issuer with the
//!   factory management key, if missing).
//!
//! Every test says what it needs ([`Needs`]): a card profile (`piv`, `yubico`,
//! `subsim`, detected from the card by [`Client::detect_profile`] and narrowed
//! by `SUBSIM_PROFILE`), and whether it changes the card. A test the card
//! cannot run is skipped with the reason.
//!
//! A test that changes the card starts from factory state, reached by the
//! card's own means ([`reset::ResetMode`], `SUBSIM_RESET` to choose): only on
//! the simulated card behind vpcd (recognised by its ATR) or on a real card
//! named in `SUBSIM_ALLOW_DESTRUCTIVE` (comma-separated serials or CHUID
//! GUIDs), checked before anything is written. On any other card only the
//! non-destructive tests run.
//!
//! Where the standard leaves room, tests accept every allowed answer and
//! record the card's choice as a finding ([`record::finding`]).

pub mod record;
pub mod report;
pub mod reset;
pub mod sessions;
pub mod vectors;

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use applet_spec::apdu::{Command, Response};
use applet_spec::Sw;
pub use record::{finding, skip};
pub use reset::ResetMode;
pub use subsim_host::{CardProfile, Profile};
use subsim_host::{Client, Error, PcscTransport, PinState, ReaderChoice, SimTransport, Transport};

/// Where the suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new simulated card in this process for every test.
    Sim,
    /// The card in the PC/SC reader whose name contains this.
    Pcsc(String),
    /// That card, reached through the phone (OMAPI) on a logical channel.
    Phone(Box<Target>),
}

impl Target {
    fn parse(t: &str) -> Option<Target> {
        match t {
            "" | "sim" => Some(Target::Sim),
            _ => match (t.strip_prefix("pcsc:"), t.strip_prefix("phone:")) {
                (Some(reader), _) => Some(Target::Pcsc(reader.to_string())),
                (_, Some(inner)) => match Target::parse(inner)? {
                    Target::Phone(_) => None,
                    inner => Some(Target::Phone(Box::new(inner))),
                },
                _ => None,
            },
        }
    }
    /// A new card for every test (in this process).
    pub fn fresh_per_test(&self) -> bool {
        match self {
            Target::Sim => true,
            Target::Phone(inner) => inner.fresh_per_test(),
            Target::Pcsc(_) => false,
        }
    }
}

pub fn target() -> Target {
    let t = std::env::var("SUBSIM_TARGET").unwrap_or_default();
    Target::parse(&t).unwrap_or_else(|| {
        panic!("SUBSIM_TARGET={t:?}: use \"sim\", \"pcsc:<reader name or substring>\", \"phone:sim\" or \"phone:pcsc:<reader>\"")
    })
}

/// Whether the suite runs through the phone: the phone owns the class
/// byte's channel bits, so tests of raw channel bits do not apply.
pub fn on_phone() -> bool {
    matches!(target(), Target::Phone(_))
}

/// The app the suite plays on a phone target: a fixed test certificate.
pub fn conformance_app() -> subsim_host::App {
    subsim_host::App::from_certificate(b"subsim conformance suite: test app certificate (not a real certificate)")
}

/// The card behind the target, before any phone: a transport, its ATR
/// (PC/SC), whether it is the simulator, and a name.
fn connect(target: &Target) -> (Box<dyn Transport>, Option<Vec<u8>>, bool, String) {
    match target {
        Target::Sim => {
            let t = SimTransport::new(apdu_sim::SimCard::seeded(seed()));
            (Box::new(t), None, true, "simulated card (in-process, a fresh card per test)".to_string())
        }
        Target::Pcsc(reader) => {
            let t = connect_when_back(reader, None);
            let (atr, simulator, name) = (t.atr().to_vec(), t.atr_info().simulator, t.reader().to_string());
            (Box::new(t), Some(atr), simulator, format!("PC/SC reader {name:?}"))
        }
        Target::Phone(inner) => {
            let (card, atr, simulator, name) = connect(inner);
            (
                Box::new(phone_channel(card)),
                atr,
                simulator,
                format!("{name}, through the phone (OMAPI, a logical channel)"),
            )
        }
    }
}

/// How long a test waits for a card that is not answering to come back: the
/// independent card restarts after a crash, as a token reboots, and under
/// load pcscd may take seconds to see it again.
const CARD_BACK_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A connection to the card in `reader` that answers SELECT at the
/// transport level, waiting up to [`CARD_BACK_WITHIN`] for a card that left
/// the reader (`lost`: the error that said so). A wait is told on stderr
/// (`CARD: ... came back`) and in the report's events, so the crash that
/// caused it stays visible; the test that crashed the card fails on its own.
fn connect_when_back(reader: &str, lost: Option<String>) -> PcscTransport {
    use std::sync::atomic::{AtomicBool, Ordering};
    use subsim_host::TransportKind as K;
    // Once a wait has timed out the card is gone for good: later tests fail at once.
    static GONE: AtomicBool = AtomicBool::new(false);
    let start = std::time::Instant::now();
    let mut why = lost;
    loop {
        // What may pass as a card restarting: a reader without a card, a card
        // that went away or answers nothing. No pcscd, no such reader: at once.
        let passing = match PcscTransport::connect(&ReaderChoice::Substring(reader.to_string())) {
            Ok(t) => {
                let mut c = Client::new(t);
                // Only a dead transport is waited out; any status word is the test's to judge.
                match c.select() {
                    Err(e @ Error::Transport { .. }) => {
                        why = Some(e.to_string());
                        true
                    }
                    _ => {
                        if let Some(why) = why {
                            card_came_back(reader, &why, start.elapsed());
                        }
                        return c.into_transport();
                    }
                }
            }
            Err(e) => {
                why = Some(e.to_string());
                matches!(
                    &e,
                    Error::Transport { kind: K::NoCard | K::CardRemoved | K::CardReset | K::Protocol | K::Other, .. }
                )
            }
        };
        let waiting = passing && !GONE.load(Ordering::Relaxed);
        if !waiting || start.elapsed() > CARD_BACK_WITHIN {
            if waiting {
                GONE.store(true, Ordering::Relaxed);
            }
            let waited = if waiting {
                format!(" (waited {} s for the card)", CARD_BACK_WITHIN.as_secs())
            } else {
                String::new()
            };
            panic!("SUBSIM_TARGET=pcsc:{reader}: {}{waited}", why.unwrap_or_default());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn card_came_back(reader: &str, why: &str, after: std::time::Duration) {
    use std::io::Write;
    let ms = after.as_millis();
    let _ = writeln!(
        std::io::stderr(),
        "CARD: {reader}: not answering before {} ({why}); back after {ms} ms",
        record::test_name()
    );
    record::event("card_back", serde_json::json!({ "reader": reader, "why": why, "after_ms": ms }));
}

/// The suite's app on its own logical channel to PIV, its rule written first if missing.
pub fn phone_channel(card: Box<dyn Transport>) -> subsim_host::PhoneChannel<Box<dyn Transport>> {
    use applet_spec::aram::{AidRef, ApduRule, AppRef, Rule, StoreCommand};
    let phone = subsim_host::Phone::new(card);
    let app = conformance_app();
    let aid = applet_spec::piv::PIV_AID.to_vec();
    let rules = phone.rules().unwrap_or_else(|e| panic!("the phone reads the ARA-M's rules: {e}"));
    if applet_spec::aram::rule_for(&rules, &aid, &app.hashes).is_none() {
        let rule =
            Rule { aid: AidRef::Aid(aid.clone()), app: AppRef::Hash(app.sha256().to_vec()), apdu: ApduRule::Always };
        phone
            .store_rules(&StoreCommand::Store(vec![rule]), &mut |t| reset::authenticate_factory(&mut Client::new(t)))
            .unwrap_or_else(|e| {
                panic!("the suite's access rule, written as the issuer with the factory management key: {e}")
            });
    }
    phone.open_channel(&app, &aid).unwrap_or_else(|e| panic!("the phone opens a channel for the suite's app: {e}"))
}

/// `SUBSIM_PROFILE`: the widest profile the suite may use, if set.
pub fn profile_limit() -> Option<Profile> {
    match std::env::var("SUBSIM_PROFILE") {
        Ok(p) if !p.trim().is_empty() => Some(p.parse().unwrap_or_else(|e| panic!("SUBSIM_PROFILE: {e}"))),
        _ => None,
    }
}

/// `true` on the in-process target; elsewhere says why the test is skipped.
pub fn sim_only(why: &str) -> bool {
    record::needs("sim", false);
    let sim = target() == Target::Sim;
    if !sim {
        skip(&format!("in-process only on {:?}: {why}", target()));
    }
    sim
}

/// What a test needs from the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The narrowest profile with every command the test sends.
    pub profile: Profile,
    /// The test changes the card, so it starts from factory state.
    pub destructive: bool,
}

impl Needs {
    /// A factory-fresh card of this profile (the test may change it).
    pub fn fresh(profile: Profile) -> Needs {
        Needs { profile, destructive: true }
    }
    /// The card as it is; the test leaves it as it found it.
    pub fn live(profile: Profile) -> Needs {
        Needs { profile, destructive: false }
    }
}

/// A card for one test, with what the suite knows about it.
pub struct Card {
    client: Client<Box<dyn Transport>>,
    /// The card's feature sets, narrowed by `SUBSIM_PROFILE`.
    pub profile: CardProfile,
    /// PIN tries left when the test began: the card's limit on a fresh card.
    pub pin_tries: u8,
}

impl Deref for Card {
    type Target = Client<Box<dyn Transport>>;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl DerefMut for Card {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

/// The answers a clause allows.
fn list(sws: &[Sw]) -> String {
    sws.iter().map(|s| format!("{:04X}", s.0)).collect::<Vec<_>>().join("/")
}

impl Card {
    /// Whether the card has (and the run may use) this feature set.
    pub fn has(&self, p: Profile) -> bool {
        self.profile.has(p)
    }

    /// Judges a status word: `expected` is what the clause asks for;
    /// `variants` are answers it leaves room for, or common vendor behaviour,
    /// recorded as findings. A sub-SIM promises the expected answer, so on
    /// the `subsim` profile a variant fails too. Anything else fails.
    #[track_caller]
    pub fn judge(&self, command: &str, got: Sw, clause: &str, expected: &[Sw], variants: &[Sw]) {
        if expected.contains(&got) {
            return;
        }
        if variants.contains(&got) && !self.has(Profile::Subsim) {
            finding(command, got, clause, &format!("the clause asks for {}", list(expected)));
            return;
        }
        let allowed = if self.has(Profile::Subsim) { list(expected) } else { list(&[expected, variants].concat()) };
        panic!("{command}: the card answered {got}; {clause} allows {allowed}");
    }

    /// Sends raw hex as one APDU and judges its status word (see [`Card::judge`]).
    #[track_caller]
    pub fn expect(&mut self, hex_apdu: &str, clause: &str, expected: &[Sw], variants: &[Sw]) -> Response {
        let r = raw(self, hex_apdu);
        self.judge(hex_apdu, r.sw, clause, expected, variants);
        r
    }

    /// PIN tries left now, from VERIFY without data (SP 800-73-4 Part 2,
    /// 3.2.1); 0 when blocked, `None` when verified.
    pub fn pin_tries_left(&mut self) -> Option<u8> {
        match self.pin_state().expect("VERIFY status query") {
            PinState::NotVerified { tries_left } => Some(tries_left),
            PinState::Blocked => Some(0),
            PinState::Verified => None,
        }
    }
}

fn seed() -> u64 {
    // Distinct cards per test thread, reproducible per test name.
    let name = std::thread::current().name().unwrap_or("main").to_string();
    name.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Names of real cards the suite may wipe, from `SUBSIM_ALLOW_DESTRUCTIVE`.
fn allowed_cards() -> Vec<String> {
    std::env::var("SUBSIM_ALLOW_DESTRUCTIVE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What names a card: its serial (GET SERIAL, where it answers) and the
/// GUID of its CHUID, read with commands that change nothing.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub serial: Option<u32>,
    pub guid: Option<String>,
}

impl Identity {
    pub fn read<T: Transport>(card: &mut Client<T>, profile: &CardProfile) -> Identity {
        let serial = if profile.yubico || profile.subsim { card.serial().ok() } else { None };
        let guid = card.guid().ok().map(hex::encode);
        Identity { serial, guid }
    }
    /// The name to give `SUBSIM_ALLOW_DESTRUCTIVE`.
    pub fn name(&self) -> String {
        match (&self.serial, &self.guid) {
            (Some(s), _) => s.to_string(),
            (None, Some(g)) => g.clone(),
            (None, None) => "?".into(),
        }
    }
    fn allowed(&self) -> bool {
        let allowed = allowed_cards();
        self.serial.is_some_and(|s| allowed.contains(&s.to_string()))
            || self.guid.as_ref().is_some_and(|g| allowed.contains(g))
    }
}

/// The card this run meets, told once per test binary: on stderr and in the report.
fn announce(
    target: &str,
    atr: Option<&[u8]>,
    detected: &CardProfile,
    profile: &CardProfile,
    id: &Identity,
    mode: &str,
) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use std::io::Write;
        let atr = atr.map(hex::encode_upper);
        let _ = writeln!(
            std::io::stderr(),
            "CARD: {target}: profile {profile} (detected {detected}), serial {}, GUID {}, ATR {}, reset {mode}",
            id.serial.map_or("-".into(), |s| s.to_string()),
            id.guid.as_deref().unwrap_or("-"),
            atr.as_deref().unwrap_or("-"),
        );
        let version = detected.version.as_ref().map(|v| v.to_string());
        record::event(
            "card",
            serde_json::json!({
                "target": target, "atr": atr, "serial": id.serial, "guid": id.guid,
                "profile": profile.widest().name(), "profile_detail": profile.to_string(),
                "detected": detected.to_string(), "version": version, "reset": mode,
                "forced": profile_limit().map(|p| p.name()),
            }),
        );
    });
}

/// A card for a test that needs `needs`, with the PIV applet selected, or
/// `None` (with the reason) when the card cannot run it.
pub fn try_card(needs: Needs) -> Option<Card> {
    record::needs(needs.profile.name(), needs.destructive);
    let requested = reset::requested();
    let (transport, atr, simulator, target_name) = connect(&target());
    let mut client = Client::new(transport);
    let mut detected = client.detect_profile();
    if let (Err(e @ Error::Transport { .. }), Target::Pcsc(reader)) = (&detected, target()) {
        // A card that left the reader in an earlier test (a crash, say):
        // a new connection once it is back.
        client = Client::new(Box::new(connect_when_back(&reader, Some(e.to_string()))));
        detected = client.detect_profile();
    }
    let detected = detected.expect("SELECT of the PIV application");
    let profile = match profile_limit() {
        Some(limit) => detected.narrowed_to(limit),
        None => detected.clone(),
    };
    let id = Identity::read(&mut client, &detected);
    let sim = target().fresh_per_test();
    // How this card gets back to factory state, and whether it may be.
    let mode = match requested {
        Some(mode) => mode,
        None if sim => ResetMode::Terminate,
        None if detected.subsim => ResetMode::Terminate,
        None if detected.yubico => ResetMode::Yubico,
        None => ResetMode::NonDestructive,
    };
    let may_wipe = simulator || id.allowed();
    let mode = if may_wipe { mode } else { ResetMode::NonDestructive };
    let mode_label = if sim && requested.is_none() { "none needed (a fresh card per test)" } else { mode.name() };
    // In-process, every test has a card of its own: no one serial to show.
    let shown = if sim { Identity::default() } else { id.clone() };
    announce(&target_name, atr.as_deref(), &detected, &profile, &shown, mode_label);

    if !profile.has(needs.profile) {
        let why = match profile_limit() {
            Some(limit) if detected.has(needs.profile) => format!("SUBSIM_PROFILE={limit} leaves it out"),
            _ => format!("the card is {profile}"),
        };
        skip(&format!("needs the {} profile: {why}", needs.profile));
        return None;
    }
    if needs.destructive {
        if !may_wipe {
            let name = id.name();
            skip(&format!(
                "this test changes the card, and card {name} in {target_name} is a real card not named in \
                 SUBSIM_ALLOW_DESTRUCTIVE (set SUBSIM_ALLOW_DESTRUCTIVE={name} to allow it)"
            ));
            return None;
        }
        // The in-process card is fresh already, unless a reset mode was asked for.
        if !(sim && requested.is_none()) {
            if let Err(reset::Unavailable(why)) = reset::factory_reset(&mut client, mode) {
                skip(&format!("this test changes the card and needs a factory reset ({mode}): {why}"));
                return None;
            }
        }
    } else if !sim {
        // Transient state (PIN verified, management key) from before goes.
        client.transport_mut().reset().expect("card reset");
        client.select().expect("SELECT after reset");
    }
    let mut card = Card { client, profile, pin_tries: 0 };
    card.pin_tries = card.pin_tries_left().unwrap_or(0);
    Some(card)
}

/// A factory-fresh card of the `subsim` profile (the sub-SIM suite's default).
pub fn try_fresh_card() -> Option<Card> {
    try_card(Needs::fresh(Profile::Subsim))
}

/// Authenticates with the factory management key (3DES, or AES-192 on
/// YubiKeys from 5.7).
#[track_caller]
pub fn admin(card: &mut Card) {
    reset::authenticate_factory(&mut card.client).expect("the factory management key");
}

/// A factory-fresh card with the applet selected: `fresh_card!(Profile::Piv)`
/// (no argument: `subsim`). Returns from the test (skipping it, with the
/// reason) when the card cannot run it.
#[macro_export]
macro_rules! fresh_card {
    () => {
        $crate::fresh_card!($crate::Profile::Subsim)
    };
    ($profile:expr) => {
        match $crate::try_card($crate::Needs::fresh($profile)) {
            Some(card) => card,
            None => return,
        }
    };
}

/// The card as it is (no reset), for a test that changes nothing on it:
/// these run on every card, wiping allowed or not.
#[macro_export]
macro_rules! live_card {
    ($profile:expr) => {
        match $crate::try_card($crate::Needs::live($profile)) {
            Some(card) => card,
            None => return,
        }
    };
}

/// A fresh card with the management key authenticated (factory key).
#[macro_export]
macro_rules! admin_card {
    () => {
        $crate::admin_card!($crate::Profile::Subsim)
    };
    ($profile:expr) => {{
        let mut card = $crate::fresh_card!($profile);
        $crate::admin(&mut card);
        card
    }};
}

/// Generates a key of `alg` in `slot` (the management key authenticated),
/// or says the card has no such algorithm and returns `None`: asked of the
/// card, never taken from our constants. A card that lists algorithms in
/// SELECT's `AC` templates and leaves `alg` out, or refuses GENERATE with
/// `6A80`/`6A86` (SP 800-73-4 Part 2, 3.3.2), lacks it; the test is skipped.
pub fn generate_or_skip(
    card: &mut Card,
    slot: applet_spec::piv::Slot,
    alg: applet_spec::piv::KeyAlgorithm,
) -> Option<applet_spec::messages::PublicKeyData> {
    let listed = card.select().map(|a| a.algorithms).unwrap_or_default();
    if !listed.is_empty() && !listed.contains(&alg.id()) {
        skip(&format!("the card does not list {} ({:02X}) in SELECT's algorithms", alg.name(), alg.id()));
        return None;
    }
    admin(card);
    match card.generate_key(slot, alg) {
        Ok(k) => Some(k),
        Err(e) if matches!(e.sw(), Some(Sw::INCORRECT_DATA | Sw::INCORRECT_P1_P2)) && !card.has(Profile::Subsim) => {
            skip(&format!("the card has no {} keys: GENERATE answered {}", alg.name(), e.sw().unwrap()));
            None
        }
        Err(e) => panic!("GENERATE {} in {slot}: {e}", alg.name()),
    }
}

/// Sends raw hex as one APDU, bypassing chaining and GET RESPONSE.
pub fn raw(card: &mut Card, hex_apdu: &str) -> Response {
    try_raw(card, hex_apdu).expect("transport")
}

/// As [`raw`], with the transport's refusal (a phone's access control, say) as an error.
pub fn try_raw(card: &mut Card, hex_apdu: &str) -> Result<Response, Error> {
    let bytes = hex::decode(hex_apdu.replace(' ', "")).expect("test APDU is hex");
    let out = card.transport_mut().transmit(&bytes)?;
    Ok(Response::parse(&out).expect("response has a status word"))
}

/// On a phone target, skips a test of what an app cannot send (OMAPI
/// refuses SELECT of other applets and MANAGE CHANNEL, and sets the channel
/// bits itself): `true` when the test should stop.
pub fn not_on_phone(what: &str) -> bool {
    if on_phone() {
        skip(&format!("through the phone an app cannot {what}"));
    }
    on_phone()
}

/// Sends a command through the shared exchange (chaining, GET RESPONSE).
pub fn send(card: &mut Card, cmd: Command) -> Response {
    card.transmit(&cmd).expect("transport")
}

/// The status word of a refused operation.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> Sw {
    match r {
        Err(Error::Status { sw, .. }) => sw,
        other => panic!("expected the card to refuse with a status word, got {other:?}"),
    }
}
