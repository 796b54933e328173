//! What kind of chip or function a handle is, and in which state: `is_gpu_device`,
//! `is_pcie_switch_device`, `is_zombiefish_device` (the id tables are in `crate::chips`, the
//! detection on [`Device`](crate::device::Device)).

use std::os::raw::c_int;

use super::abi::mfile;
use super::boundary::{call, fail_with};
use super::handle::ctx;
use crate::chips;

/// `bool is_gpu_device(u_int16_t hw_dev_id)`: whether the hardware id is an NVIDIA GPU
/// (GB100 0x2900, GR100 0x3000).
#[no_mangle]
pub extern "C" fn is_gpu_device(hw_dev_id: u16) -> bool {
    call("is_gpu_device", false, || Ok(chips::is_gpu_hw(hw_dev_id)))
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
        let dev = c.active();
        let hw = dev.hw_id_dword().map_err(|e| fail_with(0, &e))?;
        // SAFETY: caller contract.
        unsafe { (*mf).device_hw_id = hw };
        let Some(z) = dev.zombiefish(hw).map_err(|e| fail_with(0, &e))? else {
            return Ok(0);
        };
        // SAFETY: caller contract.
        unsafe {
            if let Some(vld) = z.flash_control_vld {
                (*mf).vsc_recovery_space_flash_control_vld = c_int::from(vld);
            }
            (*mf).is_zombiefish = c_int::from(z.zombie);
        }
        Ok(c_int::from(z.zombie))
    })
}
