//! One card session: the card opened once (on first need) and kept for every
//! command that follows, as a card left in a reader keeps its PIN and binding
//! state. A single command is a session of one; `subsim run FILE` and
//! `subsim shell` run many commands in one.
//!
//! Also here: how every outcome reaches stdout (words, or one JSON object),
//! broken pipes, and the terminal restored when a prompt is interrupted.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use applet_spec::piv::Slot;
use clap::Parser;
use subsim_host::{CardProfile, Client, Profile, ReaderChoice};

use crate::commands::{self, Card, Failure, Out, PublicKey};
use crate::open::{self, Target};
use crate::{Cli, Cmd};

/// The options that shape output and the card's use, for one command.
#[derive(Clone)]
pub struct Opts {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub trace: bool,
    pub create: bool,
    /// How long to wait for a card file another program holds (--wait).
    pub wait: std::time::Duration,
    pub profile: Option<Profile>,
    /// The card file named with --sim, if any.
    pub sim: Option<std::path::PathBuf>,
    /// --phone: the app's certificate; the card is reached as that app would.
    pub phone: Option<std::path::PathBuf>,
}

/// The card and what this session learnt about it.
pub struct Session {
    pub target: Target,
    pub opts: Opts,
    card: Option<Card>,
    /// PIV is the application selected on the card's basic channel.
    piv_selected: bool,
    profile: Option<CardProfile>,
    /// Public keys generated in this session: what a later CSR, self-signed
    /// or imported certificate is checked against.
    pub generated: HashMap<Slot, PublicKey>,
    /// A PIN verification no signature has used yet (9C's "always" policy).
    pub pin_fresh: bool,
    /// How the PIN for the coming private-key operation is entered (set by
    /// `prepare_signature`): what one retry after a `6982` verifies with.
    pub pin_retry: Option<(crate::PinArgs, bool)>,
}

impl Session {
    pub fn new(target: Target, opts: Opts) -> Session {
        Session {
            target,
            opts,
            card: None,
            piv_selected: false,
            profile: None,
            generated: HashMap::new(),
            pin_fresh: false,
            pin_retry: None,
        }
    }

    /// The card, opened and its applet selected on first use.
    pub fn card(&mut self) -> Result<&mut Card, Failure> {
        if !self.piv_selected {
            self.card_unselected()?.select()?;
            self.piv_selected = true;
        }
        Ok(self.card.as_mut().expect("opened above"))
    }

    /// The card, opened on first use, for a command that selects an
    /// application of its own (`gp`: the card manager); the next
    /// [`Session::card`] selects PIV again.
    pub fn card_unselected(&mut self) -> Result<&mut Card, Failure> {
        self.piv_selected = false;
        if self.card.is_none() {
            let mut t = open::open_waiting(&self.target, self.opts.trace, self.opts.create, self.opts.wait)?;
            if let Some(cert) = &self.opts.phone {
                // An app's own channel to the sub-SIM, after the phone's checks.
                let app = subsim_host::App::from_certificate(&crate::commands::read_certificate(cert)?);
                let phone = subsim_host::Phone::new(t);
                t = Box::new(phone.open_channel(&app, &applet_spec::piv::PIV_AID)?);
            }
            let c = Client::new(t);
            if self.opts.verbose {
                eprintln!("subsim: using the {}", crate::commands::shown(&c.transport().describe()));
            }
            if let Target::Sim(path) = &self.target {
                self.warn_open_mode(path);
            }
            self.card = Some(c);
        }
        Ok(self.card.as_mut().expect("opened above"))
    }

    /// What the card has, narrowed to `--profile`/`$SUBSIM_PROFILE`.
    pub fn profile(&mut self) -> Result<CardProfile, Failure> {
        if let Some(p) = &self.profile {
            return Ok(p.clone());
        }
        let limit = self.opts.profile;
        let detected = self.card()?.detect_profile()?;
        let p = match limit {
            Some(l) => detected.narrowed_to(l),
            None => detected,
        };
        if self.opts.verbose {
            eprintln!("subsim: card profile {p}");
        }
        self.profile = Some(p.clone());
        Ok(p)
    }

    /// Refuses a sub-SIM-only command on a card without the extensions.
    pub fn require_subsim(&mut self, what: &str) -> Result<(), Failure> {
        self.require(Profile::Subsim, what)
    }

    /// Refuses a command of a feature set (Yubico's, the sub-SIM's) the
    /// card lacks, or that --profile leaves out (exit 6).
    pub fn require(&mut self, needed: Profile, what: &str) -> Result<(), Failure> {
        let p = self.profile()?;
        if p.has(needed) {
            return Ok(());
        }
        let (lacks, needs) = match needed {
            Profile::Subsim => ("sub-SIM extensions", "a sub-SIM"),
            _ => ("Yubico management commands", "them"),
        };
        Err(Failure::Unsupported(format!("this card has no {lacks} (profile {}): {what} needs {needs}", p.widest())))
    }

    /// A card file other users may read or change gives its keys away
    /// (they are kept in clear): said every time it is used.
    fn warn_open_mode(&self, path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let who = if mode & 0o022 != 0 { "change" } else { "read" };
            self.say(&format!(
                "warning: other users may {who} the card file {} (mode {mode:04o}), which holds the card's keys in clear: \
                 chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }

    /// A note on stderr, unless -q or --json.
    pub fn say(&self, line: &str) {
        if !self.opts.quiet {
            eprintln!("subsim: {line}");
        }
    }
}

/// Runs the command line: one command, or a session of many. The exit code.
pub fn main(cli: &Cli) -> u8 {
    let target = match (&cli.reader, cli.serial, &cli.sim) {
        (Some(r), _, _) => Target::Reader(ReaderChoice::Substring(r.clone())),
        (_, Some(s), _) => Target::Reader(ReaderChoice::Serial(s)),
        (_, _, Some(p)) => Target::Sim(p.clone()),
        _ => Target::Sim(open::default_sim_state()),
    };
    let opts = opts_of(cli);
    JSON.store(opts.json, Ordering::SeqCst);
    let mut s = Session::new(target, opts);
    match &cli.command {
        Cmd::Run { file } => run_file(&mut s, file),
        Cmd::Shell => shell(&mut s),
        cmd => emit(commands::run(cmd, &mut s), &s.opts),
    }
}

fn opts_of(cli: &Cli) -> Opts {
    Opts {
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
        trace: cli.trace,
        create: cli.create,
        wait: cli.wait.unwrap_or_default(),
        profile: cli.profile,
        sim: cli.sim.clone(),
        phone: if cli.phone { cli.app_cert.clone() } else { None },
    }
}

/// Prints an outcome as the options say; returns its exit code.
pub fn emit(result: Result<Out, Failure>, opts: &Opts) -> u8 {
    match result {
        Ok(out) => {
            if opts.json {
                let mut j = out.json;
                if let Some(obj) = j.as_object_mut() {
                    obj.insert("ok".into(), true.into());
                }
                stdout(format!("{j}\n").as_bytes());
            } else if let Some(bytes) = &out.bytes {
                stdout(bytes);
            } else if !out.text.is_empty() {
                stdout(format!("{}\n", out.text).as_bytes());
            }
            0
        }
        Err(f) => {
            let r = f.report();
            if opts.json {
                stdout(format!("{}\n", r.json()).as_bytes());
            }
            // A message may carry a certificate's or a card's words: shown escaped.
            eprintln!("subsim: {}", crate::commands::shown(&r.message));
            if let Some(h) = &r.hint {
                eprintln!("hint: {}", crate::commands::shown(h));
            }
            r.code
        }
    }
}

/// Writes to stdout; a reader that went away (`subsim man | head`) ends
/// the program quietly with exit 0, never a panic.
pub fn stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("subsim: writing the output: {e}");
        std::process::exit(2);
    }
}

// ---- sessions of many commands ---------------------------------------------------

/// One line of a session: its words, parsed as a subsim command line.
fn parse_line(line: &str) -> Option<Result<Cli, Failure>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let Some(words) = shlex::split(line) else {
        // Not the line itself: it may hold a PIN or a key.
        return Some(Err(Failure::Usage("unbalanced quotes".into())));
    };
    let words = if words.first().map(String::as_str) == Some("subsim") { &words[1..] } else { &words[..] };
    let cli = match Cli::try_parse_from(std::iter::once("subsim".to_string()).chain(words.iter().cloned())) {
        Ok(cli) => cli,
        Err(e) => return Some(Err(Failure::Usage(unquoted(&e, words)))),
    };
    if cli.reader.is_some() || cli.serial.is_some() || cli.sim.is_some() {
        return Some(Err(Failure::Usage(
            "a session uses one card: put --reader, --serial or --sim before `run`/`shell`, not on its lines".into(),
        )));
    }
    if matches!(cli.command, Cmd::Run { .. } | Cmd::Shell) {
        return Some(Err(Failure::Usage("sessions do not nest: run and shell are not commands of a session".into())));
    }
    Some(Ok(cli))
}

/// A session line's parse error, with every word of the line that looks
/// like a PIN, PUK or key (4 to 8 digits, 16 or more hex digits) blotted
/// out of what clap quotes: a PIN given without `--pin`, a PIN file run as
/// a session.
fn unquoted(e: &clap::Error, words: &[String]) -> String {
    let mut message = e.render().to_string().trim().to_string();
    for word in words {
        for part in [word.as_str(), word.split_once('=').map_or("", |(_, v)| v)] {
            if looks_secret(part) {
                message = message.replace(part, "<redacted>");
            }
        }
    }
    message
}

/// A word that looks like a PIN, PUK or key: 4 to 8 digits, or 16 or more hex digits.
pub fn looks_secret(w: &str) -> bool {
    let digits = (4..=8).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit());
    digits || (w.len() >= 16 && w.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Runs one line in the session, with the session's options plus the line's.
/// A failure's JSON says which line of a session it came from.
fn at_line(result: Result<Out, Failure>, line: usize) -> Result<Out, Failure> {
    result.map_err(|f| Failure::WithData(Box::new(f), serde_json::json!({ "line": line })))
}

pub fn run_line(s: &mut Session, outer: &Opts, line: &str, number: usize) -> Option<u8> {
    let cli = parse_line(line)?;
    let code = match cli {
        Err(f) => emit(at_line(Err(f), number), outer),
        Ok(cli) => {
            let own = opts_of(&cli);
            s.opts = Opts {
                json: outer.json || own.json,
                quiet: outer.quiet || own.quiet,
                verbose: outer.verbose || own.verbose,
                ..outer.clone()
            };
            let code = emit(at_line(commands::run(&cli.command, s), number), &s.opts.clone());
            s.opts = outer.clone();
            code
        }
    };
    Some(code)
}

/// The most a session's input (`run FILE`, `run -`) may hold, and one line
/// of `shell`: far beyond any real session, short of an endless stream.
const MAX_SESSION: u64 = 16 << 20;
const MAX_LINE: u64 = 1 << 20;

/// All of `input` appended to `bytes`, at most `limit` bytes (a file or
/// pipe may not end: `/dev/zero`, `yes`).
pub fn read_bounded(input: impl std::io::Read, limit: u64, name: &str, bytes: &mut Vec<u8>) -> Result<(), String> {
    std::io::Read::read_to_end(&mut input.take(limit + 1), bytes).map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{name}: longer than {limit} bytes, the most read here"));
    }
    Ok(())
}

/// A whole session's text, at most [`MAX_SESSION`] bytes.
fn read_session(input: impl std::io::Read, name: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    read_bounded(input, MAX_SESSION, name, &mut bytes)?;
    String::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8 text"))
}

fn run_file(s: &mut Session, file: &Path) -> u8 {
    let outer = s.opts.clone();
    let text = if file == Path::new("-") {
        if std::io::stdin().is_terminal() {
            return emit(
                Err(Failure::Usage("run - reads commands from a pipe; at a terminal use `subsim shell`".into())),
                &outer,
            );
        }
        match read_session(std::io::stdin(), "stdin") {
            Ok(t) => t,
            Err(e) => return emit(Err(Failure::Usage(e)), &outer),
        }
    } else {
        let name = file.display().to_string();
        match std::fs::File::open(file).map_err(|e| format!("{name}: {e}")).and_then(|f| read_session(f, &name)) {
            Ok(t) => t,
            Err(e) => return emit(Err(Failure::Usage(e)), &outer),
        }
    };
    crate::secret::set_in_session(true);
    for (n, line) in text.lines().enumerate() {
        if let Some(code) = run_line(s, &outer, line, n + 1) {
            if code != 0 {
                if !outer.json {
                    eprintln!("subsim: {}:{}: stopped here ({})", file.display(), n + 1, command_of(line));
                }
                return code;
            }
        }
    }
    0
}

/// The command a session line runs (`pin verify`), without its arguments:
/// they may be a PIN or a key, which an error never repeats.
fn command_of(line: &str) -> String {
    let words = shlex::split(line).unwrap_or_default();
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut names = Vec::new();
    for word in words.iter().skip_while(|w| *w == "subsim") {
        let Some(sub) = command.find_subcommand(word).cloned() else { break };
        names.push(sub.get_name().to_string());
        command = sub;
    }
    if names.is_empty() {
        "not a command".into()
    } else {
        names.join(" ")
    }
}

fn shell(s: &mut Session) -> u8 {
    let outer = s.opts.clone();
    let interactive = std::io::stdin().is_terminal();
    if interactive && !outer.quiet {
        eprintln!("subsim shell: one command per line, one card session; `help` lists commands; Ctrl-D ends");
    }
    crate::secret::set_in_session(true);
    if interactive {
        let last = crate::shell::run(s, &outer);
        eprintln!();
        return last;
    }
    let mut last = 0;
    let mut number = 0;
    let stdin = std::io::stdin();
    loop {
        if interactive {
            eprint!("subsim> ");
        }
        let mut line = String::new();
        match std::io::Read::take(stdin.lock(), MAX_LINE + 1).read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line.len() as u64 > MAX_LINE => {
                let long = format!("line {}: longer than {MAX_LINE} bytes", number + 1);
                return emit(Err(Failure::Usage(long)), &outer);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("subsim: {e}");
                return 2;
            }
        }
        match line.trim() {
            "exit" | "quit" => break,
            "help" => {
                let mut c = <Cli as clap::CommandFactory>::command();
                let _ = c.print_help();
                continue;
            }
            _ => {}
        }
        number += 1;
        if let Some(code) = run_line(s, &outer, &line, number) {
            last = code;
        }
    }
    if interactive {
        eprintln!();
    }
    last
}

// ---- interrupts and the terminal ------------------------------------------------------

static JSON: AtomicBool = AtomicBool::new(false);
static SAVED_TERMINAL: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Keeps the terminal's settings while a hidden prompt runs: an interrupt
/// (Ctrl-C) restores them before the program ends, so echo comes back.
pub struct TerminalGuard;

impl TerminalGuard {
    pub fn save() -> TerminalGuard {
        if let Ok(tty) = std::fs::File::open("/dev/tty") {
            use std::os::fd::AsRawFd;
            // SAFETY: tcgetattr fills a plain C struct from an open descriptor.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(tty.as_raw_fd(), &mut t) } == 0 {
                *SAVED_TERMINAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
            }
        }
        TerminalGuard
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        SAVED_TERMINAL.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

fn restore_terminal() {
    let saved = *SAVED_TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
    if let (Some(t), Ok(tty)) = (saved, std::fs::OpenOptions::new().write(true).open("/dev/tty")) {
        use std::os::fd::AsRawFd;
        // SAFETY: tcsetattr with settings tcgetattr gave for the same terminal.
        unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &t) };
        let _ = (&tty).write_all(b"\n");
    }
}

/// Ctrl-C, SIGTERM or SIGHUP: restore the terminal, report, exit 130.
pub fn install_interrupt_handler() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            interrupted();
        }
    });
}

/// Ends the program after an interrupt: terminal restored, reported, exit 130.
pub fn interrupted() -> ! {
    static ONCE: Mutex<()> = Mutex::new(());
    let _only_one = ONCE.lock();
    restore_terminal();
    if JSON.load(Ordering::SeqCst) {
        // The main thread may be stuck writing to a pipe nobody reads (and
        // holding stdout's lock): try to say it, but never wait for long.
        let line = format!("{}\n", Failure::Interrupted.report().json());
        let (said, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = std::io::stdout().write_all(line.as_bytes());
            let _ = said.send(());
        });
        let _ = told.recv_timeout(std::time::Duration::from_millis(500));
    }
    eprintln!("subsim: interrupted");
    std::process::exit(130);
}

/// The path of a file argument, or None for `-` (stdin/stdout).
pub fn file_arg(p: &Path) -> Option<&Path> {
    (p != Path::new("-")).then_some(p)
}
