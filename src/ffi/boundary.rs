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
