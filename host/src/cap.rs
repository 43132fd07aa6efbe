//! CAP files (Java Card VM specification 3.0.5, chapter 6): the ZIP a
//! converter writes, its components, and the Load File Data Block that
//! GlobalPlatform's LOAD carries (GPCS 11.6.2.3), components in load order.
//! The block is checked by the same parser the card runs
//! (`applet_spec::gp::parse_load_file`), so what this accepts the card does.

use std::io::Read;

use applet_spec::gp::{self, LoadFileInfo, LOAD_ORDER};

/// Why a file is not a CAP file this can load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// Not a ZIP archive, or one that does not read.
    #[error("not a CAP file (ZIP): {0}")]
    Zip(String),
    /// A component's file holds another component, or is cut short.
    #[error("CAP component {0}: {1}")]
    Component(&'static str, &'static str),
    /// Components missing, out of order, or malformed as a load file.
    #[error("CAP file: {0}")]
    LoadFile(String),
}

/// The largest CAP component file read (a component's size is a u2).
const MAX_COMPONENT: u64 = 0x1_0003;

/// A CAP file's components, and what its Header and Applet components say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapFile {
    /// The package AID, version and applet classes.
    pub info: LoadFileInfo,
    /// The components to load, in load order: each `tag u2-size info`.
    components: Vec<Vec<u8>>,
}

impl CapFile {
    /// Reads a CAP file: every `*/javacard/<Component>.cap` entry of the
    /// ZIP (the Descriptor and Debug components are not loaded).
    pub fn from_zip(bytes: &[u8]) -> Result<CapFile, CapError> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| CapError::Zip(e.to_string()))?;
        let mut found: Vec<(u8, Vec<u8>)> = Vec::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| CapError::Zip(e.to_string()))?;
            let name = entry.name().to_string();
            let Some(file) = name.rsplit_once("/javacard/").map(|(_, f)| f.to_string()) else { continue };
            let Some(&(tag, component, _)) = LOAD_ORDER.iter().find(|(_, n, _)| format!("{n}.cap") == file) else {
                continue;
            };
            if tag == 11 {
                continue;
            }
            let mut data = Vec::new();
            (&mut entry).take(MAX_COMPONENT).read_to_end(&mut data).map_err(|e| CapError::Zip(e.to_string()))?;
            match data.as_slice() {
                [t, h, l, info @ ..] if *t == tag && info.len() == u16::from_be_bytes([*h, *l]) as usize => {}
                [t, ..] if *t != tag => return Err(CapError::Component(component, "holds another component's tag")),
                _ => return Err(CapError::Component(component, "its size does not match its bytes")),
            }
            if found.iter().any(|(t, _)| *t == tag) {
                return Err(CapError::Component(component, "found twice"));
            }
            found.push((tag, data));
        }
        let mut components = Vec::new();
        for (tag, _, _) in LOAD_ORDER {
            if let Some(i) = found.iter().position(|(t, _)| *t == tag) {
                components.push(found.swap_remove(i).1);
            }
        }
        CapFile::from_components(components)
    }

    /// A CAP file of these components (each `tag u2-size info`), in the
    /// order given: checked as the card checks a load file.
    pub fn from_components(components: Vec<Vec<u8>>) -> Result<CapFile, CapError> {
        let cap = CapFile { info: LoadFileInfo { aid: vec![], version: [0, 0], applets: vec![] }, components };
        let info = gp::parse_load_file(&cap.load_file_data_block()).map_err(|e| CapError::LoadFile(e.to_string()))?;
        Ok(CapFile { info, ..cap })
    }

    /// The Load File Data Block: `C4`, its BER length, the components.
    pub fn load_file_data_block(&self) -> Vec<u8> {
        let body: Vec<u8> = self.components.concat();
        let n = body.len();
        let mut out = vec![0xC4];
        match n {
            0..=0x7F => out.push(n as u8),
            0x80..=0xFF => out.extend([0x81, n as u8]),
            0x100..=0xFFFF => out.extend([0x82, (n >> 8) as u8, n as u8]),
            _ => out.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]),
        }
        out.extend(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn component(tag: u8, info: &[u8]) -> Vec<u8> {
        [&[tag][..], &(info.len() as u16).to_be_bytes(), info].concat()
    }

    /// A CAP ZIP with these (file name, bytes) entries.
    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn entries() -> Vec<(&'static str, Vec<u8>)> {
        let pkg = [0xA0, 0, 0, 0, 0x62, 3, 1];
        let header = [&[0xDE, 0xCA, 0xFF, 0xED, 1, 2, 0, 0, 1, 7][..], &pkg].concat();
        let applets = [&[1, 8][..], &[0xA0, 0, 0, 0, 0x62, 3, 1, 1], &[0, 1]].concat();
        // Stored out of order, as converters do: the reader puts them in load order.
        vec![
            ("p/javacard/Method.cap", component(7, &[0; 40])),
            ("p/javacard/Header.cap", component(1, &header)),
            ("p/javacard/Directory.cap", component(2, &[0; 20])),
            ("p/javacard/Applet.cap", component(3, &applets)),
            ("p/javacard/Import.cap", component(4, &[0])),
            ("p/javacard/Class.cap", component(6, &[0; 4])),
            ("p/javacard/StaticField.cap", component(8, &[0; 10])),
            ("p/javacard/ConstantPool.cap", component(5, &[0; 6])),
            ("p/javacard/RefLocation.cap", component(9, &[0; 4])),
            ("p/javacard/Descriptor.cap", component(11, &[0; 9])),
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n".to_vec()),
        ]
    }

    #[test]
    fn reads_a_cap_in_load_order() {
        let cap = CapFile::from_zip(&zip_of(&entries())).unwrap();
        assert_eq!(cap.info.aid, [0xA0, 0, 0, 0, 0x62, 3, 1]);
        assert_eq!(cap.info.applets, vec![vec![0xA0, 0, 0, 0, 0x62, 3, 1, 1]]);
        let block = cap.load_file_data_block();
        let tags: Vec<u8> = cap.components.iter().map(|c| c[0]).collect();
        assert_eq!(tags, [1, 2, 4, 3, 6, 7, 8, 5, 9], "GPCS order, no Descriptor");
        assert_eq!(block[0], 0xC4);
    }

    #[test]
    fn refuses_what_is_not_a_whole_cap() {
        assert!(matches!(CapFile::from_zip(b"not a zip"), Err(CapError::Zip(_))));
        let mut e = entries();
        e.retain(|(n, _)| !n.ends_with("Method.cap"));
        assert!(matches!(CapFile::from_zip(&zip_of(&e)), Err(CapError::LoadFile(_))), "missing component");
        let mut e = entries();
        e[0].1.pop();
        assert!(matches!(CapFile::from_zip(&zip_of(&e)), Err(CapError::Component("Method", _))), "truncated");
        let mut e = entries();
        e[0].1[0] = 6;
        assert!(matches!(CapFile::from_zip(&zip_of(&e)), Err(CapError::Component("Method", _))), "wrong tag");
        let mut e = entries();
        e[1].1[3] = 0;
        assert!(CapFile::from_zip(&zip_of(&e)).is_err(), "bad magic");
    }
}
