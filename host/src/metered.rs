//! A transport that counts what crosses it: APDUs, bytes each way, and the
//! INS of every command, for benchmarks and for tests of round trips.

use crate::error::Result;
use crate::transport::{Capabilities, Transport};

/// What a [`Metered`] transport has carried so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meter {
    /// INS of every C-APDU, in order.
    pub ins: Vec<u8>,
    /// Bytes of every C-APDU, headers included.
    pub bytes_sent: usize,
    /// Bytes of every R-APDU, SW1 SW2 included.
    pub bytes_received: usize,
}

impl Meter {
    /// How many C-APDUs went out (GET RESPONSE and chained parts count each).
    pub fn apdus(&self) -> usize {
        self.ins.len()
    }
    /// Sends through `inner`, counting.
    fn carry(&mut self, inner: &mut dyn Transport, apdu: &[u8]) -> Result<Vec<u8>> {
        self.ins.push(apdu.get(1).copied().unwrap_or(0));
        self.bytes_sent += apdu.len();
        let r = inner.transmit(apdu)?;
        self.bytes_received += r.len();
        Ok(r)
    }
}

/// A transport that counts the APDUs and bytes it carries to `T`.
pub struct Metered<T> {
    inner: T,
    /// What was carried so far.
    pub meter: Meter,
}

impl<T: Transport> Metered<T> {
    /// Counts what goes through `inner`, from zero.
    pub fn new(inner: T) -> Self {
        Metered { inner, meter: Meter::default() }
    }
    /// The transport underneath.
    pub fn inner(&self) -> &T {
        &self.inner
    }
    /// The transport underneath, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }
    /// What was carried since the last call, and a fresh count.
    pub fn take(&mut self) -> Meter {
        std::mem::take(&mut self.meter)
    }
}

impl<T: Transport> Transport for Metered<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.meter.carry(&mut self.inner, apdu)
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        // Inside the inner transport's session, the same meter keeps counting.
        let Metered { inner, meter } = self;
        inner.exclusive(&mut |t| {
            let mut counting = Metered { inner: t, meter: std::mem::take(meter) };
            let r = f(&mut counting);
            *meter = counting.meter;
            r
        })
    }
}
