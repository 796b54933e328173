//! `mtcr_gpu.h`: GPU PCI-id predicates (`is_gpu_device` is in [`crate::ffi::chip`]).

use std::os::raw::c_int;

use crate::chips;
use crate::ffi::boundary::call;

/// `int is_gpu_pci_device(u_int16_t pci_device_id)`: 1 for a GB100 (0x2900-0x29ff,
/// 0x2b00-0x2b7f, 0x3180-0x31ff, 0x3200-0x327f, 0x3300-0x33ff, 0x3400-0x347f) or GR100
/// (0x3000-0x30ff) PCI device id, else 0.
#[no_mangle]
pub extern "C" fn is_gpu_pci_device(pci_device_id: u16) -> c_int {
    call("is_gpu_pci_device", 0, || {
        Ok(c_int::from(chips::is_gpu_pci(pci_device_id)))
    })
}

/// `u_int16_t get_hw_dev_id_by_pci_id(u_int16_t pci_device_id)`: the hardware id of a GPU
/// PCI device id (0x2900 GB100, 0x3000 GR100), 0 for any other id.
#[no_mangle]
pub extern "C" fn get_hw_dev_id_by_pci_id(pci_device_id: u16) -> u16 {
    call("get_hw_dev_id_by_pci_id", 0, || {
        Ok(chips::hw_dev_id_by_pci_id(pci_device_id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(is_gpu_pci_device(0x2b10), 1);
        assert_eq!(is_gpu_pci_device(0x1021), 0);
        assert_eq!(get_hw_dev_id_by_pci_id(0x3001), 0x3000);
        assert_eq!(get_hw_dev_id_by_pci_id(0x33ff), 0x2900);
        assert_eq!(get_hw_dev_id_by_pci_id(0x1017), 0);
    }
}
