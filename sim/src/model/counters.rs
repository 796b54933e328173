//! Per-device counters (all monotonic), serialized to JSON by `--stats`.

use std::collections::BTreeMap;

/// Counters kept per device. Field meanings are documented in `sim/README.md` ("Counters").
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct CounterSnapshot {
    /// `config_read` / `config_write` calls (one per pread/pwrite on `config`, any size,
    /// failed ones included).
    pub config_reads: u64,
    pub config_writes: u64,
    /// VPD reads/writes: sysfs `vpd` file calls, driver `vpd_read4`/`vpd_write4` calls and
    /// operations started through the VPD capability in config space.
    pub vpd_reads: u64,
    pub vpd_writes: u64,
    /// ioctls by name ("MST_READ4", "MST_READ", "PCICONF_READ4_BUFFER", ...).
    pub ioctls: BTreeMap<String, u64>,
    pub ioctls_total: u64,
    pub mmaps: u64,
    /// Writes of the VSEC ADDRESS or DATA register by a caller (pid != 0) that did not own
    /// the VSEC semaphore (free, or taken by another pid): an unprotected transaction.
    pub interleaved_transactions: u64,
    /// Completed crspace transactions through config space (VSEC gateway or the
    /// 0x58/0x5c window).
    pub gateway_reads: u64,
    pub gateway_writes: u64,
    /// In-kernel accesses (`cr_read` / `cr_write`, used by the driver models) that completed.
    pub kernel_reads: u64,
    pub kernel_writes: u64,
    /// Accesses that went through the fault gate (what `eio_after` / `vanish_after` count).
    pub accesses: u64,
    /// Accesses refused by a fault (EIO, ENODEV, EPERM, EBUSY, ETIMEDOUT from the knobs).
    pub faults_injected: u64,
    /// Successful VSEC semaphore acquisitions (a ticket written while it was free).
    pub semaphore_acquired: u64,
    /// Reads of the VSEC SEMAPHORE register that found it held by another owner (busy
    /// polling; the owner's own read-back does not count).
    pub semaphore_busy_reads: u64,
    /// Writes of 0 to the VSEC SEMAPHORE register by a caller that did not own it while it
    /// was taken (a dead owner's semaphore recovered, `mclear_pci_semaphore`, or a live
    /// owner robbed: contention tests require 0).
    pub semaphore_freed_by_other: u64,
    /// Device DMA into host memory (pages pinned through a driver, `model::dma`): transfers
    /// read, written, and their bytes (MCDD reads a data page and writes the mailbox).
    pub dma_reads: u64,
    pub dma_writes: u64,
    pub dma_bytes: u64,
}

impl CounterSnapshot {
    pub(crate) fn count_ioctl(&mut self, name: &str) {
        self.ioctls_total += 1;
        if let Some(n) = self.ioctls.get_mut(name) {
            *n += 1;
        } else {
            self.ioctls.insert(name.to_string(), 1);
        }
    }
}
