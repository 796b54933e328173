//! mstflint's `mstflint_access` (kernel_abis.md §3.1, §3.2): `/dev/DDDD:BB:DD.F_mstconf`.
//!
//! Quirks hidden here: READ4 writes back only `data`; buffer ioctls return a positive byte
//! count (a smaller count = partial, no copy-back; NNT's re-implementation returns 0); the
//! pre-2020 READ4_BUFFER number is tried when the current one is refused (with the full
//! 268-byte buffer the kernel copies, never the 12 bytes that number encodes); VPD returns
//! `+ENODEV` on an uninitialized device; blocks are clamped to 256 bytes (no kernel check).

use super::{
    block_result, ior, iow, is_wrong_abi, positive_errno, Arg, DriverAccess, DriverOps, Node,
    Spaces, MAX_BLOCK_BYTES,
};
use crate::access::{GatewayInfo, PathKind};
use crate::defs::{AS_CR_SPACE, HW_ID_ADDR, VCC_CRSPACE_SPACE_SUPPORTED, VCC_INITIALIZED};
use crate::error::Result;

const RW4_SIZE: usize = 12;
const BUF_SIZE: usize = 268;
const PARAMS_SIZE: usize = 40;
const PAGE_INFO_SIZE: usize = 528;
/// Page entries in the kernel's page_info struct.
pub const MAX_DMA_PAGES: usize = 32;

pub const MST_PARAMS: u32 = ior(0xD0, 1, PARAMS_SIZE);
pub const MST_READ4: u32 = ior(0xD1, 1, RW4_SIZE);
pub const MST_WRITE4: u32 = iow(0xD1, 2, RW4_SIZE);
pub const PCICONF_READ4_BUFFER: u32 = ior(0xD2, 3, BUF_SIZE);
/// The number before mstflint commit 1cb7f566 (encodes 12 bytes; the kernel copied 268).
pub const PCICONF_READ4_BUFFER_BC: u32 = ior(0xD2, 3, RW4_SIZE);
pub const PCICONF_WRITE4_BUFFER: u32 = iow(0xD2, 4, BUF_SIZE);
pub const PCICONF_GET_DMA_PAGES: u32 = ior(0xD3, 13, PAGE_INFO_SIZE);
pub const PCICONF_RELEASE_DMA_PAGES: u32 = ior(0xD3, 14, PAGE_INFO_SIZE);
pub const PCICONF_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD3, 15, 8);
pub const PCICONF_VPD_READ4: u32 = ior(0xD6, 1, 12);
pub const PCICONF_VPD_WRITE4: u32 = iow(0xD6, 2, 12);

/// What MST_PARAMS says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    pub domain: u32,
    pub bus: u32,
    pub slot: u32,
    pub func: u32,
    pub device: u32,
    pub vendor: u32,
    /// Config offset of the functional VSEC (0 = none / not fully supported).
    pub functional_vsc_offset: u32,
}

/// An open `_mstconf` node speaking the mstflint_access ABI.
pub struct MstflintAccess {
    node: Node,
    params: Params,
    /// 0 = not tried, 1 = current number works, 2 = only the old number works, 3 = none.
    read_buf: u8,
    blocks: bool,
}

/// Ask MST_PARAMS (the probe: another ABI answers EINVAL/ENOTTY).
pub fn params(node: &Node) -> Result<Params> {
    let mut a = Arg::new(PARAMS_SIZE);
    node.ioctl("MST_PARAMS", MST_PARAMS, &mut a)?;
    Ok(Params {
        domain: a.get(0),
        bus: a.get(4),
        slot: a.get(8),
        func: a.get(12),
        device: a.get(20),
        vendor: a.get(24),
        functional_vsc_offset: a.get(36),
    })
}

impl MstflintAccess {
    /// Bind to an open node (MST_PARAMS must succeed).
    pub fn new(node: Node) -> Result<MstflintAccess> {
        let params = params(&node)?;
        let blocks = params.functional_vsc_offset != 0;
        Ok(MstflintAccess {
            node,
            params,
            read_buf: 0,
            blocks,
        })
    }

    pub fn params(&self) -> Params {
        self.params
    }

    fn buf_arg(space: u32, addr: u32, bytes: usize) -> Arg {
        let mut a = Arg::new(BUF_SIZE);
        a.put(0, space).put(4, addr).put(8, bytes as u32);
        a
    }
}

/// Open the path over a `_mstconf` node answering MST_PARAMS. Without a functional VSEC:
/// crspace only. With one, the driver runs the gateway itself and fails the ioctl of a space
/// it cannot select: the other spaces are found on first use ([`Spaces::Lazy`]), crspace by
/// the hw id read that every open needs.
pub fn open(node: Node) -> Result<DriverAccess> {
    let mut ops = MstflintAccess::new(node)?;
    let off = ops.params().functional_vsc_offset;
    if off == 0 {
        return Ok(DriverAccess::fixed(Box::new(ops), GatewayInfo::default()));
    }
    let hw_id = ops.read4(AS_CR_SPACE, HW_ID_ADDR).ok();
    let mut ok = 1 << VCC_INITIALIZED;
    let mut bad = 0;
    match hw_id {
        Some(_) => ok |= 1 << VCC_CRSPACE_SPACE_SUPPORTED,
        None => bad |= 1 << VCC_CRSPACE_SPACE_SUPPORTED,
    }
    let info = GatewayInfo {
        functional_vsec: true,
        cap_mask: ok,
        pxir: false,
        vsec_addr: off,
    };
    Ok(DriverAccess::new(
        Box::new(ops),
        info,
        Spaces::Lazy { ok, bad },
        hw_id,
    ))
}

impl DriverOps for MstflintAccess {
    fn kind(&self) -> PathKind {
        PathKind::MstflintAccess
    }
    fn node(&self) -> &Node {
        &self.node
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        let mut a = Arg::new(RW4_SIZE);
        a.put(0, space).put(4, addr);
        self.node.ioctl("MST_READ4", MST_READ4, &mut a)?;
        Ok(a.get(8))
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        let mut a = Arg::new(RW4_SIZE);
        a.put(0, space).put(4, addr).put(8, v);
        self.node.ioctl("MST_WRITE4", MST_WRITE4, &mut a)?;
        Ok(())
    }

    fn read_chunk(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<bool> {
        if !self.blocks || self.read_buf == 3 {
            return Ok(false);
        }
        let bytes = out.len() * 4;
        debug_assert!(bytes <= MAX_BLOCK_BYTES);
        let mut a = Self::buf_arg(space, addr, bytes);
        let ret = if self.read_buf == 2 {
            self.node
                .ioctl("PCICONF_READ4_BUFFER_BC", PCICONF_READ4_BUFFER_BC, &mut a)?
        } else {
            match self
                .node
                .ioctl("PCICONF_READ4_BUFFER", PCICONF_READ4_BUFFER, &mut a)
            {
                Ok(r) => {
                    self.read_buf = 1;
                    r
                }
                Err(e) if self.read_buf == 0 && is_wrong_abi(&e) => {
                    log::info!(
                        "{}: {e}; trying the old READ4_BUFFER number",
                        self.node.path().display()
                    );
                    a = Self::buf_arg(space, addr, bytes);
                    match self.node.ioctl(
                        "PCICONF_READ4_BUFFER_BC",
                        PCICONF_READ4_BUFFER_BC,
                        &mut a,
                    ) {
                        Ok(r) => {
                            self.read_buf = 2;
                            r
                        }
                        Err(e2) if is_wrong_abi(&e2) => {
                            log::info!(
                                "{}: no block read ioctl ({e2}): dword reads",
                                self.node.path().display()
                            );
                            self.read_buf = 3;
                            return Ok(false);
                        }
                        Err(e2) => return Err(e2),
                    }
                }
                Err(e) if e.errno() == libc::EOPNOTSUPP => {
                    self.blocks = false;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        };
        block_result(ret, bytes)?;
        for (i, v) in out.iter_mut().enumerate() {
            *v = a.get(12 + 4 * i);
        }
        Ok(true)
    }

    fn write_chunk(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<bool> {
        if !self.blocks {
            return Ok(false);
        }
        let bytes = data.len() * 4;
        let mut a = Self::buf_arg(space, addr, bytes);
        for (i, v) in data.iter().enumerate() {
            a.put(12 + 4 * i, *v);
        }
        match self
            .node
            .ioctl("PCICONF_WRITE4_BUFFER", PCICONF_WRITE4_BUFFER, &mut a)
        {
            Ok(r) => block_result(r, bytes).map(|_| true),
            Err(e) if e.errno() == libc::EOPNOTSUPP => {
                self.blocks = false;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn vpd_read4(&mut self, offset: u32) -> Result<[u8; 4]> {
        let mut a = Arg::new(12);
        a.put(0, offset);
        let r = self
            .node
            .ioctl("PCICONF_VPD_READ4", PCICONF_VPD_READ4, &mut a)?;
        positive_errno("PCICONF_VPD_READ4", r)?;
        // The kernel passes the data through le32_to_cpu: VPD byte order is little-endian.
        Ok(a.get(8).to_le_bytes())
    }

    fn vpd_write4(&mut self, offset: u32, data: [u8; 4]) -> Result<()> {
        let mut a = Arg::new(12);
        a.put(0, offset).put(8, u32::from_le_bytes(data));
        let r = self
            .node
            .ioctl("PCICONF_VPD_WRITE4", PCICONF_VPD_WRITE4, &mut a)?;
        positive_errno("PCICONF_VPD_WRITE4", r)
    }

    fn config_dword(&mut self, offset: u32) -> Result<u32> {
        self.node.config_dword(
            "PCICONF_READ_DWORD_FROM_CONFIG_SPACE",
            PCICONF_READ_DWORD_FROM_CONFIG_SPACE,
            offset,
        )
    }

    fn get_dma_pages(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>> {
        self.node.get_dma_pages(
            "PCICONF_GET_DMA_PAGES",
            PCICONF_GET_DMA_PAGES,
            user_buf,
            pages,
        )
    }

    fn release_dma_pages(&mut self, pages: usize) -> Result<()> {
        self.node.release_dma_pages(
            "PCICONF_RELEASE_DMA_PAGES",
            PCICONF_RELEASE_DMA_PAGES,
            pages,
        )
    }

    fn max_dma_pages(&self) -> usize {
        MAX_DMA_PAGES
    }
}
