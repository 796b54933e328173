//! The library's error type: every failure carries an errno (what the C API reports) and a
//! human-readable reason (kept per thread for the C caller, see `ffi`).

use std::io;

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on a device file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The caller passed something invalid (bad name, unaligned length, NULL, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The name does not resolve to a device present on this machine.
    #[error("no such device: {0}")]
    NoDevice(String),
    /// The device exists but is not a supported Mellanox/NVIDIA function.
    #[error("unsupported device: {0}")]
    Unsupported(String),
    /// The VSEC semaphore (or another lock) could not be taken in time.
    #[error("device busy: {0}")]
    Busy(String),
    /// The device did not answer in time (gateway flag, ICMD busy bit).
    #[error("timed out: {0}")]
    Timeout(String),
    /// The requested address space is not supported by this device/path.
    #[error("address space {0:#x} not supported")]
    SpaceNotSupported(u32),
    /// Access refused (lockdown, permissions, truncated config space ...).
    #[error("permission denied: {0}")]
    Permission(String),
    /// A block operation stopped part way: `done_bytes` were transferred before `source`.
    #[error("block transfer stopped after {done_bytes} bytes: {source}")]
    Partial {
        done_bytes: usize,
        #[source]
        source: Box<Error>,
    },
    /// The operation is not available on the access path in use.
    #[error("operation not supported: {0}")]
    NotSupported(String),
}

impl Error {
    /// Wrap an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The errno the C API reports for this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::InvalidArgument(_) => libc::EINVAL,
            Error::NoDevice(_) => libc::ENODEV,
            Error::Unsupported(_) => libc::ENOTSUP,
            Error::Busy(_) => libc::EBUSY,
            Error::Timeout(_) => libc::ETIMEDOUT,
            Error::SpaceNotSupported(_) => libc::EINVAL,
            Error::Permission(_) => libc::EPERM,
            Error::Partial { source, .. } => source.errno(),
            Error::NotSupported(_) => libc::EOPNOTSUPP,
        }
    }

    /// Bytes a block operation completed before failing (0 for other errors).
    pub fn done_bytes(&self) -> usize {
        match self {
            Error::Partial { done_bytes, .. } => *done_bytes,
            _ => 0,
        }
    }
}

/// A protocol failure (ICMD, tools HCR, register access) as an MError code (`mtcr_com_defs.h`
/// `ME_*`, what `icmd_send_command` / `maccess_reg` return) with a description of what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MError {
    pub code: i32,
    pub detail: String,
    /// The errno the C layer reports with it (None: EIO).
    pub errno: Option<i32>,
    /// The ICMD syndrome read after a command failed with a firmware status (None: not read).
    pub syndrome: Option<u32>,
}

impl MError {
    pub fn new(code: i32, detail: impl Into<String>) -> MError {
        MError {
            code,
            detail: detail.into(),
            errno: None,
            syndrome: None,
        }
    }

    /// The same error, reported to C callers with `errno` instead of EIO (a system call's
    /// own errno, e.g. EPERM from the kernel's fwctl scope check).
    pub fn with_errno(mut self, errno: i32) -> MError {
        self.errno = Some(errno);
        self
    }
}

impl std::fmt::Display for MError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (MError {:#x})", self.detail, self.code)
    }
}

impl std::error::Error for MError {}
