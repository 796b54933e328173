//! The device model: PCI config space with the VSEC gateway and the old address/data window,
//! crspace (shared with `resource0`), VPD, fault knobs and counters.
//!
//! CONTRACT (written first so the FUSE/namespace runtime and the driver ABIs can be built
//! beside the model): the public items below are what `fs`, `server` and `drivers` call.

use std::sync::Arc;

use crate::config::DeviceConfig;

/// A failure as the kernel would report it to the caller (an errno value, positive).
pub type Errno = i32;

/// Counters kept per device (all monotonic). Serialized to JSON by `--stats`.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CounterSnapshot {
    /// pread calls on `config` (any size) and dwords they covered.
    pub config_reads: u64,
    pub config_writes: u64,
    pub vpd_reads: u64,
    pub vpd_writes: u64,
    /// ioctls by name ("MST_READ4", "MST_READ", "PCICONF_READ4_BUFFER", ...).
    pub ioctls: std::collections::BTreeMap<String, u64>,
    pub ioctls_total: u64,
    pub mmaps: u64,
    /// Gateway transactions (address-register writes) seen while the semaphore was not
    /// held by anyone: another opener interleaved a transaction.
    pub interleaved_transactions: u64,
    pub gateway_reads: u64,
    pub gateway_writes: u64,
}

/// One simulated PCI function. Cheap to share (`Arc`), all methods take `&self`.
pub struct SimDevice {
    _private: (),
}

impl SimDevice {
    /// Build from configuration. `crspace` is the 64 MiB big-endian backing store that
    /// `resource0` maps too.
    pub fn new(_cfg: &DeviceConfig, _crspace: CrStore) -> Result<Arc<SimDevice>, String> {
        todo!("model")
    }
    pub fn bdf(&self) -> &str {
        todo!("model")
    }
    pub fn config(&self) -> &DeviceConfig {
        todo!("model")
    }
    /// Size `config` reports (4096, or 64 with the truncated-config fault).
    pub fn config_size(&self) -> u64 {
        todo!("model")
    }
    /// pread on `config`: any offset/length; returns bytes read.
    pub fn config_read(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        todo!("model")
    }
    /// pwrite on `config`.
    pub fn config_write(&self, _offset: u64, _data: &[u8]) -> Result<usize, Errno> {
        todo!("model")
    }
    /// pread/pwrite on sysfs `vpd`.
    pub fn vpd_file_read(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        todo!("model")
    }
    pub fn vpd_file_write(&self, _offset: u64, _data: &[u8]) -> Result<usize, Errno> {
        todo!("model")
    }
    /// Size of the sysfs `vpd` file.
    pub fn vpd_size(&self) -> u64 {
        todo!("model")
    }
    /// In-"kernel" crspace access used by the driver models (applies faults, counts nothing).
    pub fn cr_read(&self, _space: u32, _addr: u32) -> Result<u32, Errno> {
        todo!("model")
    }
    pub fn cr_write(&self, _space: u32, _addr: u32, _value: u32) -> Result<(), Errno> {
        todo!("model")
    }
    /// Whether an address space is supported (configuration and fault knobs).
    pub fn space_supported(&self, _space: u32) -> bool {
        todo!("model")
    }
    /// Offset of the VSEC in config space (None when the device has none).
    pub fn vsec_offset(&self) -> Option<u32> {
        todo!("model")
    }
    /// Count an ioctl (by name) or an mmap; used by the driver models and the server.
    pub fn count_ioctl(&self, _name: &str) {
        todo!("model")
    }
    pub fn count_mmap(&self) {
        todo!("model")
    }
    pub fn counters(&self) -> CounterSnapshot {
        todo!("model")
    }
}

/// The crspace backing store: a shared mapping of a file (so `resource0` and the model see
/// the same bytes) or, for unit tests, anonymous memory. Dwords are stored big-endian.
pub struct CrStore {
    _private: (),
}
