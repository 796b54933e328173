//! The choice among access paths, and the fallback, in one place.

/// An access path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// PCI config space through sysfs/procfs: VSEC gateway, or the old address/data window.
    SysfsConfig,
    /// Memory-mapped crspace through sysfs `resource0`.
    SysfsMemory,
}
