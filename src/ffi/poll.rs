//! The ICMD / tools-HCR poll-time multiplier: `set_increase_poll_time` (the storage is the
//! core's [`crate::poll::INCREASE_POLL_TIME`]).

use std::os::raw::c_int;
use std::sync::atomic::Ordering;

use super::boundary::call;
use crate::poll::INCREASE_POLL_TIME;

/// `void set_increase_poll_time(int new_value)`: process-wide ICMD poll-time multiplier
/// (flint `--low_cpu`).
#[no_mangle]
pub extern "C" fn set_increase_poll_time(new_value: c_int) {
    call("set_increase_poll_time", (), || {
        INCREASE_POLL_TIME.store(new_value, Ordering::Relaxed);
        Ok(())
    })
}
