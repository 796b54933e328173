//! A small stderr logger for the `log` facade, installed on the first call into the C API when
//! `MTCR_LOG=error|warn|info|debug|trace` is set, or `MFT_DEBUG` (any value: debug level, as
//! the stock library's DBG_PRINTF). Rust users of the crate install their own logger instead.

use std::io::Write;
use std::sync::Once;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            let _ = writeln!(
                std::io::stderr().lock(),
                "mtcr[{}] {}: {}",
                r.level().as_str().to_ascii_lowercase(),
                r.target(),
                r.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;
static INIT: Once = Once::new();

/// The level asked for by the environment, if any.
pub fn level_from_env(mtcr_log: Option<&str>, mft_debug: bool) -> Option<LevelFilter> {
    match mtcr_log.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if s == "error" => Some(LevelFilter::Error),
        Some(s) if s == "warn" => Some(LevelFilter::Warn),
        Some(s) if s == "info" => Some(LevelFilter::Info),
        Some(s) if s == "debug" => Some(LevelFilter::Debug),
        Some(s) if s == "trace" => Some(LevelFilter::Trace),
        Some(s) if s == "off" => None,
        _ if mft_debug => Some(LevelFilter::Debug),
        _ => None,
    }
}

/// Install the logger once, if the environment asks for it (no-op if another logger exists).
pub fn init() {
    INIT.call_once(|| {
        let lvl = level_from_env(
            std::env::var("MTCR_LOG").ok().as_deref(),
            std::env::var_os("MFT_DEBUG").is_some(),
        );
        if let Some(lvl) = lvl {
            if log::set_logger(&LOGGER).is_ok() {
                log::set_max_level(lvl);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(
            level_from_env(Some("debug"), false),
            Some(LevelFilter::Debug)
        );
        assert_eq!(
            level_from_env(Some("TRACE"), false),
            Some(LevelFilter::Trace)
        );
        assert_eq!(level_from_env(Some("warn"), true), Some(LevelFilter::Warn));
        assert_eq!(level_from_env(None, true), Some(LevelFilter::Debug));
        assert_eq!(level_from_env(Some("bogus"), false), None);
        assert_eq!(level_from_env(None, false), None);
        assert_eq!(level_from_env(Some("off"), true), None);
    }
}
