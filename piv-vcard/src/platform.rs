//! The card's hardware, in software: trussed's virtual store over our flash
//! (three littlefs file systems: internal, external, volatile), trussed's
//! always-consenting user interface, and a random generator seeded from the
//! OS. trussed's own
//! `virt::Platform` seeds its generator with a constant; a card whose keys
//! and challenges repeat from run to run is not one to test against.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use trussed::virt::{StorageConfig, Store, StoreConfig, UserInterface};

use crate::flash::{Flash, IMAGE_LEN};

pub struct VirtPlatform<'a> {
    rng: ChaCha8Rng,
    store: Store<'a>,
    ui: UserInterface,
}

impl<'a> VirtPlatform<'a> {
    pub fn new(store: Store<'a>) -> Self {
        Self { rng: ChaCha8Rng::from_entropy(), store, ui: UserInterface::new() }
    }
}

impl<'a> trussed::Platform for VirtPlatform<'a> {
    type R = ChaCha8Rng;
    type S = Store<'a>;
    type UI = UserInterface;

    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
    fn store(&self) -> Store<'a> {
        self.store
    }
    fn user_interface(&mut self) -> &mut UserInterface {
        &mut self.ui
    }
}

/// Opens (or creates) a state directory and takes its lock: two processes
/// writing one flash image would corrupt it. The lock lasts as long as the
/// returned file is open.
pub fn lock_dir(dir: &Path) -> io::Result<File> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let lock = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join("lock"))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::new(io::ErrorKind::WouldBlock, "in use by another piv-vcard"));
    }
    // Check both images now, before the card is first powered on.
    for image in IMAGES {
        open_image(&dir.join(image))?;
    }
    Ok(lock)
}

const IMAGES: [&str; 2] = ["internal.img", "external.img"];

/// Opens the image at `path`, creating it (owner-only: it holds the card's
/// keys and PIN hashes) if missing. Returns the file and whether it is blank:
/// all zeros, created but never formatted.
fn open_image(path: &Path) -> io::Result<(File, bool)> {
    let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).mode(0o600).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        file.set_len(IMAGE_LEN)?;
    } else if len != IMAGE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is {len} bytes, not a {IMAGE_LEN}-byte card image", path.display()),
        ));
    }
    let blank = fs::read(path)?.iter().all(|&b| b == 0);
    Ok((file, blank))
}

/// The store for the first power-on: internal and external storage are the
/// image files in `dir` (the caller holds its lock); volatile storage is
/// RAM, formatted again at every power-on (see `after_power_on`).
pub fn store_config(dir: &Path) -> io::Result<StoreConfig<'static>> {
    let image = |name: &str| -> io::Result<StorageConfig<'static>> {
        let (file, format) = open_image(&dir.join(name))?;
        Ok(StorageConfig { storage: Box::new(Flash::file(file)?), format })
    };
    Ok(StoreConfig {
        internal: image(IMAGES[0])?,
        external: image(IMAGES[1])?,
        volatile: StorageConfig { storage: Box::new(Flash::ram()), format: true },
    })
}

/// After the first power-on has formatted the new images, persistent
/// storage keeps its contents; volatile storage is wiped at every power-on.
pub fn after_power_on(config: &mut StoreConfig<'_>) {
    config.internal.format = false;
    config.external.format = false;
    config.volatile.format = true;
}
