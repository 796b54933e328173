//! The poll schedule shared by the ICMD busy bit and the tools-HCR go bit, and the process-wide
//! poll-time multiplier (`set_increase_poll_time`, flint `--low_cpu`).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The poll-time multiplier. Its storage is the C global `int increase_poll_time` (upstream
/// exports it as data, and tools may write it directly); `AtomicI32` has `int`'s size,
/// alignment and representation. Written by `set_increase_poll_time` (src/ffi/helpers); 0
/// keeps the schedule, n stretches every sleep n+1 times (clamped to 0..=100).
#[export_name = "increase_poll_time"]
pub static INCREASE_POLL_TIME: AtomicI32 = AtomicI32::new(0);

/// Sleep before poll number `i` (0-based): spin, then 10 µs, 100 µs, 1 ms (the ICMD busy bit
/// and the tools HCR go bit alike).
pub(crate) fn delay(i: u32) -> Option<Duration> {
    match i {
        0..=7 => None,
        8..=39 => Some(Duration::from_micros(10)),
        40..=99 => Some(Duration::from_micros(100)),
        _ => Some(Duration::from_millis(1)),
    }
}

/// Sleep before poll number `i` ([`delay`], stretched by [`INCREASE_POLL_TIME`]).
pub(crate) fn sleep_before(i: u32) {
    if let Some(d) = delay(i) {
        let k = INCREASE_POLL_TIME.load(Ordering::Relaxed).clamp(0, 100) as u32;
        std::thread::sleep(d * (1 + k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_adaptive_and_bounded() {
        assert_eq!(delay(0), None);
        assert_eq!(delay(10), Some(Duration::from_micros(10)));
        assert_eq!(delay(50), Some(Duration::from_micros(100)));
        assert_eq!(delay(5000), Some(Duration::from_millis(1)));
    }
}
