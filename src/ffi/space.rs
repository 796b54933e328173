//! Address spaces of an open `mfile`: `mget_addr_space`, `mset_addr_space`, `is_gw_access`,
//! `swap_pci_address_space`, `space_to_cap_offset`. The space the C caller sees is
//! `mf->address_space`; crspace calls push it into the device before each access.

use std::os::raw::c_int;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with};
use super::handle::ctx;
use crate::defs::*;

/// `int mget_addr_space(mfile* mf)`: the current address space (`mf->address_space`); -1 with
/// errno EINVAL for NULL.
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn mget_addr_space(mf: *mut mfile) -> c_int {
    call("mget_addr_space", -1, || {
        if mf.is_null() {
            return Err(fail(-1, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        Ok(unsafe { (*mf).address_space })
    })
}

/// `int mset_addr_space(mfile* mf, int space)`: select the address space of later accesses.
/// 0, or -1 (errno EINVAL) if the space is out of range or not supported by the device.
///
/// # Safety
/// `mf` NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn mset_addr_space(mf: *mut mfile, space: c_int) -> c_int {
    call("mset_addr_space", -1, || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, -1) }?;
        if !(0..AS_END as c_int).contains(&space) {
            return Err(fail(
                -1,
                libc::EINVAL,
                format!("address space {space:#x} out of range"),
            ));
        }
        let d = c.active();
        d.set_address_space(space as u32)
            .map_err(|e| fail_with(-1, &e))?;
        // SAFETY: caller contract.
        unsafe { (*mf).address_space = space };
        Ok(0)
    })
}

/// `int is_gw_access(mfile* mf)`: 1 if accesses go through a gateway (BAR0 gateway, or the
/// functional VSEC), else 0 (also 0 for NULL).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn is_gw_access(mf: *mut mfile) -> c_int {
    call("is_gw_access", 0, || {
        if mf.is_null() {
            return Err(fail(0, libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        let m = unsafe { &*mf };
        Ok(if m.tp == MST_BAR0_GW_PCI {
            1
        } else {
            m.functional_vsec_supp
        })
    })
}

/// `void swap_pci_address_space(mfile* mf)`: toggle `mf->address_space` between a core space
/// and its PCI ("PXIR") variant (ICMD_EXT<->PCI_ICMD, CR_SPACE/ND_CRSPACE->PCI_CRSPACE->CR_SPACE,
/// ICMD<->PCI_ALL_ICMD, SCAN_CRSPACE<->PCI_SCAN_CRSPACE, SEMAPHORE<->PCI_GLOBAL_SEMAPHORE).
///
/// # Safety
/// `mf` NULL or a live mfile.
#[no_mangle]
pub unsafe extern "C" fn swap_pci_address_space(mf: *mut mfile) {
    call("swap_pci_address_space", (), || {
        if mf.is_null() {
            return Err(fail((), libc::EINVAL, "NULL mfile"));
        }
        // SAFETY: caller contract.
        let m = unsafe { &mut *mf };
        let n = crate::access::gateway::swap_pci_space(m.address_space as u32);
        m.address_space = n as c_int;
        Ok(())
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
