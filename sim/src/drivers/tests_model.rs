//! The driver ABIs against the real device model (`SimDevice` over anonymous crspace).

use std::sync::Arc;

use super::*;
use crate::config::{Faults, SimConfig};
use crate::model::{CrStore, HW_ID_ADDR};

/// A model device whose driver-side node state is dropped with it.
struct Dev(Arc<SimDevice>);

impl Drop for Dev {
    fn drop(&mut self) {
        forget_device(&self.0);
    }
}

impl std::ops::Deref for Dev {
    type Target = SimDevice;
    fn deref(&self) -> &SimDevice {
        &self.0
    }
}

fn dev(extra: &str) -> Dev {
    let cfg = SimConfig::from_toml(&format!("[[device]]\n{extra}"))
        .unwrap()
        .devices
        .remove(0);
    Dev(SimDevice::new(&cfg, CrStore::anonymous()).unwrap())
}

fn io(d: &Dev, kind: NodeKind, st: &mut FdState, req: u32, a: &mut [u8]) -> i64 {
    ioctl(d, kind, st, req, a).ret
}

fn arg(req: u32) -> Vec<u8> {
    vec![0u8; ioc_size(req)]
}

#[test]
fn mstflint_access_on_model() {
    use mstflint_access::*;
    let d = dev("driver = \"mstflint_access\"\nbdf = \"0000:3b:00.0\"");
    let k = NodeKind::MstflintAccessConf;
    let mut st = FdState::open(&d, k, libc::O_RDWR);

    let mut p = arg(MST_PARAMS);
    assert_eq!(io(&d, k, &mut st, MST_PARAMS, &mut p), 0);
    let w: Vec<u32> = (0..10).map(|i| rd32(&p, i * 4)).collect();
    assert_eq!(w, [0, 0x3b, 0, 0, 0, 0x1017, 0x15b3, 7, 0x15b3, 0x40]);

    let mut r = arg(MST_READ4);
    wr32(&mut r, 0, 2);
    wr32(&mut r, 4, HW_ID_ADDR);
    assert_eq!(io(&d, k, &mut st, MST_READ4, &mut r), 0);
    assert_eq!(rd32(&r, 8), d.hw_id());
    assert_eq!(rd32(&r, 8) & 0xffff, 0x20d);

    let mut w4 = arg(MST_WRITE4);
    wr32(&mut w4, 0, 2);
    wr32(&mut w4, 4, 0x1_0000);
    wr32(&mut w4, 8, 0xcafe_f00d);
    assert_eq!(io(&d, k, &mut st, MST_WRITE4, &mut w4), 0);
    assert_eq!(d.crspace().read(0x1_0000), 0xcafe_f00d);

    let mut b = arg(PCICONF_READ4_BUFFER);
    wr32(&mut b, 0, 2);
    wr32(&mut b, 4, 0x1_0000 - 0x80);
    wr32(&mut b, 8, 256);
    assert_eq!(io(&d, k, &mut st, PCICONF_READ4_BUFFER, &mut b), 256);
    for i in 0..64u32 {
        let want = d.crspace().read(0x1_0000 - 0x80 + i * 4);
        assert_eq!(rd32(&b, 12 + i as usize * 4), want, "dword {i}");
    }

    // VPD through the driver: the image starts with the identifier string tag 0x82.
    let mut v = arg(PCICONF_VPD_READ4);
    assert_eq!(io(&d, k, &mut st, PCICONF_VPD_READ4, &mut v), 0);
    assert_eq!(rd32(&v, 8) & 0xff, 0x82);

    let mut c = arg(PCICONF_READ_DWORD_FROM_CONFIG_SPACE);
    wr32(&mut c, 0, 0x2c);
    assert_eq!(
        io(&d, k, &mut st, PCICONF_READ_DWORD_FROM_CONFIG_SPACE, &mut c),
        0
    );
    assert_eq!(rd32(&c, 4), 0x0007_15b3);

    let n = d.counters();
    assert_eq!(n.ioctls.get("MST_PARAMS"), Some(&1));
    assert_eq!(n.ioctls.get("MST_READ4"), Some(&1));
    assert_eq!(n.ioctls.get("PCICONF_READ4_BUFFER"), Some(&1));
    // Driver accesses are not sysfs config reads.
    assert_eq!(n.config_reads, 0);
}

#[test]
fn mstflint_access_legacy_and_faults() {
    use mstflint_access::*;
    let k = NodeKind::MstflintAccessConf;
    let d = dev("driver = \"mstflint_access\"\ngateway = \"legacy\"\nmodel = \"connectx4\"");
    let mut st = FdState::default();
    let mut p = arg(MST_PARAMS);
    assert_eq!(io(&d, k, &mut st, MST_PARAMS, &mut p), 0);
    assert_eq!((rd32(&p, 20), rd32(&p, 36)), (0x1013, 0));
    let mut r = arg(MST_READ4);
    wr32(&mut r, 4, HW_ID_ADDR);
    assert_eq!(io(&d, k, &mut st, MST_READ4, &mut r), 0);
    assert_eq!(rd32(&r, 8) & 0xffff, 0x209);
    let mut b = arg(PCICONF_READ4_BUFFER);
    assert_eq!(
        io(&d, k, &mut st, PCICONF_READ4_BUFFER, &mut b),
        -(libc::EOPNOTSUPP as i64)
    );

    // Semaphore held by someone else for good: EBUSY, and MST_PARAMS still reports the VSEC.
    let d = dev("driver = \"mstflint_access\"\n[device.faults]\nsemaphore_held_forever = true");
    let mut st = FdState::default();
    wr32(&mut r, 0, 2);
    assert_eq!(io(&d, k, &mut st, MST_READ4, &mut r), -(libc::EBUSY as i64));
    assert_eq!(io(&d, k, &mut st, MST_PARAMS, &mut p), 0);
    assert_eq!(rd32(&p, 36), 0x40);

    // Unsupported space (fault): -1.
    let d = dev("driver = \"mstflint_access\"");
    let mut st = FdState::default();
    wr32(&mut r, 0, 7);
    d.set_faults(Faults {
        unsupported_spaces: vec![7],
        ..Faults::default()
    });
    assert_eq!(io(&d, k, &mut st, MST_READ4, &mut r), -(libc::EPERM as i64));
    // The device vanishes: every ioctl fails with ENODEV, even those not touching it.
    d.set_faults(Faults {
        vanish_after: 1,
        ..Faults::default()
    });
    wr32(&mut r, 0, 2);
    assert_eq!(
        io(&d, k, &mut st, MST_READ4, &mut r),
        -(libc::ENODEV as i64)
    );
    let mut wa = arg(PCI_CONNECTX_WA);
    assert_eq!(
        io(&d, k, &mut st, PCI_CONNECTX_WA, &mut wa),
        -(libc::ENODEV as i64)
    );
}

#[test]
fn gen1_on_model() {
    use mst_driver::*;
    let d = dev("driver = \"mst_driver\"");
    let k = NodeKind::MstDriverConf;
    let mut st = FdState::default();
    let mut p = arg(MST_GET_DEVICE_PARAMETERS);
    assert_eq!(io(&d, k, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p), 0);
    assert_eq!((rd32(&p, 4), rd32(&p, 20), rd32(&p, 36)), (5, 0x1017, 0x40));

    let mut r = arg(MST_READ);
    wr32(&mut r, 0, HW_ID_ADDR - 4);
    wr32(&mut r, 4, 12);
    wr32(&mut r, 264, 2);
    assert_eq!(io(&d, k, &mut st, MST_READ, &mut r), 0);
    assert_eq!(rd32(&r, 12), d.hw_id());
    assert_eq!(rd32(&r, 16), d.crspace().read(HW_ID_ADDR + 4));

    // Recovery VSEC: capability 9 exists but is not functional.
    let d = dev("driver = \"mst_driver\"\ngateway = \"recovery\"");
    let mut st = FdState::default();
    assert_eq!(io(&d, k, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p), 0);
    assert_eq!(rd32(&p, 36), 0);
    wr32(&mut r, 8, 0x1234_5678);
    assert_eq!(io(&d, k, &mut st, MST_READ, &mut r), 0);
    assert_eq!(rd32(&r, 8), 0x1234_5678);

    // ConnectX-3 memory node: BAR access to crspace.
    let d = dev("driver = \"mst_driver\"\nmodel = \"connectx3\"");
    let mut st = FdState::default();
    let mut w = arg(MST_WRITE);
    wr32(&mut w, 0, 0x100);
    wr32(&mut w, 8, 0xabcd);
    assert_eq!(io(&d, NodeKind::MstDriverCr, &mut st, MST_WRITE, &mut w), 0);
    assert_eq!(d.crspace().read(0x100), 0xabcd);
    assert_eq!(d.counters().ioctls.get("MST_WRITE"), Some(&1));
}

#[test]
fn mft_on_model() {
    use mft::*;
    let d = dev("driver = \"mft_legacy\"\nbdf = \"0000:05:00.1\"");
    let mut st = FdState::default();
    let mut i = arg(PCICONF_INIT);
    wr32(&mut i, 4, 5);
    wr32(&mut i, 8, 1);
    wr32(&mut i, 12, 88);
    wr32(&mut i, 16, 92);
    assert_eq!(
        io(&d, NodeKind::MftPciconf, &mut st, PCICONF_INIT, &mut i),
        0
    );
    let mut r = arg(PCICONF_READ4_NEW);
    wr32(&mut r, 0, 2);
    wr32(&mut r, 4, HW_ID_ADDR);
    assert_eq!(
        io(&d, NodeKind::MftPciconf, &mut st, PCICONF_READ4_NEW, &mut r),
        0
    );
    assert_eq!(rd32(&r, 8), d.hw_id());
    let mut p = arg(PCICONF_MST_PARAMS);
    assert_eq!(
        io(
            &d,
            NodeKind::MftPciconf,
            &mut st,
            PCICONF_MST_PARAMS,
            &mut p
        ),
        0
    );
    assert_eq!((rd32(&p, 12), rd32(&p, 36)), (1, 0x40));
    // INITIALIZED, ICMD_EXT, CR, ALL_ICMD, ND_CR, SCAN_CR, GLOBAL_SEMAPHORE.
    assert_eq!(rd32(&p, 40), 0x1cf);

    let mut cr = FdState::default();
    let mut pi = arg(PCI_INIT);
    wr32(&mut pi, 4, 5);
    wr32(&mut pi, 8, 1);
    assert_eq!(io(&d, NodeKind::MftPciCr, &mut cr, PCI_INIT, &mut pi), 0);
    let mut pp = arg(PCI_PARAMS);
    assert_eq!(io(&d, NodeKind::MftPciCr, &mut cr, PCI_PARAMS, &mut pp), 0);
    assert_eq!(rd64(&pp, 0), d.bar0_address());
    assert_eq!(rd64(&pp, 8), 0x400_0000);
    assert_eq!(mmap_allowed(NodeKind::MftPciCr, &cr, 0, 0x400_0000), Ok(()));
}

/// GET_DMA_PAGES makes the caller's pages visible to the device at the fake bus addresses
/// (read from the pinning process), RELEASE takes them away; a pin left behind by another
/// process is replaced (the kernel overwrites its page list), one by the same process is
/// EBUSY.
#[test]
fn dma_pages_map_the_callers_memory_for_the_device() {
    use mstflint_access::{PCICONF_GET_DMA_PAGES, PCICONF_RELEASE_DMA_PAGES};
    let d = dev("driver = \"mstflint_access\"");
    let mut buf = vec![0u8; 3 * 4096];
    let base = buf.as_mut_ptr() as usize;
    let va = base.next_multiple_of(4096);
    let off = va - base;
    buf[off + 4096..off + 4100].copy_from_slice(b"page");
    let mut st = FdState::default();
    // SAFETY: getpid never fails.
    st.pid = unsafe { libc::getpid() };
    let mut a = arg(PCICONF_GET_DMA_PAGES);
    a[0..4].copy_from_slice(&2u32.to_le_bytes());
    a[8..16].copy_from_slice(&(va as u64).to_le_bytes());
    assert_eq!(
        io(
            &d,
            NodeKind::MstflintAccessConf,
            &mut st,
            PCICONF_GET_DMA_PAGES,
            &mut a
        ),
        0
    );
    let mut got = [0u8; 4];
    d.host_memory().read(fake_dma_address(1), &mut got).unwrap();
    assert_eq!(&got, b"page");
    assert!(d.host_memory().read(fake_dma_address(2), &mut got).is_err());
    assert_eq!(d.counters().dma_reads, 1);
    // Same process again: EBUSY; another process's stale pin: replaced.
    assert_eq!(
        io(
            &d,
            NodeKind::MstflintAccessConf,
            &mut st,
            PCICONF_GET_DMA_PAGES,
            &mut a
        ),
        -(libc::EBUSY as i64)
    );
    let mut other = FdState::default();
    other.pid = st.pid + 1;
    assert_eq!(
        io(
            &d,
            NodeKind::MstflintAccessConf,
            &mut other,
            PCICONF_GET_DMA_PAGES,
            &mut a
        ),
        0
    );
    assert_eq!(d.host_memory().mappings()[0].pid, st.pid + 1);
    let mut r = arg(PCICONF_RELEASE_DMA_PAGES);
    r[0..4].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        io(
            &d,
            NodeKind::MstflintAccessConf,
            &mut other,
            PCICONF_RELEASE_DMA_PAGES,
            &mut r
        ),
        0
    );
    assert!(d.host_memory().mappings().is_empty());
}
