//! DMA pages for the firmware: `get_dma_pages`, `release_dma_pages` over
//! [`Device::alloc_dma_pages`] / [`Device::free_dma_pages`] (which allocate, pin and keep the
//! buffer); here only the `struct mtcr_page_info` and `mfile.user_page_list` conversions.
//!
//! [`Device::alloc_dma_pages`]: crate::device::Device::alloc_dma_pages
//! [`Device::free_dma_pages`]: crate::device::Device::free_dma_pages

use std::os::raw::c_int;

use super::abi::{mfile, mtcr_page_info};
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;
use crate::defs::MAX_PAGES_SIZE;

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
        let pages = c
            .active()
            .alloc_dma_pages(page_amount as usize)
            .map_err(|e| fail_with(-1, &e))?;
        let mut info = mtcr_page_info {
            page_amount: page_amount as u32,
            page_pointer_start: pages.buf as _,
            ..Default::default()
        };
        let slots = info.page_addresses_array.iter_mut();
        for (i, (slot, bus)) in slots.zip(&pages.bus_addrs).enumerate() {
            slot.dma_address = *bus;
            slot.virtual_address = pages.buf + i as u64 * pages.page_size;
        }
        // SAFETY: caller contract (writable); mf is live.
        unsafe {
            page_info.write_unaligned(info);
            (*mf).user_page_list.page_list = pages.buf as _;
            (*mf).user_page_list.page_amount = page_amount;
        }
        Ok(0)
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
        c.active()
            .free_dma_pages(page_amount as usize)
            .map_err(|e| fail_with(-1, &e))?;
        // SAFETY: mf is live.
        unsafe {
            (*mf).user_page_list.page_list = std::ptr::null_mut();
            (*mf).user_page_list.page_amount = 0;
        }
        Ok(0)
    })
}
