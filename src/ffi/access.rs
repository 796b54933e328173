//! crspace dwords and blocks of an open `mfile`: `mread4`, `mwrite4`, `mread4_block`,
//! `mwrite4_block`, `mread_buffer`, `mwrite_buffer`, and the hw id (`read_device_id`). Blocks
//! go through [`Device::read_block_chunked`] / [`Device::write_block_chunked`]; here only the
//! C buffer conversions (in place when aligned, byte-stream for the `_buffer` calls).
//!
//! Return conventions are the stock library's (mtcr_api.md §1.1): `mread4`/`mwrite4` give 4,
//! or -1 (config-space access) / 0 (memory-mapped access) on failure. Block functions give
//! `byte_len`; an unaligned length gives -1 on the VSEC gateway and EINVAL (22, positive) on
//! the memory and legacy-window paths; a failure part way gives the bytes done on the VSEC
//! gateway (the dwords done are stored) and -1 elsewhere. errno is set on every failure.
//! Extra argument checks (all errno EINVAL, return -1): NULL mfile or data, negative length,
//! `offset + byte_len` beyond 2^32.

use std::os::raw::{c_int, c_uint};
use std::ptr;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with, fast, Failure, Outcome};
use super::handle::{ctx, direct_window, sync_space};
use crate::device::{Device, ReadVia, WriteVia};
use crate::error::Error;

/// The fast path of the block calls on `resource0` ([`direct_window`]): a valid, non-empty,
/// aligned request that lies inside the mapping is done here; anything else (`None`) takes
/// the general path, which does it or reports why not.
///
/// # Safety
/// `mf` is NULL or a live mfile; `data` NULL or valid for `byte_len` bytes.
#[inline]
unsafe fn block_fast(
    mf: *mut mfile,
    offset: c_uint,
    data: *mut u32,
    byte_len: c_int,
    write: bool,
) -> Option<c_int> {
    if byte_len <= 0 || byte_len % 4 != 0 || data.is_null() || !data.is_aligned() {
        return None;
    }
    fast(|| {
        // SAFETY: caller contract.
        let w = unsafe { direct_window(mf) }?;
        let n = byte_len as usize / 4;
        let done = if write {
            // SAFETY: data is aligned and readable for n dwords (caller contract).
            w.store_block(offset, unsafe { std::slice::from_raw_parts(data, n) })
        } else {
            // SAFETY: data is aligned and writable for n dwords (caller contract).
            w.load_block(offset, unsafe { std::slice::from_raw_parts_mut(data, n) })
        };
        done.then_some(byte_len)
    })
}

/// Run `f` on the active device of `mf`, after syncing the address space.
///
/// # Safety
/// `mf` is NULL or a live mfile.
unsafe fn with_dev<T: Copy>(
    mf: *mut mfile,
    ret: T,
    f: impl FnOnce(&Device) -> Outcome<T>,
) -> Outcome<T> {
    // SAFETY: caller contract.
    let c = unsafe { ctx(mf, ret) }?;
    let d = c.active();
    // SAFETY: caller contract.
    unsafe { sync_space(mf, d, ret) }?;
    f(d)
}

/// Failure value of mread4/mwrite4 for the path in use.
fn rw_fail(dev: &Device) -> c_int {
    if dev.is_memory() {
        0
    } else {
        -1
    }
}

/// Check a block request; `Ok(0)` means nothing to do, else the number of dwords.
fn block_args(
    dev: &Device,
    offset: c_uint,
    byte_len: c_int,
    data_null: bool,
) -> Outcome<usize, c_int> {
    if byte_len < 0 {
        return Err(fail(
            -1,
            libc::EINVAL,
            format!("negative length {byte_len}"),
        ));
    }
    if byte_len % 4 != 0 {
        let rc = if dev.is_vsec_gateway() {
            -1
        } else {
            libc::EINVAL
        };
        return Err(fail(
            rc,
            libc::EINVAL,
            format!("length {byte_len} is not a multiple of 4"),
        ));
    }
    if byte_len == 0 {
        return Ok(0);
    }
    if data_null {
        return Err(fail(-1, libc::EINVAL, "NULL data buffer"));
    }
    // The whole range (no wrap past 4 GiB, within the path's limit), before the device or the
    // buffer is touched.
    dev.check_range(dev.address_space(), offset, byte_len as u64)
        .map_err(|e| fail_with(-1, &e))?;
    Ok(byte_len as usize / 4)
}

/// Map a block error after `done` bytes: on the VSEC gateway a transfer stopped part way
/// returns the bytes done, anything else -1.
fn block_fail(dev: &Device, done: usize, e: &Error) -> Failure<c_int> {
    let partial = matches!(e, Error::Partial { .. }) || done > 0;
    let rc = if partial && dev.is_vsec_gateway() {
        done as c_int
    } else {
        -1
    };
    fail_with(rc, e)
}

/// `int mread4(mfile* mf, unsigned int offset, u_int32_t* value)`: read one crspace dword
/// (host order) in the current address space. 4 on success.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `value` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn mread4(mf: *mut mfile, offset: c_uint, value: *mut u32) -> c_int {
    if !value.is_null() {
        let r = fast(|| {
            // SAFETY: caller contract.
            let v = unsafe { direct_window(mf) }?.get(offset)?;
            // SAFETY: value is non-NULL and writable for 4 bytes (caller contract).
            unsafe { ptr::write_unaligned(value, v) };
            Some(4)
        });
        if let Some(r) = r {
            return r;
        }
    }
    call("mread4", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                if value.is_null() {
                    return Err(fail(-1, libc::EINVAL, "NULL value pointer"));
                }
                let v = dev.read4(offset).map_err(|e| fail_with(rw_fail(dev), &e))?;
                ptr::write_unaligned(value, v);
                Ok(4)
            })
        }
    })
}

/// `int mwrite4(mfile* mf, unsigned int offset, u_int32_t value)`: write one crspace dword.
/// 4 on success.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn mwrite4(mf: *mut mfile, offset: c_uint, value: u32) -> c_int {
    let r = fast(|| {
        // SAFETY: caller contract (mf NULL or from mopen*).
        unsafe { direct_window(mf) }?
            .set(offset, value)
            .then_some(4)
    });
    if let Some(r) = r {
        return r;
    }
    call("mwrite4", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                dev.write4(offset, value)
                    .map_err(|e| fail_with(rw_fail(dev), &e))?;
                Ok(4)
            })
        }
    })
}

/// `int mread4_block(mfile* mf, unsigned int offset, u_int32_t* data, int byte_len)`: read
/// `byte_len/4` consecutive dwords (host order). `byte_len` on success (see module doc).
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or writable for `byte_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mread4_block(
    mf: *mut mfile,
    offset: c_uint,
    data: *mut u32,
    byte_len: c_int,
) -> c_int {
    // SAFETY: caller contract.
    if let Some(r) = unsafe { block_fast(mf, offset, data, byte_len, false) } {
        return r;
    }
    call("mread4_block", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                let n = block_args(dev, offset, byte_len, data.is_null())?;
                if n == 0 {
                    return Ok(0);
                }
                let r = if data.is_aligned() {
                    // SAFETY: data is aligned and writable for n dwords (caller contract).
                    let out = std::slice::from_raw_parts_mut(data, n);
                    dev.read_block_chunked(offset, n, out)
                } else {
                    let out = data as *mut u8;
                    dev.read_block_chunked(
                        offset,
                        n,
                        &mut ReadVia::new(|first, dw: &[u32]| {
                            // SAFETY: first + dw.len() <= n; data writable for n*4 bytes (any
                            // alignment).
                            ptr::copy_nonoverlapping(
                                dw.as_ptr() as *const u8,
                                out.add(first * 4),
                                dw.len() * 4,
                            );
                        }),
                    )
                };
                r.map_err(|(done, e)| block_fail(dev, done, &e))?;
                Ok(byte_len)
            })
        }
    })
}

/// `int mwrite4_block(mfile* mf, unsigned int offset, u_int32_t* data, int byte_len)`: write
/// `byte_len/4` consecutive dwords (host order). `byte_len` on success (see module doc).
///
/// # Safety
/// `mf` NULL or from `mopen*`; `data` NULL or readable for `byte_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mwrite4_block(
    mf: *mut mfile,
    offset: c_uint,
    data: *mut u32,
    byte_len: c_int,
) -> c_int {
    // SAFETY: caller contract.
    if let Some(r) = unsafe { block_fast(mf, offset, data, byte_len, true) } {
        return r;
    }
    call("mwrite4_block", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                let n = block_args(dev, offset, byte_len, data.is_null())?;
                if n == 0 {
                    return Ok(0);
                }
                let r = if data.is_aligned() {
                    // SAFETY: data is aligned and readable for n dwords (caller contract).
                    let mut src = std::slice::from_raw_parts(data as *const u32, n);
                    dev.write_block_chunked(offset, n, &mut src)
                } else {
                    let src = data as *const u8;
                    dev.write_block_chunked(
                        offset,
                        n,
                        &mut WriteVia::new(|first, dw: &mut [u32]| {
                            // SAFETY: first + dw.len() <= n; data readable for n*4 bytes (any
                            // alignment).
                            ptr::copy_nonoverlapping(
                                src.add(first * 4),
                                dw.as_mut_ptr() as *mut u8,
                                dw.len() * 4,
                            );
                        }),
                    )
                };
                r.map_err(|(done, e)| block_fail(dev, done, &e))?;
                Ok(byte_len)
            })
        }
    })
}

/// `int mread_buffer(mfile* mf, unsigned int offset, u_int8_t* data, int byte_len)`: as
/// `mread4_block`, but `data` receives crspace as a big-endian byte stream.
///
/// # Safety
/// As [`mread4_block`].
#[no_mangle]
pub unsafe extern "C" fn mread_buffer(
    mf: *mut mfile,
    offset: c_uint,
    data: *mut u8,
    byte_len: c_int,
) -> c_int {
    call("mread_buffer", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                let n = block_args(dev, offset, byte_len, data.is_null())?;
                if n == 0 {
                    return Ok(0);
                }
                let mut to = ReadVia::new(|first, dw: &[u32]| {
                    for (i, v) in dw.iter().enumerate() {
                        // SAFETY: first + i < n, data writable for n*4 bytes.
                        ptr::copy_nonoverlapping(
                            v.to_be_bytes().as_ptr(),
                            data.add((first + i) * 4),
                            4,
                        );
                    }
                });
                dev.read_block_chunked(offset, n, &mut to)
                    .map_err(|(done, e)| block_fail(dev, done, &e))?;
                Ok(byte_len)
            })
        }
    })
}

/// `int mwrite_buffer(mfile* mf, unsigned int offset, u_int8_t* data, int byte_len)`: as
/// `mwrite4_block`, `data` being a big-endian byte stream. Unlike the stock library the
/// caller's buffer is NOT byte-swapped in place (it is left unchanged).
///
/// # Safety
/// As [`mwrite4_block`].
#[no_mangle]
pub unsafe extern "C" fn mwrite_buffer(
    mf: *mut mfile,
    offset: c_uint,
    data: *mut u8,
    byte_len: c_int,
) -> c_int {
    call("mwrite_buffer", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                let n = block_args(dev, offset, byte_len, data.is_null())?;
                if n == 0 {
                    return Ok(0);
                }
                // SAFETY: data readable for n*4 bytes.
                let bytes = std::slice::from_raw_parts(data as *const u8, n * 4);
                let mut from = WriteVia::new(|first, dw: &mut [u32]| {
                    for (i, d) in dw.iter_mut().enumerate() {
                        let c = &bytes[(first + i) * 4..(first + i) * 4 + 4];
                        *d = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    }
                });
                dev.write_block_chunked(offset, n, &mut from)
                    .map_err(|(done, e)| block_fail(dev, done, &e))?;
                Ok(byte_len)
            })
        }
    })
}

/// `int read_device_id(mfile* mf, u_int32_t* id)`: the hardware id (crspace 0xf0014 bits
/// 15:0) into `*id`; also stores `mf->hw_dev_id` and `mf->rev_id` (bits 19:16). 4 on success,
/// -1 on failure.
///
/// # Safety
/// `mf` NULL or from `mopen*`; `id` NULL or writable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn read_device_id(mf: *mut mfile, id: *mut u32) -> c_int {
    call("read_device_id", -1, || {
        // SAFETY: caller contract.
        unsafe {
            with_dev(mf, -1, |dev| {
                if id.is_null() {
                    return Err(fail(-1, libc::EINVAL, "NULL id pointer"));
                }
                let (hw, rev) = dev.hw_id().map_err(|e| fail_with(-1, &e))?;
                (*mf).hw_dev_id = hw;
                (*mf).rev_id = rev;
                ptr::write_unaligned(id, u32::from(hw));
                Ok(4)
            })
        }
    })
}
