//! The card's flash: a littlefs block device in RAM, optionally written
//! through to an image file. trussed::virt's own storages are 64 KiB, far
//! less than a Nitrokey 3's flash: a PIV card holds up to 24 keys and
//! certificates of a few KiB each, and a test of retired slots must not fail
//! for want of space the real token has.

use std::fs::File;
use std::os::unix::fs::FileExt;

use littlefs2::consts::{U16, U512};
use littlefs2::driver::Storage;
use littlefs2::io::{Error, Result};

const BLOCK_SIZE: usize = 512;
const BLOCK_COUNT: usize = 1024;
/// Bytes in one image: 512 KiB.
pub const IMAGE_LEN: u64 = (BLOCK_SIZE * BLOCK_COUNT) as u64;
/// What erased flash reads as.
const ERASED: u8 = 0xFF;

pub struct Flash {
    bytes: Vec<u8>,
    /// Every write and erase goes to this file too, at the same offset.
    image: Option<File>,
}

impl Flash {
    pub fn ram() -> Self {
        Self { bytes: vec![ERASED; IMAGE_LEN as usize], image: None }
    }

    /// The flash kept in `image` (IMAGE_LEN bytes, read whole now).
    pub fn file(image: File) -> std::io::Result<Self> {
        let mut bytes = vec![0; IMAGE_LEN as usize];
        image.read_exact_at(&mut bytes, 0)?;
        Ok(Self { bytes, image: Some(image) })
    }

    fn store(&mut self, offset: usize, data: &[u8]) -> Result<usize> {
        let end = offset.checked_add(data.len()).filter(|&end| end <= self.bytes.len()).ok_or(Error::NO_SPACE)?;
        if let Some(image) = &self.image {
            // Written before the copy in RAM changes: what littlefs reads
            // back is always what the file holds.
            image.write_all_at(data, offset as u64).map_err(|_| Error::IO)?;
        }
        self.bytes[offset..end].copy_from_slice(data);
        Ok(data.len())
    }
}

impl Storage for Flash {
    const READ_SIZE: usize = 16;
    const WRITE_SIZE: usize = 16;
    const BLOCK_SIZE: usize = BLOCK_SIZE;
    const BLOCK_COUNT: usize = BLOCK_COUNT;
    type CACHE_SIZE = U512;
    type LOOKAHEAD_SIZE = U16;

    fn read(&mut self, offset: usize, buf: &mut [u8]) -> Result<usize> {
        let end = offset.checked_add(buf.len()).filter(|&end| end <= self.bytes.len()).ok_or(Error::NO_SPACE)?;
        buf.copy_from_slice(&self.bytes[offset..end]);
        Ok(buf.len())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<usize> {
        self.store(offset, data)
    }

    fn erase(&mut self, offset: usize, len: usize) -> Result<usize> {
        self.store(offset, &vec![ERASED; len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reach_the_image_file_and_erases_read_as_ff() {
        let path = std::env::temp_dir().join(format!("piv-vcard-flash-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
        file.set_len(IMAGE_LEN).unwrap();
        let mut flash = Flash::file(file).unwrap();
        flash.erase(512, 512).unwrap();
        flash.write(528, &[7; 16]).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[512..528], &[0xFF; 16]);
        assert_eq!(&on_disk[528..544], &[7; 16]);
        let mut back = [0; 32];
        Flash::file(std::fs::File::open(&path).unwrap()).unwrap().read(512, &mut back).unwrap();
        assert_eq!(back[..16], [0xFF; 16]);
        assert_eq!(back[16..], [7; 16]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn nothing_past_the_end() {
        let mut flash = Flash::ram();
        let end = IMAGE_LEN as usize;
        assert_eq!(flash.write(end - 8, &[0; 16]), Err(Error::NO_SPACE));
        assert_eq!(flash.read(end, &mut [0; 16]), Err(Error::NO_SPACE));
        assert_eq!(flash.write(end - 16, &[1; 16]), Ok(16));
    }
}
