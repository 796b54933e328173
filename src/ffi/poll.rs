//! The ICMD / tools-HCR poll-time multiplier: `set_increase_poll_time`.

use std::os::raw::c_int;
use std::sync::atomic::Ordering;

use super::boundary::call;
use super::helpers::mtcr_icmd_cif::INCREASE_POLL_TIME;

/// The value last given to `set_increase_poll_time` (read by ICMD polling).
pub fn increase_poll_time() -> i32 {
    INCREASE_POLL_TIME.load(Ordering::Relaxed)
}

/// `void set_increase_poll_time(int new_value)`: process-wide ICMD poll-time multiplier
/// (flint `--low_cpu`).
#[no_mangle]
pub extern "C" fn set_increase_poll_time(new_value: c_int) {
    call("set_increase_poll_time", (), || {
        INCREASE_POLL_TIME.store(new_value, Ordering::Relaxed);
        Ok(())
    })
}
