//! Small queries and the functions that have no effect on this platform, with the stock
//! library's return values and errno.

use std::os::raw::{c_int, c_uchar};
use std::sync::atomic::Ordering;

use super::abi::{mfile, mtcr_page_info};
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;
use crate::defs::*;

/// `int mget_mdevs_flags(mfile* mf, u_int32_t* devs_flags)`: `*devs_flags = mf->flags`
/// (MDEVS_TAVOR_CR for PCI opens). 0, or 1 with errno EINVAL for NULL arguments.
///
/// # Safety
/// `mf` NULL or a live mfile; `devs_flags` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mget_mdevs_flags(mf: *mut mfile, devs_flags: *mut u32) -> c_int {
    call("mget_mdevs_flags", 1, || {
        if mf.is_null() || devs_flags.is_null() {
            return Err(fail(1, libc::EINVAL, "NULL argument"));
        }
        // SAFETY: caller contract.
        unsafe { devs_flags.write_unaligned((*mf).flags) };
        Ok(0)
    })
}

/// `int mget_mdevs_type(mfile* mf, u_int32_t* mtype)`: `*mtype = mf->tp` (MST_PCICONF or
/// MST_PCI). 0, or 1 with errno EINVAL for NULL arguments.
///
/// # Safety
/// `mf` NULL or a live mfile; `mtype` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mget_mdevs_type(mf: *mut mfile, mtype: *mut u32) -> c_int {
    call("mget_mdevs_type", 1, || {
        if mf.is_null() || mtype.is_null() {
            return Err(fail(1, libc::EINVAL, "NULL argument"));
        }
        // SAFETY: caller contract.
        unsafe { mtype.write_unaligned((*mf).tp) };
        Ok(0)
    })
}

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

/// `int msw_reset(mfile* mf)`: software reset exists only in-band: -1 with errno EPERM.
#[no_mangle]
pub extern "C" fn msw_reset(mf: *mut mfile) -> c_int {
    let _ = mf;
    call("msw_reset", -1, || {
        Err(fail(-1, libc::EPERM, "software reset needs in-band access"))
    })
}

/// `int mhca_reset(mfile* mf)`: not supported: -1 with errno ENOTSUP.
#[no_mangle]
pub extern "C" fn mhca_reset(mf: *mut mfile) -> c_int {
    let _ = mf;
    call("mhca_reset", -1, || {
        Err(fail(-1, libc::ENOTSUP, "HCA reset is not supported"))
    })
}

/// `int get_dma_pages(mfile* mf, struct mtcr_page_info* page_info, int page_amount)`: on a
/// kernel-driver path, allocate a page-aligned locked buffer of `page_amount` pages, have the
/// driver pin it, and fill `page_info` (count, buffer address, per page the bus and virtual
/// address). The buffer stays with the mfile (`user_page_list`) until `release_dma_pages`.
/// 0 on success; -1 with errno: EINVAL for bad arguments (at most
/// 8 pages, the size of `struct mtcr_page_info`), EBUSY when pages are already held, ENOTTY on
/// the sysfs paths (no driver), the driver's errno otherwise.
///
/// # Safety
/// `mf` NULL or a live mfile; `page_info` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn get_dma_pages(
    mf: *mut mfile,
    page_info: *mut mtcr_page_info,
    page_amount: c_int,
) -> c_int {
    call("get_dma_pages", -1, || {
        if mf.is_null()
            || page_info.is_null()
            || !(1..=MAX_PAGES_SIZE as c_int).contains(&page_amount)
        {
            return Err(fail(-1, libc::EINVAL, "bad arguments"));
        }
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        let d = c.active();
        // SAFETY: caller contract.
        if !unsafe { (*mf).user_page_list.page_list }.is_null() {
            return Err(fail(
                -1,
                libc::EBUSY,
                "DMA pages already held: release them first",
            ));
        }
        let pages = page_amount as usize;
        let ps = crate::access::driver::page_size() as usize;
        let len = pages * ps;
        let mut buf: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: out-pointer to a local; alignment is a power of two.
        if unsafe { libc::posix_memalign(&mut buf, ps, len) } != 0 || buf.is_null() {
            return Err(fail(-1, libc::ENOMEM, "no memory for the DMA buffer"));
        }
        // SAFETY: buf is a fresh allocation of len bytes.
        unsafe {
            std::ptr::write_bytes(buf.cast::<u8>(), 0, len);
            libc::mlock(buf, len);
        }
        let addr = buf as u64;
        match d.get_dma_pages(addr, pages) {
            Ok(dma) => {
                let mut info = mtcr_page_info {
                    page_amount: pages as u32,
                    page_pointer_start: addr as _,
                    ..Default::default()
                };
                for (i, a) in dma.iter().enumerate() {
                    info.page_addresses_array[i].dma_address = *a;
                    info.page_addresses_array[i].virtual_address = addr + (i * ps) as u64;
                }
                // SAFETY: caller contract (writable); mf is live.
                unsafe {
                    page_info.write_unaligned(info);
                    (*mf).user_page_list.page_list = buf.cast();
                    (*mf).user_page_list.page_amount = page_amount;
                }
                Ok(0)
            }
            Err(e) => {
                // SAFETY: our allocation, not shared.
                unsafe {
                    libc::munlock(buf, len);
                    libc::free(buf);
                }
                Err(fail_with(-1, &e))
            }
        }
    })
}

/// `int release_dma_pages(mfile* mf, int page_amount)`: unpin the pages of `get_dma_pages`
/// and free the buffer. 0; -1 with errno EINVAL (NULL, bad count), ENOTTY without a driver.
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn release_dma_pages(mf: *mut mfile, page_amount: c_int) -> c_int {
    call("release_dma_pages", -1, || {
        if mf.is_null() || !(1..=MAX_PAGES_SIZE as c_int).contains(&page_amount) {
            return Err(fail(-1, libc::EINVAL, "bad arguments"));
        }
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        let d = c.active();
        d.release_dma_pages(page_amount as usize)
            .map_err(|e| fail_with(-1, &e))?;
        // SAFETY: mf is live.
        let held = unsafe { (*mf).user_page_list };
        if !held.page_list.is_null() {
            let len = held.page_amount as usize * crate::access::driver::page_size() as usize;
            // SAFETY: the buffer get_dma_pages allocated and recorded.
            unsafe {
                libc::munlock(held.page_list.cast(), len);
                libc::free(held.page_list.cast());
                (*mf).user_page_list.page_list = std::ptr::null_mut();
                (*mf).user_page_list.page_amount = 0;
            }
        }
        Ok(0)
    })
}

/// `int hot_reset(mfile* mf, int in_parallel, int domain_1, int bus_1, int device_1,
/// int function_1, int domain_2, int bus_2, int device_2, int function_2)`: the driver's
/// PCICONF_HOT_RESET on the node in use (the second function only when `in_parallel`): the
/// ioctl's result (0, or 1 when a parallel reset failed), -1 with errno on failure (ENOTTY on
/// a sysfs config open, EBADF on a `resource0` mapping: what the stock library's ioctl on
/// `mf->fd` gets there; EINVAL for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn hot_reset(
    mf: *mut mfile,
    in_parallel: c_int,
    domain_1: c_int,
    bus_1: c_int,
    device_1: c_int,
    function_1: c_int,
    domain_2: c_int,
    bus_2: c_int,
    device_2: c_int,
    function_2: c_int,
) -> c_int {
    call("hot_reset", -1, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        let dev = c.active();
        dev.hot_reset(
            in_parallel != 0,
            [domain_1, bus_1, device_1, function_1],
            [domain_2, bus_2, device_2, function_2],
        )
        .map_err(|e| fail_with(-1, &e))
    })
}

/// `int is_remote_dev(mfile* mf)`: `mf->is_remote` (0 for every open of this library; 0 for
/// NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn is_remote_dev(mf: *mut mfile) -> c_int {
    call("is_remote_dev", 0, || {
        if mf.is_null() {
            return Err(fail(0, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { (*mf).is_remote })
    })
}

/// `bool is_gpu_device(u_int16_t hw_dev_id)`: whether the hardware id is an NVIDIA GPU
/// (GB100 0x2900, GR100 0x3000).
#[no_mangle]
pub extern "C" fn is_gpu_device(hw_dev_id: u16) -> bool {
    call("is_gpu_device", false, || {
        Ok(matches!(hw_dev_id, 0x2900 | 0x3000))
    })
}

/// `unsigned char mset_i2c_secondary(mfile* mf, unsigned char new_i2c_secondary)`: store the
/// I2C secondary address, return the previous one (0xff for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mset_i2c_secondary(mf: *mut mfile, new_i2c_secondary: c_uchar) -> c_uchar {
    call("mset_i2c_secondary", 0xff, || {
        if mf.is_null() {
            return Err(fail(0xff, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { std::mem::replace(&mut (*mf).i2c_secondary, new_i2c_secondary) })
    })
}

/// `unsigned char mget_i2c_secondary(mfile* mf)`: the I2C secondary address (0xff for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mget_i2c_secondary(mf: *mut mfile) -> c_uchar {
    call("mget_i2c_secondary", 0xff, || {
        if mf.is_null() {
            return Err(fail(0xff, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { (*mf).i2c_secondary })
    })
}

/// `int space_to_cap_offset(int space)`: the `vsec_cap_mask` bit of an address space (0 for
/// spaces without their own bit, AS_RECOVERY included).
#[no_mangle]
pub extern "C" fn space_to_cap_offset(space: c_int) -> c_int {
    call("space_to_cap_offset", 0, || {
        Ok(crate::defs::space_to_cap_offset(space as u32) as c_int)
    })
}

/// `int is_pcie_switch_device(mfile* mf)`: 1 if the function is the PCIe switch (bridge) of a
/// ConnectX-6 Dx/7/8/9 (PCI ids 0x1976, 0x1979, 0x197d, 0x197e), else 0.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn is_pcie_switch_device(mf: *mut mfile) -> c_int {
    call("is_pcie_switch_device", 0, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, 0) }?;
        Ok(c_int::from(c.active().is_pcie_switch()))
    })
}

/// Hardware ids that can be in the "ZombieFish" recovery state.
const ZOMBIEFISH_IDS: &[u32] = &[
    0x218, 0x21e, 0x222, 0x224, 0x228, 0x21c, 0x25b, 0x278, 0x274,
];

/// `int is_zombiefish_device(mfile* mf)`: 1 if the device is in "ZombieFish" recovery: on the
/// config-space gateway the recovery space dword 0 has both "initializing" (bit 0) and
/// "in recovery" (bit 1) set (bit 2 goes to `mf->vsc_recovery_space_flash_control_vld`); on
/// the memory path (Quantum-3, NVLink6 switch) crspace 0x152080 low 16 bits read 0xffa6.
/// Only for the hardware ids that support it (whole dword at 0xf0014 compared, as stock; it is
/// also stored in `mf->device_hw_id`). 0 otherwise or on any read failure.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn is_zombiefish_device(mf: *mut mfile) -> c_int {
    call("is_zombiefish_device", 0, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, 0) }?;
        let d = c.active();
        let dev = d;
        let hw = dev
            .read4_in(AS_CR_SPACE, HW_ID_ADDR)
            .or_else(|_| dev.read4(HW_ID_ADDR))
            .map_err(|e| fail_with(0, &e))?;
        // SAFETY: caller contract.
        unsafe { (*mf).device_hw_id = hw };
        if !ZOMBIEFISH_IDS.contains(&hw) {
            return Ok(0);
        }
        let zombie = if dev.is_memory() {
            if hw == 0x25b || hw == 0x278 {
                dev.read4(0x152080).map_err(|e| fail_with(0, &e))? & 0xffff
                    == AUTHENTICATION_FAILURE
            } else {
                false
            }
        } else if dev.functional_vsec() {
            let v = dev.read4_in(AS_RECOVERY, 0).map_err(|e| fail_with(0, &e))?;
            // SAFETY: caller contract.
            unsafe { (*mf).vsc_recovery_space_flash_control_vld = ((v >> 2) & 1) as c_int };
            v & 3 == 3
        } else {
            false
        };
        // SAFETY: caller contract.
        unsafe { (*mf).is_zombiefish = c_int::from(zombie) };
        Ok(c_int::from(zombie))
    })
}
