//! A card file held like a card in a reader: one holder at a time, every
//! write durable before it counts, the file replaced whole or not at all.
//!
//! - **One holder.** The holder keeps an exclusive `flock` on the inode at
//!   the card's path. Saves replace that inode (rename), so the lock moves
//!   with them: the new inode is locked before the rename and the old one
//!   released after. An opener locks what it opened, then checks the path
//!   still names that inode, and starts again if not. No lock file is
//!   needed, so two cards in one folder share nothing and read-only folders
//!   work. Who holds a card is read from `/proc/locks` (Linux).
//! - **Write-through.** [`CardFile`] is the store's [`Backing`]: each
//!   persistent write is saved (unique temporary file, fsync, rename,
//!   folder fsync) before it takes effect, so before any answer leaves the
//!   card. A save that fails is a power cut: no answer, the card stops, the
//!   file keeps what it held.
//! - **Pulled out.** If the path stops naming the held file (another
//!   program moved a file there or removed it), the next save is a power
//!   cut and the path is left as it is: the holder never writes over a
//!   card someone else may now hold.
//! - **Atomic replace.** The temporary file is `.<name>.<32 hex>.tmp` in the
//!   card's folder, made nameless (`O_TMPFILE`) and linked under a new name
//!   (never through a planted link), `0600`, locked while it is written;
//!   its name carries a mark bound to its inode ([`mark`]). It then takes the card file's
//!   mode and owner (a new card file is `0600`). Temporary files a killed
//!   writer left behind (unlocked, with our mark) are removed when the card
//!   is next opened for writing; no other file is, whatever its name.
//! - **Only regular files**, opened without following a final symlink and
//!   without blocking (a FIFO), read up to [`MAX_FILE_LEN`] bytes.
//! - **Read-only** when the file or its folder has no write permission bit
//!   (honoured even for root), the file system is read-only, or the OS
//!   denies this user write access: the card serves, a writing command is a
//!   power cut with [`StateError::ReadOnly`], nothing is touched.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::persist::{parse, render, StateError, MAX_FILE_LEN};
use crate::state::{Backing, Persistent};

/// Exit code of `apdu-sim` and `subsim` when the card file is held by
/// another program (and `--wait` did not outlast it).
pub const EXIT_IN_USE: u8 = 7;

/// Parses `--wait SECONDS` (fractions allowed).
pub fn parse_wait(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}

/// Why a save stops when the card's path no longer names the held file.
const REPLACED: &str =
    "replaced or removed by another program while held; the held card stops (its path is left as it is)";

/// How often a waiting opener tries the lock again.
const RETRY: Duration = Duration::from_millis(20);

/// New card files and temporary files: the owner alone (they hold keys).
const NEW_FILE_MODE: u32 = 0o600;

/// A file held like a card in a reader, whatever it holds (a card, a test
/// CA's state): one holder, saves that replace it whole and durably. The
/// rules are the module's; [`CardFile`] is this with a card in it.
pub struct HeldFile {
    path: PathBuf,
    /// The inode now at `path`, locked.
    file: File,
    /// `Some(why)` when the file is read-only.
    read_only: Option<String>,
}

/// What makes a new held file's bytes.
type MakeBytes = fn() -> Result<Zeroizing<Vec<u8>>, StateError>;

/// What [`HeldFile::open`] found.
pub struct HeldBytes {
    /// The file, held (locked) for as long as this value lives.
    pub file: HeldFile,
    /// What it holds (at most the `max_len` asked for).
    pub bytes: Zeroizing<Vec<u8>>,
    /// The file did not exist: `bytes` are what `new` made, already saved.
    pub created: bool,
}

/// A card file held by this process.
pub struct CardFile {
    held: HeldFile,
}

/// What [`CardFile::open`] found.
pub struct Opened {
    /// The file, held (locked) for as long as this value lives.
    pub file: CardFile,
    /// The card the file holds.
    pub state: Persistent,
    /// The file did not exist: `state` is the new card, already saved.
    pub created: bool,
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_owned(), source }
}

impl CardFile {
    /// Holds the card file at `path`, waiting up to `wait` for another
    /// holder to let go ([`StateError::InUse`] after that). A missing file
    /// is created (mode 0600) holding the card `new` makes.
    pub fn open(path: &Path, wait: Duration, new: impl FnOnce() -> Persistent) -> Result<Opened, StateError> {
        let mut made = None;
        let make = || {
            let state = new();
            let text = render(&state).map_err(|problem| StateError::Invalid { path: path.to_owned(), problem })?;
            made = Some(state);
            Ok(Zeroizing::new(text.as_bytes().to_vec()))
        };
        let held = HeldFile::open(path, wait, MAX_FILE_LEN, Some(make))?;
        let state = match made {
            Some(state) if held.created => state,
            _ => parse_card(path, &held.bytes)?,
        };
        Ok(Opened { file: CardFile { held: held.file }, state, created: held.created })
    }

    /// Where the card file is.
    pub fn path(&self) -> &Path {
        self.held.path()
    }

    /// Why the card is read-only, if it is.
    pub fn read_only(&self) -> Option<&str> {
        self.held.read_only()
    }

    /// Replaces the file with `state`, durably (see [`HeldFile::save`]).
    pub fn save(&mut self, state: &Persistent) -> Result<(), StateError> {
        if let Some(why) = self.held.read_only() {
            return Err(StateError::ReadOnly { path: self.path().to_owned(), why: why.to_owned() });
        }
        let text = render(state).map_err(|problem| StateError::Invalid { path: self.path().to_owned(), problem })?;
        self.held.save(text.as_bytes())
    }
}

impl HeldFile {
    /// Holds the file at `path`, waiting up to `wait` for another holder
    /// to let go ([`StateError::InUse`] after that), and reads it (at most
    /// `max_len` bytes). A missing file is created (mode 0600) holding what
    /// `new` makes; without `new`, a missing file is an I/O error (NotFound).
    pub fn open(
        path: &Path,
        wait: Duration,
        max_len: u64,
        new: Option<impl FnOnce() -> Result<Zeroizing<Vec<u8>>, StateError>>,
    ) -> Result<HeldBytes, StateError> {
        // A wait beyond what the clock can count is a wait without end.
        let deadline = Instant::now().checked_add(wait);
        let mut new = new;
        let mut fresh: Option<Zeroizing<Vec<u8>>> = None;
        let mut second_looks = 0;
        loop {
            let mut file = match open_regular(path) {
                Ok(f) => f,
                Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    if fresh.is_none() {
                        match new.take() {
                            Some(make) => fresh = Some(make()?),
                            None => return Err(io_error(path)(source)),
                        }
                    }
                    match create(path, fresh.as_ref().expect("made above"))? {
                        Some(file) => {
                            let bytes = fresh.take().expect("made above");
                            let file = HeldFile { path: path.to_owned(), file, read_only: None };
                            return Ok(HeldBytes { file, bytes, created: true });
                        }
                        None => continue, // another opener created it first: hold theirs
                    }
                }
                Err(e) => return Err(e),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) if deadline.is_none_or(|d| Instant::now() < d) => {
                    std::thread::sleep(RETRY);
                    continue;
                }
                Err(TryLockError::WouldBlock) => {
                    // The holder may have just replaced the file or let go:
                    // look again before blaming anyone (a few times at most).
                    let who = holder(&file);
                    if (who.is_none() || !names(path, &file)) && second_looks < 20 {
                        second_looks += 1;
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    let holder = who.unwrap_or_else(|| "another program".into());
                    return Err(StateError::InUse { path: path.to_owned(), holder });
                }
                Err(TryLockError::Error(e)) => return Err(io_error(path)(e)),
            }
            // Replaced while we waited for it: the file is the new inode.
            if !names(path, &file) {
                continue;
            }
            let bytes = read_bounded(path, &mut file, max_len)?;
            let meta = file.metadata().map_err(io_error(path))?;
            let read_only = read_only(path, Some(&meta));
            if read_only.is_none() {
                remove_stale_temporaries(folder(path));
            }
            return Ok(HeldBytes { file: HeldFile { path: path.to_owned(), file, read_only }, bytes, created: false });
        }
    }

    /// [`HeldFile::open`] of a file that must exist (a missing one is an
    /// I/O error, NotFound).
    pub fn open_existing(path: &Path, wait: Duration, max_len: u64) -> Result<HeldBytes, StateError> {
        HeldFile::open(path, wait, max_len, None::<MakeBytes>)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the file is read-only, if it is.
    pub fn read_only(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Replaces the file with `bytes`, durably: the old file stays whole
    /// until the new one is, and an error leaves it as it was (unless the
    /// folder's own fsync failed after the rename: then the file holds the
    /// new bytes, not yet known durable).
    pub fn save(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        if let Some(why) = &self.read_only {
            return Err(StateError::ReadOnly { path: self.path.clone(), why: why.clone() });
        }
        let io = io_error(&self.path);
        let old = self.file.metadata().map_err(&io)?;
        let (tmp, mut file) = temporary(&self.path).map_err(&io)?;
        let written = (|| {
            keep_owner_and_mode(&file, &old)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            // Another program moved a file to our path (or removed it):
            // whoever opens the path gets that one now, so never write over it.
            if !names(&self.path, &self.file) {
                return Err(io::Error::other(REPLACED));
            }
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        // The new inode is locked (temporary() did it): the old one may go.
        self.file = file;
        sync_folder(&self.path).map_err(io)
    }
}

/// Replaces the file at `path` with `bytes`, whole or not at all, with
/// exactly `mode` whatever the umask: a new temporary file beside it
/// (made nameless and linked under a new name, never through a planted link), fsync, rename over the name
/// (a symlink there is replaced, never followed), folder fsync. For files
/// published beside a held one (a CA's certificate and CRL).
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (tmp, mut file) = temporary(path)?;
    let written = (|| {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_folder(path)
}

impl Backing for CardFile {
    fn commit(&mut self, next: &Persistent) -> Result<(), String> {
        self.save(next).map_err(|e| e.to_string())
    }
}

/// The card's folder ("." for a bare name).
fn folder(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Opens `path` for reading if it is a regular file: never through a final
/// symlink, never blocking on a FIFO.
pub(crate) fn open_regular(path: &Path) -> Result<File, StateError> {
    let not_regular = |what: String| StateError::NotRegular { path: path.to_owned(), what };
    let file = match fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && is_symlink(path) => {
            let to = fs::read_link(path).map(|t| format!(" to {}", t.display())).unwrap_or_default();
            return Err(not_regular(format!("a symbolic link{to}")));
        }
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(not_regular("a socket or device".into())),
        Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
    };
    let kind = file.metadata().map_err(io_error(path))?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(not_regular(what.into()))
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Reads and checks the card an open file holds, at most [`MAX_FILE_LEN`] bytes.
pub(crate) fn read_card(path: &Path, file: &mut File) -> Result<Persistent, StateError> {
    parse_card(path, &read_bounded(path, file, MAX_FILE_LEN)?)
}

/// What an open file holds, refused when larger than `max_len` bytes.
fn read_bounded(path: &Path, file: &mut File, max_len: u64) -> Result<Zeroizing<Vec<u8>>, StateError> {
    let mut raw = Zeroizing::new(Vec::new());
    file.take(max_len + 1).read_to_end(&mut raw).map_err(io_error(path))?;
    if raw.len() as u64 > max_len {
        let problem = format!("larger than {max_len} bytes, the most it can be");
        return Err(StateError::Invalid { path: path.to_owned(), problem });
    }
    Ok(raw)
}

/// The card in a card file's bytes, checked.
fn parse_card(path: &Path, raw: &[u8]) -> Result<Persistent, StateError> {
    let invalid = |problem: String| StateError::Invalid { path: path.to_owned(), problem };
    let text = std::str::from_utf8(raw).map_err(|_| invalid("not a card state file: not UTF-8".into()))?;
    parse(text).map_err(invalid)
}

/// Whether `path` still names the inode `file` has open.
fn names(path: &Path, file: &File) -> bool {
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(at_path), Ok(held)) => at_path.dev() == held.dev() && at_path.ino() == held.ino(),
        _ => false,
    }
}

/// Why a card (whose file has `meta`, if it exists yet) cannot be written.
fn read_only(path: &Path, meta: Option<&fs::Metadata>) -> Option<String> {
    let dir = folder(path);
    if meta.is_some_and(|m| m.mode() & 0o222 == 0) {
        return Some(format!("the file's mode is {:04o}", meta.unwrap().mode() & 0o7777));
    }
    if on_read_only_file_system(dir) {
        return Some("read-only file system".into());
    }
    match fs::metadata(dir) {
        Ok(m) if m.mode() & 0o222 == 0 => return Some(format!("its folder's mode is {:04o}", m.mode() & 0o7777)),
        Err(e) => return Some(format!("its folder: {e}")),
        Ok(_) => {}
    }
    if !may(dir, libc::W_OK | libc::X_OK) {
        return Some("this user may not write in its folder".into());
    }
    if meta.is_some() && !may(path, libc::W_OK) {
        return Some("this user may not write the file".into());
    }
    None
}

fn c_path(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_bytes()).ok()
}

/// access(2): whether this user may, by the kernel's rules.
fn may(path: &Path, how: libc::c_int) -> bool {
    c_path(path).is_some_and(|p| unsafe { libc::access(p.as_ptr(), how) } == 0)
}

fn on_read_only_file_system(dir: &Path) -> bool {
    let Some(p) = c_path(dir) else { return false };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: p is a valid C string, st a valid statvfs to fill.
    unsafe { libc::statvfs(p.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0 }
}

/// The name prefix of `path`'s temporary files: `.<name>.` (the name cut
/// to leave room for the rest within 255 bytes).
fn temporary_prefix(path: &Path) -> OsString {
    let name = path.file_name().unwrap_or(OsStr::new("card")).as_bytes();
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(&name[..name.len().min(200)]);
    prefix.push(b'.');
    OsStr::from_bytes(&prefix).to_owned()
}

const TEMPORARY_SUFFIX: &str = ".tmp";

/// The mark in a temporary file's name that says we made it: bound to a
/// random number and the file's own inode and birth time (where the file
/// system keeps one), so no file we did not create (a user's
/// `.card.json.<hex>.tmp`, a copy, a file made later on a reused inode)
/// carries it.
fn mark(random: u64, meta: &fs::Metadata) -> u64 {
    use sha2::{Digest, Sha256};
    let born = meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let born = born.map_or(0, |d| d.as_nanos());
    let digest = Sha256::new()
        .chain_update(born.to_be_bytes())
        .chain_update(b"subsim temporary file")
        .chain_update(random.to_be_bytes())
        .chain_update(meta.dev().to_be_bytes())
        .chain_update(meta.ino().to_be_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A new, locked, empty temporary file beside `path`, `0600`, named
/// `.<name>.<random><mark>.tmp` (32 hex digits, [`mark`]). It is made
/// without a name (`O_TMPFILE`), locked, then linked under a name that
/// does not exist yet: it never opens an existing file or a planted link,
/// and a killed writer leaves at most a file with our mark. Where the file
/// system has no `O_TMPFILE`, an `O_EXCL` file under a random name without
/// the mark: left alone by [`remove_stale_temporaries`] if a kill strands it.
fn temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    let dir = folder(path);
    let anonymous = fs::OpenOptions::new().write(true).custom_flags(libc::O_TMPFILE).mode(NEW_FILE_MODE).open(dir);
    let file = match anonymous {
        Ok(file) => file,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)) => {
            return unmarked_temporary(path);
        }
        Err(e) => return Err(e),
    };
    // Locked at once, so a cleaner never takes it for a dead writer's.
    file.try_lock().map_err(|_| io::Error::other("a new temporary file was locked by another process"))?;
    // Whatever the umask, exactly 0600 until the file's own mode is set.
    file.set_permissions(fs::Permissions::from_mode(NEW_FILE_MODE))?;
    let meta = file.metadata()?;
    let from = c_path(Path::new(&format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file))))
        .expect("no NUL in a /proc path");
    let mut last = None;
    for _ in 0..16 {
        let random = rand::random::<u64>();
        let mut name = temporary_prefix(path);
        name.push(format!("{random:016x}{:016x}{TEMPORARY_SUFFIX}", mark(random, &meta)));
        let tmp = dir.join(name);
        let to = c_path(&tmp).ok_or_else(|| io::Error::other("a NUL in the path"))?;
        // SAFETY: both are valid C strings; linkat only reads them.
        let linked = unsafe {
            libc::linkat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if linked == 0 {
            return Ok((tmp, file));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EEXIST) => last = Some(e),
            // No /proc to link through: the plain way.
            Some(libc::ENOENT) if !Path::new("/proc/self/fd").exists() => return unmarked_temporary(path),
            _ => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// [`temporary`] without `O_TMPFILE`: `O_EXCL` under 32 random hex digits
/// (which carry no valid mark).
fn unmarked_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let mut name = temporary_prefix(path);
        name.push(format!("{:032x}{TEMPORARY_SUFFIX}", rand::random::<u128>()));
        let tmp = folder(path).join(name);
        match fs::OpenOptions::new().write(true).create_new(true).mode(NEW_FILE_MODE).open(&tmp) {
            Ok(file) => {
                if file.try_lock().is_ok() {
                    file.set_permissions(fs::Permissions::from_mode(NEW_FILE_MODE))?;
                    return Ok((tmp, file));
                }
                last = Some(io::Error::other("a new temporary file was locked by another process"));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Gives the new file the old one's owner and mode (never wider). Where the
/// owner cannot be kept (not root), the mode is narrowed to the owner's bits.
fn keep_owner_and_mode(file: &File, old: &fs::Metadata) -> io::Result<()> {
    let new = file.metadata()?;
    let mut mode = old.mode() & 0o7777;
    if (new.uid(), new.gid()) != (old.uid(), old.gid())
        && std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).is_err()
    {
        mode &= 0o700;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
}

fn sync_folder(path: &Path) -> io::Result<()> {
    File::open(folder(path))?.sync_all()
}

/// Creates the card file holding `state`; `Ok(None)` when another opener
/// created it first. The file appears whole, already locked by us: it is
/// written under a temporary name and hard-linked into place, which fails
/// if the name exists (a rename would replace a card another opener just
/// made). So creating a card needs a file system with hard links.
fn create(path: &Path, bytes: &[u8]) -> Result<Option<File>, StateError> {
    let io = io_error(path);
    let cannot = |why: String| io(io::Error::other(format!("no such card, and cannot create it: {why}")));
    match fs::metadata(folder(path)) {
        Ok(m) if m.is_dir() => {}
        _ => return Err(cannot("its folder does not exist".into())),
    }
    if let Some(why) = read_only(path, None) {
        return Err(cannot(why));
    }
    let (tmp, mut file) = temporary(path).map_err(&io)?;
    let linked = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_folder(path).map_err(&io)?;
            Ok(Some(file))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(io(e)),
    }
}

/// Removes the temporary files in `dir` that we made ([`mark`]) and no
/// process holds: a writer killed between creating and renaming one (ours
/// are locked while their writer lives). Any other file is left alone,
/// whatever its name.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_bytes().strip_prefix(b".") else { continue };
        let Some(rest) = rest.strip_suffix(TEMPORARY_SUFFIX.as_bytes()) else { continue };
        if rest.len() < 33 || rest[rest.len() - 33] != b'.' {
            continue;
        }
        let digits = &rest[rest.len() - 32..];
        let Some((random, marked)) = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
            .and_then(|d| Some((u64::from_str_radix(&d[..16], 16).ok()?, u64::from_str_radix(&d[16..], 16).ok()?)))
        else {
            continue;
        };
        let tmp = entry.path();
        let Ok(f) = open_regular(&tmp) else { continue };
        let ours = f.metadata().is_ok_and(|m| mark(random, &m) == marked);
        if ours && f.try_lock().is_ok() && names(&tmp, &f) {
            let _ = fs::remove_file(&tmp);
        }
    }
}

/// Who holds the lock on `file`: "<program> pid N" from `/proc/locks`
/// (Linux), `None` when no holder is listed there.
fn holder(file: &File) -> Option<String> {
    let meta = file.metadata().ok()?;
    let id = format!("{:02x}:{:02x}:{}", libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
    let locks = fs::read_to_string("/proc/locks").ok()?;
    locks.lines().filter(|l| !l.contains("->")).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == id).filter(|&at| at > 0)?;
        let pid = fields[at - 1];
        let program = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let program = program.trim();
        Some(format!("{} pid {pid}", if program.is_empty() { "a program" } else { program }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("subsim-cardfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn factory() -> Persistent {
        Persistent::manufacture(&mut rng::seeded(3))
    }

    fn in_use(r: Result<Opened, StateError>) -> String {
        match r {
            Err(e @ StateError::InUse { .. }) => e.to_string(),
            Err(e) => panic!("not 'in use': {e}"),
            Ok(_) => panic!("a second holder got the card"),
        }
    }

    #[test]
    fn one_holder_even_after_the_file_is_replaced() {
        let dir = temp_dir("holder");
        let path = dir.join("card.json");
        let mut first = CardFile::open(&path, Duration::ZERO, factory).unwrap();
        assert!(first.created);
        let inode = fs::metadata(&path).unwrap().ino();
        let msg = in_use(CardFile::open(&path, Duration::ZERO, factory));
        assert!(msg.contains(&format!("pid {}", std::process::id())) && msg.contains("card.json"), "{msg}");
        // Every save replaces the inode; the lock goes with it.
        for n in 1..=3 {
            first.state.changes = n;
            first.file.save(&first.state).unwrap();
            if n == 1 {
                assert_ne!(fs::metadata(&path).unwrap().ino(), inode, "a new inode (later ones may reuse old numbers)");
            }
            in_use(CardFile::open(&path, Duration::ZERO, factory));
        }
        // A waiting opener gets the card, as last saved, once the holder lets go.
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || CardFile::open(&path, Duration::from_secs(10), factory).map(|o| o.state.changes)
        });
        std::thread::sleep(Duration::from_millis(100));
        first.state.changes = 9;
        first.file.save(&first.state).unwrap();
        drop(first);
        assert_eq!(waiter.join().unwrap().unwrap(), 9);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_private_and_keep_their_mode() {
        let dir = temp_dir("mode");
        let path = dir.join("card.json");
        let mut held = CardFile::open(&path, Duration::ZERO, factory).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600, "a new card file is 0600");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        held.file.save(&held.state).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640, "the mode is kept");
        drop(held);
        // Nothing else is left in the folder.
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [OsString::from("card.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dead_writers_temporary_file_is_removed_a_live_ones_kept() {
        let dir = temp_dir("stale");
        let path = dir.join("card.json");
        drop(CardFile::open(&path, Duration::ZERO, factory).unwrap());
        let (stale, dead) = temporary(&path).unwrap();
        drop(dead); // its writer is gone: unlocked
        let (live, _alive) = temporary(&path).unwrap();
        let other = dir.join(".card.json.notrandom.tmp");
        fs::write(&other, "x").unwrap();
        drop(CardFile::open(&path, Duration::ZERO, factory).unwrap());
        assert!(!stale.exists() && live.exists() && other.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_users_file_named_like_a_temporary_file_is_never_removed() {
        let dir = temp_dir("lookalike");
        let path = dir.join("x.json");
        drop(CardFile::open(&path, Duration::ZERO, factory).unwrap());
        let (ours, file) = temporary(&path).unwrap();
        drop(file);
        let name = ours.file_name().unwrap().to_str().unwrap().to_string();
        let lookalikes = [
            ".x.json.0123456789abcdef.tmp".to_string(),
            ".x.json.0123456789abcdef0123456789abcdef.tmp".to_string(),
            // Our exact naming, but not the file it was made for (a copy).
            name.replace(".tmp", "").replace(".x.json.", ".y.json.") + ".tmp",
        ];
        for l in &lookalikes {
            fs::write(dir.join(l), "a user's file").unwrap();
        }
        // A copy of a real temporary file under its own name: another inode.
        fs::remove_file(&ours).unwrap();
        fs::write(&ours, "a copy").unwrap();
        drop(CardFile::open(&path, Duration::ZERO, factory).unwrap());
        for l in &lookalikes {
            assert!(dir.join(l).exists(), "{l} was removed");
        }
        assert!(ours.exists(), "a file that only has our name was removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_regular_files_bounded() {
        let dir = temp_dir("regular");
        let refused = |path: &Path, want: &str| match CardFile::open(path, Duration::ZERO, factory) {
            Err(e) => assert!(e.to_string().contains(want), "{want:?} not in {e}"),
            Ok(_) => panic!("{} was taken as a card file", path.display()),
        };
        refused(&dir, "a directory, not a regular file");
        refused(Path::new("/dev/zero"), "a device, not a regular file");
        let victim = dir.join("victim");
        fs::write(&victim, "keep me").unwrap();
        let link = dir.join("card.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        refused(&link, "a symbolic link to");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        let fifo = dir.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        refused(&fifo, "a FIFO, not a regular file");
        let big = dir.join("big.json");
        fs::write(&big, vec![b' '; MAX_FILE_LEN as usize + 1]).unwrap();
        refused(&big, "larger than 1048576 bytes");
        fs::remove_dir_all(&dir).unwrap();
    }
}
