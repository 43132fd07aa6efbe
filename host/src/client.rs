//! The typed client: one method per card operation, the same over every
//! transport. Wire encodings all come from `applet-spec`.

use applet_spec::apdu::{Command, Response, EXTENDED_MAX_NE, SHORT_MAX_NE};
use applet_spec::ins::{self, CLA_ISO, CLA_PROPRIETARY};
use applet_spec::messages::{
    self, CardStatus, DynamicAuth, ImportedKey, KeypadLayout, Metadata, PinEntry, Policies, PublicKeyData, SelectedCard,
};
use applet_spec::piv::{
    self, Algorithm, KeyAlgorithm, MgmAlgorithm, ObjectTag, Slot, KEY_REF_MANAGEMENT, KEY_REF_PIN, KEY_REF_PUK,
    RSA2048_BYTES,
};
use applet_spec::reports::{Discovery, KeyHistory, Version};
use applet_spec::{mgm, SpecError, Sw};
use rand::RngCore;
use rsa::{BigUint, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::exchange::exchange;
use crate::padding::{self, Hash, Padding};
use crate::transport::Transport;

/// What SELECT told about the applet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// The PIX (or AID) in tag 4F.
    pub aid: Vec<u8>,
    /// Tag 50: the application label (empty if the card sent none).
    pub label: String,
    /// The algorithm identifiers the card lists in its `AC` templates,
    /// known or not (see [`applet_spec::piv::KeyAlgorithm::from_id`]).
    pub algorithms: Vec<u8>,
}

/// Certificates kept between connections, per card serial, trusted while
/// the card's change counter (its card-state object, one short GET DATA)
/// stays the same.
#[derive(Debug, Default)]
pub struct CertCache {
    /// Serial to (change counter, each slot's certificate or its absence).
    cards: std::collections::HashMap<u32, (u32, SlotCertificates)>,
}

type SlotCertificates = std::collections::HashMap<Slot, Option<Vec<u8>>>;

impl CertCache {
    /// The cached certificate (or cached absence) of `slot`, if still current.
    pub fn get(&self, card: SelectedCard, slot: Slot) -> Option<&Option<Vec<u8>>> {
        match self.cards.get(&card.serial) {
            Some((changes, certs)) if *changes == card.changes => certs.get(&slot),
            _ => None,
        }
    }
    /// Records `slot`'s certificate (or its absence) for `card`; a new change counter drops the card's older entries.
    pub fn put(&mut self, card: SelectedCard, slot: Slot, cert: Option<Vec<u8>>) {
        let entry = self.cards.entry(card.serial).or_default();
        if entry.0 != card.changes {
            *entry = (card.changes, Default::default());
        }
        entry.1.insert(slot, cert);
    }
}

/// A login: the card's signature over the server's challenge, and the
/// certificate to check it with.
#[derive(Debug, Clone)]
pub struct LoginProof {
    /// The signature over the challenge: PKCS#1 v1.5, SHA-256, made by the 9A key.
    pub signature: Vec<u8>,
    /// The 9A certificate (DER) the server checks the signature with.
    pub certificate: Vec<u8>,
}

/// Everything the card tells about itself, in three round trips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// GET VERSION: major, minor, patch.
    pub version: Version,
    /// GET SERIAL: the card's serial number.
    pub serial: u32,
    /// GET STATUS: tries left, policy, binding, slots, change counter.
    pub status: CardStatus,
}

impl CardInfo {
    /// Slots holding a key.
    pub fn keys(&self) -> Vec<Slot> {
        Slot::ALL.into_iter().filter(|s| self.status.keys & s.bit() != 0).collect()
    }
    /// Slots holding a certificate.
    pub fn certificates(&self) -> Vec<Slot> {
        Slot::ALL.into_iter().filter(|s| self.status.certs & s.bit() != 0).collect()
    }
}

/// The PIN's state, from VERIFY without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// Verified in this card session.
    Verified,
    /// Not verified (the card answered `63Cx`).
    NotVerified {
        /// Wrong PINs left before it blocks.
        tries_left: u8,
    },
    /// Blocked (`6983`): only the PUK can unblock it.
    Blocked,
}

/// A sub-SIM card reached through a [`Transport`].
///
/// ```
/// use subsim_host::{Client, SimTransport};
/// use apdu_sim::SimCard;
///
/// let mut card = Client::new(SimTransport::new(SimCard::seeded(7)));
/// card.select()?;
/// card.verify_pin(b"123456")?;
/// assert!(card.status()?.pin_verified);
/// # Ok::<(), subsim_host::Error>(())
/// ```
pub struct Client<T: Transport> {
    t: T,
}

fn pin(value: &[u8], digits_only: bool, what: &str) -> Result<Zeroizing<[u8; 8]>> {
    piv::pin_block(value, digits_only).map(Zeroizing::new).ok_or_else(|| {
        Error::Invalid(format!("{what} must be 6 to 8 {}", if digits_only { "digits" } else { "bytes" }))
    })
}

fn malformed(command: &'static str) -> impl FnOnce(SpecError) -> Error {
    move |source| Error::Malformed { command, source }
}

impl<T: Transport> Client<T> {
    /// A client over `t`; nothing is sent until the first command (call [`Client::select`] first).
    pub fn new(t: T) -> Client<T> {
        Client { t }
    }
    /// The transport underneath.
    pub fn transport(&self) -> &T {
        &self.t
    }
    /// The transport underneath, mutably (e.g. to reset the card).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.t
    }
    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.t
    }

    /// Sends any command; chaining and GET RESPONSE are handled, the status
    /// word is returned as the card gave it.
    pub fn transmit(&mut self, cmd: &Command) -> Result<Response> {
        exchange(&mut self.t, cmd)
    }

    /// Runs several commands as one: no other host's command comes in
    /// between (a PC/SC transaction). For steps whose transient state another
    /// host could disturb, such as the two halves of an authentication.
    pub fn atomic<R>(&mut self, f: impl FnOnce(&mut Client<&mut dyn Transport>) -> Result<R>) -> Result<R> {
        let mut f = Some(f);
        let mut out = None;
        self.t.exclusive(&mut |t| {
            let f = f.take().expect("exclusive runs its closure once");
            out = Some(f(&mut Client::new(t))?);
            Ok(())
        })?;
        Ok(out.expect("the closure ran"))
    }

    /// The largest Le worth asking for: one round trip where extended APDUs work.
    fn ne(&self) -> usize {
        if self.t.capabilities().extended_length {
            EXTENDED_MAX_NE
        } else {
            SHORT_MAX_NE
        }
    }

    /// Sends a command that must answer 9000; returns its data.
    fn call(&mut self, command: &'static str, cmd: Command) -> Result<Vec<u8>> {
        let r = self.transmit(&cmd)?;
        if r.sw == Sw::OK {
            Ok(r.data)
        } else {
            Err(Error::Status { command, sw: r.sw })
        }
    }

    fn iso(&self, ins: u8, p1: u8, p2: u8) -> Command {
        Command::new(CLA_ISO, ins, p1, p2)
    }
    fn ext(&self, ins: u8, p1: u8, p2: u8) -> Command {
        Command::new(CLA_PROPRIETARY, ins, p1, p2)
    }

    // ---- identity ------------------------------------------------------------

    /// Selects the applet by its full AID.
    pub fn select(&mut self) -> Result<AppInfo> {
        let cmd = self.iso(ins::SELECT, 0x04, 0x00).with_data(piv::PIV_AID).with_ne(self.ne());
        let data = self.call("SELECT", cmd)?;
        let answer = messages::parse_select_response(&data).map_err(malformed("SELECT"))?;
        Ok(AppInfo { aid: answer.aid, label: answer.label, algorithms: answer.algorithms })
    }

    /// A sub-SIM's serial and change counter (object 5FFF20); `None` on a
    /// card without that object (any other PIV card).
    pub fn card_state(&mut self) -> Result<Option<SelectedCard>> {
        match self.read_object(ObjectTag::CARD_STATE)? {
            Some(value) => SelectedCard::decode(&value).map(Some).map_err(malformed("GET DATA")),
            None => Ok(None),
        }
    }

    /// A slot's certificate from `cache` when the card has not changed since
    /// it was read (its card-state object says), else from the card.
    pub fn read_certificate_cached(&mut self, cache: &mut CertCache, slot: Slot) -> Result<Option<Vec<u8>>> {
        // A card that refuses the object (an error other than 6A82) just gets no caching.
        let Ok(Some(card)) = self.card_state() else {
            return self.read_certificate(slot);
        };
        if let Some(cert) = cache.get(card, slot) {
            return Ok(cert.clone());
        }
        let cert = self.read_certificate(slot)?;
        cache.put(card, slot, cert.clone());
        Ok(cert)
    }

    /// Login with the fewest round trips the card allows: SELECT, the
    /// card-state object (which says whether the cached certificate is
    /// current), the certificate only when it is not, then VERIFY right
    /// before one signature (PKCS#1 v1.5, SHA-256) over
    /// the server's challenge with the 9A key.
    pub fn login(&mut self, cache: &mut CertCache, pin: &[u8], challenge: &[u8]) -> Result<LoginProof> {
        self.select()?;
        let certificate = self
            .read_certificate_cached(cache, Slot::Authentication)?
            .ok_or(Error::Status { command: "GET DATA", sw: Sw::FILE_NOT_FOUND })?;
        self.verify_pin(pin)?;
        let signature = self.sign(Slot::Authentication, challenge, Hash::Sha256, Padding::Pkcs1v15)?;
        Ok(LoginProof { signature, certificate })
    }

    /// GET VERSION (Yubico): major, minor, patch, as tolerantly as
    /// [`Version::decode`] reads them (its `oddities` say what was odd).
    pub fn version(&mut self) -> Result<Version> {
        let data = self.call("GET VERSION", self.iso(ins::GET_VERSION, 0, 0).with_ne(SHORT_MAX_NE))?;
        Version::decode(&data).map_err(malformed("GET VERSION"))
    }

    /// GET SERIAL (Yubico): the card's 4-byte serial.
    pub fn serial(&mut self) -> Result<u32> {
        let data = self.call("GET SERIAL", self.iso(ins::GET_SERIAL, 0, 0).with_ne(SHORT_MAX_NE))?;
        let bytes: [u8; 4] = data
            .try_into()
            .map_err(|_| Error::Malformed { command: "GET SERIAL", source: SpecError::Malformed("4 bytes") })?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// The card's own report: tries left, policy, binding, slots, change counter.
    pub fn status(&mut self) -> Result<CardStatus> {
        let data = self.call("GET STATUS", self.ext(ins::GET_STATUS, 0, 0).with_ne(SHORT_MAX_NE))?;
        CardStatus::decode(&data).map_err(malformed("GET STATUS"))
    }

    /// Version, serial and status together.
    pub fn info(&mut self) -> Result<CardInfo> {
        Ok(CardInfo { version: self.version()?, serial: self.serial()?, status: self.status()? })
    }

    /// The GUID from the CHUID object.
    pub fn guid(&mut self) -> Result<[u8; 16]> {
        let chuid =
            self.read_object(ObjectTag::CHUID)?.ok_or(Error::Status { command: "GET DATA", sw: Sw::FILE_NOT_FOUND })?;
        messages::parse_chuid_guid(&chuid).map_err(malformed("GET DATA"))
    }

    // ---- PIN -------------------------------------------------------------------

    /// The PIN's state from VERIFY without data (SP 800-73-4 part 2, 3.2.1); spends no try.
    pub fn pin_state(&mut self) -> Result<PinState> {
        let r = self.transmit(&self.iso(ins::VERIFY, 0, KEY_REF_PIN))?;
        match r.sw {
            Sw::OK => Ok(PinState::Verified),
            Sw::AUTH_METHOD_BLOCKED => Ok(PinState::Blocked),
            sw => match sw.retries() {
                Some(n) => Ok(PinState::NotVerified { tries_left: n }),
                None => Err(Error::Status { command: "VERIFY", sw }),
            },
        }
    }

    /// VERIFY with the PIN typed as digits. A wrong PIN is
    /// `Error::Status` with `63Cx`; see [`Error::sw`].
    pub fn verify_pin(&mut self, pin_digits: &[u8]) -> Result<()> {
        let block = pin(pin_digits, true, "the PIN")?;
        self.call("VERIFY", self.iso(ins::VERIFY, 0, KEY_REF_PIN).with_data(block.to_vec())).map(drop)
    }

    /// Resets the PIN's verified state (VERIFY with P1 = FF).
    pub fn logout(&mut self) -> Result<()> {
        self.call("VERIFY", self.iso(ins::VERIFY, 0xFF, KEY_REF_PIN)).map(drop)
    }

    fn change(&mut self, command: &'static str, ins: u8, p2: u8, old: &[u8; 8], new: &[u8; 8]) -> Result<()> {
        let data = Zeroizing::new([&old[..], &new[..]].concat());
        self.call(command, self.iso(ins, 0, p2).with_data(data.to_vec())).map(drop)
    }

    /// CHANGE REFERENCE DATA for the PIN: 6 to 8 digits each; a wrong `old` spends a try.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        let (old, new) = (pin(old, true, "the PIN")?, pin(new, true, "the new PIN")?);
        self.change("CHANGE REFERENCE DATA", ins::CHANGE_REFERENCE_DATA, KEY_REF_PIN, &old, &new)
    }

    /// CHANGE REFERENCE DATA for the PUK: 6 to 8 bytes each; a wrong `old` spends a PUK try.
    pub fn change_puk(&mut self, old: &[u8], new: &[u8]) -> Result<()> {
        let (old, new) = (pin(old, false, "the PUK")?, pin(new, false, "the new PUK")?);
        self.change("CHANGE REFERENCE DATA", ins::CHANGE_REFERENCE_DATA, KEY_REF_PUK, &old, &new)
    }

    /// RESET RETRY COUNTER: the PUK sets a new PIN and unblocks it.
    pub fn unblock_pin(&mut self, puk: &[u8], new_pin: &[u8]) -> Result<()> {
        let (puk, new) = (pin(puk, false, "the PUK")?, pin(new_pin, true, "the new PIN")?);
        self.change("RESET RETRY COUNTER", ins::RESET_RETRY_COUNTER, KEY_REF_PIN, &puk, &new)
    }

    /// GET KEYPAD: a fresh random layout for one VERIFY KEYPAD.
    pub fn keypad(&mut self) -> Result<KeypadLayout> {
        let data = self.call("GET KEYPAD", self.ext(ins::GET_KEYPAD, 0, 0).with_ne(SHORT_MAX_NE))?;
        KeypadLayout::decode(&data).map_err(malformed("GET KEYPAD"))
    }

    /// VERIFY KEYPAD with the positions the user tapped (0-9), never digits.
    ///
    /// ```
    /// # use subsim_host::{Client, SimTransport};
    /// # let mut card = Client::new(SimTransport::new(apdu_sim::SimCard::seeded(1)));
    /// # card.select()?;
    /// let layout = card.keypad()?;
    /// // Shown to the user, who taps where 1, 2, 3, 4, 5, 6 are drawn:
    /// let taps: Vec<u8> = [1, 2, 3, 4, 5, 6].iter().map(|&d| layout.position_of(d).unwrap()).collect();
    /// card.verify_keypad(&taps)?;
    /// # Ok::<(), subsim_host::Error>(())
    /// ```
    pub fn verify_keypad(&mut self, positions: &[u8]) -> Result<()> {
        let data = Zeroizing::new(positions.to_vec());
        self.call("VERIFY KEYPAD", self.ext(ins::VERIFY_KEYPAD, 0, KEY_REF_PIN).with_data(data.to_vec())).map(drop)
    }

    /// SET PIN POLICY: allow plain VERIFY, or keypad entry only. Needs the management key.
    pub fn set_pin_entry(&mut self, policy: PinEntry) -> Result<()> {
        self.call("SET PIN POLICY", self.ext(ins::SET_PIN_POLICY, policy.p1(), 0)).map(drop)
    }

    // ---- management key ----------------------------------------------------------

    fn general_authenticate(&mut self, p1: u8, p2: u8, ga: &DynamicAuth) -> Result<DynamicAuth> {
        let cmd = self.iso(ins::GENERAL_AUTHENTICATE, p1, p2).with_data(ga.encode()).with_ne(self.ne());
        let data = self.call("GENERAL AUTHENTICATE", cmd)?;
        if data.is_empty() {
            return Ok(DynamicAuth::default());
        }
        DynamicAuth::decode(&data).map_err(malformed("GENERAL AUTHENTICATE"))
    }

    /// Mutual authentication with the management key: the card proves it
    /// holds the same key too. Both steps run in one transaction.
    pub fn authenticate(&mut self, alg: MgmAlgorithm, key: &[u8]) -> Result<()> {
        self.atomic(|c| c.authenticate_steps(alg, key))
    }

    fn authenticate_steps(&mut self, alg: MgmAlgorithm, key: &[u8]) -> Result<()> {
        let bad_key = || Error::Invalid(format!("a {alg:?} management key is {} bytes", alg.key_len()));
        let req = DynamicAuth { witness: Some(vec![]), ..Default::default() };
        let reply = self.general_authenticate(alg.id(), KEY_REF_MANAGEMENT, &req)?;
        let witness = reply
            .witness
            .ok_or(Error::Malformed { command: "GENERAL AUTHENTICATE", source: SpecError::Malformed("no witness") })?;
        let witness = Zeroizing::new(mgm::decrypt_block(alg, key, &witness).ok_or_else(bad_key)?);
        let mut challenge = vec![0u8; alg.block_len()];
        rand::thread_rng().fill_bytes(&mut challenge);
        let req = DynamicAuth { witness: Some(witness.to_vec()), challenge: Some(challenge.clone()), response: None };
        let reply = self.general_authenticate(alg.id(), KEY_REF_MANAGEMENT, &req)?;
        if reply.response != mgm::encrypt_block(alg, key, &challenge) {
            return Err(Error::Invalid("the card did not prove it holds the management key".into()));
        }
        Ok(())
    }

    /// External authentication: only the host proves the key. Both steps run
    /// in one transaction.
    pub fn authenticate_external(&mut self, alg: MgmAlgorithm, key: &[u8]) -> Result<()> {
        self.atomic(|c| c.authenticate_external_steps(alg, key))
    }

    fn authenticate_external_steps(&mut self, alg: MgmAlgorithm, key: &[u8]) -> Result<()> {
        let req = DynamicAuth { challenge: Some(vec![]), ..Default::default() };
        let reply = self.general_authenticate(alg.id(), KEY_REF_MANAGEMENT, &req)?;
        let challenge = reply.challenge.ok_or(Error::Malformed {
            command: "GENERAL AUTHENTICATE",
            source: SpecError::Malformed("no challenge"),
        })?;
        let response = mgm::encrypt_block(alg, key, &challenge)
            .ok_or_else(|| Error::Invalid(format!("a {alg:?} management key is {} bytes", alg.key_len())))?;
        let req = DynamicAuth { response: Some(response), ..Default::default() };
        self.general_authenticate(alg.id(), KEY_REF_MANAGEMENT, &req).map(drop)
    }

    /// Authenticates with the factory management key.
    pub fn authenticate_default(&mut self) -> Result<()> {
        self.authenticate(MgmAlgorithm::TripleDes, &piv::DEFAULT_MGM_KEY)
    }

    /// SET MANAGEMENT KEY: replaces 9B with `key` (its length must fit `alg`). Needs the current management key.
    pub fn set_management_key(&mut self, alg: MgmAlgorithm, key: &[u8]) -> Result<()> {
        if key.len() != alg.key_len() {
            return Err(Error::Invalid(format!("a {alg:?} management key is {} bytes", alg.key_len())));
        }
        let data = Zeroizing::new(messages::set_management_key_request(alg, key));
        self.call("SET MANAGEMENT KEY", self.iso(ins::SET_MANAGEMENT_KEY, 0xFF, 0xFF).with_data(data.to_vec()))
            .map(drop)
    }

    // ---- keys ------------------------------------------------------------------

    /// Generates an RSA-2048 key pair in `slot`; returns its public key.
    pub fn generate(&mut self, slot: Slot) -> Result<RsaPublicKey> {
        let cmd = self
            .iso(ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0, slot.key_ref())
            .with_data(messages::generate_request(Algorithm::Rsa2048))
            .with_ne(self.ne());
        let data = self.call("GENERATE ASYMMETRIC KEY PAIR", cmd)?;
        let (n, e) = messages::parse_rsa_public_key(&data).map_err(malformed("GENERATE ASYMMETRIC KEY PAIR"))?;
        RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e)).map_err(|_| Error::Malformed {
            command: "GENERATE ASYMMETRIC KEY PAIR",
            source: SpecError::Malformed("not a usable RSA public key"),
        })
    }

    /// The raw private-key operation on a modulus-sized block.
    pub fn private_op(&mut self, slot: Slot, block: &[u8]) -> Result<Vec<u8>> {
        let reply =
            self.general_authenticate(Algorithm::Rsa2048.id(), slot.key_ref(), &DynamicAuth::sign_request(block))?;
        reply.response.ok_or(Error::Malformed {
            command: "GENERAL AUTHENTICATE",
            source: SpecError::Malformed("no response item"),
        })
    }

    /// Signs `message` with the key in `slot`, of algorithm `alg`: RSA of
    /// any size (hashed and padded here, raw RSA on the card), ECDSA (the
    /// hash goes to the card; the answer is a DER ECDSA signature, which
    /// OpenSSL verifies as it is), or Ed25519 (the message itself goes to
    /// the card, `hash` unused: RFC 8032 hashes inside; 64 bytes back).
    pub fn sign_with(
        &mut self,
        slot: Slot,
        alg: KeyAlgorithm,
        message: &[u8],
        hash: Hash,
        padding: Padding,
    ) -> Result<Vec<u8>> {
        let digest = hash.digest(message);
        let input = match alg.rsa_bytes() {
            Some(len) => match padding {
                Padding::Pkcs1v15 => padding::pkcs1v15(hash, &digest, len),
                Padding::Pss => padding::pss(hash, &digest, len * 8, &mut rand::thread_rng()),
            }
            .ok_or_else(|| Error::Invalid("digest too long for the key".into()))?,
            None if alg == KeyAlgorithm::Ed25519 => message.to_vec(),
            None => digest,
        };
        let reply = self.general_authenticate(alg.id(), slot.key_ref(), &DynamicAuth::sign_request(&input))?;
        reply.response.ok_or(Error::Malformed {
            command: "GENERAL AUTHENTICATE",
            source: SpecError::Malformed("no response item"),
        })
    }

    /// The shared secret of ECDH between the key in `slot` and the other
    /// party's uncompressed point (P-256, P-384), or of X25519 with the
    /// other party's 32-byte public key.
    pub fn ecdh(&mut self, slot: Slot, alg: KeyAlgorithm, point: &[u8]) -> Result<Vec<u8>> {
        let cmd = self
            .iso(ins::GENERAL_AUTHENTICATE, alg.id(), slot.key_ref())
            .with_data(messages::ecdh_request(point))
            .with_ne(self.ne());
        let data = self.call("GENERAL AUTHENTICATE", cmd)?;
        DynamicAuth::decode(&data).map_err(malformed("GENERAL AUTHENTICATE"))?.response.ok_or(Error::Malformed {
            command: "GENERAL AUTHENTICATE",
            source: SpecError::Malformed("no response item"),
        })
    }

    /// Signs `message`: hashed and padded here, raw RSA on the card.
    ///
    /// ```
    /// use applet_spec::piv::Slot;
    /// use subsim_host::{Client, Hash, Padding, SimTransport};
    /// # let mut card = Client::new(SimTransport::new(apdu_sim::SimCard::seeded(2)));
    /// # card.select()?;
    /// card.authenticate_default()?; // the factory management key
    /// let public_key = card.generate(Slot::Signature)?;
    /// card.verify_pin(b"123456")?; // 9C wants a PIN entry before every signature
    /// let signature = card.sign(Slot::Signature, b"transfer 10 EUR", Hash::Sha256, Padding::Pss)?;
    /// assert_eq!(signature.len(), 256);
    /// # Ok::<(), subsim_host::Error>(())
    /// ```
    pub fn sign(&mut self, slot: Slot, message: &[u8], hash: Hash, padding: Padding) -> Result<Vec<u8>> {
        let digest = hash.digest(message);
        let block = match padding {
            Padding::Pkcs1v15 => padding::pkcs1v15(hash, &digest, RSA2048_BYTES),
            Padding::Pss => padding::pss(hash, &digest, RSA2048_BYTES * 8, &mut rand::thread_rng()),
        }
        .ok_or_else(|| Error::Invalid("digest too long for the key".into()))?;
        self.private_op(slot, &block)
    }

    // ---- data objects ------------------------------------------------------------

    /// GET DATA: the object's value, `None` if the card has none (6A82).
    pub fn read_object(&mut self, tag: ObjectTag) -> Result<Option<Vec<u8>>> {
        let cmd = self.iso(ins::GET_DATA, 0x3F, 0xFF).with_data(messages::get_data_request(tag)).with_ne(self.ne());
        let r = self.transmit(&cmd)?;
        match r.sw {
            Sw::OK if tag == ObjectTag::DISCOVERY => Ok(Some(r.data)),
            Sw::OK => messages::parse_data_object(&r.data).map(Some).map_err(malformed("GET DATA")),
            Sw::FILE_NOT_FOUND => Ok(None),
            sw => Err(Error::Status { command: "GET DATA", sw }),
        }
    }

    /// The Discovery Object (7E), field by field; `None` if the card has none.
    pub fn discovery(&mut self) -> Result<Option<Discovery>> {
        let raw = self.read_object(ObjectTag::DISCOVERY)?;
        raw.map(|d| Discovery::decode(&d).map_err(malformed("GET DATA"))).transpose()
    }

    /// The Key History object (5FC10C), field by field; `None` if the card has none.
    pub fn key_history(&mut self) -> Result<Option<KeyHistory>> {
        let raw = self.read_object(ObjectTag::KEY_HISTORY)?;
        raw.map(|v| KeyHistory::decode(&v).map_err(malformed("GET DATA"))).transpose()
    }

    /// PUT DATA; an empty value deletes the object. Needs the management key.
    pub fn write_object(&mut self, tag: ObjectTag, value: &[u8]) -> Result<()> {
        let cmd = self.iso(ins::PUT_DATA, 0x3F, 0xFF).with_data(messages::put_data_request(tag, value));
        self.call("PUT DATA", cmd).map(drop)
    }

    /// The slot's certificate (DER), if one is stored.
    pub fn read_certificate(&mut self, slot: Slot) -> Result<Option<Vec<u8>>> {
        match self.read_object(slot.cert_object())? {
            Some(value) => messages::parse_cert_object(&value).map(Some).map_err(malformed("GET DATA")),
            None => Ok(None),
        }
    }

    /// Stores a DER certificate for the slot. Needs the management key.
    pub fn write_certificate(&mut self, slot: Slot, der: &[u8]) -> Result<()> {
        self.write_object(slot.cert_object(), &messages::cert_object(der))
    }

    /// The slot's certificate as PEM, if one is stored.
    pub fn read_certificate_pem(&mut self, slot: Slot) -> Result<Option<String>> {
        self.read_certificate(slot)?
            .map(|der| {
                pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &der)
                    .map_err(|e| Error::Invalid(format!("PEM encoding: {e}")))
            })
            .transpose()
    }

    /// Stores a PEM certificate for the slot. Needs the management key.
    pub fn write_certificate_pem(&mut self, slot: Slot, pem: &str) -> Result<()> {
        let (label, der) =
            pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|e| Error::Invalid(format!("not a PEM document: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(Error::Invalid(format!("expected a CERTIFICATE, got {label:?}")));
        }
        self.write_certificate(slot, &der)
    }

    // ---- sub-SIM extensions ----------------------------------------------------------

    /// Stores (or replaces) the device binding value. Needs the management key.
    pub fn set_binding(&mut self, value: &[u8]) -> Result<()> {
        let cmd = self.ext(ins::SET_BINDING, messages::BINDING_P1_SET, 0).with_data(value.to_vec());
        self.call("SET BINDING", cmd).map(drop)
    }

    /// Removes the device binding value. Needs the management key.
    pub fn clear_binding(&mut self) -> Result<()> {
        self.call("SET BINDING", self.ext(ins::SET_BINDING, messages::BINDING_P1_CLEAR, 0)).map(drop)
    }

    /// Presents the device binding value for this card session.
    pub fn present_binding(&mut self, value: &[u8]) -> Result<()> {
        let cmd = self.ext(ins::PRESENT_BINDING, 0, 0).with_data(value.to_vec());
        self.call("PRESENT BINDING", cmd).map(drop)
    }

    /// Wipes the card back to factory settings (serial and GUID stay).
    pub fn terminate(&mut self) -> Result<()> {
        self.call("TERMINATE", self.ext(ins::TERMINATE, 0, 0)).map(drop)
    }

    /// Forbids (or allows again) importing a key into `slot`: its key must
    /// then be generated on the card. Needs the management key.
    pub fn set_import_policy(&mut self, slot: Slot, forbid: bool) -> Result<()> {
        let p1 = if forbid { messages::IMPORT_P1_FORBID } else { messages::IMPORT_P1_ALLOW };
        self.call("SET IMPORT POLICY", self.ext(ins::SET_IMPORT_POLICY, p1, slot.key_ref())).map(drop)
    }

    // ---- Yubico's management commands --------------------------------------------

    /// GET METADATA for a reference: the PIN (80), PUK (81), management key
    /// (9B) or a key slot.
    pub fn metadata(&mut self, reference: u8) -> Result<Metadata> {
        let data = self.call("GET METADATA", self.iso(ins::GET_METADATA, 0, reference).with_ne(self.ne()))?;
        Metadata::decode(&data).map_err(malformed("GET METADATA"))
    }

    /// A key slot's metadata (algorithm, policy, origin, public key), `None`
    /// when the slot is empty (6A88).
    pub fn slot_metadata(&mut self, slot: Slot) -> Result<Option<Metadata>> {
        match self.metadata(slot.key_ref()) {
            Err(Error::Status { sw: Sw::REFERENCE_NOT_FOUND, .. }) => Ok(None),
            other => other.map(Some),
        }
    }

    /// The public key of the key in `slot`, from GET METADATA.
    pub fn public_key(&mut self, slot: Slot) -> Result<PublicKeyData> {
        self.slot_metadata(slot)?
            .and_then(|m| m.public_key)
            .ok_or(Error::Status { command: "GET METADATA", sw: Sw::REFERENCE_NOT_FOUND })
    }

    /// ATTEST: the card's certificate (DER) for the key in `slot`, signed
    /// by its attestation key (F9). Only for keys generated on the card.
    pub fn attest(&mut self, slot: Slot) -> Result<Vec<u8>> {
        self.call("ATTEST", self.iso(ins::ATTEST, slot.key_ref(), 0).with_ne(self.ne()))
    }

    /// The attestation key's certificate (object 5FFF01), DER.
    pub fn attestation_certificate(&mut self) -> Result<Option<Vec<u8>>> {
        self.read_certificate(Slot::Attestation)
    }

    /// SET PIN RETRIES: new try counts for PIN and PUK, which go back to
    /// their factory values. Needs the management key and the PIN.
    pub fn set_pin_retries(&mut self, pin_tries: u8, puk_tries: u8) -> Result<()> {
        self.call("SET PIN RETRIES", self.iso(ins::SET_PIN_RETRIES, pin_tries, puk_tries)).map(drop)
    }

    /// RESET (Yubico's): back to factory settings; only when PIN and PUK
    /// are both blocked.
    pub fn reset(&mut self) -> Result<()> {
        self.call("RESET", self.iso(ins::RESET, 0, 0)).map(drop)
    }

    /// IMPORT KEY: puts a private key made elsewhere into `slot`. Needs
    /// the management key.
    pub fn import_key(&mut self, slot: Slot, alg: KeyAlgorithm, key: &ImportedKey) -> Result<()> {
        self.import_key_with(slot, alg, key, Policies::default())
    }

    /// IMPORT KEY with PIN and touch policies (a card refuses with `6A80`
    /// what it would not enforce).
    pub fn import_key_with(
        &mut self,
        slot: Slot,
        alg: KeyAlgorithm,
        key: &ImportedKey,
        policies: Policies,
    ) -> Result<()> {
        let data = Zeroizing::new(messages::import_key_request_with(key, policies));
        self.call("IMPORT KEY", self.iso(ins::IMPORT_KEY, alg.id(), slot.key_ref()).with_data(data.to_vec())).map(drop)
    }

    /// MOVE KEY (Yubico 5.7): the key in `from` goes to the empty slot
    /// `to`, with its policies. Needs the management key.
    pub fn move_key(&mut self, from: Slot, to: Slot) -> Result<()> {
        self.call("MOVE KEY", self.iso(ins::MOVE_KEY, to.key_ref(), from.key_ref())).map(drop)
    }

    /// MOVE KEY with P1 `FF` (Yubico 5.7): destroys the key in `slot`; its
    /// certificate stays. Needs the management key.
    pub fn delete_key(&mut self, slot: Slot) -> Result<()> {
        self.call("MOVE KEY", self.iso(ins::MOVE_KEY, piv::MOVE_KEY_DELETE, slot.key_ref())).map(drop)
    }

    /// Imports an RSA private key (any size the card takes).
    pub fn import_rsa_key(&mut self, slot: Slot, key: &rsa::RsaPrivateKey) -> Result<()> {
        self.import_rsa_key_with(slot, key, Policies::default())
    }

    /// Imports an RSA private key with PIN and touch policies.
    pub fn import_rsa_key_with(&mut self, slot: Slot, key: &rsa::RsaPrivateKey, policies: Policies) -> Result<()> {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let alg = match key.size() {
            128 => KeyAlgorithm::Rsa1024,
            256 => KeyAlgorithm::Rsa2048,
            384 => KeyAlgorithm::Rsa3072,
            512 => KeyAlgorithm::Rsa4096,
            n => return Err(Error::Invalid(format!("RSA keys of {} bits cannot be imported", n * 8))),
        };
        let half = key.size() / 2;
        let pad = |v: &BigUint| {
            let b = v.to_bytes_be();
            let mut out = vec![0u8; half.saturating_sub(b.len())];
            out.extend_from_slice(&b);
            out
        };
        let (p, q) = match key.primes() {
            [p, q] => (p, q),
            _ => return Err(Error::Invalid("only two-prime RSA keys can be imported".into())),
        };
        let missing = || Error::Invalid("the RSA key lacks its CRT values".into());
        let imported = ImportedKey::Rsa {
            p: pad(p),
            q: pad(q),
            dp: pad(key.dp().ok_or_else(missing)?),
            dq: pad(key.dq().ok_or_else(missing)?),
            qinv: pad(&key.crt_coefficient().ok_or_else(missing)?),
        };
        self.import_key_with(slot, alg, &imported, policies)
    }

    /// Generates a key pair of any algorithm the card offers in `slot`;
    /// returns its public key. Needs the management key.
    pub fn generate_key(&mut self, slot: Slot, alg: KeyAlgorithm) -> Result<PublicKeyData> {
        self.generate_key_with(slot, alg, Policies::default())
    }

    /// GENERATE with PIN and touch policies (tags AA, AB).
    pub fn generate_key_with(&mut self, slot: Slot, alg: KeyAlgorithm, policies: Policies) -> Result<PublicKeyData> {
        let cmd = self
            .iso(ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0, slot.key_ref())
            .with_data(messages::generate_request_with(alg, policies))
            .with_ne(self.ne());
        let data = self.call("GENERATE ASYMMETRIC KEY PAIR", cmd)?;
        PublicKeyData::decode(&data).map_err(malformed("GENERATE ASYMMETRIC KEY PAIR"))
    }
}
