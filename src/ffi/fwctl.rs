//! fwctl at the C boundary (public `mtcr.h`): `open_fwctl_dev` attaches the fwctl node of a
//! PCI function to an open `mfile` (`mf->fwctl_fd`; `maccess_reg` then goes over fwctl,
//! `mclose` closes it) and `set_fwctl_dev` names the node of a function. Opening a node by
//! name (`mopen("fwctl0")`) is `mopen`'s business (`crate::device`).

use std::os::raw::c_char;

use super::abi::mfile;
use super::boundary::{call, fail, fail_with};
use super::handle::{ctx, fill_fixed};
use crate::access::fwctl;
use crate::defs::DEV_NAME_SZ;
use crate::pci::{Bdf, SysfsRoot};

fn bdf_of(domain: u16, bus: u8, dev: u8, func: u8) -> Option<Bdf> {
    Bdf::new(domain, bus, dev, func)
}

/// `void set_fwctl_dev(char* fwctl_dev, u_int16_t domain, u_int8_t bus, u_int8_t dev,
/// u_int8_t func)`: write `/dev/fwctl/fwctlN` of the function into `fwctl_dev`
/// (`DEV_NAME_SZ` bytes), or an empty string when it has no fwctl node. NULL is ignored.
///
/// # Safety
/// `fwctl_dev` is NULL or writable for `DEV_NAME_SZ` bytes.
#[no_mangle]
pub unsafe extern "C" fn set_fwctl_dev(
    fwctl_dev: *mut c_char,
    domain: u16,
    bus: u8,
    dev: u8,
    func: u8,
) {
    call("set_fwctl_dev", (), || {
        if fwctl_dev.is_null() {
            return Err(fail((), libc::EINVAL, "set_fwctl_dev: NULL buffer"));
        }
        // SAFETY: caller contract: DEV_NAME_SZ writable bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(fwctl_dev, DEV_NAME_SZ) };
        let path = bdf_of(domain, bus, dev, func)
            .and_then(|b| fwctl::dev_path_for(&SysfsRoot::default(), b));
        fill_fixed(out, path.as_deref().unwrap_or(""));
        Ok(())
    })
}

/// `void open_fwctl_dev(mfile* mf, u_int16_t domain, u_int8_t bus, u_int8_t dev, u_int8_t
/// func)`: open the fwctl node of the function and attach it to `mf`: `mf->fwctl_fd` is its
/// descriptor and register access (`maccess_reg`, `mget_max_reg_size`, ACCESS_REGISTER
/// through `icmd_send_command`) goes over it. Nothing changes when the function has no node
/// or it does not open (errno and `mtcr_last_error` say why; `mf->fwctl_fd` stays -1).
///
/// # Safety
/// `mf` is NULL or from `mopen*`.
#[no_mangle]
pub unsafe extern "C" fn open_fwctl_dev(mf: *mut mfile, domain: u16, bus: u8, dev: u8, func: u8) {
    call("open_fwctl_dev", (), || {
        // SAFETY: caller contract.
        let c = unsafe { ctx(mf, ()) }?;
        let bdf = bdf_of(domain, bus, dev, func).ok_or_else(|| {
            fail(
                (),
                libc::EINVAL,
                format!("open_fwctl_dev: bad function {domain:x}:{bus:x}:{dev:x}.{func:x}"),
            )
        })?;
        let d = c.active();
        let path = d.attach_fwctl_for(bdf).map_err(|e| fail_with((), &e))?;
        if let Some(n) = d.fwctl_node() {
            // SAFETY: ctx checked mf.
            unsafe { (*mf).fwctl_fd = n.fd() };
        }
        log::info!("{bdf}: fwctl node {} attached", path.display());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments() {
        let mut buf = [0x41 as c_char; DEV_NAME_SZ];
        // SAFETY: NULL is accepted; buf has DEV_NAME_SZ bytes.
        unsafe {
            set_fwctl_dev(std::ptr::null_mut(), 0, 5, 0, 0);
            set_fwctl_dev(buf.as_mut_ptr(), 0, 5, 0x20, 0);
            assert_eq!(buf[0], 0, "bad function: empty name");
            open_fwctl_dev(std::ptr::null_mut(), 0, 5, 0, 0);
            let mut m: mfile = std::mem::zeroed();
            m.fwctl_fd = -1;
            open_fwctl_dev(&mut m, 0, 5, 0, 0);
            assert_eq!(m.fwctl_fd, -1);
        }
    }
}
