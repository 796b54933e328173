//! The C boundary: every exported function runs its body through [`call`], which
//! * installs the logger on first use ([`super::logger`]);
//! * catches panics: a panic never unwinds into C. The function then returns its documented
//!   failure value with `errno = EIO` and the last-error text "internal error in <fn>: <panic>";
//! * on failure sets `errno` and the per-thread last-error message (`mtcr_last_error`).
//!   On success neither is touched (C convention).

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failed call: what to return to C, the errno to set and why.
pub(crate) struct Failure<T> {
    pub ret: T,
    pub errno: i32,
    pub msg: String,
}

/// A failure with an explicit errno.
pub(crate) fn fail<T>(ret: T, errno: i32, msg: impl Into<String>) -> Failure<T> {
    Failure {
        ret,
        errno,
        msg: msg.into(),
    }
}

/// A failure from a library error (its errno and text).
pub(crate) fn fail_with<T>(ret: T, err: &Error) -> Failure<T> {
    Failure {
        ret,
        errno: err.errno(),
        msg: err.to_string(),
    }
}

/// A body's result: the value to return, or a failure carrying the value to return.
pub(crate) type Outcome<T, R = T> = std::result::Result<T, Failure<R>>;

/// Set the C `errno` of this thread.
pub(crate) fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// Record `msg` as this thread's last error.
pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

/// Run the body of the exported function `name`.
pub(crate) fn call<T>(name: &str, on_panic: T, body: impl FnOnce() -> Outcome<T>) -> T {
    super::logger::init();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(f)) => {
            log::debug!("{name}: {} (errno {})", f.msg, f.errno);
            set_last_error(&format!("{name}: {}", f.msg));
            set_errno(f.errno);
            f.ret
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            log::error!("{name}: internal error: {what}");
            set_last_error(&format!("internal error in {name}: {what}"));
            set_errno(libc::EIO);
            on_panic
        }
    }
}

/// Run a fast path that reports no errors: `Some(v)` is returned to C as is; `None`, or a
/// panic (contained here), means the call takes its general path through [`call`].
#[inline]
pub(crate) fn fast<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok().flatten()
}

/// Borrow a C string argument; `None` for NULL or non-UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: caller contract.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// `const char* mtcr_last_error(void)`: why the last failing call of this thread failed
/// ("" if none yet). The pointer stays valid until the next failing call on the same thread.
/// An mtcr-rs extension (not in the stock library).
#[no_mangle]
pub extern "C" fn mtcr_last_error() -> *const c_char {
    call("mtcr_last_error", c"".as_ptr(), || {
        Ok(LAST_ERROR.with(|l| l.borrow().as_ptr()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno() -> i32 {
        // SAFETY: reads this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    fn last() -> String {
        // SAFETY: mtcr_last_error returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(mtcr_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panic_is_contained() {
        let r = call("boom", -7, || -> Outcome<i32> { panic!("kaboom") });
        assert_eq!(r, -7);
        assert_eq!(errno(), libc::EIO);
        assert!(
            last().contains("internal error in boom: kaboom"),
            "{}",
            last()
        );
    }

    #[test]
    fn failure_sets_errno_and_message() {
        set_errno(0);
        let r = call("f", 0, || Err(fail(-1, libc::ENODEV, "gone")));
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::ENODEV);
        assert_eq!(last(), "f: gone");
        // success leaves both alone
        let r = call("g", 0, || Ok(4));
        assert_eq!(r, 4);
        assert_eq!(errno(), libc::ENODEV);
        assert_eq!(last(), "f: gone");
    }

    #[test]
    fn library_errors_map_to_their_errno() {
        let e = Error::Busy("semaphore".into());
        let r = call("h", 0, || Err(fail_with(-1, &e)));
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EBUSY);
        assert!(last().starts_with("h: device busy"), "{}", last());
    }

    #[test]
    fn c_str_handles_null_and_bad_utf8() {
        // SAFETY: NULL and valid C strings.
        unsafe {
            assert_eq!(c_str(std::ptr::null()), None);
            assert_eq!(c_str(c"05:00.0".as_ptr()), Some("05:00.0"));
            assert_eq!(c_str(c"\xff\xfe".as_ptr()), None);
        }
    }

    #[test]
    fn interior_nul_in_message() {
        set_last_error("a\0b");
        assert_eq!(last(), "a b");
    }
}
