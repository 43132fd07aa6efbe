//! What kind of PIV card is in the reader, told by the card itself.
//!
//! Three nested feature sets, each a [`Profile`]:
//! - `piv`: any NIST SP 800-73-4 card (SELECT of the PIV AID answers 9000);
//! - `yubico`: `piv` plus Yubico's management commands (GET VERSION `FD`
//!   answers; GET METADATA `F7` and the rest as far as the card has them);
//! - `subsim`: `piv` plus the sub-SIM's class-80 extensions (GET STATUS
//!   `80 3A` answers with a status the host can decode).
//!
//! Detection only sends commands that change nothing on any card: SELECT,
//! GET VERSION, GET METADATA of the PIN, GET STATUS. A card without an
//! extension answers them `6D00`/`6E00` (or another error), which is the answer.

use std::fmt;
use std::str::FromStr;

use applet_spec::apdu::Command;
use applet_spec::ins;
use applet_spec::reports::Version;
use applet_spec::Sw;

use crate::{Client, Result, Transport};

/// A feature set a card may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// Any SP 800-73-4 PIV card.
    Piv,
    /// Yubico's PIV management commands (version, serial, metadata, reset...).
    Yubico,
    /// The sub-SIM's class-80 extensions (keypad, policy, binding, terminate).
    Subsim,
}

impl Profile {
    /// Every profile, narrowest first.
    pub const ALL: [Profile; 3] = [Profile::Piv, Profile::Yubico, Profile::Subsim];

    /// The name used in reports, `SUBSIM_PROFILE` and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Piv => "piv",
            Profile::Yubico => "yubico",
            Profile::Subsim => "subsim",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown card profile {s:?}: use piv, yubico or subsim"))
    }
}

/// What detection found out about a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProfile {
    /// Answered GET VERSION: the Yubico-compatible commands are there.
    pub yubico: bool,
    /// Answered GET STATUS: the sub-SIM extensions are there.
    pub subsim: bool,
    /// Answered GET METADATA for the PIN (`00 F7 00 80`).
    pub metadata: bool,
    /// The version GET VERSION reported, if it answered with one
    /// (its `oddities` say what a card sent beyond or short of three bytes).
    pub version: Option<Version>,
}

impl CardProfile {
    /// A card with every feature set (what our simulated card is).
    pub fn full() -> CardProfile {
        CardProfile { yubico: true, subsim: true, metadata: true, version: None }
    }

    /// Whether the card has this feature set.
    pub fn has(&self, p: Profile) -> bool {
        match p {
            Profile::Piv => true,
            Profile::Yubico => self.yubico,
            Profile::Subsim => self.subsim,
        }
    }

    /// The widest feature set the card has: the name a report shows.
    pub fn widest(&self) -> Profile {
        *Profile::ALL.iter().rev().find(|p| self.has(**p)).expect("every card is piv")
    }

    /// The same card seen through a narrower profile: features beyond
    /// `limit` are treated as absent (`SUBSIM_PROFILE=piv` on our simulator
    /// runs only what any PIV card must do).
    pub fn narrowed_to(&self, limit: Profile) -> CardProfile {
        CardProfile {
            yubico: self.yubico && limit >= Profile::Yubico,
            subsim: self.subsim && limit >= Profile::Subsim,
            metadata: self.metadata && limit >= Profile::Yubico,
            version: if limit >= Profile::Yubico { self.version.clone() } else { None },
        }
    }
}

impl fmt::Display for CardProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let features: Vec<&str> = Profile::ALL.iter().filter(|p| self.has(**p)).map(|p| p.name()).collect();
        write!(f, "{} ({})", self.widest(), features.join("+"))?;
        if let Some(v) = &self.version {
            write!(f, ", version {v}")?;
        }
        Ok(())
    }
}

impl<T: Transport> Client<T> {
    /// Selects the PIV applet and finds out which feature sets the card has.
    /// Sends nothing that changes the card.
    pub fn detect_profile(&mut self) -> Result<CardProfile> {
        self.select()?;
        let version = self.version().ok();
        // Some cards answer 9000 with no data to commands they only pretend to have.
        let answered =
            |r: Result<applet_spec::apdu::Response>| matches!(r, Ok(r) if r.sw == Sw::OK && !r.data.is_empty());
        let metadata = answered(self.transmit(&Command::new(ins::CLA_ISO, ins::GET_METADATA, 0x00, 0x80).with_ne(256)));
        let subsim = self.status().is_ok();
        Ok(CardProfile { yubico: version.is_some(), subsim, metadata, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_narrowest_first() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        assert!(Profile::Piv < Profile::Yubico && Profile::Yubico < Profile::Subsim);
        assert!("card".parse::<Profile>().is_err());
    }

    #[test]
    fn narrowing_drops_features_beyond_the_limit() {
        let full =
            CardProfile { yubico: true, subsim: true, metadata: true, version: Version::decode(&[5, 7, 0]).ok() };
        assert_eq!(full.widest(), Profile::Subsim);
        let piv = full.narrowed_to(Profile::Piv);
        assert!(!piv.has(Profile::Yubico) && !piv.has(Profile::Subsim) && !piv.metadata);
        assert_eq!(piv.widest(), Profile::Piv);
        let yubico = full.narrowed_to(Profile::Yubico);
        assert!(yubico.has(Profile::Yubico) && !yubico.has(Profile::Subsim));
        // A sub-SIM without the Yubico commands stays a sub-SIM.
        let bare = CardProfile { yubico: false, subsim: true, metadata: false, version: None };
        assert_eq!(bare.widest(), Profile::Subsim);
        assert_eq!(bare.to_string(), "subsim (piv+subsim)");
    }
}
