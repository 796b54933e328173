//! End to end: real `open()` / `ioctl()` / `mmap()` on the driver nodes inside `mtcr-sim run`
//! (the preload carries the calls to the server, which calls these driver models).

use std::ffi::CString;

use super::{ioc_size, mft, mst_driver, mstflint_access, rd32, rd64, wr32};
use crate::testing::in_sim;

struct Fd(i32);

impl Fd {
    fn open(path: &str) -> Fd {
        let c = CString::new(path).unwrap();
        // SAFETY: plain open(2) of a NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_SYNC) };
        assert!(fd >= 0, "open {path}: {}", std::io::Error::last_os_error());
        Fd(fd)
    }
    /// ioctl with an argument buffer of `_IOC_SIZE(req)` bytes; returns (ret, errno).
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> (i64, i32) {
        assert_eq!(arg.len(), ioc_size(req));
        // SAFETY: `arg` is a valid buffer of the size the request declares.
        let r = unsafe { libc::ioctl(self.0, req as libc::c_ulong, arg.as_mut_ptr()) };
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        (r as i64, if r < 0 { e } else { 0 })
    }
    fn mmap(&self, len: usize, off: i64) -> Result<*mut u8, i32> {
        // SAFETY: a fresh shared mapping; the caller unmaps it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.0,
                off,
            )
        };
        if p == libc::MAP_FAILED {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(p as *mut u8)
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

fn arg(req: u32) -> Vec<u8> {
    vec![0u8; ioc_size(req)]
}

const BDF: &str = "0000:05:00.0";

#[test]
fn e2e_mstflint_access() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::e2e_mstflint_access"),
        "[[device]]\ndriver = \"mstflint_access\"\n",
    ) else {
        return;
    };
    use mstflint_access::*;
    let fd = Fd::open("/dev/0000:05:00.0_mstconf");
    let mut p = arg(MST_PARAMS);
    assert_eq!(fd.ioctl(MST_PARAMS, &mut p), (0, 0));
    assert_eq!((rd32(&p, 4), rd32(&p, 20), rd32(&p, 36)), (5, 0x1017, 0x40));
    let mut r = arg(MST_READ4);
    wr32(&mut r, 0, 2);
    wr32(&mut r, 4, 0xf0014);
    assert_eq!(fd.ioctl(MST_READ4, &mut r), (0, 0));
    assert_eq!(rd32(&r, 8) & 0xffff, 0x20d);
    let mut b = arg(PCICONF_READ4_BUFFER);
    wr32(&mut b, 0, 2);
    wr32(&mut b, 4, 0xf0014);
    wr32(&mut b, 8, 8);
    assert_eq!(fd.ioctl(PCICONF_READ4_BUFFER, &mut b), (8, 0));
    assert_eq!(rd32(&b, 12), rd32(&r, 8));
    // Positive +ENODEV from INIT reaches the caller as a return value.
    let mut i = arg(PCICONF_INIT);
    assert_eq!(fd.ioctl(PCICONF_INIT, &mut i), (19, 0));
    // Errors reach the caller as errno.
    wr32(&mut b, 8, 512);
    assert_eq!(fd.ioctl(PCICONF_READ4_BUFFER, &mut b), (-1, libc::EINVAL));
    // Work-around slots are per fd and freed on close.
    let mut wa = arg(PCI_CONNECTX_WA);
    assert_eq!(fd.ioctl(PCI_CONNECTX_WA, &mut wa), (0, 0));
    assert_eq!(rd32(&wa, 0), 1);
    {
        let fd2 = Fd::open("/dev/0000:05:00.0_mstconf");
        assert_eq!(fd2.ioctl(PCI_CONNECTX_WA, &mut wa), (0, 0));
        assert_eq!(rd32(&wa, 0), 2);
    }
    let fd3 = Fd::open("/dev/0000:05:00.0_mstconf");
    assert_eq!(fd3.ioctl(PCI_CONNECTX_WA, &mut wa), (0, 0));
    assert_eq!(rd32(&wa, 0), 2);
    // No mmap on this node.
    assert_eq!(fd.mmap(4096, 0).err(), Some(libc::ENODEV));
    let c = sim.counters(BDF);
    assert_eq!(c.ioctls.get("MST_READ4"), Some(&1));
    assert_eq!(c.ioctls.get("PCICONF_READ4_BUFFER"), Some(&2));
}

#[test]
fn e2e_mst_driver_mft_mode() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::e2e_mst_driver_mft_mode"),
        "[[device]]\ndriver = \"mst_driver_mft\"\nmodel = \"connectx3\"\n",
    ) else {
        return;
    };
    use mst_driver::*;
    let conf = Fd::open("/dev/mst/mt4099_pci_pciconf0");
    // MST_READ is declared _IOW but returns data: the data must come back anyway.
    let mut r = arg(MST_READ);
    wr32(&mut r, 0, 0xf0014);
    wr32(&mut r, 4, 4);
    wr32(&mut r, 264, 2);
    assert_eq!(conf.ioctl(MST_READ, &mut r), (0, 0));
    assert_eq!(rd32(&r, 8) & 0xffff, 0x1f5);
    // mstflint_access numbers are unknown here: EINVAL.
    let mut p = vec![0u8; 40];
    assert_eq!(conf.ioctl(0x8028D001, &mut p), (-1, libc::EINVAL));
    let cr = Fd::open("/dev/mst/mt4099_pci_pci_cr0");
    let mut w = arg(MST_WRITE);
    wr32(&mut w, 0, 0x400);
    wr32(&mut w, 8, 0x5555_aaaa);
    assert_eq!(cr.ioctl(MST_WRITE, &mut w), (0, 0));
    // Through the conf node (VSEC gateway) and the memory node (BAR) alike.
    let mut r = arg(MST_READ);
    wr32(&mut r, 0, 0x400);
    wr32(&mut r, 4, 4);
    wr32(&mut r, 264, 2);
    assert_eq!(conf.ioctl(MST_READ, &mut r), (0, 0));
    assert_eq!(rd32(&r, 8), 0x5555_aaaa);
    wr32(&mut r, 8, 0);
    assert_eq!(cr.ioctl(MST_READ, &mut r), (0, 0));
    assert_eq!(rd32(&r, 8), 0x5555_aaaa);
    let c = sim.counters(BDF);
    assert_eq!(c.ioctls.get("MST_READ"), Some(&3));
    assert_eq!(c.ioctls.get("UNKNOWN"), Some(&1));
}

#[test]
fn e2e_mft_legacy() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::e2e_mft_legacy"),
        "[[device]]\ndriver = \"mft_legacy\"\n",
    ) else {
        return;
    };
    use mft::*;
    let conf = Fd::open("/dev/mst/mt4119_pciconf0");
    let mut r = arg(PCICONF_READ4_NEW);
    assert_eq!(conf.ioctl(PCICONF_READ4_NEW, &mut r), (-1, libc::ENOTTY));
    let mut i = arg(PCICONF_INIT);
    wr32(&mut i, 4, 5);
    wr32(&mut i, 12, 88);
    wr32(&mut i, 16, 92);
    assert_eq!(conf.ioctl(PCICONF_INIT, &mut i), (0, 0));
    wr32(&mut r, 0, 2);
    wr32(&mut r, 4, 0xf0014);
    assert_eq!(conf.ioctl(PCICONF_READ4_NEW, &mut r), (0, 0));
    assert_eq!(rd32(&r, 8) & 0xffff, 0x20d);
    let hw = rd32(&r, 8);

    let cr = Fd::open("/dev/mst/mt4119_pci_cr0");
    assert_eq!(cr.mmap(0x400_0000, 0).err(), Some(libc::EINVAL));
    let mut pi = arg(PCI_INIT);
    wr32(&mut pi, 4, 5);
    assert_eq!(cr.ioctl(PCI_INIT, &mut pi), (0, 0));
    let mut pp = arg(PCI_PARAMS);
    assert_eq!(cr.ioctl(PCI_PARAMS, &mut pp), (0, 0));
    assert_eq!(rd64(&pp, 8), 0x400_0000);
    let p = cr.mmap(0x400_0000, 0).expect("mmap of the BAR");
    // SAFETY: 0xf0014 + 4 lies inside the 64 MiB mapping.
    let be = unsafe { std::ptr::read_volatile(p.add(0xf0014) as *const u32) };
    assert_eq!(u32::from_be(be), hw);
    // SAFETY: unmapping the mapping made above.
    unsafe { libc::munmap(p as *mut libc::c_void, 0x400_0000) };
    assert_eq!(cr.mmap(0x2000, 0x3ff_f000).err(), Some(libc::EINVAL));
    assert_eq!(sim.counters(BDF).mmaps, 1);
}

#[test]
fn e2e_two_mft_devices_are_numbered() {
    let Some(sim) = in_sim(
        concat!(module_path!(), "::e2e_two_mft_devices_are_numbered"),
        "[[device]]\ndriver = \"mft_legacy\"\n[[device]]\ndriver = \"mft_legacy\"\nbdf = \"0000:82:00.0\"\n",
    ) else {
        return;
    };
    use mft::*;
    for (node, bus, other) in [("mt4119_pciconf0", 5, 0x82), ("mt4119_pciconf1", 0x82, 5)] {
        let fd = Fd::open(&format!("/dev/mst/{node}"));
        let mut i = arg(PCICONF_INIT);
        wr32(&mut i, 4, other);
        assert_eq!(fd.ioctl(PCICONF_INIT, &mut i), (-1, libc::ENXIO));
        wr32(&mut i, 4, bus);
        assert_eq!(fd.ioctl(PCICONF_INIT, &mut i), (0, 0));
    }
    assert_eq!(sim.counters(BDF).ioctls.get("PCICONF_INIT"), Some(&2));
    assert_eq!(
        sim.counters("0000:82:00.0").ioctls.get("PCICONF_INIT"),
        Some(&2)
    );
}
