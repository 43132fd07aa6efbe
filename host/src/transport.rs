//! The transport trait: how the host reaches a card. Implementations carry
//! raw APDUs; chaining and GET RESPONSE live in [`crate::exchange`], shared by all.

use crate::error::Result;

/// What a card and its reader can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Extended-length APDUs get through (otherwise: command chaining).
    pub extended_length: bool,
}

/// A path to one card.
pub trait Transport {
    /// Sends one C-APDU, returns the R-APDU bytes (data, SW1, SW2).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;
    /// Whether extended APDUs get through; the exchange layer chains otherwise.
    fn capabilities(&self) -> Capabilities;
    /// A name for messages: reader name, or "simulated card".
    fn describe(&self) -> String;
    /// Resets the card (warm reset or power cycle): its transient state is lost.
    fn reset(&mut self) -> Result<()>;
    /// Runs `f` with the card to itself: no other process's command comes in
    /// between (a PC/SC transaction). Nested calls run `f` directly.
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()>;
}

/// Boxes and `&mut` references to a transport are transports too.
macro_rules! forward_transport {
    ($($ty:ty),*) => {$(
        impl<T: Transport + ?Sized> Transport for $ty {
            fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
                (**self).transmit(apdu)
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn describe(&self) -> String {
                (**self).describe()
            }
            fn reset(&mut self) -> Result<()> {
                (**self).reset()
            }
            fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
                (**self).exclusive(f)
            }
        }
    )*};
}

forward_transport!(Box<T>, &mut T);
