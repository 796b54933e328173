//! Functions mstflint's tools import from `libmtcr_ul` that upstream declares only in its
//! internal headers (`mtcr_common.h`, `packets_layout.h`, `packets_common.h`,
//! `mtcr_ib_res_mgt.h`, `mtcr_ul_com.h`, ...), one file per header. They are exported with
//! upstream's signatures but stay out of the generated public headers (tools that call them
//! declare them through upstream's own headers). Upstream enums in signatures are `c_int`;
//! the structs they take are defined here with upstream's layout.

pub mod fwctrl;
pub mod mtcr_common;
pub mod mtcr_gpu;
pub mod mtcr_ib_res_mgt;
pub mod mtcr_icmd_cif;
pub mod mtcr_mem_ops;
pub mod mtcr_ul_com;
pub mod packets_common;
pub mod packets_layout;

#[cfg(test)]
mod tests {
    #[test]
    fn open_and_predicates() {
        // SAFETY: NULL and a valid C string are accepted.
        unsafe {
            crate::ffi::boundary::set_errno(0);
            assert!(super::mtcr_ul_com::mopen_ul(std::ptr::null()).is_null());
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
            assert!(super::mtcr_ul_com::mopen_ul(c"no-such-device-name".as_ptr()).is_null());
            assert_ne!(*libc::__errno_location(), 0);
        }
        assert_eq!(super::mtcr_common::is_bluefield4_pci_device(0xa2dd), 1);
        assert_eq!(super::mtcr_common::is_bluefield4_pci_device(0xc2d6), 1);
        assert_eq!(super::mtcr_common::is_bluefield4_pci_device(0xa2dc), 0);
    }
}
