//! Why the server refused: one variant per reason, so a caller can tell a
//! revoked certificate from a stale CRL from a replayed challenge, and a
//! stable short name for each (`reason()`) for logs and JSON.

use std::fmt;

/// What a certificate is presented for. Each role has its own key-usage
/// rule (see [`crate::chain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Logging in: the PIV Authentication key (slot 9A) signs a challenge.
    Login,
    /// Confirming a transaction: the Digital Signature key (slot 9C) signs a statement.
    Transaction,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Login => "login",
            Role::Transaction => "transactions",
        })
    }
}

/// A field of a transaction statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The session the statement is bound to.
    Session,
    /// The statement's sequence number within its session.
    Sequence,
    /// Who receives the money.
    Payee,
    /// How much.
    Amount,
    /// In which currency.
    Currency,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Session => "session",
            Field::Sequence => "sequence",
            Field::Payee => "payee",
            Field::Amount => "amount",
            Field::Currency => "currency",
        })
    }
}

/// Every reason the server refuses a login, a transaction, a certificate
/// or an attestation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// An input could not be read at all (not DER/PEM, not a statement...).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read (e.g. "certificate").
        what: &'static str,
        /// Why it could not be read (the parser's message).
        detail: String,
    },

    // The certificate path (OpenSSL's verifier; codes mapped in `chain`).
    /// No path from the certificate to a trusted anchor.
    #[error("unknown issuer: no path from {subject} to a trusted CA")]
    UnknownIssuer {
        /// The certificate's subject DN, one line.
        subject: String,
    },
    /// A certificate of the path is not signed by its issuer's key.
    #[error("bad certificate signature: {subject} was not signed by its issuer's key")]
    BadCertificateSignature {
        /// The certificate's subject DN, one line.
        subject: String,
    },
    /// A certificate of the path is not yet valid at the time checked.
    #[error("not yet valid: {subject} is valid only from {not_before}")]
    NotYetValid {
        /// The certificate's subject DN, one line.
        subject: String,
        /// Start of validity, as OpenSSL prints dates.
        not_before: String,
    },
    /// A certificate of the path has expired at the time checked.
    #[error("expired: {subject} expired at {not_after}")]
    Expired {
        /// The certificate's subject DN, one line.
        subject: String,
        /// End of validity, as OpenSSL prints dates.
        not_after: String,
    },
    /// A certificate acting as CA may not issue (basic constraints, key usage).
    #[error("invalid CA: {subject} may not issue certificates ({detail})")]
    InvalidCa {
        /// The certificate's subject DN, one line.
        subject: String,
        /// What exactly is wrong, in words.
        detail: String,
    },
    /// A certificate of the path is on its issuer's CRL.
    #[error("revoked: {subject} (serial {serial}) is on its issuer's CRL")]
    Revoked {
        /// The certificate's subject DN, one line.
        subject: String,
        /// The certificate's serial, hex as OpenSSL prints it.
        serial: String,
    },
    /// Revocation cannot be checked: no CRL from this issuer was given.
    #[error("no CRL: none of the CRLs given was issued by {issuer}, so revocation of {subject} cannot be checked")]
    NoCrl {
        /// The certificate's subject DN, one line.
        subject: String,
        /// The CRL issuer's DN, one line.
        issuer: String,
    },
    /// The issuer's CRL is past its next update.
    #[error("stale CRL: the CRL of {issuer} was due for renewal at {next_update}")]
    StaleCrl {
        /// The CRL issuer's DN, one line.
        issuer: String,
        /// When the CRL was due for renewal (nextUpdate), as OpenSSL prints dates.
        next_update: String,
    },
    /// The issuer's CRL is dated after the time checked.
    #[error("CRL not yet valid: the CRL of {issuer} takes effect only at {this_update}")]
    CrlNotYetValid {
        /// The CRL issuer's DN, one line.
        issuer: String,
        /// When the CRL takes effect (thisUpdate), as OpenSSL prints dates.
        this_update: String,
    },
    /// A CRL is not signed by the issuer it names.
    #[error("bad CRL signature: the CRL naming {issuer} as its issuer was not signed by {issuer}'s key")]
    BadCrlSignature {
        /// The CRL issuer's DN, one line.
        issuer: String,
    },
    /// Two different CRLs of one issuer claim to be the same one (the same
    /// CRL number): which is in force cannot be told.
    #[error("conflicting CRLs: {issuer} signed two different CRLs with {what}")]
    CrlConflict {
        /// The CRL issuer's DN, one line.
        issuer: String,
        /// What they share ("number 5").
        what: String,
    },
    /// A delta CRL: only complete CRLs are read (a delta alone would hide its base's revocations).
    #[error("delta CRL refused: the CRL of {issuer} is a delta CRL; give its complete CRL")]
    DeltaCrl {
        /// The CRL issuer's DN, one line.
        issuer: String,
    },
    /// The CRL's issuer may not sign CRLs, or is otherwise unusable.
    #[error("CRL issuer refused: {detail}")]
    CrlIssuer {
        /// What exactly is wrong, in words.
        detail: String,
    },
    /// Any other path failure OpenSSL reports.
    #[error("path refused: {subject}: {detail} (OpenSSL verify error {code})")]
    PathRefused {
        /// The certificate's subject DN, one line.
        subject: String,
        /// OpenSSL's `X509_V_ERR_*` code.
        code: i32,
        /// What exactly is wrong, in words.
        detail: String,
    },
    /// The certificate's key usage does not allow the [`Role`] asked for.
    #[error("wrong key usage: the certificate of {subject} is not for {role}: {detail}")]
    WrongKeyUsage {
        /// The certificate's subject DN, one line.
        subject: String,
        /// The role the certificate was presented for.
        role: Role,
        /// What exactly is wrong, in words.
        detail: String,
    },

    // The signature itself.
    /// The signature does not verify under the certified key.
    #[error("bad signature: the signature does not match the certified key of {subject}")]
    BadSignature {
        /// The certificate's subject DN, one line.
        subject: String,
    },

    // Login challenges.
    /// The challenge was never issued by this server, or long forgotten.
    #[error("unknown challenge: this server did not issue it (or forgot it, long after it expired)")]
    UnknownChallenge,
    /// The challenge was already answered once.
    #[error("replayed challenge: it was already used once")]
    ReplayedChallenge,
    /// The challenge's answer came too late.
    #[error("expired challenge: it expired at {expired_at}")]
    ChallengeExpired {
        /// When it expired, as OpenSSL prints dates.
        expired_at: String,
    },
    /// The challenge or statement belongs to another session.
    #[error("wrong session: the challenge or statement was issued to session {issued_to}, not {presented_by}")]
    WrongSession {
        /// The session it was issued to.
        issued_to: String,
        /// The session that presented it.
        presented_by: String,
    },

    // Transaction statements.
    /// No statement with this nonce was issued by this server.
    #[error("unknown statement: this server did not issue a statement with nonce {nonce}")]
    UnknownStatement {
        /// The statement's nonce, hex.
        nonce: String,
    },
    /// The statement was already confirmed or refused once.
    #[error("replayed statement: the transfer with nonce {nonce} was already confirmed or refused")]
    ReplayedStatement {
        /// The statement's nonce, hex.
        nonce: String,
    },
    /// The statement's confirmation came too late.
    #[error("expired statement: it had to be confirmed by {expired_at}")]
    StatementExpired {
        /// When it expired, as OpenSSL prints dates.
        expired_at: String,
    },
    /// The signed statement differs from the one issued in one field.
    #[error("altered {field}: the server issued {issued:?}, the signed statement says {received:?}")]
    AlteredField {
        /// Which field differs.
        field: Field,
        /// The field as issued.
        issued: String,
        /// The field as signed.
        received: String,
    },

    // Key attestation at issuance.
    /// The attestation does not check out (path, extensions, format).
    #[error("attestation refused: {detail}")]
    Attestation {
        /// What exactly is wrong, in words.
        detail: String,
    },
    /// The certificate request's key is not the attested key.
    #[error("attested key mismatch: the request's public key is not the key the card attested")]
    AttestedKeyMismatch,
    /// The attestation is for another slot than the one the request is for.
    #[error("wrong attested slot: expected slot {expected:02X}, the attestation is for {attested}")]
    AttestedWrongSlot {
        /// The slot the request is for (key reference).
        expected: u8,
        /// The slot the attestation names.
        attested: String,
    },
    /// The certificate request's self-signature does not verify.
    #[error("bad request signature: the certificate request is not signed by its own key")]
    BadRequestSignature,
}

impl Refusal {
    /// A short, stable name for the reason (for JSON, logs and tests).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Malformed { .. } => "malformed",
            Refusal::UnknownIssuer { .. } => "unknown-issuer",
            Refusal::BadCertificateSignature { .. } => "bad-certificate-signature",
            Refusal::NotYetValid { .. } => "not-yet-valid",
            Refusal::Expired { .. } => "expired",
            Refusal::InvalidCa { .. } => "invalid-ca",
            Refusal::Revoked { .. } => "revoked",
            Refusal::NoCrl { .. } => "no-crl",
            Refusal::StaleCrl { .. } => "stale-crl",
            Refusal::CrlNotYetValid { .. } => "crl-not-yet-valid",
            Refusal::BadCrlSignature { .. } => "bad-crl-signature",
            Refusal::CrlConflict { .. } => "crl-conflict",
            Refusal::DeltaCrl { .. } => "delta-crl",
            Refusal::CrlIssuer { .. } => "crl-issuer",
            Refusal::PathRefused { .. } => "path-refused",
            Refusal::WrongKeyUsage { .. } => "wrong-key-usage",
            Refusal::BadSignature { .. } => "bad-signature",
            Refusal::UnknownChallenge => "unknown-challenge",
            Refusal::ReplayedChallenge => "replayed-challenge",
            Refusal::ChallengeExpired { .. } => "expired-challenge",
            Refusal::WrongSession { .. } => "wrong-session",
            Refusal::UnknownStatement { .. } => "unknown-statement",
            Refusal::ReplayedStatement { .. } => "replayed-statement",
            Refusal::StatementExpired { .. } => "expired-statement",
            Refusal::AlteredField { .. } => "altered-field",
            Refusal::Attestation { .. } => "attestation",
            Refusal::AttestedKeyMismatch => "attested-key-mismatch",
            Refusal::AttestedWrongSlot { .. } => "attested-wrong-slot",
            Refusal::BadRequestSignature => "bad-request-signature",
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl fmt::Display) -> Refusal {
        Refusal::Malformed { what, detail: detail.to_string() }
    }
}
