//! The C ABI of `libmtcr_ul` (mstflint v4.36 signatures, return values, errno and struct
//! layouts) over the safe [`crate::Device`] API. Only argument checks, conversions, errno and
//! panic containment live here; the behaviour is the core's.
//!
//! * [`abi`]: `mfile`, `dev_info`, `vf_info`, `mtcr_page_info` (layouts asserted at compile time);
//! * [`boundary`]: panic catching, errno, per-thread last error (`mtcr_last_error`);
//! * `handle`: `mfile.ul_ctx` <-> [`crate::Device`], `dev_info` and C string conversions;
//! * the exported functions, one file per C family: [`open`] (`mopen*`, `mclose`,
//!   `mpci_change`, the mfile's allocation), [`access`] (crspace dwords and blocks), [`space`]
//!   (address spaces), [`config`] (config-space dwords), [`semaphore`], [`vpd`],
//!   [`enumerate`] (`mdevices*`), [`chip`] (chip kind and recovery state), [`dma`] (DMA
//!   pages), [`reset`], [`poll`] (poll-time multiplier), [`mfile_fields`] (plain field
//!   accessors), [`icmd`], [`cmdif`] (tools HCR), [`fwctl`], [`inband`], [`errstr`]
//!   (`m_err2str`); [`helpers`]: functions of upstream's internal headers;
//! * [`logger`]: `MTCR_LOG` / `MFT_DEBUG` stderr logging.
//!
//! Every exported function catches panics (a panic returns the function's failure value with
//! errno EIO), checks NULL pointers and lengths, and on failure sets errno and the per-thread
//! message returned by `mtcr_last_error()`.

pub mod abi;
pub mod access;
pub mod boundary;
pub mod chip;
pub mod cmdif;
pub mod config;
pub mod dma;
pub mod enumerate;
pub mod errstr;
pub mod fwctl;
pub(crate) mod handle;
/// cbindgen:ignore
pub mod helpers;
pub mod icmd;
pub mod inband;
pub mod logger;
pub mod mfile_fields;
pub mod open;
pub mod poll;
pub mod reset;
pub mod semaphore;
pub mod space;
pub mod vpd;

pub use abi::{dev_info, mfile, mtcr_page_info, vf_info};

#[cfg(test)]
mod null_tests {
    //! Every exported function with NULL (or foreign) arguments: documented failure value and
    //! errno, no crash. No device needed.
    use super::abi::mfile;
    use super::access::*;
    use super::chip::*;
    use super::config::*;
    use super::dma::*;
    use super::enumerate::*;
    use super::mfile_fields::*;
    use super::open::*;
    use super::poll::*;
    use super::reset::*;
    use super::semaphore::*;
    use super::space::*;
    use super::vpd::*;
    use crate::defs::*;
    use std::ptr::null_mut;

    fn errno() -> i32 {
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    fn reset() {
        super::boundary::set_errno(0);
    }

    #[test]
    fn null_arguments() {
        let n: *mut mfile = null_mut();
        let mut v = 0u32;
        let mut b = [0u8; 32];
        // SAFETY: NULL is allowed for every pointer argument of these functions.
        unsafe {
            reset();
            assert_eq!(mread4(n, 0, &mut v), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(mwrite4(n, 0, 0), -1);
            assert_eq!(mread4_block(n, 0, &mut v, 4), -1);
            assert_eq!(mwrite4_block(n, 0, &mut v, 4), -1);
            assert_eq!(mread_buffer(n, 0, b.as_mut_ptr(), 4), -1);
            assert_eq!(mwrite_buffer(n, 0, b.as_mut_ptr(), 4), -1);
            assert_eq!(mget_addr_space(n), -1);
            assert_eq!(mset_addr_space(n, 2), -1);
            assert_eq!(is_gw_access(n), 0);
            swap_pci_address_space(n);
            assert_eq!(read_dword_from_conf_space(n, 0, &mut v), -1);
            assert_eq!(MREAD4_SEMAPHORE(n, 0, &mut v), ME_ICMD_STATUS_CR_FAIL);
            assert_eq!(MREAD4_SEMAPHORE(n, 0, null_mut()), ME_ICMD_STATUS_CR_FAIL);
            assert_eq!(MWRITE4_SEMAPHORE(n, 0, 0), ME_ICMD_STATUS_CR_FAIL);
            assert_eq!(mvpd_read4(n, 0, b.as_mut_ptr()), -1);
            assert_eq!(mvpd_write4(n, 0, b.as_mut_ptr()), ME_UNSUPPORTED_OPERATION);
            assert_eq!(read_device_id(n, &mut v), -1);
            reset();
            assert!(mopen(std::ptr::null()).is_null());
            assert_eq!(errno(), libc::EINVAL);
            assert!(mopend(std::ptr::null(), MST_TAVOR).is_null());
            assert!(mopen_adv(std::ptr::null(), MST_DEFAULT).is_null());
            assert_eq!(mclose(n), 0);
            assert_eq!(mclear_pci_semaphore(std::ptr::null()), ME_ERROR);
            mpci_change(n);
            assert_eq!(mdevices(null_mut(), 100, MDEVS_ALL as i32), -1);
            assert!(mdevices_info(MDEVS_ALL as i32, null_mut()).is_null());
            assert!(mdevices_info_v(MDEVS_ALL as i32, null_mut(), 1).is_null());
            mdevices_info_destroy(null_mut(), 5);
            mdevice_info_destroy(null_mut(), -1);
            get_pci_dev_rdma(n, null_mut());
            get_pci_dev_rdma(n, b.as_mut_ptr() as *mut std::os::raw::c_char);
            assert_eq!(b[0], 0);
            assert_eq!(mget_mdevs_flags(n, &mut v), 1);
            assert_eq!(mget_mdevs_type(n, &mut v), 1);
            assert_eq!(msw_reset(n), -1);
            assert_eq!(mhca_reset(n), -1);
            assert_eq!(get_dma_pages(n, null_mut(), 1), -1);
            assert_eq!(release_dma_pages(n, 1), -1);
            assert_eq!(is_remote_dev(n), 0);
            assert_eq!(mset_i2c_secondary(n, 3), 0xff);
            assert_eq!(mget_i2c_secondary(n), 0xff);
            assert_eq!(is_pcie_switch_device(n), 0);
            assert_eq!(is_zombiefish_device(n), 0);
            assert_eq!(hot_reset(n, 0, 0, 0, 0, 0, 0, 0, 0, 0), -1);
        }
    }

    #[test]
    fn foreign_mfile_is_refused() {
        // An mfile a tool allocated itself (ul_ctx NULL): refused with EINVAL, never freed.
        // SAFETY: mfile is a C struct of integers, arrays and raw pointers: all-zero is valid.
        let mut m: mfile = unsafe { std::mem::zeroed() };
        let mf: *mut mfile = &mut m;
        let mut v = 0u32;
        // SAFETY: mf points to a live, zeroed mfile.
        unsafe {
            reset();
            assert_eq!(mread4(mf, 0xf0014, &mut v), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(mset_addr_space(mf, 2), -1);
            assert_eq!(read_device_id(mf, &mut v), -1);
            mpci_change(mf);
            assert_eq!(mclose(mf), 0);
            // fields are still readable by the plain accessors
            (*mf).flags = MDEVS_FWCTX;
            assert_eq!(super::mfile_fields::mget_mdevs_flags(mf, &mut v), 0);
            assert_eq!(v, MDEVS_FWCTX);
        }
    }

    #[test]
    fn pure_functions() {
        assert_eq!(super::space::space_to_cap_offset(AS_SEMAPHORE as i32), 8);
        assert_eq!(super::space::space_to_cap_offset(AS_RECOVERY as i32), 0);
        assert!(is_gpu_device(0x3000));
        assert!(!is_gpu_device(0x20d));
        set_increase_poll_time(3);
        assert_eq!(
            crate::poll::INCREASE_POLL_TIME.load(std::sync::atomic::Ordering::Relaxed),
            3
        );
        set_increase_poll_time(0);
        assert!(mopen_fw_ctx(null_mut(), null_mut(), null_mut(), null_mut()).is_null());
        assert_eq!(errno(), libc::ENOTSUP);
    }
}
