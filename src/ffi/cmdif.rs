//! The tools HCR ("cmdif", ConnectX-3 family) at the C boundary: `tools_cmdif_is_supported`,
//! `tools_cmdif_is_cr_mbox_supported`, `tools_cmdif_send_inline_cmd(_int)`,
//! `tools_cmdif_send_mbox_command(_int)`, `tools_cmdif_unlock_semaphore`,
//! `tools_cmdif_reg_access`, and `maccess_reg_cmdif` (a stub in the stock library too).
//!
//! All return MError codes (`ME_OK` = 0); a failure also sets errno (EINVAL for bad
//! arguments, EIO otherwise) and the last-error text. Where the stock library crashes on bad
//! input (NULL `in_param`, negative sizes, NULL mfile in `tools_cmdif_is_cr_mbox_supported`)
//! these return ME_BAD_PARAMS. On a memory-mapped open every command runs over the
//! config-space companion, as stock switches to it (`mpci_change`) around each command.

use std::os::raw::{c_int, c_void};
use std::slice;

use super::abi::mfile;
use super::boundary::{call, fail, Failure, Outcome};
use super::handle::{ctx, UlCtx};
use crate::defs::*;
use crate::device::Device;
use crate::error::MError;
use crate::proto::tools_hcr::{CmdifResult, CrMbox, HcrCommand, TOOLS_HCR_MAX_MBOX};
use crate::proto::ToolsHcr;

fn merr(e: MError) -> Failure<c_int> {
    let errno = if e.code == ME_BAD_PARAMS {
        libc::EINVAL
    } else {
        libc::EIO
    };
    fail(e.code, errno, e.to_string())
}

fn bad_params(msg: &str) -> Failure<c_int> {
    fail(ME_BAD_PARAMS, libc::EINVAL, msg)
}

/// Run `f` where stock runs the tools HCR: the config-space side of `c`'s device
/// ([`Device::config_side`]).
fn on_config<T>(c: &UlCtx, f: impl FnOnce(&Device) -> T) -> T {
    f(c.active().config_side())
}

fn done(r: CmdifResult<()>) -> Outcome<c_int> {
    r.map_err(merr)?;
    Ok(ME_OK)
}

/// `int tools_cmdif_is_supported(mfile* mf)`: ME_OK when the tools HCR executes a mailbox
/// write; else ME_SEM_LOCKED, ME_CMDIF_* or ME_CR_ERROR.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_is_supported(mf: *mut mfile) -> c_int {
    call("tools_cmdif_is_supported", ME_ERROR, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        done(on_config(c, |d| d.tools_hcr_is_supported()))
    })
}

/// `int tools_cmdif_is_cr_mbox_supported(mfile* mf)`: ME_OK when the mailbox is mapped into
/// crspace (0xe0000), ME_CMDIF_NOT_SUPP when not; ME_SEM_LOCKED / ME_CR_ERROR.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_is_cr_mbox_supported(mf: *mut mfile) -> c_int {
    call("tools_cmdif_is_cr_mbox_supported", ME_ERROR, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        done(on_config(c, |d| d.tools_hcr_is_cr_mbox_supported()))
    })
}

/// `int tools_cmdif_unlock_semaphore(mfile* mf)`: free the tools semaphore. ME_OK or
/// ME_CR_ERROR.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_unlock_semaphore(mf: *mut mfile) -> c_int {
    call("tools_cmdif_unlock_semaphore", ME_ERROR, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        done(on_config(c, |d| d.tools_hcr_unlock_semaphore()))
    })
}

/// Common body of the inline commands: `out` receives out_param whenever the command ran
/// (0 when it did not complete), as stock.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
unsafe fn inline(
    mf: *mut mfile,
    in_param: u64,
    out: &mut dyn FnMut(u64),
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
) -> Outcome<c_int> {
    // SAFETY: caller contract.
    let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
    let cmd = HcrCommand {
        in_param,
        input_modifier,
        opcode,
        opcode_modifier,
        event: false,
    };
    let (r, o) = on_config(c, |d| d.tools_hcr_inline(&cmd));
    if let Some(v) = o {
        out(v);
    }
    done(r)
}

/// `int tools_cmdif_send_inline_cmd(mfile* mf, u_int64_t in_param, u_int64_t* out_param,
/// u_int32_t input_modifier, u_int16_t opcode, u_int8_t opcode_modifier)`: one HCR command
/// under the tools semaphore; `*out_param` (may be NULL) gets the answer. ME_OK, or
/// ME_SEM_LOCKED, ME_CMDIF_BUSY / TOUT / BAD_OP / ... (the status), ME_CR_ERROR.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `out_param` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_send_inline_cmd(
    mf: *mut mfile,
    in_param: u64,
    out_param: *mut u64,
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
) -> c_int {
    call("tools_cmdif_send_inline_cmd", ME_ERROR, || {
        let mut out = |v: u64| {
            if !out_param.is_null() {
                // SAFETY: caller contract.
                unsafe { out_param.write_unaligned(v) };
            }
        };
        // SAFETY: caller contract.
        unsafe {
            inline(
                mf,
                in_param,
                &mut out,
                input_modifier,
                opcode,
                opcode_modifier,
            )
        }
    })
}

/// `int tools_cmdif_send_inline_cmd_int(mfile* mf, u_int32_t in_param[2],
/// u_int32_t out_param[2], u_int32_t input_modifier, u_int16_t opcode,
/// u_int8_t opcode_modifier)`: as `tools_cmdif_send_inline_cmd` with the parameters as two
/// dwords each, low dword first. `in_param` NULL: ME_BAD_PARAMS; `out_param` may be NULL.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `in_param` NULL or 2 readable dwords; `out_param` NULL or 2
/// writable dwords.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_send_inline_cmd_int(
    mf: *mut mfile,
    in_param: *mut u32,
    out_param: *mut u32,
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
) -> c_int {
    call("tools_cmdif_send_inline_cmd_int", ME_ERROR, || {
        // SAFETY: caller contract.
        unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        if in_param.is_null() {
            return Err(bad_params("NULL in_param"));
        }
        // SAFETY: caller contract: two readable dwords.
        let (lo, hi) = unsafe { (in_param.read_unaligned(), in_param.add(1).read_unaligned()) };
        let mut out = |v: u64| {
            if !out_param.is_null() {
                // SAFETY: caller contract: two writable dwords.
                unsafe {
                    out_param.write_unaligned(v as u32);
                    out_param.add(1).write_unaligned((v >> 32) as u32);
                }
            }
        };
        // SAFETY: caller contract.
        unsafe {
            inline(
                mf,
                u64::from(hi) << 32 | u64::from(lo),
                &mut out,
                input_modifier,
                opcode,
                opcode_modifier,
            )
        }
    })
}

/// Common body of the mailbox commands.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(w, r)` bytes.
#[allow(clippy::too_many_arguments)]
unsafe fn mbox(
    mf: *mut mfile,
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
    offs: c_int,
    data: *mut c_void,
    w: c_int,
    r: c_int,
    skip_write: c_int,
    use_cr_mbox: c_int,
) -> Outcome<c_int> {
    // SAFETY: caller contract.
    let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
    let max = TOOLS_HCR_MAX_MBOX as c_int;
    if data.is_null() || offs < 0 || w < 0 || r < 0 || offs > max || w > max || r > max {
        return Err(bad_params(&format!(
            "tools HCR mailbox: data {data:?}, offset {offs}, write {w}, read {r} bytes \
             (at most {max})"
        )));
    }
    let len = w.max(r) as usize;
    // SAFETY: caller contract: data valid for len bytes.
    let buf = unsafe { slice::from_raw_parts_mut(data as *mut u8, len) };
    // Work on a copy; the caller's buffer only receives the answer.
    let mut tmp = buf.to_vec();
    let res = on_config(c, |d| {
        d.tools_hcr_mbox_command(
            input_modifier,
            opcode,
            opcode_modifier,
            offs as usize,
            &mut tmp,
            w as usize,
            r as usize,
            skip_write != 0,
            use_cr_mbox == 1,
        )
    });
    res.map_err(merr)?;
    buf[..r as usize].copy_from_slice(&tmp[..r as usize]);
    Ok(ME_OK)
}

/// `int tools_cmdif_send_mbox_command(mfile* mf, u_int32_t input_modifier,
/// u_int16_t opcode, u_int8_t opcode_modifier, int data_offs_in_mbox, void* data,
/// int data_size, int skip_write)`: write `data` into the mailbox at `data_offs_in_mbox`
/// (a multiple of 8; the rest of the mailbox zero) unless `skip_write`, run the command, read
/// `data_size` bytes back into `data`. ME_BAD_PARAMS when the data does not fit the 288-byte
/// mailbox.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `data_size` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tools_cmdif_send_mbox_command(
    mf: *mut mfile,
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
    data_offs_in_mbox: c_int,
    data: *mut c_void,
    data_size: c_int,
    skip_write: c_int,
) -> c_int {
    call("tools_cmdif_send_mbox_command", ME_ERROR, || {
        // SAFETY: caller contract.
        unsafe {
            mbox(
                mf,
                input_modifier,
                opcode,
                opcode_modifier,
                data_offs_in_mbox,
                data,
                data_size,
                data_size,
                skip_write,
                0,
            )
        }
    })
}

/// `int tools_cmdif_send_mbox_command_int(mfile* mf, u_int32_t input_modifier,
/// u_int16_t opcode, u_int8_t opcode_modifier, int data_offs_in_mbox, void* data,
/// int write_data_size, int read_data_size, int skip_write, int use_cr_mbox)`: as
/// `tools_cmdif_send_mbox_command` with separate sizes; `use_cr_mbox` = 1 moves the mailbox
/// through crspace (0xe0000) instead of MBOX_WRITE / MBOX_READ commands.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(write_data_size,
/// read_data_size)` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tools_cmdif_send_mbox_command_int(
    mf: *mut mfile,
    input_modifier: u32,
    opcode: u16,
    opcode_modifier: u8,
    data_offs_in_mbox: c_int,
    data: *mut c_void,
    write_data_size: c_int,
    read_data_size: c_int,
    skip_write: c_int,
    use_cr_mbox: c_int,
) -> c_int {
    call("tools_cmdif_send_mbox_command_int", ME_ERROR, || {
        // SAFETY: caller contract.
        unsafe {
            mbox(
                mf,
                input_modifier,
                opcode,
                opcode_modifier,
                data_offs_in_mbox,
                data,
                write_data_size,
                read_data_size,
                skip_write,
                use_cr_mbox,
            )
        }
    })
}

/// `int tools_cmdif_reg_access(mfile* mf, void* data, int write_data_size,
/// int read_data_size)`: ACCESS_REGISTER (HCR opcode 0x3b) with `data` (operation TLV,
/// register TLV, register) as the mailbox. The first call probes the CR mailbox and records
/// the answer in `mf->hcr_params` (1 yes, -1 no), as stock.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or valid for `max(write_data_size,
/// read_data_size)` bytes.
#[no_mangle]
pub unsafe extern "C" fn tools_cmdif_reg_access(
    mf: *mut mfile,
    data: *mut c_void,
    write_data_size: c_int,
    read_data_size: c_int,
) -> c_int {
    call("tools_cmdif_reg_access", ME_ERROR, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ME_BAD_PARAMS) }?;
        let (w, r) = (write_data_size, read_data_size);
        let max = TOOLS_HCR_MAX_MBOX as c_int;
        if data.is_null() || !(0..=max).contains(&w) || !(0..=max).contains(&r) {
            return Err(bad_params(&format!(
                "tools_cmdif_reg_access: data {data:?}, write {w}, read {r} bytes (at most {max})"
            )));
        }
        let len = w.max(r) as usize;
        // SAFETY: caller contract: data valid for len bytes.
        let buf = unsafe { slice::from_raw_parts_mut(data as *mut u8, len) };
        let mut tmp = buf.to_vec();
        // SAFETY: ctx checked mf.
        let mut cache = CrMbox::from_c(unsafe { (*mf).hcr_params.supp_cr_mbox });
        let res = on_config(c, |d| {
            d.tools_hcr_reg_access(&mut tmp, w as usize, r as usize, &mut cache)
        });
        // SAFETY: ctx checked mf.
        unsafe { (*mf).hcr_params.supp_cr_mbox = cache.to_c() };
        res.map_err(merr)?;
        buf[..r as usize].copy_from_slice(&tmp[..r as usize]);
        Ok(ME_OK)
    })
}

/// `int maccess_reg_cmdif(mfile* mf, reg_access_t reg_access, void* reg_data,
/// u_int32_t cmd_type)`: not implemented in the stock library either (it warns on stderr and
/// returns ME_NOT_IMPLEMENTED); kept for link compatibility with the same result. Register
/// access goes through `maccess_reg`, which uses the tools HCR on ConnectX-3.
///
/// # Safety
/// Any arguments (none is dereferenced).
#[no_mangle]
pub unsafe extern "C" fn maccess_reg_cmdif(
    mf: *mut mfile,
    reg_access: reg_access_t,
    reg_data: *mut c_void,
    cmd_type: u32,
) -> c_int {
    let _ = (mf, reg_access, reg_data, cmd_type);
    call("maccess_reg_cmdif", ME_NOT_IMPLEMENTED, || {
        log::warn!("maccess_reg_cmdif() is not implemented and has no effect (as in mstflint)");
        Err(fail(
            ME_NOT_IMPLEMENTED,
            libc::ENOSYS,
            "maccess_reg_cmdif is not implemented (as in mstflint); use maccess_reg",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    #[test]
    fn null_and_foreign_mfiles() {
        let mut b = [0u8; 16];
        let mut io = [1u32, 2];
        let mut out = 7u64;
        let n: *mut mfile = null_mut();
        // A zeroed mfile, as tools build for firmware contexts (ul_ctx NULL).
        // SAFETY: mfile is a C struct of integers, arrays and raw pointers: all-zero is valid.
        let mut foreign: mfile = unsafe { std::mem::zeroed() };
        for mf in [n, &mut foreign as *mut mfile] {
            let p = b.as_mut_ptr() as *mut c_void;
            // SAFETY: NULL and an mfile with NULL ul_ctx are accepted by every function.
            unsafe {
                assert_eq!(tools_cmdif_is_supported(mf), ME_BAD_PARAMS);
                assert_eq!(tools_cmdif_is_cr_mbox_supported(mf), ME_BAD_PARAMS);
                assert_eq!(tools_cmdif_unlock_semaphore(mf), ME_BAD_PARAMS);
                assert_eq!(
                    tools_cmdif_send_inline_cmd(mf, 1, &mut out, 0, 0x31, 0),
                    ME_BAD_PARAMS
                );
                let (i, o) = (io.as_mut_ptr(), io.as_mut_ptr());
                assert_eq!(
                    tools_cmdif_send_inline_cmd_int(mf, i, o, 0, 0x31, 0),
                    ME_BAD_PARAMS
                );
                assert_eq!(
                    tools_cmdif_send_mbox_command(mf, 0, 0x3b, 0, 0, p, 16, 0),
                    ME_BAD_PARAMS
                );
                assert_eq!(
                    tools_cmdif_send_mbox_command_int(mf, 0, 0x3b, 0, 0, p, 16, 16, 0, 0),
                    ME_BAD_PARAMS
                );
                assert_eq!(tools_cmdif_reg_access(mf, p, 16, 16), ME_BAD_PARAMS);
                assert_eq!(maccess_reg_cmdif(mf, RA_MFPA, p, 0), ME_NOT_IMPLEMENTED);
            }
        }
        assert_eq!(out, 7, "out_param untouched on argument errors");
        assert_eq!(io, [1, 2]);
    }
}
