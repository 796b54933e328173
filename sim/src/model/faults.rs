//! Fault knobs in force and the state they need (when they were set, access base).

use std::time::{Duration, Instant};

use super::Errno;
use crate::config::Faults;

/// Ticket and pid the fault "other owner" of the VSEC semaphore shows.
pub const FAULT_SEM_TICKET: u32 = 0xdead;
pub const FAULT_SEM_PID: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    pub faults: Faults,
    /// When the knobs were set (device creation or `set_faults`).
    pub since: Instant,
    /// Value of the access counter when the knobs were set: `eio_after` / `vanish_after`
    /// count accesses from there.
    pub access_base: u64,
    /// Someone wrote 0 to the VSEC semaphore while the fault owner held it: released.
    pub sem_released: bool,
}

impl FaultState {
    pub fn new(faults: Faults, access_base: u64) -> FaultState {
        FaultState {
            faults,
            since: Instant::now(),
            access_base,
            sem_released: false,
        }
    }

    /// Whether the fault owner holds the VSEC semaphore right now.
    pub fn sem_held(&self) -> bool {
        if self.sem_released {
            return false;
        }
        let f = &self.faults;
        f.semaphore_held_forever
            || (f.semaphore_held_ms > 0
                && self.since.elapsed() < Duration::from_millis(f.semaphore_held_ms))
    }

    /// Decide the fate of access number `n` (1-based, global counter).
    pub fn gate(&self, n: u64) -> Result<(), Errno> {
        let rel = n.saturating_sub(self.access_base);
        let f = &self.faults;
        if f.vanish_after > 0 && rel >= f.vanish_after {
            return Err(libc::ENODEV);
        }
        if f.eio_after > 0 && rel >= f.eio_after {
            return Err(libc::EIO);
        }
        Ok(())
    }

    pub fn delay(&self) -> Option<Duration> {
        (self.faults.delay_us > 0).then(|| Duration::from_micros(self.faults.delay_us))
    }

    pub fn space_disabled(&self, space: u32) -> bool {
        self.faults.unsupported_spaces.contains(&space)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_counts_from_base() {
        let st = FaultState::new(
            Faults {
                eio_after: 3,
                ..Faults::default()
            },
            10,
        );
        assert_eq!(st.gate(11), Ok(()));
        assert_eq!(st.gate(12), Ok(()));
        assert_eq!(st.gate(13), Err(libc::EIO));
        assert_eq!(st.gate(20), Err(libc::EIO));
        let v = FaultState::new(
            Faults {
                eio_after: 1,
                vanish_after: 2,
                ..Faults::default()
            },
            0,
        );
        assert_eq!(v.gate(1), Err(libc::EIO));
        assert_eq!(v.gate(2), Err(libc::ENODEV), "vanish wins over eio");
    }

    #[test]
    fn semaphore_hold_expires() {
        let mut st = FaultState::new(
            Faults {
                semaphore_held_ms: 30,
                ..Faults::default()
            },
            0,
        );
        assert!(st.sem_held());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!st.sem_held());
        st.faults.semaphore_held_forever = true;
        assert!(st.sem_held());
        st.sem_released = true;
        assert!(!st.sem_held());
    }
}
