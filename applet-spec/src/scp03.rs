//! GlobalPlatform's Secure Channel Protocol '03' (GP Card Specification 2.3,
//! Amendment D v1.1/1.2), written once for both ends: the card (`apdu-sim`'s
//! Issuer Security Domain) and the host (`subsim-host`'s GP client) run the
//! same [`Session`], so they cannot drift apart.
//!
//! - [`kdf`]: the key derivation function, NIST SP 800-108 in counter mode
//!   with AES-CMAC as PRF, in Amendment D's parameter order (4.1.5);
//! - [`Session::open`]: session keys S-ENC, S-MAC, S-RMAC from the static keys
//!   and both challenges (6.2.1), card and host cryptograms (6.2.2.2-3);
//! - [`pseudo_random_challenge`]: the card challenge of `i` b5 = 1, from the
//!   sequence counter and the security domain's AID (6.2.2.1);
//! - C-MAC (6.2.4) chained over 16-byte values, sent as 8 (S8 mode);
//!   C-DECRYPTION (6.2.6) with the ICV from the encryption counter; R-MAC
//!   (6.2.5) over the command's chaining value; R-ENCRYPTION (6.2.7) with the
//!   counter's block whose first byte is `80`;
//! - [`kcv`] and [`wrap_key`]/[`unwrap_key`]: PUT KEY's key check value and
//!   DEK encryption of AES keys (Amendment D 7.2, GP 2.3 11.8.2.3).
//!
//! Checked against traces of a real card published by the pySim project
//! (`tests/unittests/test_globalplatform.py`, osmocom/pysim: security levels
//! 11, 03 and 33, AES-128/192/256, pseudo-random challenges), see the tests.

use aes::{Aes128, Aes192, Aes256};
use cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

use crate::apdu::{Command, Response, SHORT_MAX_NC};
use crate::Sw;

/// The AES block, and the full length of a MAC chaining value.
pub const BLOCK: usize = 16;
/// Challenges, cryptograms and MACs on the wire (S8 mode).
pub const S8: usize = 8;

/// Derivation constants (Amendment D 4.1.5, Table 4-1).
pub mod constant {
    /// The card cryptogram.
    pub const CARD_CRYPTOGRAM: u8 = 0x00;
    /// The host cryptogram.
    pub const HOST_CRYPTOGRAM: u8 = 0x01;
    /// The pseudo-random card challenge.
    pub const CARD_CHALLENGE: u8 = 0x02;
    /// S-ENC, from the static ENC key.
    pub const S_ENC: u8 = 0x04;
    /// S-MAC, from the static MAC key.
    pub const S_MAC: u8 = 0x06;
    /// S-RMAC, from the static MAC key.
    pub const S_RMAC: u8 = 0x07;
}

/// A security level: what EXTERNAL AUTHENTICATE's P1 asks for (Amendment D
/// 7.1.2.1, Table 7-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// b1: C-MAC.
    pub const C_MAC: u8 = 0x01;
    /// b2: C-DECRYPTION (command data encrypted).
    pub const C_DEC: u8 = 0x02;
    /// b5: R-MAC.
    pub const R_MAC: u8 = 0x10;
    /// b6: R-ENCRYPTION (response data encrypted).
    pub const R_ENC: u8 = 0x20;
    /// Authenticated, no secure messaging.
    pub const NONE: SecurityLevel = SecurityLevel(0);

    /// The levels Table 7-5 allows: `00`, `01`, `03`, `11`, `13`, `33`
    /// (C-DECRYPTION needs C-MAC, R-ENCRYPTION needs C-DECRYPTION and R-MAC).
    pub fn from_p1(p1: u8) -> Option<SecurityLevel> {
        matches!(p1, 0x00 | 0x01 | 0x03 | 0x11 | 0x13 | 0x33).then_some(SecurityLevel(p1))
    }
    /// The P1 byte.
    pub fn bits(self) -> u8 {
        self.0
    }
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    /// Commands carry a C-MAC.
    pub fn c_mac(self) -> bool {
        self.has(Self::C_MAC)
    }
    /// Command data is encrypted.
    pub fn c_dec(self) -> bool {
        self.has(Self::C_DEC)
    }
    /// Answers carry an R-MAC.
    pub fn r_mac(self) -> bool {
        self.has(Self::R_MAC)
    }
    /// Answer data is encrypted.
    pub fn r_enc(self) -> bool {
        self.has(Self::R_ENC)
    }
}

impl std::fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [(Self::C_MAC, "C-MAC"), (Self::C_DEC, "C-DEC"), (Self::R_MAC, "R-MAC"), (Self::R_ENC, "R-ENC")];
        let on: Vec<&str> = names.iter().filter(|(b, _)| self.has(*b)).map(|(_, n)| *n).collect();
        if on.is_empty() {
            write!(f, "authenticated, no secure messaging")
        } else {
            write!(f, "{}", on.join(", "))
        }
    }
}

/// An AES key of 16, 24 or 32 bytes; anything else is refused when used.
fn with_cmac(key: &[u8], parts: &[&[u8]]) -> Option<[u8; BLOCK]> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Option<[u8; BLOCK]> {
        let mut m = <M as KeyInit>::new_from_slice(key).ok()?;
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().as_slice().try_into().ok()
    }
    match key.len() {
        16 => run::<Cmac<Aes128>>(key, parts),
        24 => run::<Cmac<Aes192>>(key, parts),
        32 => run::<Cmac<Aes256>>(key, parts),
        _ => None,
    }
}

/// AES-CBC over whole blocks with `iv`, in place; `None` for a bad key
/// length or data that is not whole blocks.
fn cbc(key: &[u8], iv: &[u8; BLOCK], data: &mut [u8], encrypt: bool) -> Option<()> {
    use cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    if data.len() % BLOCK != 0 {
        return None;
    }
    macro_rules! run {
        ($c:ty) => {{
            let (blocks, _) = cipher::inout::InOutBuf::from(&mut *data).into_chunks();
            if encrypt {
                cbc::Encryptor::<$c>::new_from_slices(key, iv).ok()?.encrypt_blocks_inout_mut(blocks);
            } else {
                cbc::Decryptor::<$c>::new_from_slices(key, iv).ok()?.decrypt_blocks_inout_mut(blocks);
            }
        }};
    }
    match key.len() {
        16 => run!(Aes128),
        24 => run!(Aes192),
        32 => run!(Aes256),
        _ => return None,
    }
    Some(())
}

/// One AES block encrypted with `key` (ECB); `None` for a bad key length.
fn encrypt_block(key: &[u8], block: &[u8; BLOCK]) -> Option<[u8; BLOCK]> {
    let mut b = GenericArray::clone_from_slice(block);
    match key.len() {
        16 => Aes128::new_from_slice(key).ok()?.encrypt_block(&mut b),
        24 => Aes192::new_from_slice(key).ok()?.encrypt_block(&mut b),
        32 => Aes256::new_from_slice(key).ok()?.encrypt_block(&mut b),
        _ => return None,
    }
    Some(b.into())
}

/// Amendment D's KDF (4.1.5): NIST SP 800-108 in counter mode, PRF
/// AES-CMAC, input `label || 00 || L || i || context`, where the label is
/// eleven `00` bytes and the derivation constant, `L` the output length in
/// bits (2 bytes) and `i` the counter (1 byte, from 1). `None` for a key
/// that is not an AES key.
pub fn kdf(key: &[u8], constant: u8, context: &[u8], bits: u16) -> Option<Zeroizing<Vec<u8>>> {
    let mut label = [0u8; 12];
    label[11] = constant;
    let want = bits as usize / 8;
    let mut out = Zeroizing::new(Vec::with_capacity(want + BLOCK));
    let mut i = 1u8;
    while out.len() < want {
        out.extend_from_slice(&with_cmac(key, &[&label, &[0], &bits.to_be_bytes(), &[i], context])?);
        i = i.checked_add(1)?;
    }
    out.truncate(want);
    Some(out)
}

/// A security domain's static keys (one key set): ENC, MAC and DEK, each AES.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// Key-ENC: S-ENC and the pseudo-random challenge come from it.
    pub enc: Zeroizing<Vec<u8>>,
    /// Key-MAC: S-MAC and S-RMAC.
    pub mac: Zeroizing<Vec<u8>>,
    /// Key-DEK: wraps keys sent by PUT KEY.
    pub dek: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticKeys(AES-{}, hidden)", self.enc.len() * 8)
    }
}

impl StaticKeys {
    /// Three keys: ENC, MAC, DEK.
    pub fn new(enc: &[u8], mac: &[u8], dek: &[u8]) -> StaticKeys {
        StaticKeys {
            enc: Zeroizing::new(enc.to_vec()),
            mac: Zeroizing::new(mac.to_vec()),
            dek: Zeroizing::new(dek.to_vec()),
        }
    }
    /// The same key as ENC, MAC and DEK (GP's development key sets).
    pub fn single(key: &[u8]) -> StaticKeys {
        StaticKeys::new(key, key, key)
    }
    /// Whether all three are AES keys of one length (16, 24 or 32 bytes).
    pub fn well_formed(&self) -> bool {
        let n = self.enc.len();
        matches!(n, 16 | 24 | 32) && self.mac.len() == n && self.dek.len() == n
    }
}

/// The pseudo-random card challenge (Amendment D 6.2.2.1): the KDF with
/// constant `02` over the 3-byte sequence counter and the AID of the
/// security domain, keyed with the static ENC key.
pub fn pseudo_random_challenge(enc: &[u8], counter: u32, sd_aid: &[u8]) -> Option<[u8; S8]> {
    let context = [&counter.to_be_bytes()[1..], sd_aid].concat();
    kdf(enc, constant::CARD_CHALLENGE, &context, 64)?.as_slice().try_into().ok()
}

/// The key check value of an AES key (Amendment D 7.2, GP 2.3 B.6): the
/// first 3 bytes of a block of `01` bytes encrypted with the key.
pub fn kcv(key: &[u8]) -> Option<[u8; 3]> {
    let e = encrypt_block(key, &[0x01; BLOCK])?;
    Some([e[0], e[1], e[2]])
}

/// An AES key encrypted with the DEK for PUT KEY (AES-CBC, zero ICV; a key
/// of whole blocks needs no padding, GP 2.3 11.8.2.3 Table 11-71).
pub fn wrap_key(dek: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let mut out = key.to_vec();
    cbc(dek, &[0; BLOCK], &mut out, true)?;
    Some(out)
}

/// The clear key of a key component block made by [`wrap_key`].
pub fn unwrap_key(dek: &[u8], block: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(block.to_vec());
    cbc(dek, &[0; BLOCK], &mut out, false)?;
    Some(out)
}

/// How a card's static keys come from an issuer's master key, given the
/// card's key diversification data (INITIALIZE UPDATE's first 10 bytes),
/// as GlobalPlatformPro 19.06 computes them (`--kdf3`, `--emv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diversification {
    /// The keys are the card's own.
    None,
    /// SCP03's KDF3: AES-CMAC of the master key, in SP 800-108 counter
    /// mode, over `i || 00 00 00 k 00 || KDD` (`k`: 1 ENC, 2 MAC, 3 DEK).
    Kdf3,
    /// EMV CPS 1.1: two-key 3DES-ECB of the master over
    /// `KDD[4..10] F0 k KDD[4..10] 0F k` (an AES-128 key on SCP03 cards).
    Emv,
}

impl Diversification {
    /// The card's keys from `master` (ENC, MAC and DEK alike: one master
    /// key, or three) and the card's diversification data; `None` when the
    /// master does not suit the method (EMV takes 16 bytes).
    pub fn apply(self, master: &StaticKeys, kdd: &[u8; 10]) -> Option<StaticKeys> {
        let one = |k: &[u8], purpose: u8| -> Option<Zeroizing<Vec<u8>>> {
            match self {
                Diversification::None => Some(Zeroizing::new(k.to_vec())),
                Diversification::Kdf3 => {
                    let mut out = Zeroizing::new(Vec::with_capacity(k.len() + BLOCK));
                    let mut i = 1u8;
                    while out.len() < k.len() {
                        out.extend_from_slice(&with_cmac(k, &[&[i, 0, 0, 0, purpose, 0], kdd])?);
                        i += 1;
                    }
                    out.truncate(k.len());
                    Some(out)
                }
                Diversification::Emv => {
                    use cipher::{BlockEncrypt, KeyInit};
                    let des = des::TdesEde2::new_from_slice(k).ok()?;
                    let mut data = [0u8; BLOCK];
                    data[..6].copy_from_slice(&kdd[4..]);
                    data[6..8].copy_from_slice(&[0xF0, purpose]);
                    data[8..14].copy_from_slice(&kdd[4..]);
                    data[14..].copy_from_slice(&[0x0F, purpose]);
                    for half in data.chunks_mut(8) {
                        des.encrypt_block(GenericArray::from_mut_slice(half));
                    }
                    Some(Zeroizing::new(data.to_vec()))
                }
            }
        };
        let keys = StaticKeys { enc: one(&master.enc, 1)?, mac: one(&master.mac, 2)?, dek: one(&master.dek, 3)? };
        keys.well_formed().then_some(keys)
    }
}

/// Why a secured command or answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScpError {
    /// A MAC did not verify (C-MAC at the card, R-MAC at the host).
    #[error("the MAC does not verify")]
    BadMac,
    /// The card cryptogram is not the one the keys give: wrong keys, or not this card.
    #[error("the card cryptogram does not verify: wrong keys, or not the card they belong to")]
    BadCardCryptogram,
    /// Encrypted data that does not decrypt to padded plaintext.
    #[error("encrypted data does not decrypt to padded data")]
    BadPadding,
    /// The command, once secured, does not fit a short APDU, or is malformed.
    #[error("{0}")]
    Format(&'static str),
}

impl From<ScpError> for Sw {
    /// Amendment D 7.1.3: a command whose secure messaging fails is `6982`.
    fn from(_: ScpError) -> Sw {
        Sw::SECURITY_STATUS_NOT_SATISFIED
    }
}

/// `80 00 ..` padding to whole blocks (GP 2.3 B.2.3).
fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + BLOCK);
    out.extend_from_slice(data);
    out.push(0x80);
    while out.len() % BLOCK != 0 {
        out.push(0);
    }
    out
}

fn unpad(mut data: Vec<u8>) -> Result<Vec<u8>, ScpError> {
    let end = data.iter().rposition(|&b| b != 0).ok_or(ScpError::BadPadding)?;
    if data[end] != 0x80 || data.len() - end > BLOCK {
        return Err(ScpError::BadPadding);
    }
    data.truncate(end);
    Ok(data)
}

/// One SCP03 session, at either end: its keys, the MAC chaining value and
/// the encryption counter. Secrets are wiped when it goes.
pub struct Session {
    s_enc: Zeroizing<Vec<u8>>,
    s_mac: Zeroizing<Vec<u8>>,
    s_rmac: Zeroizing<Vec<u8>>,
    host_challenge: [u8; S8],
    card_challenge: [u8; S8],
    chain: [u8; BLOCK],
    /// Commands secured since EXTERNAL AUTHENTICATE (the ICV's counter).
    counter: u64,
    level: SecurityLevel,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session(level {:02X}, counter {})", self.level.0, self.counter)
    }
}

impl Session {
    /// The session keys of `keys` for these challenges (Amendment D 6.2.1:
    /// context = host challenge || card challenge). `None` when the keys
    /// are not well formed.
    pub fn open(keys: &StaticKeys, host_challenge: [u8; S8], card_challenge: [u8; S8]) -> Option<Session> {
        if !keys.well_formed() {
            return None;
        }
        let ctx = [host_challenge, card_challenge].concat();
        let bits = (keys.enc.len() * 8) as u16;
        Some(Session {
            s_enc: kdf(&keys.enc, constant::S_ENC, &ctx, bits)?,
            s_mac: kdf(&keys.mac, constant::S_MAC, &ctx, bits)?,
            s_rmac: kdf(&keys.mac, constant::S_RMAC, &ctx, bits)?,
            host_challenge,
            card_challenge,
            chain: [0; BLOCK],
            counter: 0,
            level: SecurityLevel::NONE,
        })
    }

    fn cryptogram(&self, constant: u8) -> [u8; S8] {
        let ctx = [self.host_challenge, self.card_challenge].concat();
        let c = kdf(&self.s_mac, constant, &ctx, 64).expect("S-MAC is an AES key");
        c.as_slice().try_into().expect("8 bytes")
    }
    /// The card cryptogram (6.2.2.2), as INITIALIZE UPDATE answers it.
    pub fn card_cryptogram(&self) -> [u8; S8] {
        self.cryptogram(constant::CARD_CRYPTOGRAM)
    }
    /// The host cryptogram (6.2.2.3), as EXTERNAL AUTHENTICATE carries it.
    pub fn host_cryptogram(&self) -> [u8; S8] {
        self.cryptogram(constant::HOST_CRYPTOGRAM)
    }
    /// The level EXTERNAL AUTHENTICATE set (none before it).
    pub fn level(&self) -> SecurityLevel {
        self.level
    }

    /// The C-MAC of a command as the wire carries it: chaining value,
    /// then the header with the class byte on channel 0 with secure
    /// messaging indicated, Lc counting the MAC, the data (6.2.4).
    fn c_mac(&mut self, cla: u8, cmd: &Command, data: &[u8]) -> Result<[u8; BLOCK], ScpError> {
        let mac_cla = match crate::apdu::Class::decode(cla) {
            Some(c) => crate::apdu::Class { channel: 0, secure_messaging: true, ..c }.encode().expect("channel 0"),
            None => return Err(ScpError::Format("not a class byte")),
        };
        let lc = data.len() + S8;
        let lc_bytes: Vec<u8> = if cmd.extended { vec![0, (lc >> 8) as u8, lc as u8] } else { vec![lc as u8] };
        let mac = with_cmac(&self.s_mac, &[&self.chain, &[mac_cla, cmd.ins, cmd.p1, cmd.p2], &lc_bytes, data])
            .expect("S-MAC is an AES key");
        self.chain = mac;
        Ok(mac)
    }

    /// Pads and encrypts with S-ENC and the ICV of this command or answer.
    fn encrypt(&self, data: &[u8], response: bool) -> Vec<u8> {
        let mut out = pad(data);
        cbc(&self.s_enc, &self.icv(response), &mut out, true).expect("S-ENC is an AES key");
        out
    }

    /// Decrypts with S-ENC and the ICV, and takes the padding off.
    fn decrypt(&self, data: &[u8], response: bool) -> Result<Vec<u8>, ScpError> {
        let mut out = data.to_vec();
        cbc(&self.s_enc, &self.icv(response), &mut out, false).ok_or(ScpError::BadPadding)?;
        unpad(out)
    }

    fn icv(&self, response: bool) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        block[8..].copy_from_slice(&self.counter.to_be_bytes());
        if response {
            block[0] = 0x80;
        }
        encrypt_block(&self.s_enc, &block).expect("S-ENC is an AES key")
    }

    /// Host side: EXTERNAL AUTHENTICATE for `level`, with the host
    /// cryptogram and its C-MAC (never encrypted). The level holds from
    /// the next command on.
    pub fn external_authenticate(&mut self, level: SecurityLevel) -> Command {
        let mut cmd = Command::new(0x84, crate::gp::EXTERNAL_AUTHENTICATE, level.0, 0x00);
        let cryptogram = self.host_cryptogram();
        let mac = self.c_mac(0x84, &cmd, &cryptogram).expect("class 84");
        cmd.data = [&cryptogram[..], &mac[..S8]].concat();
        self.level = level;
        cmd
    }

    /// Host side: the command as the session's level sends it: data
    /// encrypted (C-DECRYPTION), class with secure messaging, C-MAC
    /// appended. A command with Le keeps `Le = 00`: the answer grows by the
    /// R-MAC. Level `00`: the command unchanged.
    pub fn wrap(&mut self, cmd: &Command) -> Result<Command, ScpError> {
        self.counter += 1;
        if !self.level.c_mac() {
            return Ok(cmd.clone());
        }
        let mut data =
            if self.level.c_dec() && !cmd.data.is_empty() { self.encrypt(&cmd.data, false) } else { cmd.data.clone() };
        if data.len() + S8 > SHORT_MAX_NC && !cmd.extended {
            return Err(ScpError::Format("the secured command does not fit a short APDU"));
        }
        let cla = crate::apdu::Class::decode(cmd.cla).ok_or(ScpError::Format("not a class byte"))?;
        let cla = crate::apdu::Class { secure_messaging: true, ..cla }.encode().ok_or(ScpError::Format("channel"))?;
        let mac = self.c_mac(cla, cmd, &data)?;
        data.extend_from_slice(&mac[..S8]);
        let ne = cmd.ne.map(|_| if cmd.extended { crate::apdu::EXTENDED_MAX_NE } else { crate::apdu::SHORT_MAX_NE });
        Ok(Command { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, ne, extended: cmd.extended })
    }

    /// Host side: checks the R-MAC and decrypts the data of an answer to a
    /// command [`Session::wrap`] sent. Error status words carry no R-MAC
    /// (6.2.5) and pass unchanged.
    pub fn unwrap(&mut self, resp: Response) -> Result<Response, ScpError> {
        if !self.level.r_mac() || !carries_rmac(resp.sw) {
            return Ok(resp);
        }
        let n = resp.data.len().checked_sub(S8).ok_or(ScpError::BadMac)?;
        let (data, mac) = resp.data.split_at(n);
        let want = with_cmac(&self.s_rmac, &[&self.chain, data, &resp.sw.to_bytes()]).expect("AES");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..S8], mac)) {
            return Err(ScpError::BadMac);
        }
        let data = if self.level.r_enc() && !data.is_empty() { self.decrypt(data, true)? } else { data.to_vec() };
        Ok(Response::new(data, resp.sw))
    }

    /// Card side: EXTERNAL AUTHENTICATE's data checked (host cryptogram,
    /// then C-MAC); on success the session holds `level` from the next
    /// command on. Compared in constant time.
    pub fn check_external_authenticate(&mut self, cmd: &Command, level: SecurityLevel) -> Result<(), ScpError> {
        if cmd.data.len() != 2 * S8 {
            return Err(ScpError::Format("EXTERNAL AUTHENTICATE carries 16 bytes"));
        }
        let (cryptogram, mac) = cmd.data.split_at(S8);
        let want = self.host_cryptogram();
        let good_cryptogram = subtle::ConstantTimeEq::ct_eq(&want[..], cryptogram);
        let computed = self.c_mac(cmd.cla, cmd, cryptogram)?;
        let good_mac = subtle::ConstantTimeEq::ct_eq(&computed[..S8], mac);
        if !bool::from(good_cryptogram & good_mac) {
            return Err(ScpError::BadMac);
        }
        self.level = level;
        Ok(())
    }

    /// Card side: a command received in the session, back to what the host
    /// meant: C-MAC checked, data decrypted, class without secure
    /// messaging. A command without secure messaging is refused when the
    /// level asks for C-MAC (Amendment D 7.1.3); the caller closes the
    /// session on any error.
    pub fn unwrap_command(&mut self, cmd: &Command) -> Result<Command, ScpError> {
        self.counter += 1;
        let class = crate::apdu::Class::decode(cmd.cla).ok_or(ScpError::Format("not a class byte"))?;
        if !self.level.c_mac() {
            if class.secure_messaging {
                return Err(ScpError::Format("secure messaging without a level that asks for it"));
            }
            return Ok(cmd.clone());
        }
        if !class.secure_messaging {
            return Err(ScpError::Format("the session's level asks for a C-MAC"));
        }
        let n = cmd.data.len().checked_sub(S8).ok_or(ScpError::BadMac)?;
        let (data, mac) = cmd.data.split_at(n);
        let computed = self.c_mac(cmd.cla, cmd, data)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&computed[..S8], mac)) {
            return Err(ScpError::BadMac);
        }
        let data = if self.level.c_dec() && !data.is_empty() { self.decrypt(data, false)? } else { data.to_vec() };
        let cla = crate::apdu::Class { secure_messaging: false, ..class }.encode().expect("decoded");
        Ok(Command { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, ne: cmd.ne, extended: cmd.extended })
    }

    /// Card side: the answer's data as the level sends it: encrypted
    /// (R-ENCRYPTION, when there is data) and followed by the R-MAC.
    pub fn wrap_response(&mut self, data: Vec<u8>, sw: Sw) -> Vec<u8> {
        if !self.level.r_mac() || !carries_rmac(sw) {
            return data;
        }
        let mut data = if self.level.r_enc() && !data.is_empty() { self.encrypt(&data, true) } else { data };
        let mac = with_cmac(&self.s_rmac, &[&self.chain, &data, &sw.to_bytes()]).expect("AES");
        data.extend_from_slice(&mac[..S8]);
        data
    }
}

/// `9000` and warnings (`62xx`, `63xx`) carry an R-MAC; errors do not (6.2.5).
fn carries_rmac(sw: Sw) -> bool {
    sw == Sw::OK || matches!(sw.sw1(), 0x62 | 0x63)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// pySim's key sets (test_globalplatform.py): ENC 00.., MAC 10.., DEK 20..
    fn keyset(len: usize) -> StaticKeys {
        let k = |base: u8| Zeroizing::new((0..len).map(|i| base + (i % 16) as u8).collect::<Vec<u8>>());
        StaticKeys { enc: k(0x00), mac: k(0x10), dek: k(0x20) }
    }

    /// One trace of pySim's: INITIALIZE UPDATE and its answer (from a real
    /// card), EXTERNAL AUTHENTICATE, then GET DATA [EID] and its answer,
    /// then four commands of the four ISO cases, all in one session.
    struct Trace {
        keylen: usize,
        init_update: &'static str,
        init_update_answer: &'static str,
        external_authenticate: &'static str,
        eid_cmd: &'static str,
        eid_answer: &'static str,
        cases: [&'static str; 4],
    }

    const EID_PLAIN: &str = "80E2910006BF3E035C015A00";
    const EID_ANSWER_PLAIN: &str = "bf3e125a1089882119900000000000000000000005";
    const CASES_PLAIN: [&str; 4] = ["80F22002", "80ca006600", "80F220020a4f0212345c054f9f70c5", "80f28002024f0000"];

    const TRACES: &[Trace] = &[
        Trace {
            keylen: 16,
            init_update: "8050300008b13e5f938fc108c400",
            init_update_answer: "000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002",
            external_authenticate: "84821100107d5f5826a993ebc89eea24957fa0b3ce",
            eid_cmd: "84e291000ebf3e035c015a558d036518a2829700",
            eid_answer: "bf3e125a1089882119900000000000000000000005971be68992dbbdfa",
            cases: [
                "84f220020863a63f8959827fb2",
                "84ca006608a0c6a4a74166f7ce00",
                "84f22002124f0212345c054f9f70c52249b50272656536",
                "84f280020a4f00e91443f6dce6b8ed00",
            ],
        },
        Trace {
            keylen: 16,
            init_update: "80503000088e1552d0513c60f300",
            init_update_answer: "0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001",
            external_authenticate: "8482030010fd4721a14d9b07003c451d2f8ae6bb21",
            eid_cmd: "84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c00",
            eid_answer: "bf3e125a1089882119900000000000000000000005",
            cases: [
                "84f2200208c9811b11f1264cf1",
                "84ca006608e10ab60b3054798800",
                "84f22002184e2908bdb48b2315a55482e9e936ca122d6ecfae7d17416e",
                "84f28002180dd10a6b6193e5340b9e77d32d5a179cd710ac2773aefb2800",
            ],
        },
        Trace {
            keylen: 16,
            init_update: "8050300008fdf38259a1e0de4400",
            init_update_answer: "000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003",
            external_authenticate: "84823300108c36f96bcc00724a4e13ad591d7da3f0",
            eid_cmd: "84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f00",
            eid_answer: "f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb2e68f8a0144975b9",
            cases: [
                "84f2200208ac6a59024bed84cc",
                "84ca006608409912ad8fb7aed000",
                "84f22002185f3dafc3ac14c381536a488bf44e06d056df9d74dbd21e5a",
                "84f280021865165105be3373347d0424d4400af2ac393f569ec779389e00",
            ],
        },
        Trace {
            keylen: 24,
            init_update: "80503100087396430b768b085b00",
            init_update_answer: "000000000000000000003103708cfc23522ffdbf1e5df5542cac8fd866000003",
            external_authenticate: "84821100102145ed30b146f5db252fb7e624cec244",
            eid_cmd: "84e291000ebf3e035c015aff42cf801d14394400",
            eid_answer: "bf3e125a1089882119900000000000000000000005162fbd33e04940a9",
            cases: [
                "84f22002084584e4f6784811ee",
                "84ca006608937776ebe190fa3000",
                "84f22002124f0212345c054f9f70c59a52bddf3040368c",
                "84f280020a4f009804b11411f7393d00",
            ],
        },
        Trace {
            keylen: 32,
            init_update: "8050320008c6066990fc426e1d00",
            init_update_answer: "000000000000000000003203708682cd81bbd8919f2de3f2664581f118000001",
            external_authenticate: "848203001077c493b632edadaf865a1e64acc07ce9",
            eid_cmd: "84e29100183ddaa60594963befaada3525b492ede23c2ab2c1ce3afe4400",
            eid_answer: "bf3e125a1089882119900000000000000000000005",
            cases: [
                "84f2200208480ddc8e419da38d",
                "84ca0066083e9d6a6c0b2d732000",
                "84f22002183ebfef2da8b04af2a85f491f299b76973df76ff08a4031be",
                "84f2800218783fff80990f5585b1055010ea95094a26e4a8f1ef4b18e100",
            ],
        },
        Trace {
            keylen: 32,
            init_update: "805032000897b2055fe58599fd00",
            init_update_answer: "00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002",
            external_authenticate: "8482330010508a0fd959d2e547c6b33154a6be2057",
            eid_cmd: "84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea00",
            eid_answer: "ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2ace7f8bc5d1c1cd99",
            cases: [
                "84f2200208bcc5c17275545d93",
                "84ca00660804806aba9d543bb600",
                "84f2200218717222491556ec81a45f49ce48be33320024801a1c4cb0e0",
                "84f2800218561f105bccd3a1642904b251ccc1228beb80a82370a8637000",
            ],
        },
    ];

    fn cmd(hex: &str) -> Command {
        Command::parse(&h(hex)).unwrap()
    }

    /// The session a trace opens, and its INITIALIZE UPDATE answer.
    fn trace_session(t: &Trace) -> (Session, Vec<u8>) {
        let iu = h(t.init_update_answer);
        let host: [u8; 8] = h(t.init_update)[5..13].try_into().unwrap();
        let card: [u8; 8] = iu[13..21].try_into().unwrap();
        (Session::open(&keyset(t.keylen), host, card).unwrap(), iu)
    }

    #[test]
    fn host_side_reproduces_the_published_traces() {
        for t in TRACES {
            let (mut s, iu) = trace_session(t);
            assert_eq!(s.card_cryptogram()[..], iu[21..29], "card cryptogram, {}", t.init_update);
            let level = SecurityLevel::from_p1(h(t.external_authenticate)[2]).unwrap();
            assert_eq!(s.external_authenticate(level).to_bytes().to_vec(), h(t.external_authenticate));
            assert_eq!(s.wrap(&cmd(EID_PLAIN)).unwrap().to_bytes().to_vec(), h(t.eid_cmd), "{level}");
            let answer = s.unwrap(Response::new(h(t.eid_answer), Sw::OK)).unwrap();
            assert_eq!(answer.data, h(EID_ANSWER_PLAIN), "{level}");
            for (plain, wire) in CASES_PLAIN.iter().zip(t.cases) {
                assert_eq!(s.wrap(&cmd(plain)).unwrap().to_bytes().to_vec(), h(wire), "{level} {plain}");
            }
        }
    }

    #[test]
    fn card_side_accepts_the_published_traces_and_answers_alike() {
        for t in TRACES {
            let (mut s, _) = trace_session(t);
            let ea = cmd(t.external_authenticate);
            s.check_external_authenticate(&ea, SecurityLevel::from_p1(ea.p1).unwrap()).unwrap();
            let got = s.unwrap_command(&cmd(t.eid_cmd)).unwrap();
            let want = cmd(EID_PLAIN);
            assert_eq!((got.cla, got.ins, &got.data), (want.cla, want.ins, &want.data));
            assert_eq!(s.wrap_response(h(EID_ANSWER_PLAIN), Sw::OK), h(t.eid_answer));
            for (plain, wire) in CASES_PLAIN.iter().zip(t.cases) {
                let got = s.unwrap_command(&cmd(wire)).unwrap();
                assert_eq!(got.data, cmd(plain).data, "{plain}");
            }
        }
    }

    #[test]
    fn a_changed_byte_or_a_replay_fails_the_mac() {
        let t = &TRACES[0];
        let open = || {
            let iu = h(t.init_update_answer);
            let host: [u8; 8] = h(t.init_update)[5..13].try_into().unwrap();
            let mut s = Session::open(&keyset(16), host, iu[13..21].try_into().unwrap()).unwrap();
            s.check_external_authenticate(&cmd(t.external_authenticate), SecurityLevel::from_p1(0x11).unwrap())
                .unwrap();
            s
        };
        let mut bad = h(t.eid_cmd);
        bad[7] ^= 1;
        assert_eq!(open().unwrap_command(&Command::parse(&bad).unwrap()).unwrap_err(), ScpError::BadMac);
        let mut s = open();
        s.unwrap_command(&cmd(t.eid_cmd)).unwrap();
        assert_eq!(s.unwrap_command(&cmd(t.eid_cmd)).unwrap_err(), ScpError::BadMac, "replayed");
        let mut s = open();
        assert!(s.unwrap_command(&cmd(EID_PLAIN)).is_err(), "no C-MAC at level 11");
        let mut wrong = cmd(t.external_authenticate);
        wrong.data[0] ^= 0x80;
        let iu = h(t.init_update_answer);
        let host: [u8; 8] = h(t.init_update)[5..13].try_into().unwrap();
        let mut s = Session::open(&keyset(16), host, iu[13..21].try_into().unwrap()).unwrap();
        assert_eq!(s.check_external_authenticate(&wrong, SecurityLevel::NONE), Err(ScpError::BadMac));
    }

    #[test]
    fn pseudo_random_challenges_match_the_real_cards() {
        // The card of pySim's traces is an eUICC: its ISD-R's AID
        // (SGP.02) and the counter after the cryptogram give its challenges.
        let isd_r = h("A0000005591010FFFFFFFF8900000100");
        for t in TRACES.iter().filter(|t| t.keylen == 16) {
            let iu = h(t.init_update_answer);
            let counter = u32::from_be_bytes([0, iu[29], iu[30], iu[31]]);
            assert_eq!(pseudo_random_challenge(&keyset(16).enc, counter, &isd_r).unwrap()[..], iu[13..21]);
        }
    }

    #[test]
    fn pseudo_random_challenges_come_from_the_counter() {
        let enc = keyset(16).enc;
        let a = pseudo_random_challenge(&enc, 1, &crate::gp::ISD_AID).unwrap();
        assert_ne!(a, pseudo_random_challenge(&enc, 2, &crate::gp::ISD_AID).unwrap());
        assert_eq!(a, pseudo_random_challenge(&enc, 1, &crate::gp::ISD_AID).unwrap());
        // The 3-byte counter: only its low 24 bits count.
        assert_eq!(a, pseudo_random_challenge(&enc, 0x0100_0001, &crate::gp::ISD_AID).unwrap());
    }

    #[test]
    fn key_check_values_and_wrapping() {
        // pySim's SCP03_KCV_Test.
        let k = keyset(16);
        assert_eq!(kcv(&k.enc).unwrap(), [0xC3, 0x52, 0x80]);
        assert_eq!(kcv(&k.mac).unwrap(), [0x01, 0x38, 0x08]);
        assert_eq!(kcv(&k.dek).unwrap(), [0x84, 0x0D, 0xE5]);
        let wrapped = wrap_key(&k.dek, &k.enc).unwrap();
        assert_ne!(wrapped[..], k.enc[..]);
        assert_eq!(unwrap_key(&k.dek, &wrapped).unwrap()[..], k.enc[..]);
        assert!(wrap_key(&k.dek, &[1; 15]).is_none(), "whole blocks only");
    }

    /// GlobalPlatformPro's TestPlaintextKeys (library/src/test/java/pro/
    /// javacard/gp/test): master 40..4F (.. 5F), KDD 00 01 .. 09, the
    /// diversified keys known by their KCVs.
    #[test]
    fn diversification_matches_globalplatformpro() {
        let kdd: [u8; 10] = std::array::from_fn(|i| i as u8);
        let master = |n: usize| StaticKeys::single(&(0..n as u8).map(|i| 0x40 + i).collect::<Vec<_>>());
        let kcvs = |k: &StaticKeys| [kcv(&k.enc).unwrap(), kcv(&k.mac).unwrap(), kcv(&k.dek).unwrap()].map(hex3);
        let k = Diversification::Kdf3.apply(&master(16), &kdd).unwrap();
        assert_eq!(kcvs(&k), ["E79C05", "D1BD77", "3FDE8C"]);
        let k = Diversification::Kdf3.apply(&master(24), &kdd).unwrap();
        assert_eq!(kcvs(&k), ["1DE8EA", "47C00C", "C04D76"]);
        let k = Diversification::Kdf3.apply(&master(32), &kdd).unwrap();
        assert_eq!(kcvs(&k), ["2972D2", "036F94", "5D57B8"]);
        // Their external KDF3 vector (the ENC key).
        let m = StaticKeys::single(&h("8C72C72CF908411653018807950D82FBAD947562F0828A0B10B8B9606ABF3BCD"));
        let kdd2: [u8; 10] = h("D9B1DE5D0362DEDCE4FB").try_into().unwrap();
        let k = Diversification::Kdf3.apply(&m, &kdd2).unwrap();
        assert_eq!(k.enc[..], h("9AAC5D0B3601F89438A0D9D0B6B256CFB47E6462DFA5228D3420C4AC7C224781"));
        // EMV: their vector is for SCP02, so its KCVs are 3DES ones (an 8-byte zero block).
        let k = Diversification::Emv.apply(&master(16), &kdd).unwrap();
        let kcv_3des = |key: &[u8]| {
            use cipher::{BlockEncrypt, KeyInit};
            let mut b = GenericArray::clone_from_slice(&[0u8; 8]);
            des::TdesEde2::new_from_slice(key).unwrap().encrypt_block(&mut b);
            hex3([b[0], b[1], b[2]])
        };
        assert_eq!([kcv_3des(&k.enc), kcv_3des(&k.mac), kcv_3des(&k.dek)], ["C33013", "6F4CA6", "BB8179"]);
        assert!(Diversification::Emv.apply(&master(32), &kdd).is_none(), "EMV takes a 16-byte master");
        assert_eq!(Diversification::None.apply(&master(16), &kdd).unwrap(), master(16));
    }

    fn hex3(b: [u8; 3]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn security_levels_are_the_six_of_table_7_5() {
        let allowed: Vec<u8> = (0..=255).filter(|&p| SecurityLevel::from_p1(p).is_some()).collect();
        assert_eq!(allowed, [0x00, 0x01, 0x03, 0x11, 0x13, 0x33]);
        assert_eq!(SecurityLevel::from_p1(0x33).unwrap().to_string(), "C-MAC, C-DEC, R-MAC, R-ENC");
    }

    #[test]
    fn padding_round_trips_and_bad_padding_is_refused() {
        for n in 0..40 {
            let d: Vec<u8> = (0..n as u8).collect();
            let p = pad(&d);
            assert_eq!(p.len() % BLOCK, 0);
            assert_eq!(unpad(p).unwrap(), d);
        }
        assert_eq!(unpad(vec![0; 16]), Err(ScpError::BadPadding));
        assert_eq!(unpad(vec![1; 16]), Err(ScpError::BadPadding));
    }
}
