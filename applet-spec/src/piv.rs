//! PIV identifiers: AIDs, key references, slots, algorithms, data objects, PIN
//! encoding and factory defaults.

/// The full PIV application AID (NIST SP 800-73-4 part 1, 2.2).
pub const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];
/// The RID part of the AID; SELECT matches the AID by prefix, at least this long.
pub const PIV_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x03, 0x08];
/// The PIX, returned in tag 4F of the SELECT answer.
pub const PIV_PIX: [u8; 6] = [0x00, 0x00, 0x10, 0x00, 0x01, 0x00];
/// The label in tag 50 of the SELECT answer.
pub const APP_LABEL: &str = "subsim sub-SIM PIV";

/// Whether SELECT data names our applet: a prefix of the AID, at least the RID.
pub fn aid_matches(selected: &[u8]) -> bool {
    selected.len() >= PIV_RID.len() && PIV_AID.starts_with(selected)
}

/// The value GET VERSION answers. Yubico's tools gate features on it, so it
/// names the YubiKey firmware whose PIV feature set this card matches: 5.7.1
/// has extended APDUs (>= 4), GET METADATA, ATTEST with slot F9, SET PIN
/// RETRIES, RESET, IMPORT KEY (>= 5.3), AES management keys (>= 5.4), and
/// what came with 5.7: RSA-3072/4096, Ed25519/X25519 and MOVE/DELETE KEY.
/// docs/applet-spec.md (GET VERSION) has the whole mapping.
pub const VERSION: [u8; 3] = [5, 7, 1];

/// Key references (P2 of VERIFY, CHANGE REFERENCE DATA, GENERAL AUTHENTICATE).
pub const KEY_REF_PIN: u8 = 0x80;
/// The PUK (reset retry counter key).
pub const KEY_REF_PUK: u8 = 0x81;
/// The card management key (9B), authenticated by GENERAL AUTHENTICATE.
pub const KEY_REF_MANAGEMENT: u8 = 0x9B;

/// An asymmetric key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// 9A: PIV authentication; the sub-SIM's login key. PIN once per session.
    Authentication,
    /// 9C: digital signature; the sub-SIM's transaction key. PIN before every use.
    Signature,
    /// 9D: key management. PIN once per session.
    KeyManagement,
    /// 9E: card authentication. No PIN.
    CardAuthentication,
    /// F9: the card's attestation key (Yubico's slot): signs ATTEST
    /// certificates only, never GENERAL AUTHENTICATE; kept by RESET.
    Attestation,
    /// 82-95: retired key management keys (SP 800-73-4 part 1, 3.3.3),
    /// PIN once per session, as 9D.
    Retired(Retired),
}

/// The number of a retired key management slot, 1 to 20 (key reference
/// 82 to 95): no other value can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Retired(u8);

impl Retired {
    /// Retired slots in SP 800-73-4: 20 (82-95).
    pub const COUNT: u8 = 20;
    /// Retired slot `n` (1 = key reference 82); `None` outside 1-20.
    pub fn new(n: u8) -> Option<Retired> {
        (1..=Self::COUNT).contains(&n).then_some(Retired(n))
    }
    /// The slot's number, 1 to 20.
    pub fn number(self) -> u8 {
        self.0
    }
    /// All twenty, 82 first.
    pub fn all() -> impl Iterator<Item = Retired> {
        (1..=Self::COUNT).map(Retired)
    }
}

/// The PIN a slot's private key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPolicy {
    /// No PIN needed.
    Never,
    /// Verified once in this card session.
    Once,
    /// Verified immediately before each use.
    Always,
}

/// Tag AA's code for "the slot's default" (GENERATE, IMPORT KEY); GET
/// METADATA and ATTEST never report it: they report the policy in force.
pub const POLICY_DEFAULT: u8 = 0x00;
/// Yubico's PIN policy MATCH-ONCE (`04`): a fingerprint once per session
/// (YubiKey Bio). This card has no biometric sensor: refused (`6A80`).
pub const PIN_POLICY_MATCH_ONCE: u8 = 0x04;
/// Yubico's PIN policy MATCH-ALWAYS (`05`): a fingerprint before each use
/// (YubiKey Bio). Refused (`6A80`), as MATCH-ONCE.
pub const PIN_POLICY_MATCH_ALWAYS: u8 = 0x05;

/// Why a requested PIN or touch policy is refused (`6A80` either way: the
/// card never accepts a policy it would not enforce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRefused {
    /// Not one of Yubico's codes.
    Unknown,
    /// A code this card cannot enforce (match policies: no biometric
    /// sensor; touch ALWAYS or CACHED: no button).
    Unenforceable,
    /// Known and enforceable, but not on this slot ([`Slot::allows_pin_policy`]).
    NotForSlot,
}

impl PinPolicy {
    /// Every PIN policy the card enforces.
    pub const ALL: [PinPolicy; 3] = [PinPolicy::Never, PinPolicy::Once, PinPolicy::Always];
    /// Yubico's code (GET METADATA, the attestation's policy extension, tag AA).
    pub fn code(self) -> u8 {
        match self {
            PinPolicy::Never => 1,
            PinPolicy::Once => 2,
            PinPolicy::Always => 3,
        }
    }
    /// The policy for Yubico's code, `None` for 0 (default) or unknown codes.
    pub fn from_code(c: u8) -> Option<PinPolicy> {
        Self::ALL.into_iter().find(|p| p.code() == c)
    }
    /// The name on the command line and in reports (ykman's, lower case).
    pub fn name(self) -> &'static str {
        match self {
            PinPolicy::Never => "never",
            PinPolicy::Once => "once",
            PinPolicy::Always => "always",
        }
    }
    /// The policy a key generated or imported into `slot` gets when tag AA
    /// carries `code` (absent or [`POLICY_DEFAULT`]: the slot's default).
    pub fn requested(slot: Slot, code: Option<u8>) -> Result<PinPolicy, PolicyRefused> {
        let policy = match code {
            None | Some(POLICY_DEFAULT) => return Ok(slot.pin_policy()),
            Some(PIN_POLICY_MATCH_ONCE | PIN_POLICY_MATCH_ALWAYS) => return Err(PolicyRefused::Unenforceable),
            Some(c) => PinPolicy::from_code(c).ok_or(PolicyRefused::Unknown)?,
        };
        if slot.allows_pin_policy(policy) {
            Ok(policy)
        } else {
            Err(PolicyRefused::NotForSlot)
        }
    }
}

/// Yubico's touch policy codes (tag AB; GET METADATA and ATTEST report the
/// second byte). A sub-SIM has no button: only NEVER can be enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchPolicy {
    /// No touch (`01`): what every key of this card has.
    Never,
    /// A touch before each use (`02`): refused, no button.
    Always,
    /// A touch cached for 15 s (`03`): refused, no button.
    Cached,
}

impl TouchPolicy {
    /// Yubico's code.
    pub fn code(self) -> u8 {
        match self {
            TouchPolicy::Never => 1,
            TouchPolicy::Always => 2,
            TouchPolicy::Cached => 3,
        }
    }
    /// The policy for Yubico's code, `None` for 0 (default) or unknown codes.
    pub fn from_code(c: u8) -> Option<TouchPolicy> {
        [TouchPolicy::Never, TouchPolicy::Always, TouchPolicy::Cached].into_iter().find(|p| p.code() == c)
    }
    /// The name on the command line (ykman's, lower case).
    pub fn name(self) -> &'static str {
        match self {
            TouchPolicy::Never => "never",
            TouchPolicy::Always => "always",
            TouchPolicy::Cached => "cached",
        }
    }
    /// What tag AB carrying `code` gets: NEVER for absent, default or
    /// never; ALWAYS and CACHED are refused (no button to touch).
    pub fn requested(code: Option<u8>) -> Result<TouchPolicy, PolicyRefused> {
        match code {
            None | Some(POLICY_DEFAULT) => Ok(TouchPolicy::Never),
            Some(c) => match TouchPolicy::from_code(c).ok_or(PolicyRefused::Unknown)? {
                TouchPolicy::Never => Ok(TouchPolicy::Never),
                _ => Err(PolicyRefused::Unenforceable),
            },
        }
    }
}

/// Yubico's touch policy code for "never": a sub-SIM has no touch sensor.
pub const TOUCH_POLICY_NEVER: u8 = 1;

/// P1 of MOVE KEY (`00 F6 FF <slot>`) that deletes the key in P2 instead of
/// moving it (Yubico firmware 5.7, as yubico-piv-tool and ykman send it).
pub const MOVE_KEY_DELETE: u8 = 0xFF;

impl Slot {
    /// The four PIV key slots a host uses (GENERAL AUTHENTICATE, GET STATUS bits).
    pub const ALL: [Slot; 4] = [Slot::Authentication, Slot::Signature, Slot::KeyManagement, Slot::CardAuthentication];
    /// Every slot that holds an asymmetric key: the four, then F9.
    pub const WITH_ATTESTATION: [Slot; 5] =
        [Slot::Authentication, Slot::Signature, Slot::KeyManagement, Slot::CardAuthentication, Slot::Attestation];

    /// The key reference (P2 of GENERAL AUTHENTICATE, GENERATE): 9A, 9C, 9D, 9E, F9, 82-95.
    pub fn key_ref(self) -> u8 {
        match self {
            Slot::Authentication => 0x9A,
            Slot::Signature => 0x9C,
            Slot::KeyManagement => 0x9D,
            Slot::CardAuthentication => 0x9E,
            Slot::Attestation => 0xF9,
            Slot::Retired(r) => 0x81 + r.0,
        }
    }
    /// Any key slot, F9 and the retired 82-95 included.
    pub fn from_key_ref(r: u8) -> Option<Slot> {
        match r {
            0x82..=0x95 => Retired::new(r - 0x81).map(Slot::Retired),
            _ => Slot::WITH_ATTESTATION.into_iter().find(|s| s.key_ref() == r),
        }
    }
    /// Every key slot: the four, F9, then 82 to 95.
    pub fn every() -> impl Iterator<Item = Slot> {
        Slot::WITH_ATTESTATION.into_iter().chain(Retired::all().map(Slot::Retired))
    }
    /// A slot ATTEST vouches for (not F9, the attesting key itself).
    pub fn usable_by_host(self) -> bool {
        self != Slot::Attestation
    }
    /// Tag of the slot's certificate data object.
    pub fn cert_object(self) -> ObjectTag {
        match self {
            Slot::Authentication => ObjectTag::CERT_9A,
            Slot::Signature => ObjectTag::CERT_9C,
            Slot::KeyManagement => ObjectTag::CERT_9D,
            Slot::CardAuthentication => ObjectTag::CERT_9E,
            Slot::Attestation => ObjectTag::ATTESTATION_CERT,
            // 5FC10D (82) to 5FC120 (95).
            Slot::Retired(r) => ObjectTag(0x5FC10C + r.0 as u32),
        }
    }
    /// The PIN this slot's key needs by default (tag AA absent or `00`),
    /// as SP 800-73-4 part 1, 3.3 gives it per slot.
    pub fn pin_policy(self) -> PinPolicy {
        match self {
            Slot::Authentication | Slot::KeyManagement | Slot::Retired(_) => PinPolicy::Once,
            Slot::Signature => PinPolicy::Always,
            Slot::CardAuthentication | Slot::Attestation => PinPolicy::Never,
        }
    }
    /// Whether a key in this slot may have `policy` (GENERATE and IMPORT
    /// KEY tag AA). The sub-SIM's own rules sit on top of Yubico's: 9C, the
    /// transaction key, is PIN-always and cannot be weakened; F9 only
    /// signs (ATTEST needs no PIN), so NEVER. Every other slot takes any.
    pub fn allows_pin_policy(self, policy: PinPolicy) -> bool {
        match self {
            Slot::Signature => policy == PinPolicy::Always,
            Slot::Attestation => policy == PinPolicy::Never,
            _ => true,
        }
    }
    /// Whether MOVE KEY may take a key from or to this slot: not F9 (Yubico:
    /// "the source slot must not be the attestation slot"; this card keeps
    /// F9 the card's own, so not as destination either). DELETE may use any.
    pub fn movable(self) -> bool {
        self != Slot::Attestation
    }
    /// A bit per slot, for compact status encodings (GET STATUS covers
    /// the four host slots; F9 has one for completeness, retired slots none).
    pub fn bit(self) -> u8 {
        match self {
            Slot::Retired(_) => 0,
            Slot::Authentication => 0x01,
            Slot::Signature => 0x02,
            Slot::KeyManagement => 0x04,
            Slot::CardAuthentication => 0x08,
            Slot::Attestation => 0x10,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02X}", self.key_ref())
    }
}

/// Algorithm identifiers (SP 800-78-4 table 6-2), P1 of GENERAL AUTHENTICATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 3-key Triple DES (03), 8-byte blocks.
    TripleDes,
    /// RSA 2048 (07).
    Rsa2048,
    /// AES-128 (08).
    Aes128,
    /// AES-192 (0A).
    Aes192,
    /// AES-256 (0C).
    Aes256,
}

impl Algorithm {
    /// The algorithm identifier byte.
    pub fn id(self) -> u8 {
        match self {
            Algorithm::TripleDes => 0x03,
            Algorithm::Rsa2048 => 0x07,
            Algorithm::Aes128 => 0x08,
            Algorithm::Aes192 => 0x0A,
            Algorithm::Aes256 => 0x0C,
        }
    }
    /// The algorithm for an identifier byte, `None` if not one of these.
    pub fn from_id(id: u8) -> Option<Algorithm> {
        [Self::TripleDes, Self::Rsa2048, Self::Aes128, Self::Aes192, Self::Aes256].into_iter().find(|a| a.id() == id)
    }
}

/// An asymmetric key's algorithm (SP 800-78-4 table 6-2; 05 and 16 are
/// Yubico's RSA-3072 and RSA-4096).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAlgorithm {
    /// RSA 1024 (06).
    Rsa1024,
    /// RSA 2048 (07).
    Rsa2048,
    /// RSA 3072 (05, Yubico).
    Rsa3072,
    /// RSA 4096 (16, Yubico).
    Rsa4096,
    /// ECC P-256 (11).
    EccP256,
    /// ECC P-384 (14).
    EccP384,
    /// Ed25519 signatures (E0, Yubico 5.7): RFC 8032 over the whole message.
    Ed25519,
    /// X25519 key agreement (E1, Yubico 5.7): RFC 7748.
    X25519,
}

impl KeyAlgorithm {
    /// Every asymmetric algorithm the card knows.
    pub const ALL: [KeyAlgorithm; 8] = [
        Self::Rsa1024,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::EccP256,
        Self::EccP384,
        Self::Ed25519,
        Self::X25519,
    ];

    /// The algorithm identifier byte.
    pub fn id(self) -> u8 {
        match self {
            Self::Rsa1024 => 0x06,
            Self::Rsa2048 => 0x07,
            Self::Rsa3072 => 0x05,
            Self::Rsa4096 => 0x16,
            Self::EccP256 => 0x11,
            Self::EccP384 => 0x14,
            Self::Ed25519 => 0xE0,
            Self::X25519 => 0xE1,
        }
    }
    /// The algorithm for an identifier byte, `None` if unknown.
    pub fn from_id(id: u8) -> Option<KeyAlgorithm> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }
    /// RSA modulus length in bytes, `None` for EC.
    pub fn rsa_bytes(self) -> Option<usize> {
        match self {
            Self::Rsa1024 => Some(128),
            Self::Rsa2048 => Some(256),
            Self::Rsa3072 => Some(384),
            Self::Rsa4096 => Some(512),
            _ => None,
        }
    }
    /// Weierstrass EC (P-256, P-384) field and scalar length in bytes,
    /// `None` for RSA and the 25519 curves.
    pub fn ec_bytes(self) -> Option<usize> {
        match self {
            Self::EccP256 => Some(32),
            Self::EccP384 => Some(48),
            _ => None,
        }
    }
    /// Whether this is Ed25519 or X25519: 32-byte keys, public key
    /// `7F49 { 86 <32 bytes> }`, IMPORT KEY tag 07 or 08.
    pub fn is_25519(self) -> bool {
        matches!(self, Self::Ed25519 | Self::X25519)
    }
    /// Whether GENERAL AUTHENTICATE `81` (sign or RSA decrypt) works with it: all but X25519.
    pub fn signs(self) -> bool {
        self != Self::X25519
    }
    /// Whether GENERAL AUTHENTICATE `85` (key agreement) works with it: P-256, P-384, X25519.
    pub fn agrees(self) -> bool {
        matches!(self, Self::EccP256 | Self::EccP384 | Self::X25519)
    }
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa1024 => "rsa1024",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::EccP256 => "p256",
            Self::EccP384 => "p384",
            Self::Ed25519 => "ed25519",
            Self::X25519 => "x25519",
        }
    }
}

/// The asymmetric key algorithms a chip can run: every one the card knows
/// ([`KeyAlgorithms::ALL`], the simulated card's default), or fewer, as a
/// platform has them ([`KeyAlgorithms::JAVA_CARD_3_0_5`] has no Ed25519 or
/// X25519). A card lists these in its SELECT answer and refuses to generate
/// or import any other (`6A80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyAlgorithms(u16);

impl KeyAlgorithms {
    /// Every algorithm in [`KeyAlgorithm::ALL`].
    pub const ALL: KeyAlgorithms = KeyAlgorithms((1 << KeyAlgorithm::ALL.len()) - 1);
    /// What Java Card 3.0.5 classic can have (its API has no Edwards or
    /// Montgomery curves): RSA and P-256/P-384. RSA-3072/4096 depend on the chip.
    pub const JAVA_CARD_3_0_5: KeyAlgorithms =
        KeyAlgorithms::ALL.without(KeyAlgorithm::Ed25519).without(KeyAlgorithm::X25519);

    const fn bit(a: KeyAlgorithm) -> u16 {
        1 << a as u16
    }
    /// This set less `a`.
    pub const fn without(self, a: KeyAlgorithm) -> KeyAlgorithms {
        KeyAlgorithms(self.0 & !Self::bit(a))
    }
    /// Whether `a` is in the set.
    pub fn contains(self, a: KeyAlgorithm) -> bool {
        self.0 & Self::bit(a) != 0
    }
    /// The known algorithms among `ids` (a SELECT answer's list, say);
    /// unknown identifiers and management key algorithms are ignored.
    pub fn from_ids(ids: impl IntoIterator<Item = u8>) -> KeyAlgorithms {
        KeyAlgorithms(ids.into_iter().filter_map(KeyAlgorithm::from_id).fold(0, |b, a| b | Self::bit(a)))
    }
    /// The algorithms in the set, in [`KeyAlgorithm::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = KeyAlgorithm> {
        KeyAlgorithm::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

/// Every algorithm the card has, as SELECT's algorithm list (`AC`) names
/// them: each asymmetric key algorithm it generates, then each management
/// key algorithm. The one list: SELECT reads it, nothing types it again.
pub fn card_algorithms() -> impl Iterator<Item = u8> {
    card_algorithms_of(KeyAlgorithms::ALL)
}

/// [`card_algorithms`] on a chip that has only `keys`.
pub fn card_algorithms_of(keys: KeyAlgorithms) -> impl Iterator<Item = u8> {
    keys.iter().map(KeyAlgorithm::id).chain(MgmAlgorithm::ALL.into_iter().map(MgmAlgorithm::id))
}

/// A symmetric algorithm the management key 9B can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MgmAlgorithm {
    /// 3-key Triple DES (03), the PIV default; 24-byte key.
    TripleDes,
    /// AES-128 (08), 16-byte key.
    Aes128,
    /// AES-192 (0A), 24-byte key.
    Aes192,
    /// AES-256 (0C), 32-byte key.
    Aes256,
}

impl MgmAlgorithm {
    /// Every management key algorithm the card accepts.
    pub const ALL: [MgmAlgorithm; 4] = [Self::TripleDes, Self::Aes128, Self::Aes192, Self::Aes256];

    /// As a general [`Algorithm`].
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::TripleDes => Algorithm::TripleDes,
            Self::Aes128 => Algorithm::Aes128,
            Self::Aes192 => Algorithm::Aes192,
            Self::Aes256 => Algorithm::Aes256,
        }
    }
    /// The algorithm identifier byte.
    pub fn id(self) -> u8 {
        self.algorithm().id()
    }
    /// The management key algorithm for an identifier byte, `None` if not one.
    pub fn from_id(id: u8) -> Option<MgmAlgorithm> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }
    /// Key length in bytes: 24, 16, 24, 32.
    pub fn key_len(self) -> usize {
        match self {
            Self::TripleDes | Self::Aes192 => 24,
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
    /// Whether P1 of GENERAL AUTHENTICATE names this algorithm: its own id,
    /// or, for 3DES, also `00` (SP 800-78-4 table 6-2: "3 Key Triple DES - ECB").
    pub fn matches_p1(self, p1: u8) -> bool {
        p1 == self.id() || (self == Self::TripleDes && p1 == 0x00)
    }
    /// Witness and challenge length: the cipher's block size.
    pub fn block_len(self) -> usize {
        match self {
            Self::TripleDes => 8,
            _ => 16,
        }
    }
}

/// The factory management key: 3DES, 0102030405060708 three times.
pub const DEFAULT_MGM_KEY: [u8; 24] = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];
/// The factory PIN.
pub const DEFAULT_PIN: &[u8] = b"123456";
/// The factory PUK.
pub const DEFAULT_PUK: &[u8] = b"12345678";
/// PIN tries before it blocks, as from the factory.
pub const PIN_TRIES: u8 = 3;
/// PUK tries before it blocks, as from the factory.
pub const PUK_TRIES: u8 = 3;
/// The most tries SET PIN RETRIES may set for the PIN or the PUK: 63Cx can tell at most 15.
pub const MAX_TRIES: u8 = 15;

/// RSA-2048 modulus length in bytes.
pub const RSA2048_BYTES: usize = 256;
/// The public exponent of generated keys.
pub const RSA_EXPONENT: u32 = 65537;

/// A data object tag (1 to 3 bytes, kept in the low bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectTag(pub u32);

impl ObjectTag {
    /// Discovery object (read-only).
    pub const DISCOVERY: ObjectTag = ObjectTag(0x7E);
    /// Card Holder Unique Identifier.
    pub const CHUID: ObjectTag = ObjectTag(0x5FC102);
    /// Card Capability Container.
    pub const CCC: ObjectTag = ObjectTag(0x5FC107);
    /// X.509 certificate for PIV authentication (9A).
    pub const CERT_9A: ObjectTag = ObjectTag(0x5FC105);
    /// X.509 certificate for digital signature (9C).
    pub const CERT_9C: ObjectTag = ObjectTag(0x5FC10A);
    /// X.509 certificate for key management (9D).
    pub const CERT_9D: ObjectTag = ObjectTag(0x5FC10B);
    /// X.509 certificate for card authentication (9E).
    pub const CERT_9E: ObjectTag = ObjectTag(0x5FC101);
    /// Cardholder fingerprints (PIN to read).
    pub const FINGERPRINTS: ObjectTag = ObjectTag(0x5FC103);
    /// Security object.
    pub const SECURITY_OBJECT: ObjectTag = ObjectTag(0x5FC106);
    /// Cardholder facial image (PIN to read).
    pub const FACIAL_IMAGE: ObjectTag = ObjectTag(0x5FC108);
    /// Printed information (PIN to read).
    pub const PRINTED_INFORMATION: ObjectTag = ObjectTag(0x5FC109);
    /// Key history object: counts of retired keys on and off the card.
    pub const KEY_HISTORY: ObjectTag = ObjectTag(0x5FC10C);
    /// Cardholder iris images (PIN to read).
    pub const IRIS_IMAGES: ObjectTag = ObjectTag(0x5FC121);
    /// Pairing code reference data container (PIN to read).
    pub const PAIRING_CODE: ObjectTag = ObjectTag(0x5FC123);
    /// The BIT group template (biometric on-card comparison), a 2-byte tag.
    pub const BIT_GROUP: ObjectTag = ObjectTag(0x7F61);
    /// Yubico's attestation certificate object: the F9 key's certificate.
    pub const ATTESTATION_CERT: ObjectTag = ObjectTag(0x5FFF01);
    /// Yubico's admin data ("PIVMAN data", ykman): flags such as "the
    /// management key is stored PIN-protected in the printed information".
    pub const ADMIN_DATA: ObjectTag = ObjectTag(0x5FFF00);
    /// The sub-SIM's card state (serial and change counter), always
    /// readable, written only by the card (`messages::SelectedCard`).
    pub const CARD_STATE: ObjectTag = ObjectTag(0x5FFF20);

    /// Objects SP 800-73-4 part 1 (table 3, "access rule for read") lets
    /// be read only after the PIN: fingerprints, facial image and iris
    /// images (PIN), printed information and the pairing code reference
    /// data (PIN or OCC; this card has no OCC, so the PIN).
    pub const PIN_PROTECTED: [ObjectTag; 5] =
        [Self::FINGERPRINTS, Self::FACIAL_IMAGE, Self::PRINTED_INFORMATION, Self::IRIS_IMAGES, Self::PAIRING_CODE];
    /// Whether GET DATA on this object needs the PIN first (see [`Self::PIN_PROTECTED`]).
    pub fn needs_pin(self) -> bool {
        Self::PIN_PROTECTED.contains(&self)
    }

    /// The tag's bytes as they appear after `5C`.
    pub fn to_bytes(self) -> Vec<u8> {
        let b = self.0.to_be_bytes();
        let skip = b.iter().take(3).take_while(|&&x| x == 0).count();
        b[skip..].to_vec()
    }
    /// A complete BER tag of 1 to 3 bytes (PIV uses `7E`, `7F61` and
    /// `5FC1xx`): a first byte with low bits `1F` announces more bytes, and
    /// every further byte but the last has its top bit set.
    pub fn from_bytes(b: &[u8]) -> Option<ObjectTag> {
        let (first, rest) = b.split_first()?;
        let complete = match rest {
            [] => first & 0x1F != 0x1F,
            [.., last] => {
                first & 0x1F == 0x1F && last & 0x80 == 0 && rest[..rest.len() - 1].iter().all(|x| x & 0x80 != 0)
            }
        };
        (complete && b.len() <= 3).then(|| ObjectTag(b.iter().fold(0u32, |acc, &x| acc << 8 | x as u32)))
    }
    /// Objects PUT DATA may write: the PIV range 5FC101-5FC123, the BIT
    /// group template 7F61 and Yubico's 5FFF00-5FFF15. Discovery (7E) is
    /// read-only.
    pub fn is_writable(self) -> bool {
        (0x5FC101..=0x5FC123).contains(&self.0) || (0x5FFF00..=0x5FFF15).contains(&self.0) || self == Self::BIT_GROUP
    }
}

/// Largest data object the card stores (value of tag 53), as on a YubiKey.
pub const MAX_OBJECT_LEN: usize = 3052;

/// A PIN or PUK reference data block: 6 to 8 bytes, right-padded with FF to 8.
pub const PIN_BLOCK_LEN: usize = 8;
/// Shortest PIN or PUK, in bytes.
pub const PIN_MIN_LEN: usize = 6;

/// Pads a PIN (or PUK) to the 8-byte reference data block. `None` when it is
/// not 6 to 8 bytes, or (for a PIN) not all ASCII digits.
pub fn pin_block(value: &[u8], digits_only: bool) -> Option<[u8; PIN_BLOCK_LEN]> {
    if !(PIN_MIN_LEN..=PIN_BLOCK_LEN).contains(&value.len()) || value.contains(&0xFF) {
        return None;
    }
    if digits_only && !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut block = [0xFF; PIN_BLOCK_LEN];
    block[..value.len()].copy_from_slice(value);
    Some(block)
}

/// Whether an 8-byte block is a well-formed padded PIN (or PUK) value.
pub fn is_valid_pin_block(block: &[u8], digits_only: bool) -> bool {
    block.len() == PIN_BLOCK_LEN && {
        let len = block.iter().position(|&b| b == 0xFF).unwrap_or(PIN_BLOCK_LEN);
        block[len..].iter().all(|&b| b == 0xFF) && pin_block(&block[..len], digits_only).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aid_prefix_rules() {
        assert!(aid_matches(&PIV_AID));
        assert!(aid_matches(&PIV_RID));
        assert!(aid_matches(&PIV_AID[..9]));
        assert!(!aid_matches(&PIV_RID[..4]));
        assert!(!aid_matches(&[0xA0, 0, 0, 5, 0x27, 0x20, 1, 1]));
        assert_eq!([&PIV_RID[..], &PIV_PIX[..]].concat(), PIV_AID);
    }

    #[test]
    fn pin_blocks() {
        assert_eq!(pin_block(b"123456", true).unwrap(), *b"123456\xFF\xFF");
        assert!(pin_block(b"12345", true).is_none());
        assert!(pin_block(b"123456789", true).is_none());
        assert!(pin_block(b"12345a", true).is_none());
        assert!(pin_block(b"12345a", false).is_some());
        assert!(is_valid_pin_block(b"123456\xFF\xFF", true));
        assert!(!is_valid_pin_block(b"123456\xFF1", true));
        assert!(!is_valid_pin_block(b"12345\xFF\xFF\xFF", true));
    }

    #[test]
    fn object_tags_round_trip() {
        assert_eq!(ObjectTag::CERT_9A.to_bytes(), vec![0x5F, 0xC1, 0x05]);
        assert_eq!(ObjectTag::DISCOVERY.to_bytes(), vec![0x7E]);
        for s in Slot::ALL {
            let t = s.cert_object();
            assert_eq!(ObjectTag::from_bytes(&t.to_bytes()), Some(t));
            assert!(t.is_writable());
            assert_eq!(Slot::from_key_ref(s.key_ref()), Some(s));
        }
        assert!(!ObjectTag::DISCOVERY.is_writable());
        assert_eq!(ObjectTag::from_bytes(&[0x7F, 0x61]), Some(ObjectTag::BIT_GROUP));
        assert_eq!(ObjectTag::BIT_GROUP.to_bytes(), [0x7F, 0x61]);
        assert_eq!(ObjectTag::from_bytes(&[0x5F, 0xC1]), None, "incomplete tag");
        assert_eq!(ObjectTag::from_bytes(&[0x7E, 0x01]), None, "one-byte tag with a tail");
        assert_eq!(Slot::from_key_ref(0xF9), Some(Slot::Attestation));
        assert!(!Slot::ALL.contains(&Slot::Attestation));
        assert_eq!(Slot::every().count(), 25);
        for s in Slot::every() {
            assert_eq!(Slot::from_key_ref(s.key_ref()), Some(s));
            assert_eq!(ObjectTag::from_bytes(&s.cert_object().to_bytes()), Some(s.cert_object()));
        }
        assert_eq!(Slot::from_key_ref(0x82).unwrap().cert_object(), ObjectTag(0x5FC10D));
        assert_eq!(Slot::from_key_ref(0x95).unwrap().cert_object(), ObjectTag(0x5FC120));
        assert_eq!((Slot::from_key_ref(0x81), Slot::from_key_ref(0x96)), (None, None));
        assert_eq!(Retired::new(0), None);
    }

    #[test]
    fn algorithm_ids_round_trip() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::from_id(a.id()), Some(a));
            let kinds = [a.rsa_bytes().is_some(), a.ec_bytes().is_some(), a.is_25519()];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{a:?}");
            assert!(a.signs() || a.agrees());
        }
        assert_eq!((KeyAlgorithm::Ed25519.id(), KeyAlgorithm::X25519.id()), (0xE0, 0xE1));
        assert!(MgmAlgorithm::TripleDes.matches_p1(0x00) && MgmAlgorithm::TripleDes.matches_p1(0x03));
        assert!(!MgmAlgorithm::Aes128.matches_p1(0x00));
        for p in PinPolicy::ALL {
            assert_eq!(PinPolicy::from_code(p.code()), Some(p));
        }
    }

    #[test]
    fn a_platform_lists_what_it_has() {
        assert_eq!(KeyAlgorithms::ALL.iter().collect::<Vec<_>>(), KeyAlgorithm::ALL);
        let jc = KeyAlgorithms::JAVA_CARD_3_0_5;
        assert!(!jc.contains(KeyAlgorithm::Ed25519) && !jc.contains(KeyAlgorithm::X25519));
        assert!(jc.contains(KeyAlgorithm::Rsa2048) && jc.contains(KeyAlgorithm::EccP384));
        // Read back from a SELECT list: management key algorithms and unknown ids are not key algorithms.
        assert_eq!(KeyAlgorithms::from_ids(card_algorithms_of(jc)), jc);
        assert_eq!(KeyAlgorithms::from_ids([0x07, 0x03, 0x99]).iter().collect::<Vec<_>>(), [KeyAlgorithm::Rsa2048]);
        assert_eq!(card_algorithms().collect::<Vec<_>>(), card_algorithms_of(KeyAlgorithms::ALL).collect::<Vec<_>>());
        assert_eq!(card_algorithms_of(jc).count() + 2, card_algorithms().count());
    }

    #[test]
    fn requested_policies() {
        let (auth, sig, f9) = (Slot::Authentication, Slot::Signature, Slot::Attestation);
        assert_eq!(PinPolicy::requested(auth, None), Ok(PinPolicy::Once));
        assert_eq!(PinPolicy::requested(auth, Some(0)), Ok(PinPolicy::Once));
        assert_eq!(PinPolicy::requested(auth, Some(3)), Ok(PinPolicy::Always));
        assert_eq!(PinPolicy::requested(auth, Some(1)), Ok(PinPolicy::Never));
        assert_eq!(PinPolicy::requested(auth, Some(4)), Err(PolicyRefused::Unenforceable));
        assert_eq!(PinPolicy::requested(auth, Some(5)), Err(PolicyRefused::Unenforceable));
        assert_eq!(PinPolicy::requested(auth, Some(6)), Err(PolicyRefused::Unknown));
        assert_eq!(PinPolicy::requested(sig, Some(2)), Err(PolicyRefused::NotForSlot));
        assert_eq!(PinPolicy::requested(sig, Some(3)), Ok(PinPolicy::Always));
        assert_eq!(PinPolicy::requested(f9, Some(3)), Err(PolicyRefused::NotForSlot));
        assert_eq!(PinPolicy::requested(f9, None), Ok(PinPolicy::Never));
        assert_eq!(TouchPolicy::requested(None), Ok(TouchPolicy::Never));
        assert_eq!(TouchPolicy::requested(Some(1)), Ok(TouchPolicy::Never));
        assert_eq!(TouchPolicy::requested(Some(2)), Err(PolicyRefused::Unenforceable));
        assert_eq!(TouchPolicy::requested(Some(3)), Err(PolicyRefused::Unenforceable));
        assert_eq!(TouchPolicy::requested(Some(9)), Err(PolicyRefused::Unknown));
        assert_eq!(TouchPolicy::Never.code(), TOUCH_POLICY_NEVER);
    }
}
