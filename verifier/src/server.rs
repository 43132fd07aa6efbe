//! The server's two checks, end to end: a login (challenge, certificate,
//! signature) and a transaction confirmation (statement, certificate,
//! signature). Each returns the first reason it finds to refuse.

use std::time::{Duration, SystemTime};

use crate::chain::{Verified, Verifier};
use crate::challenge::{Challenge, ChallengeIssuer};
use crate::error::{Refusal, Role};
use crate::session::SessionId;
use crate::signature::{self, RsaPadding};
use crate::statement::{Ledger, Statement, Transfer};

/// How long a login challenge may wait for its answer.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(120);
/// How long a transfer may wait for its confirmation.
pub const STATEMENT_LIFETIME: Duration = Duration::from_secs(300);

/// The bank's side: whom it trusts, the challenges and statements it issued.
pub struct Server {
    /// The trust anchors, intermediates and CRLs certificates are checked against.
    pub trust: Verifier,
    /// The login challenges issued and not yet spent.
    pub challenges: ChallengeIssuer,
    /// The transfer statements issued and not yet confirmed.
    pub ledger: Ledger,
    /// The RSA padding signatures must use ([`RsaPadding::Pkcs1v15`] unless set).
    pub padding: RsaPadding,
}

impl Server {
    /// A server trusting `trust`, with challenges valid [`CHALLENGE_LIFETIME`] and statements [`STATEMENT_LIFETIME`].
    pub fn new(trust: Verifier) -> Server {
        Server {
            trust,
            challenges: ChallengeIssuer::new(CHALLENGE_LIFETIME),
            ledger: Ledger::new(STATEMENT_LIFETIME),
            padding: RsaPadding::Pkcs1v15,
        }
    }

    /// A fresh login challenge for `session`: the card signs its bytes with 9A.
    pub fn challenge(&mut self, session: &SessionId, now: SystemTime) -> Challenge {
        self.challenges.issue(session, now)
    }

    /// A login: the challenge is spent first (whatever follows), then the
    /// certificate is checked for [`Role::Login`], then the signature.
    pub fn login(
        &mut self,
        session: &SessionId,
        challenge: &[u8],
        signature: &[u8],
        certificate: &[u8],
        now: SystemTime,
    ) -> Result<Verified, Refusal> {
        self.challenges.consume(session, challenge, now)?;
        check_signed(&self.trust, Role::Login, certificate, challenge, signature, self.padding, now)
    }

    /// A statement of `transfer` for `session` to sign with 9C; [`Server::confirm`] checks the answer.
    pub fn issue_transfer(&mut self, session: &SessionId, transfer: Transfer, now: SystemTime) -> Statement {
        self.ledger.issue(session, transfer, now)
    }

    /// A confirmation: the statement must be one this server issued to this
    /// session, unaltered, unanswered and in time (it is spent first,
    /// whatever follows); then the certificate is checked for
    /// [`Role::Transaction`], then the signature over the signed bytes.
    pub fn confirm(
        &mut self,
        session: &SessionId,
        signed: &[u8],
        signature: &[u8],
        certificate: &[u8],
        now: SystemTime,
    ) -> Result<(Statement, Verified), Refusal> {
        let issued = self.ledger.answer(session, signed, now)?;
        debug_assert_eq!(issued.encode(), signed, "canonical and equal in every field");
        let who = check_signed(&self.trust, Role::Transaction, certificate, signed, signature, self.padding, now)?;
        Ok((issued, who))
    }
}

/// Stateless: the certificate is good for `role` at `now` and `signature`
/// is its key's signature of `message`.
pub fn check_signed(
    trust: &Verifier,
    role: Role,
    certificate: &[u8],
    message: &[u8],
    signature: &[u8],
    padding: RsaPadding,
    now: SystemTime,
) -> Result<Verified, Refusal> {
    let who = trust.verify(certificate, role, now)?;
    if !signature::verify(&who.public_key, message, signature, padding) {
        return Err(Refusal::BadSignature { subject: who.subject });
    }
    Ok(who)
}
