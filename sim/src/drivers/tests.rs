//! Unit tests of the driver ABIs against the in-process fake device.

use super::fake::{Access, FakeDev};
use super::*;
use crate::config::SimConfig;

fn call(dev: &FakeDev, kind: NodeKind, st: &mut FdState, req: u32, arg: &mut [u8]) -> i64 {
    ioctl_on(dev, kind, st, req, arg).ret
}

fn arg(req: u32) -> Vec<u8> {
    vec![0u8; ioc_size(req)]
}

fn put(a: &mut [u8], words: &[(usize, u32)]) {
    for &(o, v) in words {
        wr32(a, o, v);
    }
}

const EPERM: i64 = -(libc::EPERM as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);
const ENOTTY: i64 = -(libc::ENOTTY as i64);
const ENODEV: i64 = -(libc::ENODEV as i64);
const EFAULT: i64 = -(libc::EFAULT as i64);
const EBUSY: i64 = -(libc::EBUSY as i64);
const ENOLCK: i64 = -(libc::ENOLCK as i64);
const ENXIO: i64 = -(libc::ENXIO as i64);

// ------------------------------------------------------------------ numbers (Appendix A)

#[test]
fn ioctl_numbers_match_reference() {
    use mft::*;
    use mst_driver::*;
    use mstflint_access as ma;
    let table: &[(u32, u32)] = &[
        // Gen-1 unified mst_driver
        (MST_WRITE, 0x410CD301),
        (MST_READ, 0x410CD302),
        (MST_GET_DMA_PAGES, 0x8210D303),
        (MST_RELEASE_DMA_PAGES, 0x8210D304),
        (MST_READ_DWORD_FROM_CONFIG_SPACE, 0x8008D305),
        (MST_GET_DEVICE_PARAMETERS, 0x8028D306),
        (MST_INIT, 0x8008D307),
        (MST_PCI_CONNECTX_WA, 0x8004D308),
        (MST_VPD_READ, 0x800CD309),
        (MST_VPD_WRITE, 0x400CD30A),
        // mstflint_access
        (ma::MST_PARAMS, 0x8028D001),
        (ma::MST_READ4, 0x800CD101),
        (ma::MST_WRITE4, 0x400CD102),
        (ma::PCIMEM_READ_BLOCK, 0x8108D201),
        (ma::PCIMEM_WRITE_BLOCK, 0x4108D202),
        (ma::PCICONF_READ4_BUFFER, 0x810CD203),
        (ma::PCICONF_READ4_BUFFER_BC, 0x800CD203),
        (ma::PCICONF_WRITE4_BUFFER, 0x410CD204),
        (ma::PCICONF_INIT, 0x0014D301),
        (ma::PCICONF_STOP, 0x0000D302),
        (ma::PCICONF_GET_DMA_PAGES, 0x8210D30D),
        (ma::PCICONF_RELEASE_DMA_PAGES, 0x8210D30E),
        (ma::PCICONF_READ_DWORD_FROM_CONFIG_SPACE, 0x8008D30F),
        (ma::PCICONF_HOT_RESET, 0x8024D310),
        (ma::PCIMEM_INIT, 0x0004D401),
        (ma::PCIMEM_STOP, 0x0000D402),
        (ma::PCI_CONNECTX_WA, 0x8004D501),
        (ma::PCICONF_VPD_READ4, 0x800CD601),
        (ma::PCICONF_VPD_WRITE4, 0x400CD602),
        // MFT mst_pci
        (PCI_INIT, 0x0010D100),
        (PCI_STOP, 0x0000D101),
        (PCI_PARAMS, 0x8010D102),
        (mft::PCI_CONNECTX_WA, 0x8004D103),
        // MFT mst_pciconf
        (mft::PCICONF_INIT, 0x0014D200),
        (mft::PCICONF_STOP, 0x0000D201),
        (PCICONF_READ4, 0x8008D201),
        (PCICONF_WRITE4, 0x4008D202),
        (PCICONF_MODIFY, 0xC014D203),
        (mft::PCICONF_READ4_BUFFER, 0x8008D204),
        (PCICONF_READ4_BUFFER_EX, 0x810CD204),
        (mft::PCICONF_WRITE4_BUFFER, 0x410CD205),
        (PCICONF_MST_PARAMS, 0x8030D206),
        (PCICONF_READ4_NEW, 0x800CD207),
        (mft::PCICONF_VPD_READ4, 0x8008D207),
        (PCICONF_WRITE4_NEW, 0x400CD208),
        (mft::PCICONF_VPD_WRITE4, 0x4008D208),
        (PCICONF_MEM_ACCESS, 0xC410D20A),
        (PCICONF_DMA_PROPS, 0x8200D20B),
        (PCICONF_MST_META_DATA, 0x8058D20C),
        (mft::PCICONF_GET_DMA_PAGES, 0x8090D20D),
        (mft::PCICONF_RELEASE_DMA_PAGES, 0x8090D20E),
        (mft::PCICONF_READ_DWORD_FROM_CONFIG_SPACE, 0x8008D20F),
    ];
    for &(got, want) in table {
        assert_eq!(got, want, "{got:#010x} != {want:#010x}");
    }
    // Pairwise distinct across all ABIs.
    let mut all: Vec<u32> = table.iter().map(|t| t.1).collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n);
}

#[test]
fn ioc_helpers() {
    assert_eq!(ioc_size(0x810CD203), 268);
    assert_eq!(ioc_size(0x8210D30D), 528);
    assert_eq!(ioc_dir(0x800CD101), IOC_READ);
    assert_eq!(ioc_dir(0x400CD102), IOC_WRITE);
    assert_eq!(ioc_dir(0xC014D203), IOC_READ | IOC_WRITE);
    assert_eq!(ioc_dir(0x0014D301), IOC_NONE);
}

#[test]
fn names_per_abi() {
    assert_eq!(
        ioctl_name(NodeKind::MstflintAccessConf, 0x800CD101),
        "MST_READ4"
    );
    assert_eq!(ioctl_name(NodeKind::MstDriverConf, 0x800CD101), UNKNOWN);
    assert_eq!(
        ioctl_name(NodeKind::MstDriverMftConf, 0x410CD302),
        "MST_READ"
    );
    assert_eq!(
        ioctl_name(NodeKind::MftPciconf, 0x800CD207),
        "PCICONF_READ4_NEW"
    );
    assert_eq!(ioctl_name(NodeKind::MftPciCr, 0x8010D102), "PCI_PARAMS");
    assert_eq!(ioctl_name(NodeKind::MftPciCr, 0x800CD207), UNKNOWN);
}

// ------------------------------------------------------------------ mstflint_access

const MA: NodeKind = NodeKind::MstflintAccessConf;

#[test]
fn ma_params() {
    use mstflint_access::MST_PARAMS;
    let mut dev = FakeDev::new();
    dev.loc = (0, 0x5, 0x1, 0x2);
    let mut st = FdState::default();
    let mut a = arg(MST_PARAMS);
    assert_eq!(call(&dev, MA, &mut st, MST_PARAMS, &mut a), 0);
    let w: Vec<u32> = (0..10).map(|i| rd32(&a, i * 4)).collect();
    assert_eq!(w, [0, 5, 1, 2, 0, 0x1017, 0x15b3, 7, 0x15b3, 0x40]);
    assert_eq!(dev.count("MST_PARAMS"), 1);

    // Missing ICMD: the VSEC is not fully supported -> 0.
    dev.spaces = vec![0x2, 0xa];
    assert_eq!(call(&dev, MA, &mut st, MST_PARAMS, &mut a), 0);
    assert_eq!(rd32(&a, 36), 0);
    // Probe impossible (semaphore taken): the offset is reported.
    dev.sem_busy = true;
    assert_eq!(call(&dev, MA, &mut st, MST_PARAMS, &mut a), 0);
    assert_eq!(rd32(&a, 36), 0x40);
    // No VSEC at all.
    let legacy = FakeDev::legacy();
    assert_eq!(call(&legacy, MA, &mut st, MST_PARAMS, &mut a), 0);
    assert_eq!(rd32(&a, 36), 0);
}

#[test]
fn ma_read4_write4() {
    use mstflint_access::{MST_READ4, MST_WRITE4};
    let dev = FakeDev::new();
    dev.set(0xf0014, 0x20d);
    let mut st = FdState::default();
    let mut a = arg(MST_WRITE4);
    put(&mut a, &[(0, 2), (4, 0x1000), (8, 0xdead_beef)]);
    assert_eq!(call(&dev, MA, &mut st, MST_WRITE4, &mut a), 0);
    assert_eq!(dev.get(0x1000), 0xdead_beef);
    assert_eq!(dev.log.lock().last(), Some(&(Access::Gw(2), 0x1000, true)));

    // READ4 writes back only `data`.
    let mut a = arg(MST_READ4);
    put(&mut a, &[(0, 3), (4, 0xf0014), (8, 0x1111_1111)]);
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), 0);
    assert_eq!((rd32(&a, 0), rd32(&a, 4), rd32(&a, 8)), (3, 0xf0014, 0x20d));
    assert_eq!(
        dev.log.lock().last(),
        Some(&(Access::Gw(3), 0xf0014, false))
    );

    // Unsupported space: gateway failure is -1 (EPERM); data untouched.
    put(&mut a, &[(0, 0x5), (8, 0x1234)]);
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), EPERM);
    assert_eq!(rd32(&a, 8), 0x1234);
    // Address >= 2^30 (model: EINVAL) -> -1 as well.
    put(&mut a, &[(0, 2), (4, 0x4000_0000)]);
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), EPERM);
    assert_eq!(dev.count("MST_READ4"), 3);
    assert_eq!(dev.count("MST_WRITE4"), 1);
}

#[test]
fn ma_semaphore_busy_and_legacy() {
    use mstflint_access::MST_READ4;
    let mut dev = FakeDev::new();
    dev.sem_busy = true;
    let mut st = FdState::default();
    let mut a = arg(MST_READ4);
    put(&mut a, &[(0, 2), (4, 0xf0014)]);
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), EBUSY);

    // No functional VSEC: the legacy window, space ignored.
    let dev = FakeDev::legacy();
    dev.set(0xf0014, 0x209);
    let mut st = FdState::default();
    put(&mut a, &[(0, 7), (4, 0xf0014)]);
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), 0);
    assert_eq!(rd32(&a, 8), 0x209);
    assert_eq!(
        dev.log.lock().last(),
        Some(&(Access::Legacy, 0xf0014, false))
    );

    // VSEC present but ICMD unsupported: legacy window too.
    let mut dev = FakeDev::new();
    dev.spaces = vec![0x2, 0xa];
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut a), 0);
    assert_eq!(dev.log.lock().last().map(|l| l.0), Some(Access::Legacy));

    // Simulator faults pass through.
    let mut dev = FakeDev::new();
    dev.fail = Some((1, libc::EIO));
    let mut st = FdState::default();
    assert_eq!(
        call(&dev, MA, &mut st, MST_READ4, &mut a),
        -(libc::EIO as i64)
    );
}

#[test]
fn ma_buffers() {
    use mstflint_access::{PCICONF_READ4_BUFFER, PCICONF_READ4_BUFFER_BC, PCICONF_WRITE4_BUFFER};
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut w = arg(PCICONF_WRITE4_BUFFER);
    put(&mut w, &[(0, 2), (4, 0x2000), (8, 256)]);
    for i in 0..64 {
        wr32(&mut w, 12 + i * 4, 0x100 + i as u32);
    }
    assert_eq!(call(&dev, MA, &mut st, PCICONF_WRITE4_BUFFER, &mut w), 256);
    assert_eq!(dev.get(0x2000 + 63 * 4), 0x13f);

    let mut r = arg(PCICONF_READ4_BUFFER);
    put(&mut r, &[(0, 2), (4, 0x2004), (8, 8)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r), 8);
    assert_eq!(
        (rd32(&r, 12), rd32(&r, 16), rd32(&r, 20)),
        (0x101, 0x102, 0)
    );
    assert_eq!(dev.count("PCICONF_READ4_BUFFER"), 1);

    // Size checks: not a multiple of 4, negative, over 256 (stand-in for the overrun).
    for bad in [6u32, 0xffff_fffc, 260] {
        put(&mut r, &[(8, bad)]);
        assert_eq!(
            call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r),
            EINVAL
        );
    }
    // Size 0 -> 0.
    put(&mut r, &[(8, 0)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r), 0);

    // The pre-2020 number is not served.
    let mut bc = arg(PCICONF_READ4_BUFFER_BC);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_READ4_BUFFER_BC, &mut bc),
        EINVAL
    );
    assert_eq!(dev.count("PCICONF_READ4_BUFFER_BC"), 1);

    // Partial failure: the byte count done, no copy-back.
    let mut dev = FakeDev::new();
    dev.fail = Some((3, libc::ETIMEDOUT));
    let mut st = FdState::default();
    put(&mut r, &[(0, 2), (4, 0x100), (8, 16), (12, 0xaaaa)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r), 8);
    assert_eq!(rd32(&r, 12), 0xaaaa);
    // Failure on the first dword: -1.
    dev.fail = Some((1, libc::ETIMEDOUT));
    assert_eq!(call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r), EPERM);

    // Not all spaces supported: EOPNOTSUPP; semaphore taken: EBUSY.
    let mut dev = FakeDev::new();
    dev.spaces = vec![0x2, 0xa];
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r),
        -(libc::EOPNOTSUPP as i64)
    );
    assert_eq!(
        call(
            &FakeDev::legacy(),
            MA,
            &mut st,
            PCICONF_READ4_BUFFER,
            &mut r
        ),
        -(libc::EOPNOTSUPP as i64)
    );
    dev.spaces = vec![1, 2, 3, 0xa];
    dev.sem_busy = true;
    assert_eq!(call(&dev, MA, &mut st, PCICONF_READ4_BUFFER, &mut r), EBUSY);
}

#[test]
fn ma_init_stop() {
    use mstflint_access::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut init = arg(PCICONF_INIT);
    put(&mut init, &[(12, 88), (16, 92)]);
    // Initialized at creation: +ENODEV.
    assert_eq!(call(&dev, MA, &mut st, PCICONF_INIT, &mut init), 19);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_STOP, &mut []), 0);

    // A different fd sees the stopped device (state is per node).
    let mut st2 = FdState::default();
    let mut p = arg(MST_PARAMS);
    assert_eq!(call(&dev, MA, &mut st2, MST_PARAMS, &mut p), ENODEV);
    let mut r = arg(MST_READ4);
    assert_eq!(call(&dev, MA, &mut st2, MST_READ4, &mut r), ENODEV);
    assert_eq!(call(&dev, MA, &mut st2, MST_WRITE4, &mut r), ENODEV);
    let mut b = arg(PCICONF_READ4_BUFFER);
    assert_eq!(
        call(&dev, MA, &mut st2, PCICONF_READ4_BUFFER, &mut b),
        ENODEV
    );
    let mut v = arg(PCICONF_VPD_READ4);
    assert_eq!(call(&dev, MA, &mut st2, PCICONF_VPD_READ4, &mut v), 19);
    let mut d = arg(PCICONF_GET_DMA_PAGES);
    put(&mut d, &[(0, 1)]);
    assert_eq!(
        call(&dev, MA, &mut st2, PCICONF_GET_DMA_PAGES, &mut d),
        ENOTTY
    );
    let mut c = arg(PCICONF_READ_DWORD_FROM_CONFIG_SPACE);
    assert_eq!(
        call(
            &dev,
            MA,
            &mut st2,
            PCICONF_READ_DWORD_FROM_CONFIG_SPACE,
            &mut c
        ),
        ENOTTY
    );
    // INIT re-initializes.
    assert_eq!(call(&dev, MA, &mut st2, PCICONF_INIT, &mut init), 0);
    assert_eq!(call(&dev, MA, &mut st2, MST_PARAMS, &mut p), 0);
    assert_eq!(call(&dev, MA, &mut st2, PCICONF_INIT, &mut init), 19);

    // PCIMEM ioctls on a PCICONF node.
    let mut m = arg(PCIMEM_INIT);
    assert_eq!(call(&dev, MA, &mut st, PCIMEM_INIT, &mut m), EPERM);
    let mut m = arg(PCIMEM_READ_BLOCK);
    assert_eq!(call(&dev, MA, &mut st, PCIMEM_READ_BLOCK, &mut m), EPERM);
}

#[test]
fn ma_connectx_wa_per_fd() {
    use mstflint_access::PCI_CONNECTX_WA;
    let dev = FakeDev::new();
    let mut fds: Vec<FdState> = (0..4).map(|_| FdState::default()).collect();
    let mut a = arg(PCI_CONNECTX_WA);
    assert_eq!(call(&dev, MA, &mut fds[0], PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 1);
    wr32(&mut a, 0, 77);
    assert_eq!(call(&dev, MA, &mut fds[0], PCI_CONNECTX_WA, &mut a), EPERM);
    assert_eq!(rd32(&a, 0), 77);
    assert_eq!(call(&dev, MA, &mut fds[1], PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 2);
    assert_eq!(call(&dev, MA, &mut fds[2], PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 3);
    assert_eq!(call(&dev, MA, &mut fds[3], PCI_CONNECTX_WA, &mut a), ENOLCK);
    // Closing fd 1 frees slot 2.
    drop(fds.remove(1));
    assert_eq!(call(&dev, MA, &mut fds[2], PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 2);
}

#[test]
fn ma_vpd() {
    use mstflint_access::{PCICONF_VPD_READ4, PCICONF_VPD_WRITE4};
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut a = arg(PCICONF_VPD_READ4);
    put(&mut a, &[(0, 0x8004), (4, 0), (8, 0xffff_ffff)]);
    // Offset masked to 15 bits: reads VPD bytes 4..8.
    assert_eq!(call(&dev, MA, &mut st, PCICONF_VPD_READ4, &mut a), 0);
    assert_eq!(rd32(&a, 8), u32::from_le_bytes([4, 5, 6, 7]));
    assert_eq!(rd32(&a, 0), 0x8004);

    let mut w = arg(PCICONF_VPD_WRITE4);
    put(&mut w, &[(0, 0x10), (4, 100), (8, 0x0403_0201)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_VPD_WRITE4, &mut w), 0);
    assert_eq!(&dev.vpd.lock()[0x10..0x14], &[1, 2, 3, 4]);

    // Timeout from the device.
    put(&mut a, &[(0, 0x1000)]);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_VPD_READ4, &mut a),
        -(libc::ETIMEDOUT as i64)
    );
    // No VPD capability.
    let mut dev = FakeDev::new();
    dev.vpd_cap = false;
    assert_eq!(call(&dev, MA, &mut st, PCICONF_VPD_READ4, &mut a), ENODEV);
}

#[test]
fn ma_dma_pages() {
    use mstflint_access::{PCICONF_GET_DMA_PAGES, PCICONF_RELEASE_DMA_PAGES};
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut a = arg(PCICONF_GET_DMA_PAGES);
    assert_eq!(a.len(), 528);
    put(&mut a, &[(0, 3)]);
    wr64(&mut a, 8, 0x7f00_0000_0000);
    wr64(&mut a, 16 + 8, 0xabcd); // virtual_address of entry 0: not written by the kernel
    assert_eq!(call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a), 0);
    for i in 0..3 {
        assert_eq!(rd64(&a, 16 + i * 16), 0x1000_0000 + i as u64 * 4096);
    }
    assert_eq!(rd64(&a, 16 + 8), 0xabcd);
    assert_eq!(rd64(&a, 16 + 3 * 16), 0);
    // One outstanding allocation per device.
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a),
        EBUSY
    );
    let mut r = arg(PCICONF_RELEASE_DMA_PAGES);
    put(&mut r, &[(0, 3)]);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_RELEASE_DMA_PAGES, &mut r),
        0
    );
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_RELEASE_DMA_PAGES, &mut r),
        EINVAL
    );
    // page_amount 0, overflow, > 32 pages.
    put(&mut a, &[(0, 0)]);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a),
        EINVAL
    );
    put(&mut a, &[(0, 2)]);
    wr64(&mut a, 8, u64::MAX - 4096);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a),
        EINVAL
    );
    put(&mut a, &[(0, 33)]);
    wr64(&mut a, 8, 0x1000);
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a),
        EINVAL
    );
    put(&mut a, &[(0, 32)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut a), 0);
    assert_eq!(rd64(&a, 16 + 31 * 16), 0x1000_0000 + 31 * 4096);
    // The 144-byte userspace struct with this number is a size mismatch here.
    let mut small = vec![0u8; 144];
    assert_eq!(
        call(&dev, MA, &mut st, PCICONF_GET_DMA_PAGES, &mut small),
        EFAULT
    );
}

#[test]
fn ma_config_dword_hot_reset_unknown() {
    use mstflint_access::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut a = arg(PCICONF_READ_DWORD_FROM_CONFIG_SPACE);
    put(&mut a, &[(0, 0)]);
    assert_eq!(
        call(
            &dev,
            MA,
            &mut st,
            PCICONF_READ_DWORD_FROM_CONFIG_SPACE,
            &mut a
        ),
        0
    );
    assert_eq!(rd32(&a, 4), 0x1017_15b3);

    let mut h = arg(PCICONF_HOT_RESET);
    put(&mut h, &[(0, 0), (4, 5), (8, 0), (12, 0)]);
    assert_eq!(call(&dev, MA, &mut st, PCICONF_HOT_RESET, &mut h), 0);
    h[32] = 1; // in parallel with device_2 = 0000:00:00.0: absent
    assert_eq!(call(&dev, MA, &mut st, PCICONF_HOT_RESET, &mut h), ENODEV);

    // Unknown numbers (other ABIs' too) -> EINVAL; counted as UNKNOWN.
    let mut x = vec![0u8; 12];
    assert_eq!(call(&dev, MA, &mut st, 0x800CD207, &mut x), EINVAL);
    assert_eq!(call(&dev, MA, &mut st, 0x410CD302, &mut x), EINVAL);
    assert_eq!(dev.count(UNKNOWN), 2);
    // Wrong argument size for a known number.
    let mut short = vec![0u8; 8];
    assert_eq!(call(&dev, MA, &mut st, MST_READ4, &mut short), EFAULT);
}

// ------------------------------------------------------------------ Gen-1 mst_driver

const G1: NodeKind = NodeKind::MstDriverConf;

#[test]
fn gen1_read_write() {
    use mst_driver::{MST_READ, MST_WRITE};
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut w = arg(MST_WRITE);
    assert_eq!(w.len(), 268);
    put(
        &mut w,
        &[(0, 0x3000), (4, 8), (8, 0xa), (12, 0xb), (264, 2)],
    );
    assert_eq!(call(&dev, G1, &mut st, MST_WRITE, &mut w), 0);
    assert_eq!((dev.get(0x3000), dev.get(0x3004)), (0xa, 0xb));

    let mut r = arg(MST_READ);
    // size in bytes; a partial dword still reads the whole dword.
    put(&mut r, &[(0, 0x3000), (4, 6), (264, 2)]);
    assert_eq!(call(&dev, G1, &mut st, MST_READ, &mut r), 0);
    assert_eq!((rd32(&r, 8), rd32(&r, 12), rd32(&r, 16)), (0xa, 0xb, 0));
    assert_eq!((rd32(&r, 0), rd32(&r, 4), rd32(&r, 264)), (0x3000, 6, 2));
    assert_eq!(dev.log.lock().last(), Some(&(Access::Gw(2), 0x3004, false)));

    // Unsupported space: the failure is ignored, returns 0 with data untouched.
    put(&mut r, &[(8, 0x55), (264, 5)]);
    assert_eq!(call(&dev, G1, &mut st, MST_READ, &mut r), 0);
    assert_eq!(rd32(&r, 8), 0x55);
    // Mid-way failure: 0, data filled as far as it got.
    let mut dev2 = FakeDev::new();
    dev2.fail = Some((2, libc::ETIMEDOUT));
    put(&mut r, &[(4, 8), (8, 0), (12, 0x66), (264, 2)]);
    assert_eq!(call(&dev2, G1, &mut st, MST_READ, &mut r), 0);
    assert_eq!((rd32(&r, 8), rd32(&r, 12)), (0x3000 ^ 0x5a5a_0000, 0x66));
    // Over 256 bytes: stand-in error.
    put(&mut r, &[(4, 260)]);
    assert_eq!(call(&dev, G1, &mut st, MST_READ, &mut r), EINVAL);
    assert_eq!(dev.count("MST_READ"), 3);
    assert_eq!(dev.count("MST_WRITE"), 1);

    // Legacy flavour on a device without VSEC: space ignored.
    let leg = FakeDev::legacy();
    put(&mut r, &[(0, 0xf0014), (4, 4), (264, 9)]);
    leg.set(0xf0014, 0x209);
    assert_eq!(call(&leg, G1, &mut st, MST_READ, &mut r), 0);
    assert_eq!(rd32(&r, 8), 0x209);
    assert_eq!(
        leg.log.lock().last(),
        Some(&(Access::Legacy, 0xf0014, false))
    );
}

#[test]
fn gen1_memory_node() {
    use mst_driver::{MST_READ, MST_WRITE};
    let mut dev = FakeDev::new();
    dev.device_id = 0x1003;
    let mut st = FdState::default();
    let mut w = arg(MST_WRITE);
    put(&mut w, &[(0, 0x10), (4, 8), (8, 1), (12, 2)]);
    assert_eq!(
        call(&dev, NodeKind::MstDriverCr, &mut st, MST_WRITE, &mut w),
        0
    );
    // Only data[0]; size ignored.
    assert_eq!((dev.get(0x10), dev.get(0x14)), (1, 0x14 ^ 0x5a5a_0000));
    assert_eq!(dev.log.lock().as_slice(), &[(Access::Mem, 0x10, true)]);
    let mut r = arg(MST_READ);
    put(&mut r, &[(0, 0x10)]);
    assert_eq!(
        call(&dev, NodeKind::MstDriverMftCr, &mut st, MST_READ, &mut r),
        0
    );
    assert_eq!(rd32(&r, 8), 1);
    put(&mut r, &[(0, 0x10_0000)]);
    assert_eq!(
        call(&dev, NodeKind::MstDriverCr, &mut st, MST_READ, &mut r),
        EFAULT
    );
}

#[test]
fn gen1_params_init_quirk() {
    use mst_driver::*;
    let mut dev = FakeDev::new();
    dev.loc = (0x12, 3, 4, 5);
    let mut st = FdState::default();
    let mut p = arg(MST_GET_DEVICE_PARAMETERS);
    put(&mut p, &[(0, 0xdead)]);
    assert_eq!(
        call(&dev, G1, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p),
        0
    );
    let w: Vec<u32> = (0..10).map(|i| rd32(&p, i * 4)).collect();
    assert_eq!(w, [0xdead, 3, 4, 5, 0, 0x1017, 0x15b3, 7, 0x15b3, 0x40]);

    // MST_INIT on a VSEC node corrupts the semaphore offset.
    let mut i = arg(MST_INIT);
    put(&mut i, &[(0, 88), (4, 92)]);
    assert_eq!(call(&dev, G1, &mut st, MST_INIT, &mut i), 0);
    assert_eq!(
        call(&dev, G1, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p),
        0
    );
    assert_eq!(rd32(&p, 36), 0);
    let mut r = arg(MST_READ);
    put(&mut r, &[(0, 0xf0014), (4, 4), (8, 0x77), (264, 2)]);
    assert_eq!(call(&dev, G1, &mut st, MST_READ, &mut r), 0);
    assert_eq!(rd32(&r, 8), 0x77);
    // Another node kind of the same device is another minor: unaffected.
    let mut st2 = FdState::default();
    assert_eq!(
        call(&dev, NodeKind::MstDriverMftConf, &mut st2, MST_READ, &mut r),
        0
    );
    assert_ne!(rd32(&r, 8), 0x77);

    // Legacy device: no VSEC -> 0, INIT is a no-op.
    let leg = FakeDev::legacy();
    assert_eq!(call(&leg, G1, &mut st, MST_INIT, &mut i), 0);
    assert_eq!(
        call(&leg, G1, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p),
        0
    );
    assert_eq!(rd32(&p, 36), 0);
    // Recovery VSEC (capability 9 but not functional): no space supported -> 0.
    dev = FakeDev::new();
    dev.vsec = false;
    assert_eq!(
        call(&dev, G1, &mut st, MST_GET_DEVICE_PARAMETERS, &mut p),
        0
    );
    assert_eq!(rd32(&p, 36), 0);
}

#[test]
fn gen1_connectx_wa_vpd_dma_dword() {
    use mst_driver::*;
    let dev = FakeDev::new();
    let (mut a1, mut a2) = (FdState::default(), FdState::default());
    let mut a = arg(MST_PCI_CONNECTX_WA);
    assert_eq!(call(&dev, G1, &mut a1, MST_PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 1);
    wr32(&mut a, 0, 9);
    assert_eq!(call(&dev, G1, &mut a2, MST_PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(rd32(&a, 0), 9);
    assert_eq!(call(&dev, G1, &mut a1, MST_PCI_CONNECTX_WA, &mut a), 0);
    assert_eq!(call(&dev, G1, &mut a2, MST_PCI_CONNECTX_WA, &mut a), ENOLCK);

    let mut d = arg(MST_READ_DWORD_FROM_CONFIG_SPACE);
    put(&mut d, &[(0, 0x2c), (4, 1)]);
    assert_eq!(
        call(&dev, G1, &mut a1, MST_READ_DWORD_FROM_CONFIG_SPACE, &mut d),
        0
    );
    assert_eq!(rd32(&d, 4), 0x0007_15b3);
    put(&mut d, &[(0, 0x2), (4, 1)]); // unaligned: read error not reported
    assert_eq!(
        call(&dev, G1, &mut a1, MST_READ_DWORD_FROM_CONFIG_SPACE, &mut d),
        0
    );
    assert_eq!(rd32(&d, 4), 1);

    let mut g = arg(MST_GET_DMA_PAGES);
    put(&mut g, &[(0, 2)]);
    assert_eq!(call(&dev, G1, &mut a1, MST_GET_DMA_PAGES, &mut g), 0);
    assert_eq!(rd64(&g, 32), 0x1000_1000);
    assert_eq!(call(&dev, G1, &mut a1, MST_RELEASE_DMA_PAGES, &mut g), 0);
    put(&mut g, &[(0, 33)]);
    assert_eq!(call(&dev, G1, &mut a1, MST_GET_DMA_PAGES, &mut g), EINVAL);

    let mut v = arg(MST_VPD_READ);
    put(&mut v, &[(0, 8)]);
    assert_eq!(call(&dev, G1, &mut a1, MST_VPD_READ, &mut v), 0);
    assert_eq!(rd32(&v, 8), u32::from_le_bytes([8, 9, 10, 11]));
    put(&mut v, &[(0, 0), (8, 0x6655_4433)]);
    assert_eq!(call(&dev, G1, &mut a1, MST_VPD_WRITE, &mut v), 0);
    assert_eq!(&dev.vpd.lock()[0..4], &[0x33, 0x44, 0x55, 0x66]);

    // Unknown (mstflint_access numbers included) -> EINVAL.
    let mut x = arg(0x8028D001);
    assert_eq!(call(&dev, G1, &mut a1, 0x8028D001, &mut x), EINVAL);

    // No VPD capability: -ENODEV, then the device is wedged (would deadlock).
    let mut nv = FakeDev::new();
    nv.vpd_cap = false;
    assert_eq!(call(&nv, G1, &mut a1, MST_VPD_READ, &mut v), ENODEV);
    let mut p = arg(MST_GET_DEVICE_PARAMETERS);
    assert_eq!(
        call(&nv, G1, &mut a1, MST_GET_DEVICE_PARAMETERS, &mut p),
        -(libc::EDEADLK as i64)
    );
}

// ------------------------------------------------------------------ MFT

const PC: NodeKind = NodeKind::MftPciconf;
const CR: NodeKind = NodeKind::MftPciCr;

fn mft_init(dev: &FakeDev, st: &mut FdState) -> i64 {
    let mut i = arg(mft::PCICONF_INIT);
    let (d, b, s, f) = dev.loc;
    put(
        &mut i,
        &[
            (0, d as u32),
            (4, b as u32),
            (8, (s as u32) << 3 | f as u32),
            (12, 88),
            (16, 92),
        ],
    );
    call(dev, PC, st, mft::PCICONF_INIT, &mut i)
}

#[test]
fn mft_pciconf_binding() {
    use mft::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut r = arg(PCICONF_READ4);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_READ4, &mut r), ENOTTY);
    let mut i = arg(PCICONF_INIT);
    put(&mut i, &[(0, 0), (4, 6), (8, 0)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_INIT, &mut i), ENXIO);
    put(&mut i, &[(0, u32::MAX), (4, 5), (8, 0)]); // domain -1 = 0
    assert_eq!(call(&dev, PC, &mut st, PCICONF_INIT, &mut i), 0);
    dev.set(0xf0014, 0x20d);
    put(&mut r, &[(0, 0xf0014)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_READ4, &mut r), 0);
    assert_eq!(rd32(&r, 4), 0x20d);
    // READ4 (8-byte) always uses the legacy window.
    assert_eq!(
        dev.log.lock().last(),
        Some(&(Access::Legacy, 0xf0014, false))
    );
    // The binding belongs to the node: another fd uses it.
    let mut st2 = FdState::default();
    assert_eq!(call(&dev, PC, &mut st2, PCICONF_READ4, &mut r), 0);
    // Read-only fd cannot issue _IOC_NONE commands.
    let mut ro = FdState::new(libc::O_RDONLY);
    assert_eq!(call(&dev, PC, &mut ro, PCICONF_STOP, &mut []), EPERM);
    let mut wo = FdState::new(libc::O_WRONLY);
    assert_eq!(call(&dev, PC, &mut wo, PCICONF_READ4, &mut r), EPERM);
    assert_eq!(call(&dev, PC, &mut st2, PCICONF_STOP, &mut []), 0);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_READ4, &mut r), ENOTTY);
    // Unknown -> ENOTTY.
    let mut x = vec![0u8; 12];
    assert_eq!(call(&dev, PC, &mut st, 0x800CD101, &mut x), ENOTTY);
    assert_eq!(dev.count("PCICONF_INIT"), 2);
}

#[test]
fn mft_pciconf_new_modify_buffers() {
    use mft::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    assert_eq!(mft_init(&dev, &mut st), 0);
    let mut w = arg(PCICONF_WRITE4_NEW);
    put(&mut w, &[(0, 3), (4, 0x500), (8, 0xf0f0)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_WRITE4_NEW, &mut w), 0);
    assert_eq!(dev.log.lock().last(), Some(&(Access::Gw(3), 0x500, true)));
    let mut m = arg(PCICONF_MODIFY);
    put(
        &mut m,
        &[(0, 3), (4, 0x500), (8, 0x0f0f), (12, 0x00ff), (16, 0)],
    );
    assert_eq!(call(&dev, PC, &mut st, PCICONF_MODIFY, &mut m), 0);
    assert_eq!(dev.get(0x500), 0xf00f);
    assert_eq!(rd32(&m, 16), 0xf00f); // the new value, not the old one
    let mut r = arg(PCICONF_READ4_NEW);
    put(&mut r, &[(0, 3), (4, 0x500)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_READ4_NEW, &mut r), 0);
    assert_eq!(rd32(&r, 8), 0xf00f);

    let mut b = arg(PCICONF_READ4_BUFFER_EX);
    put(&mut b, &[(0, 3), (4, 0x4fc), (8, 12)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_READ4_BUFFER_EX, &mut b), 12);
    assert_eq!(rd32(&b, 16), 0xf00f);
    put(&mut b, &[(8, 260)]);
    assert_eq!(
        call(&dev, PC, &mut st, PCICONF_READ4_BUFFER_EX, &mut b),
        EINVAL
    );
    let mut wb = arg(PCICONF_WRITE4_BUFFER);
    put(&mut wb, &[(0, 2), (4, 0x600), (8, 4), (12, 9)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_WRITE4_BUFFER, &mut wb), 4);
    assert_eq!(dev.get(0x600), 9);
    let mut old = arg(PCICONF_READ4_BUFFER);
    assert_eq!(
        call(&dev, PC, &mut st, PCICONF_READ4_BUFFER, &mut old),
        EFAULT
    );

    // Not fully supported (no ALL_ICMD): NEW goes to the legacy window, buffers ENOSYS.
    let mut part = FakeDev::new();
    part.spaces = vec![1, 2, 0xa];
    let mut st = FdState::default();
    assert_eq!(mft_init(&part, &mut st), 0);
    assert_eq!(call(&part, PC, &mut st, PCICONF_READ4_NEW, &mut r), 0);
    assert_eq!(part.log.lock().last().map(|l| l.0), Some(Access::Legacy));
    assert_eq!(
        call(&part, PC, &mut st, PCICONF_READ4_BUFFER_EX, &mut b),
        -(libc::ENOSYS as i64)
    );
    // Semaphore taken while computing the mask: EBUSY.
    let mut busy = FakeDev::new();
    busy.sem_busy = true;
    let mut st = FdState::default();
    assert_eq!(mft_init(&busy, &mut st), 0);
    assert_eq!(call(&busy, PC, &mut st, PCICONF_READ4_NEW, &mut r), EBUSY);
}

#[test]
fn mft_pciconf_params_meta_vpd_dma() {
    use mft::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    assert_eq!(mft_init(&dev, &mut st), 0);
    let mut p = arg(PCICONF_MST_PARAMS);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_MST_PARAMS, &mut p), 0);
    let w: Vec<u32> = (0..12).map(|i| rd32(&p, i * 4)).collect();
    // Spaces 1,2,3,6,7,0xa -> bits 0 (init), 1, 2, 3, 6, 7, 8.
    assert_eq!(
        w,
        [
            0,
            5,
            0,
            0,
            0,
            0x1017,
            0x15b3,
            7,
            0x15b3,
            0x40,
            0b1_1100_1111,
            1
        ]
    );

    let mut md = arg(PCICONF_MST_META_DATA);
    assert_eq!(
        call(&dev, PC, &mut st, PCICONF_MST_META_DATA, &mut md),
        EINVAL
    );
    md[4] = 1;
    wr32(&mut md, 12, 72);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_MST_META_DATA, &mut md), 0);
    assert_eq!(
        (md[0], md[2], md[4], rd32(&md, 12), md[16]),
        (1, 16, 1, 72, 1)
    );

    let mut v = arg(PCICONF_VPD_READ4);
    put(&mut v, &[(0, 12)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_VPD_READ4, &mut v), 0);
    assert_eq!(rd32(&v, 4), u32::from_le_bytes([12, 13, 14, 15]));
    put(&mut v, &[(0, 0x4000)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_VPD_READ4, &mut v), EFAULT);

    let mut ma = arg(PCICONF_MEM_ACCESS);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_MEM_ACCESS, &mut ma), EINVAL);
    let mut dp = vec![0xffu8; 512];
    assert_eq!(call(&dev, PC, &mut st, PCICONF_DMA_PROPS, &mut dp), 0);
    assert!(dp.iter().all(|b| *b == 0));

    let mut g = arg(PCICONF_GET_DMA_PAGES);
    assert_eq!(g.len(), 144);
    put(&mut g, &[(0, 9)]);
    assert_eq!(
        call(&dev, PC, &mut st, PCICONF_GET_DMA_PAGES, &mut g),
        EINVAL
    );
    put(&mut g, &[(0, 8)]);
    assert_eq!(call(&dev, PC, &mut st, PCICONF_GET_DMA_PAGES, &mut g), 0);
    assert_eq!(rd64(&g, 16 + 7 * 16), 0x1000_0000 + 7 * 4096);
    assert_eq!(
        call(&dev, PC, &mut st, PCICONF_RELEASE_DMA_PAGES, &mut g),
        0
    );

    let mut d = arg(PCICONF_READ_DWORD_FROM_CONFIG_SPACE);
    put(&mut d, &[(0, 0x10)]);
    assert_eq!(
        call(
            &dev,
            PC,
            &mut st,
            PCICONF_READ_DWORD_FROM_CONFIG_SPACE,
            &mut d
        ),
        0
    );
    assert_eq!(rd32(&d, 4), 0xe000_000c);
}

#[test]
fn mft_pci_init_params_mmap() {
    use mft::*;
    let dev = FakeDev::new();
    let mut st = FdState::default();
    assert_eq!(mmap_allowed(CR, &st, 0, 4096), Err(libc::EINVAL));
    let mut p = arg(PCI_PARAMS);
    assert_eq!(call(&dev, CR, &mut st, PCI_PARAMS, &mut p), 0);
    assert_eq!((rd64(&p, 0), rd64(&p, 8)), (0, 0));

    let mut i = arg(PCI_INIT);
    put(&mut i, &[(0, 0), (4, 5), (8, 0), (12, 17)]);
    assert_eq!(call(&dev, CR, &mut st, PCI_INIT, &mut i), ENXIO);
    put(&mut i, &[(4, 6), (12, 0)]);
    assert_eq!(call(&dev, CR, &mut st, PCI_INIT, &mut i), ENXIO);
    put(&mut i, &[(4, 5)]);
    assert_eq!(call(&dev, CR, &mut st, PCI_INIT, &mut i), 0);
    assert_eq!(call(&dev, CR, &mut st, PCI_PARAMS, &mut p), 0);
    assert_eq!((rd64(&p, 0), rd64(&p, 8)), (0x1_e000_0000, 0x400_0000));

    assert_eq!(mmap_allowed(CR, &st, 0, 0x400_0000), Ok(()));
    assert_eq!(mmap_allowed(CR, &st, 0x3ff_f000, 0x1000), Ok(()));
    assert_eq!(mmap_allowed(CR, &st, 0x3ff_f000, 0x2000), Err(libc::EINVAL));
    assert_eq!(mmap_allowed(CR, &st, 0x400_0000, 0), Err(libc::EINVAL));
    assert_eq!(mmap_allowed(CR, &st, u64::MAX, 2), Err(libc::EINVAL));
    // A fresh fd opened on the node sees the binding.
    let st2 = FdState::open_on(&dev, CR, libc::O_RDWR);
    assert_eq!(mmap_allowed(CR, &st2, 0, 4096), Ok(()));
    // Other nodes have no mmap.
    for k in NodeKind::ALL.into_iter().filter(|k| *k != CR) {
        assert_eq!(mmap_allowed(k, &st2, 0, 4096), Err(libc::ENODEV));
    }
    assert_eq!(call(&dev, CR, &mut st, PCI_STOP, &mut []), 0);
    assert_eq!(mmap_allowed(CR, &st2, 0, 4096), Err(libc::EINVAL));

    // BAR 2: no resource -> size 0.
    put(&mut i, &[(12, 2)]);
    assert_eq!(call(&dev, CR, &mut st, PCI_INIT, &mut i), 0);
    assert_eq!(call(&dev, CR, &mut st, PCI_PARAMS, &mut p), 0);
    assert_eq!(rd64(&p, 8), 0);

    let mut w = arg(PCI_CONNECTX_WA);
    assert_eq!(call(&dev, CR, &mut st, PCI_CONNECTX_WA, &mut w), 0);
    assert_eq!(rd32(&w, 0), 1);
    assert_eq!(call(&dev, CR, &mut st, PCI_CONNECTX_WA, &mut w), EPERM);
    let mut x = vec![0u8; 8];
    assert_eq!(call(&dev, CR, &mut st, 0x8008D201, &mut x), ENOTTY);
    assert_eq!(dev.count("PCI_INIT"), 4);
}

// ------------------------------------------------------------------ nodes

fn cfg(toml: &str) -> Vec<DeviceConfig> {
    SimConfig::from_toml(toml).unwrap().devices
}

fn paths(v: &[NodeSpec]) -> Vec<(&str, NodeKind)> {
    v.iter().map(|n| (n.path.as_str(), n.kind)).collect()
}

#[test]
fn node_names() {
    let c = cfg("[[device]]\ndriver = \"mstflint_access\"\nbdf = \"0000:3b:00.1\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [("/dev/0000:3b:00.1_mstconf", NodeKind::MstflintAccessConf)]
    );
    let vf = cfg("[[device]]\ndriver = \"mstflint_access\"\nphysfn = \"0000:05:00.0\"\nbdf = \"0000:05:00.2\"");
    assert!(nodes_for(&vf[0]).is_empty());
    assert!(nodes_for(&cfg("")[0]).is_empty());

    let c = cfg("[[device]]\ndriver = \"mst_driver\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [("/dev/0000:05:00.0_mstconf", NodeKind::MstDriverConf)]
    );
    let c = cfg("[[device]]\ndriver = \"mst_driver\"\nmodel = \"connectx3\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [
            ("/dev/0000:05:00.0_mstconf", NodeKind::MstDriverConf),
            ("/dev/0000:05:00.0_mstcr", NodeKind::MstDriverCr)
        ]
    );
    let vf = cfg(
        "[[device]]\ndriver = \"mst_driver\"\nphysfn = \"0000:05:00.0\"\nbdf = \"0000:05:00.2\"",
    );
    assert!(nodes_for(&vf[0]).is_empty());
    // ConnectX-7 is not in the Gen-1 tables.
    let c = cfg("[[device]]\ndriver = \"mst_driver\"\nmodel = \"connectx7\"");
    assert!(nodes_for(&c[0]).is_empty());

    let c = cfg("[[device]]\ndriver = \"mst_driver_mft\"\nbdf = \"0000:05:00.1\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [("/dev/mst/mt4119_pci_pciconf1", NodeKind::MstDriverMftConf)]
    );
    let c = cfg("[[device]]\ndriver = \"mst_driver_mft\"\nmodel = \"connectx3pro\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [
            ("/dev/mst/mt4103_pci_pciconf0", NodeKind::MstDriverMftConf),
            ("/dev/mst/mt4103_pci_pci_cr0", NodeKind::MstDriverMftCr)
        ]
    );

    let c = cfg("[[device]]\ndriver = \"mft_legacy\"");
    assert_eq!(
        paths(&nodes_for(&c[0])),
        [
            ("/dev/mst/mt4119_pciconf0", NodeKind::MftPciconf),
            ("/dev/mst/mt4119_pci_cr0", NodeKind::MftPciCr)
        ]
    );
}

#[test]
fn node_numbering_several_devices() {
    let c = cfg(concat!(
        "[[device]]\ndriver = \"mft_legacy\"\nbdf = \"0000:82:00.0\"\n",
        "[[device]]\ndriver = \"mft_legacy\"\nbdf = \"0000:05:00.1\"\n",
        "[[device]]\ndriver = \"mft_legacy\"\nbdf = \"0000:05:00.0\"\n",
        "[[device]]\ndriver = \"mft_legacy\"\nbdf = \"0000:06:00.0\"\nmodel = \"connectx6\"\n",
        "[[device]]\ndriver = \"mst_driver_mft\"\nbdf = \"0000:07:00.0\"\nmodel = \"connectx4\"\n",
        "[[device]]\ndriver = \"mst_driver_mft\"\nbdf = \"0000:08:00.0\"\nmodel = \"connectx4\"\n",
    ));
    let all = nodes_for_all(&c);
    let first: Vec<&str> = all
        .iter()
        .map(|v| v.first().map(|n| n.path.as_str()).unwrap_or("-"))
        .collect();
    assert_eq!(
        first,
        [
            "/dev/mst/mt4119_pciconf1",
            "/dev/mst/mt4119_pciconf0.1",
            "/dev/mst/mt4119_pciconf0",
            "/dev/mst/mt4123_pciconf0",
            "/dev/mst/mt4115_pci_pciconf0",
            "-", // name collision: the second card gets no node
        ]
    );
    assert_eq!(all[1][1].path, "/dev/mst/mt4119_pci_cr0.1");
}

#[test]
fn counters_count_every_ioctl_by_name() {
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut a = arg(mft::PCICONF_READ4);
    for _ in 0..3 {
        call(&dev, PC, &mut st, mft::PCICONF_READ4, &mut a);
    }
    assert_eq!(dev.count("PCICONF_READ4"), 3);
    let mut x = vec![0u8; 4];
    call(
        &dev,
        G1,
        &mut st,
        0x1234_5678 & !0x3fff_0000 | 4 << 16,
        &mut x,
    );
    assert_eq!(dev.count(UNKNOWN), 1);
}

#[test]
fn faults_apply_to_ioctls_that_do_not_touch_the_device() {
    let mut dev = FakeDev::new();
    dev.fail = Some((1, libc::ENODEV));
    let mut st = FdState::default();
    let mut a = arg(mstflint_access::PCI_CONNECTX_WA);
    assert_eq!(
        call(&dev, MA, &mut st, mstflint_access::PCI_CONNECTX_WA, &mut a),
        ENODEV
    );
    let mut p = arg(mft::PCI_PARAMS);
    assert_eq!(call(&dev, CR, &mut st, mft::PCI_PARAMS, &mut p), ENODEV);
    assert_eq!(dev.log.lock().first().map(|l| l.0), Some(Access::Gate));
    // Unknown numbers never reach the device.
    let n = dev.log.lock().len();
    let mut x = vec![0u8; 4];
    assert_eq!(call(&dev, MA, &mut st, 0x8004D599, &mut x), EINVAL);
    assert_eq!(dev.log.lock().len(), n);
}

#[test]
fn gen1_unknown_numbers_do_not_touch_the_device() {
    let dev = FakeDev::new();
    let mut st = FdState::default();
    let mut x = vec![0u8; 40];
    assert_eq!(call(&dev, G1, &mut st, 0x8028D001, &mut x), EINVAL);
    assert!(dev.log.lock().is_empty());
    let mut w = arg(mst_driver::MST_PCI_CONNECTX_WA);
    assert_eq!(
        call(&dev, G1, &mut st, mst_driver::MST_PCI_CONNECTX_WA, &mut w),
        0
    );
    assert_eq!(dev.log.lock().as_slice(), &[(Access::Gate, 0, false)]);
}
