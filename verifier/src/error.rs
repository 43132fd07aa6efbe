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
    Session,
    Sequence,
    Payee,
    Amount,
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
    Malformed { what: &'static str, detail: String },

    // The certificate path (OpenSSL's verifier; codes mapped in `chain`).
    #[error("unknown issuer: no path from {subject} to a trusted CA")]
    UnknownIssuer { subject: String },
    #[error("bad certificate signature: {subject} was not signed by its issuer's key")]
    BadCertificateSignature { subject: String },
    #[error("not yet valid: {subject} is valid only from {not_before}")]
    NotYetValid { subject: String, not_before: String },
    #[error("expired: {subject} expired at {not_after}")]
    Expired { subject: String, not_after: String },
    #[error("invalid CA: {subject} may not issue certificates ({detail})")]
    InvalidCa { subject: String, detail: String },
    #[error("revoked: {subject} (serial {serial}) is on its issuer's CRL")]
    Revoked { subject: String, serial: String },
    #[error("no CRL: none of the CRLs given was issued by {issuer}, so revocation of {subject} cannot be checked")]
    NoCrl { subject: String, issuer: String },
    #[error("stale CRL: the CRL of {issuer} was due for renewal at {next_update}")]
    StaleCrl { issuer: String, next_update: String },
    #[error("CRL not yet valid: the CRL of {issuer} takes effect only at {this_update}")]
    CrlNotYetValid { issuer: String, this_update: String },
    #[error("bad CRL signature: the CRL naming {issuer} as its issuer was not signed by {issuer}'s key")]
    BadCrlSignature { issuer: String },
    #[error("CRL issuer refused: {detail}")]
    CrlIssuer { detail: String },
    #[error("path refused: {subject}: {detail} (OpenSSL verify error {code})")]
    PathRefused { subject: String, code: i32, detail: String },
    #[error("wrong key usage: the certificate of {subject} is not for {role}: {detail}")]
    WrongKeyUsage { subject: String, role: Role, detail: String },

    // The signature itself.
    #[error("bad signature: the signature does not match the certified key of {subject}")]
    BadSignature { subject: String },

    // Login challenges.
    #[error("unknown challenge: this server did not issue it (or forgot it, long after it expired)")]
    UnknownChallenge,
    #[error("replayed challenge: it was already used once")]
    ReplayedChallenge,
    #[error("expired challenge: it expired at {expired_at}")]
    ChallengeExpired { expired_at: String },
    #[error("wrong session: the challenge or statement was issued to session {issued_to}, not {presented_by}")]
    WrongSession { issued_to: String, presented_by: String },

    // Transaction statements.
    #[error("unknown statement: this server did not issue a statement with nonce {nonce}")]
    UnknownStatement { nonce: String },
    #[error("replayed statement: the transfer with nonce {nonce} was already confirmed or refused")]
    ReplayedStatement { nonce: String },
    #[error("expired statement: it had to be confirmed by {expired_at}")]
    StatementExpired { expired_at: String },
    #[error("altered {field}: the server issued {issued:?}, the signed statement says {received:?}")]
    AlteredField { field: Field, issued: String, received: String },

    // Key attestation at issuance.
    #[error("attestation refused: {detail}")]
    Attestation { detail: String },
    #[error("attested key mismatch: the request's public key is not the key the card attested")]
    AttestedKeyMismatch,
    #[error("wrong attested slot: expected slot {expected:02X}, the attestation is for {attested}")]
    AttestedWrongSlot { expected: u8, attested: String },
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
