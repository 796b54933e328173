//! `mtcr_common.h`: `is_bluefield4_pci_device` (`swap_pci_address_space` is in
//! [`crate::ffi::access`]).

use std::os::raw::c_int;

use crate::ffi::boundary::call;

/// `int is_bluefield4_pci_device(u_int16_t pci_device_id)`: 1 for the four BlueField-4 PCI
/// device ids (0xa2dd, 0xa2de, 0xa2df, 0xc2d6), else 0.
#[no_mangle]
pub extern "C" fn is_bluefield4_pci_device(pci_device_id: u16) -> c_int {
    call("is_bluefield4_pci_device", 0, || {
        Ok(c_int::from(crate::chips::is_bluefield4_pci(pci_device_id)))
    })
}
