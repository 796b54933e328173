//! ICMD and access registers at the C boundary: `icmd_open`, `icmd_close`,
//! `icmd_send_command`, `icmd_send_command_int`, `icmd_clear_semaphore`, `maccess_reg`
//! (ICMD, or the tools HCR on ConnectX-3: `crate::proto::reg_access`), `mget_max_reg_size`,
//! `supports_reg_access_gmp` (`return_by_reg_status` is in `errstr`). All return
//! MError codes (`ME_OK` = 0); a failure also sets errno (EIO, EINVAL for bad arguments)
//! and the last-error text.

use std::os::raw::{c_int, c_void};
use std::slice;

use super::abi::mfile;
use super::boundary::{call, fail, Outcome};
use super::handle::{ctx, UlCtx};
use crate::defs::*;
use crate::error::MError;
use crate::proto::{Icmd, Registers};

/// Run `f` on the device register access runs on ([`crate::Device::reg_device`]).
fn on_regs<T>(c: &UlCtx, f: impl FnOnce(&crate::Device) -> T) -> T {
    f(c.active().reg_device())
}

fn merr(e: MError) -> super::boundary::Failure<c_int> {
    fail(e.code, e.errno.unwrap_or(libc::EIO), e.to_string())
}

/// Record the ICMD interface parameters in the public `mf->icmd` fields.
///
/// # Safety
/// `mf` points to a live mfile.
unsafe fn note_icmd(mf: *mut mfile, max: u32, syndrome: Option<c_int>) {
    // SAFETY: caller contract.
    let p = unsafe { &mut (*mf).icmd };
    p.icmd_opened = 1;
    p.ctrl_addr = crate::proto::icmd::ICMD_CTRL_ADDR as c_int;
    p.cmd_addr = crate::proto::icmd::ICMD_MAILBOX_ADDR as c_int;
    p.max_cmd_size = max;
    p.syndrome_addr = crate::proto::icmd::ICMD_SYNDROME_ADDR as c_int;
    p.icmd_ready = 1;
    if let Some(s) = syndrome {
        p.syndrome = s;
    }
}

/// `int icmd_open(mfile* mf)`: ME_OK when the device has an ICMD interface (VSEC gateway
/// with the ICMD and semaphore spaces, not livefish), else ME_ICMD_NOT_SUPPORTED.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn icmd_open(mf: *mut mfile) -> c_int {
    call("icmd_open", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        let max = c.active().icmd_open().map_err(merr)?;
        // SAFETY: ctx checked mf.
        unsafe { note_icmd(mf, max, None) };
        Ok(ME_OK)
    })
}

/// `void icmd_close(mfile* mf)`: forget the ICMD state (the semaphore is never kept).
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn icmd_close(mf: *mut mfile) {
    call("icmd_close", (), || {
        // SAFETY: caller contract.
        if unsafe { ctx(mf, ()) }.is_ok() {
            // SAFETY: ctx checked mf.
            unsafe { (*mf).icmd = Default::default() };
        }
        Ok(())
    })
}

/// Common body of the send functions; `semaphore` false: the caller holds the ICMD
/// semaphore (`icmd_send_command_enhanced`).
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(w, r)` bytes if that fits the
/// ICMD mailbox (larger sizes are refused without touching `data`).
pub(crate) unsafe fn send(
    mf: *mut mfile,
    opcode: c_int,
    data: *mut c_void,
    w: c_int,
    r: c_int,
    skip_write: c_int,
    semaphore: bool,
) -> Outcome<c_int> {
    // SAFETY: caller contract.
    let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
    if data.is_null() || w < 0 || r < 0 || !(0..=0xffff).contains(&opcode) {
        return Err(fail(ME_BAD_PARAMS, libc::EINVAL, "bad ICMD arguments"));
    }
    let d = c.active();
    // As upstream: open the interface, then refuse sizes beyond the mailbox before the
    // caller's buffer is touched (it may be smaller than an oversized count claims).
    let max = d.icmd_open().map_err(merr)?;
    // SAFETY: ctx checked mf.
    unsafe { note_icmd(mf, max, None) };
    if w as u32 > max || r as u32 > max {
        return Err(fail(
            ME_ICMD_SIZE_EXCEEDS_LIMIT,
            libc::EINVAL,
            format!(
                "ICMD command of {} bytes exceeds the mailbox ({max})",
                w.max(r)
            ),
        ));
    }
    let len = w.max(r) as usize;
    // SAFETY: caller contract: data valid for len bytes (len <= the mailbox size).
    let buf = unsafe { slice::from_raw_parts_mut(data as *mut u8, len) };
    // Work on a dword-padded copy; the caller's buffer only receives the answer.
    let mut tmp = buf.to_vec();
    tmp.resize(len.div_ceil(4) * 4, 0);
    let res = d.icmd_send_ext(
        opcode as u16,
        &mut tmp,
        (w as usize).div_ceil(4) * 4,
        (r as usize).div_ceil(4) * 4,
        skip_write != 0,
        semaphore,
    );
    // A firmware status carries the syndrome the core read; other outcomes clear it.
    let syndrome = match &res {
        Err(e) if (ME_ICMD_INVALID_OPCODE..=ME_ICMD_WRITE_PROTECT).contains(&e.code) => {
            e.syndrome.map(|v| v as c_int)
        }
        _ => Some(0),
    };
    if let Ok(max) = d.icmd_open() {
        // SAFETY: ctx checked mf.
        unsafe { note_icmd(mf, max, syndrome) };
    }
    res.map_err(merr)?;
    buf[..r as usize].copy_from_slice(&tmp[..r as usize]);
    Ok(ME_OK)
}

/// `int icmd_send_command(mfile* mf, int opcode, void* data, int data_size, int skip_write)`:
/// run ICMD `opcode` with `data` (big-endian byte stream) as the mailbox, in and out.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `data_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn icmd_send_command(
    mf: *mut mfile,
    opcode: c_int,
    data: *mut c_void,
    data_size: c_int,
    skip_write: c_int,
) -> c_int {
    call("icmd_send_command", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        unsafe { send(mf, opcode, data, data_size, data_size, skip_write, true) }
    })
}

/// `int icmd_send_command_int(mfile* mf, int opcode, void* data, int w_size, int r_size,
/// int skip_write)`: as `icmd_send_command` with separate write and read sizes.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(w_size, r_size)` bytes.
#[no_mangle]
pub unsafe extern "C" fn icmd_send_command_int(
    mf: *mut mfile,
    opcode: c_int,
    data: *mut c_void,
    w_size: c_int,
    r_size: c_int,
    skip_write: c_int,
) -> c_int {
    call("icmd_send_command_int", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        unsafe { send(mf, opcode, data, w_size, r_size, skip_write, true) }
    })
}

/// `int icmd_clear_semaphore(mfile* mf)`: release the ICMD semaphore. MError.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn icmd_clear_semaphore(mf: *mut mfile) -> c_int {
    call("icmd_clear_semaphore", ME_ICMD_STATUS_CR_FAIL, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        c.active().icmd_clear_semaphore().map_err(merr)?;
        // SAFETY: ctx checked mf.
        unsafe { (*mf).icmd.took_semaphore = 0 };
        Ok(ME_OK)
    })
}

/// `int maccess_reg(mfile* mf, u_int16_t reg_id, maccess_reg_method_t reg_method,
/// void* reg_data, u_int32_t reg_size, u_int32_t r_size_reg, u_int32_t w_size_reg,
/// int* reg_status)`: access register `reg_id` over ICMD (over the tools HCR on a ConnectX-3
/// family device). ME_OK, ME_BAD_PARAMS, ME_REG_ACCESS_SIZE_EXCEEDS_LIMIT, an ME_ICMD_* (or
/// ME_CMDIF_*, ME_SEM_LOCKED, ME_CR_ERROR) code, or the MError of a non-zero firmware
/// status (also stored raw in `*reg_status`). A device with neither interface gives the
/// reason ICMD does not open (ME_ICMD_NOT_SUPPORTED) for registers within
/// `mget_max_reg_size`, as upstream.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `reg_data` NULL or valid for `max(reg_size, r_size_reg,
/// w_size_reg)` bytes; `reg_status` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn maccess_reg(
    mf: *mut mfile,
    reg_id: u16,
    reg_method: maccess_reg_method_t,
    reg_data: *mut c_void,
    reg_size: u32,
    r_size_reg: u32,
    w_size_reg: u32,
    reg_status: *mut c_int,
) -> c_int {
    call("maccess_reg", ME_ERROR, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        if reg_data.is_null() || reg_status.is_null() || reg_size == 0 {
            return Err(fail(
                ME_BAD_PARAMS,
                libc::EINVAL,
                "bad maccess_reg arguments",
            ));
        }
        let biggest = reg_size.max(r_size_reg).max(w_size_reg);
        let r = on_regs(c, |d| {
            let path = d.reg_path_for(biggest as usize).map_err(merr)?;
            // SAFETY: caller contract: reg_data valid for `biggest` bytes.
            let buf = unsafe { slice::from_raw_parts_mut(reg_data as *mut u8, biggest as usize) };
            d.access_reg_via(
                path,
                reg_id,
                reg_method,
                buf,
                r_size_reg as usize,
                w_size_reg as usize,
            )
            .map_err(merr)
        })?;
        // SAFETY: caller contract.
        unsafe { reg_status.write_unaligned(r.reg_status) };
        if r.syndrome != 0 || c.active().fwctl_node().is_some() {
            // SAFETY: ctx checked mf.
            unsafe { (*mf).icmd.syndrome = r.syndrome as c_int };
        }
        match r.status {
            0 => Ok(ME_OK),
            // A firmware status is no system error: errno is left as it was (as stock; tools
            // print strerror(errno) beside the status text).
            _ => Err(fail(
                r.code,
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
                format!(
                    "register {reg_id:#x}: firmware status {:#x} (syndrome {:#x})",
                    r.status, r.syndrome
                ),
            )),
        }
    })
}

/// `int mget_max_reg_size(mfile* mf, maccess_reg_method_t reg_method)`: 812 with ICMD (and,
/// as upstream, on any other device that is not ConnectX-3 family), 268 over the tools HCR,
/// 0 on a ConnectX-3 without one (and for NULL).
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn mget_max_reg_size(
    mf: *mut mfile,
    reg_method: maccess_reg_method_t,
) -> c_int {
    let _ = reg_method;
    call("mget_max_reg_size", 0, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, 0) }?;
        let max = on_regs(c, |d| d.reg_size_limit(d.reg_path()));
        if max > 0 {
            // SAFETY: ctx checked mf.
            unsafe {
                let m = &mut (*mf).acc_reg_params.max_reg_size;
                if let Some(slot) = m.get_mut(reg_method as usize) {
                    *slot = max as _;
                }
            }
        }
        Ok(max as c_int)
    })
}

/// `int supports_reg_access_gmp(mfile* mf, maccess_reg_method_t reg_method)`: GMP MADs are
/// in-band only: 0 for every PCI device.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn supports_reg_access_gmp(
    mf: *mut mfile,
    reg_method: maccess_reg_method_t,
) -> c_int {
    let _ = (mf, reg_method);
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn null_and_foreign_mfiles() {
        let mut b = [0u8; 16];
        let mut st = -1;
        let n: *mut mfile = null_mut();
        // A zeroed mfile, as tools build for firmware contexts (ul_ctx NULL).
        // SAFETY: mfile is a C struct of integers, arrays and raw pointers: all-zero is valid.
        let mut foreign: mfile = unsafe { std::mem::zeroed() };
        for mf in [n, &mut foreign as *mut mfile] {
            // SAFETY: NULL and an mfile with NULL ul_ctx are accepted by every function.
            unsafe {
                assert_eq!(icmd_open(mf), ME_BAD_PARAMS);
                icmd_close(mf);
                let p = b.as_mut_ptr() as *mut c_void;
                assert_eq!(icmd_send_command(mf, 0x9001, p, 16, 0), ME_BAD_PARAMS);
                assert_eq!(
                    icmd_send_command_int(mf, 0x9001, p, 16, 16, 0),
                    ME_BAD_PARAMS
                );
                assert_eq!(icmd_clear_semaphore(mf), ME_BAD_PARAMS);
                assert_eq!(
                    maccess_reg(mf, 0x9020, 1, p, 16, 16, 16, &mut st),
                    ME_BAD_PARAMS
                );
                assert_eq!(mget_max_reg_size(mf, 1), 0);
                assert_eq!(supports_reg_access_gmp(mf, 1), 0);
            }
        }
        assert_eq!(st, -1, "status untouched on argument errors");
    }
}
