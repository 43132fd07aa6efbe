//! The simulated card's Answer To Reset, and what a host reads from an ATR.
//!
//! T=1, with historical bytes in compact-TLV (ISO 7816-4 8.1.1): the card
//! capabilities (selection by DF name; command chaining, extended Lc/Le,
//! logical channels numbered by the card or the host, 8 or more of them:
//! ISO 7816-4 (2013) 12.1.1, third software function table)
//! and issuer data `subsim` plus a kind byte, `00` for the simulator. The ATR
//! avoids the `3B 8x 80 01` shape OpenSC takes for contactless cards, and a
//! T0 with high nibble F (TA1, TB1, TC1 and TD1 all present), which ykman 5
//! takes for a YubiKey on USB and then refuses without a YubiKey product id:
//! TB1 and TC1 would only repeat their defaults (no VPP, no extra guard
//! time), so they are left out.

/// Third software function table: b8 chaining, b7 extended Lc/Le, b5-b4
/// channel numbers assigned by the card (b5) and by the host (b4), b3-b1
/// `111` eight or more channels (the card has [`crate::apdu::CHANNELS`]).
const CAPABILITIES_3: u8 = 0x80 | 0x40 | 0x10 | 0x08 | 0x07;

/// Historical bytes: category 80, card capabilities `73 80 00 DF`, issuer data `57 "subsim" 00`.
const HISTORICAL: [u8; 13] = [0x80, 0x73, 0x80, 0x00, CAPABILITIES_3, 0x57, b's', b'u', b'b', b's', b'i', b'm', 0x00];

/// The simulator's ATR (with the check byte TCK computed at compile time).
pub const SIMULATOR_ATR: [u8; 21] = {
    // TS, T0 (TA1 TD1 present, 13 historical bytes), TA1 (Fi/Di 1/3),
    // TD1 (TD2 follows, T=1), TD2 (TA3 TB3 follow, T=1), TA3 IFSC 254, TB3.
    let head = [0x3B, 0x9D, 0x13, 0x81, 0x31, 0xFE, 0x15];
    let mut atr = [0u8; 21];
    let mut i = 0;
    while i < head.len() {
        atr[i] = head[i];
        i += 1;
    }
    while i < head.len() + HISTORICAL.len() {
        atr[i] = HISTORICAL[i - head.len()];
        i += 1;
    }
    let mut tck = 0;
    let mut j = 1;
    while j < 20 {
        tck ^= atr[j];
        j += 1;
    }
    atr[20] = tck;
    atr
};

/// What the ATR's historical bytes tell a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtrInfo {
    /// The card accepts extended Lc and Le fields.
    pub extended_length: bool,
    /// The card accepts command chaining.
    pub chaining: bool,
    /// Logical channels the card says it has, basic channel included: 1
    /// when it says none (or has no card capabilities), 8 for "8 or more".
    pub logical_channels: u8,
    /// MANAGE CHANNEL may let the card pick the number (P2 `00`).
    pub card_assigns_channels: bool,
    /// MANAGE CHANNEL may name the number (P2 1-19).
    pub host_assigns_channels: bool,
    /// This is the subsim simulator (not a real card).
    pub simulator: bool,
}

impl Default for AtrInfo {
    /// A card that tells nothing: no chaining, no extended length, the basic channel only.
    fn default() -> Self {
        AtrInfo {
            extended_length: false,
            chaining: false,
            logical_channels: 1,
            card_assigns_channels: false,
            host_assigns_channels: false,
            simulator: false,
        }
    }
}

/// The historical bytes of an ATR, found by walking its interface bytes.
fn historical(atr: &[u8]) -> Option<&[u8]> {
    let k = (*atr.get(1)? & 0x0F) as usize;
    let mut y = atr[1] >> 4;
    let mut i = 2;
    loop {
        i += (y & 0x0F).count_ones() as usize - (y & 0x08 != 0) as usize;
        if y & 0x08 == 0 {
            break;
        }
        y = *atr.get(i)? >> 4;
        i += 1;
    }
    atr.get(i..i + k)
}

/// Reads the card capabilities and issuer data from an ATR.
pub fn parse(atr: &[u8]) -> AtrInfo {
    let mut info = AtrInfo::default();
    let Some([0x80, rest @ ..]) = historical(atr) else {
        return info;
    };
    let mut items = rest;
    while let [head, tail @ ..] = items {
        let (tag, len) = (head >> 4, (head & 0x0F) as usize);
        let Some(value) = tail.get(..len) else { break };
        match (tag, value) {
            (7, [_, _, caps, ..]) => {
                info.chaining = caps & 0x80 != 0;
                info.extended_length = caps & 0x40 != 0;
                info.card_assigns_channels = caps & 0x10 != 0;
                info.host_assigns_channels = caps & 0x08 != 0;
                if info.card_assigns_channels || info.host_assigns_channels {
                    info.logical_channels = (caps & 0x07) + 1;
                }
            }
            (5, [b's', b'u', b'b', b's', b'i', b'm', 0x00]) => info.simulator = true,
            _ => {}
        }
        items = &tail[len..];
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_atr_reads_back() {
        let info = parse(&SIMULATOR_ATR);
        let channels = AtrInfo {
            logical_channels: 8,
            card_assigns_channels: true,
            host_assigns_channels: true,
            ..Default::default()
        };
        assert_eq!(info, AtrInfo { extended_length: true, chaining: true, simulator: true, ..channels });
        assert_eq!(SIMULATOR_ATR[1] & 0x0F, HISTORICAL.len() as u8);
        assert_eq!(SIMULATOR_ATR[1..].iter().fold(0, |a, b| a ^ b), 0, "TCK makes the XOR zero");
        assert_ne!(&SIMULATOR_ATR[..4], &[0x3B, 0x8D, 0x80, 0x01], "not OpenSC's contactless shape");
        assert_ne!(SIMULATOR_ATR[1] & 0xF0, 0xF0, "not what ykman 5 takes for a YubiKey on USB");
    }

    #[test]
    fn other_atrs() {
        // A YubiKey 5 NFC ATR: no capabilities, not ours.
        let yk = [
            0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62,
            0x69, 0x4B, 0x65, 0x79, 0x40,
        ];
        let info = parse(&yk);
        assert!(info.extended_length && !info.simulator);
        assert_eq!(info.logical_channels, 1, "a YubiKey tells of no logical channels");
        assert_eq!(parse(&[0x3B, 0x00]), AtrInfo::default());
        assert_eq!(parse(&[]), AtrInfo::default());
        assert_eq!(parse(&[0x3B, 0xF5, 0x11]), AtrInfo::default());
    }
}
