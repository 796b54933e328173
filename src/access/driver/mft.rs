//! MFT's `mst_pciconf` (config side, magic 0xD2) and `mst_pci` (memory side, magic 0xD1),
//! kernel_abis.md §4.1. Nodes `/dev/mst/mt<id>_pciconf<I>[.F]` and `/dev/mst/mt<id>_pci_cr<I>`
//! are bound to the function by their INIT ioctl (domain, bus, devfn).
//!
//! Config side: with a fully supported VSEC the `*_NEW` dword ioctls (address space) and the
//! 268-byte buffer ioctls (clamped to 256 bytes, positive byte count) are used; without one,
//! the 8-byte READ4/WRITE4 go through the legacy window set up by INIT (88/92). VPD structs
//! are 8 bytes (no timeout). DMA page structs hold 8 pages (144 bytes). Memory side: PCI_INIT
//! records BAR0, PCI_PARAMS gives its size, and the BAR is mapped through the node.

use std::path::Path;

use super::{block_result, io, ior, iow, Arg, DriverAccess, DriverOps, Node, MAX_BLOCK_BYTES};
use crate::access::lock::LockFile;
use crate::access::mmio::Mmio;
use crate::access::{GatewayInfo, PathKind};
use crate::defs::*;
use crate::error::{Error, Result};
use crate::pci::Bdf;

const PAGE_INFO_SIZE: usize = 144;
/// Page entries in MFT's page_info struct.
pub const MAX_DMA_PAGES: usize = 8;
/// Legacy gateway registers MFT passes to PCICONF_INIT.
const ADDR_REG: u32 = 88;
const DATA_REG: u32 = 92;

pub const MFT_PCI_INIT: u32 = io(0xD1, 0) | (16 << 16);
pub const MFT_PCI_PARAMS: u32 = ior(0xD1, 2, 16);
pub const MFT_PCICONF_INIT: u32 = io(0xD2, 0) | (20 << 16);
pub const MFT_PCICONF_READ4: u32 = ior(0xD2, 1, 8);
pub const MFT_PCICONF_WRITE4: u32 = iow(0xD2, 2, 8);
pub const MFT_PCICONF_READ4_BUFFER_EX: u32 = ior(0xD2, 4, 268);
pub const MFT_PCICONF_WRITE4_BUFFER: u32 = iow(0xD2, 5, 268);
pub const MFT_PCICONF_MST_PARAMS: u32 = ior(0xD2, 6, 48);
pub const MFT_PCICONF_READ4_NEW: u32 = ior(0xD2, 7, 12);
pub const MFT_PCICONF_VPD_READ4: u32 = ior(0xD2, 7, 8);
pub const MFT_PCICONF_WRITE4_NEW: u32 = iow(0xD2, 8, 12);
pub const MFT_PCICONF_VPD_WRITE4: u32 = iow(0xD2, 8, 8);
pub const MFT_PCICONF_GET_DMA_PAGES: u32 = ior(0xD2, 13, PAGE_INFO_SIZE);
pub const MFT_PCICONF_RELEASE_DMA_PAGES: u32 = ior(0xD2, 14, PAGE_INFO_SIZE);
pub const MFT_PCICONF_READ_DWORD_FROM_CONFIG_SPACE: u32 = ior(0xD2, 15, 8);

/// Address space of each bit of the kernel's `vsec_cap_mask` (MFT/NNT numbering).
const KERNEL_CAP_SPACES: [u32; 10] = [
    0, // INITIALIZED
    AS_ICMD_EXT,
    AS_CR_SPACE,
    AS_ICMD,
    AS_NODNIC_INIT_SEG,
    AS_EXPANSION_ROM,
    AS_ND_CRSPACE,
    AS_SCAN_CRSPACE,
    AS_SEMAPHORE,
    AS_MAC,
];

/// Convert the kernel's capability mask to the userspace VCC_* numbering.
pub fn kernel_mask_to_user(k: u32) -> u32 {
    let mut m = 0;
    for (bit, &space) in KERNEL_CAP_SPACES.iter().enumerate() {
        if k & (1 << bit) != 0 {
            m |= 1
                << if bit == 0 {
                    VCC_INITIALIZED
                } else {
                    space_to_cap_offset(space)
                };
        }
    }
    m
}

fn devfn(bdf: Bdf) -> u32 {
    ((bdf.dev as u32) << 3) | bdf.func as u32
}

/// An open, bound `mst_pciconf` node.
pub struct MftPciconf {
    node: Node,
    /// VSEC config offset (0 = none).
    pub vsec: u32,
    /// Capability mask, userspace numbering.
    pub cap_mask: u32,
    full_vsec: bool,
}

impl MftPciconf {
    /// PCICONF_INIT binds the node to `bdf` (the probe: other ABIs answer EINVAL/ENOTTY),
    /// then PCICONF_MST_PARAMS.
    pub fn new(node: Node, bdf: Bdf) -> Result<MftPciconf> {
        let mut a = Arg::new(20);
        a.put(0, bdf.domain as u32)
            .put(4, bdf.bus as u32)
            .put(8, devfn(bdf))
            .put(12, ADDR_REG)
            .put(16, DATA_REG);
        node.ioctl("PCICONF_INIT", MFT_PCICONF_INIT, &mut a)?;
        let mut p = Arg::new(48);
        node.ioctl("PCICONF_MST_PARAMS", MFT_PCICONF_MST_PARAMS, &mut p)?;
        let vsec = p.get(36);
        let cap_mask = kernel_mask_to_user(p.get(40));
        let need = [AS_ICMD_EXT, AS_CR_SPACE, AS_SEMAPHORE];
        let full_vsec = vsec != 0
            && need
                .iter()
                .all(|&s| cap_mask & (1 << space_to_cap_offset(s)) != 0);
        Ok(MftPciconf {
            node,
            vsec,
            cap_mask,
            full_vsec,
        })
    }

    /// Whether the VSEC ioctls are used (else the legacy window).
    pub fn full_vsec(&self) -> bool {
        self.full_vsec
    }

    fn buf(&mut self, write: bool, space: u32, addr: u32, data: &mut [u32]) -> Result<bool> {
        if !self.full_vsec {
            return Ok(false);
        }
        let bytes = data.len() * 4;
        debug_assert!(bytes <= MAX_BLOCK_BYTES);
        let mut a = Arg::new(268);
        a.put(0, space).put(4, addr).put(8, bytes as u32);
        let r = if write {
            for (i, v) in data.iter().enumerate() {
                a.put(12 + 4 * i, *v);
            }
            self.node
                .ioctl("PCICONF_WRITE4_BUFFER", MFT_PCICONF_WRITE4_BUFFER, &mut a)?
        } else {
            self.node.ioctl(
                "PCICONF_READ4_BUFFER_EX",
                MFT_PCICONF_READ4_BUFFER_EX,
                &mut a,
            )?
        };
        block_result(r, bytes)?;
        if !write {
            for (i, v) in data.iter_mut().enumerate() {
                *v = a.get(12 + 4 * i);
            }
        }
        Ok(true)
    }
}

/// Open the path over an `mst_pciconf` node: the spaces of the capability mask when the
/// driver found a full functional VSEC, else crspace only.
pub fn open_pciconf(node: Node, bdf: Bdf) -> Result<DriverAccess> {
    let ops = MftPciconf::new(node, bdf)?;
    let full = ops.full_vsec();
    let info = GatewayInfo {
        functional_vsec: full,
        cap_mask: if full { ops.cap_mask } else { 0 },
        pxir: false,
        vsec_addr: if full { ops.vsec } else { 0 },
    };
    Ok(DriverAccess::fixed(Box::new(ops), info))
}

impl DriverOps for MftPciconf {
    fn kind(&self) -> PathKind {
        PathKind::MftPciconf
    }
    fn node(&self) -> &Node {
        &self.node
    }

    fn read4(&mut self, space: u32, addr: u32) -> Result<u32> {
        if self.full_vsec {
            let mut a = Arg::new(12);
            a.put(0, space).put(4, addr);
            self.node
                .ioctl("PCICONF_READ4_NEW", MFT_PCICONF_READ4_NEW, &mut a)?;
            Ok(a.get(8))
        } else {
            let mut a = Arg::new(8);
            a.put(0, addr);
            self.node
                .ioctl("PCICONF_READ4", MFT_PCICONF_READ4, &mut a)?;
            Ok(a.get(4))
        }
    }

    fn write4(&mut self, space: u32, addr: u32, v: u32) -> Result<()> {
        if self.full_vsec {
            let mut a = Arg::new(12);
            a.put(0, space).put(4, addr).put(8, v);
            self.node
                .ioctl("PCICONF_WRITE4_NEW", MFT_PCICONF_WRITE4_NEW, &mut a)?;
        } else {
            let mut a = Arg::new(8);
            a.put(0, addr).put(4, v);
            self.node
                .ioctl("PCICONF_WRITE4", MFT_PCICONF_WRITE4, &mut a)?;
        }
        Ok(())
    }

    fn read_chunk(&mut self, space: u32, addr: u32, out: &mut [u32]) -> Result<bool> {
        self.buf(false, space, addr, out)
    }

    fn write_chunk(&mut self, space: u32, addr: u32, data: &[u32]) -> Result<bool> {
        let mut d = data.to_vec();
        self.buf(true, space, addr, &mut d)
    }

    fn vpd_read4(&mut self, offset: u32) -> Result<[u8; 4]> {
        let mut a = Arg::new(8);
        a.put(0, offset);
        self.node
            .ioctl("PCICONF_VPD_READ4", MFT_PCICONF_VPD_READ4, &mut a)?;
        Ok(a.get(4).to_le_bytes())
    }

    fn vpd_write4(&mut self, offset: u32, data: [u8; 4]) -> Result<()> {
        let mut a = Arg::new(8);
        a.put(0, offset).put(4, u32::from_le_bytes(data));
        self.node
            .ioctl("PCICONF_VPD_WRITE4", MFT_PCICONF_VPD_WRITE4, &mut a)?;
        Ok(())
    }

    fn config_dword(&mut self, offset: u32) -> Result<u32> {
        self.node.config_dword(
            "PCICONF_READ_DWORD_FROM_CONFIG_SPACE",
            MFT_PCICONF_READ_DWORD_FROM_CONFIG_SPACE,
            offset,
        )
    }

    fn get_dma_pages(&mut self, user_buf: u64, pages: usize) -> Result<Vec<u64>> {
        self.node.get_dma_pages(
            "PCICONF_GET_DMA_PAGES",
            MFT_PCICONF_GET_DMA_PAGES,
            user_buf,
            pages,
        )
    }

    fn release_dma_pages(&mut self, pages: usize) -> Result<()> {
        self.node.release_dma_pages(
            "PCICONF_RELEASE_DMA_PAGES",
            MFT_PCICONF_RELEASE_DMA_PAGES,
            pages,
        )
    }

    fn max_dma_pages(&self) -> usize {
        MAX_DMA_PAGES
    }
}

/// Open an `mst_pci` node: PCI_INIT on BAR0, PCI_PARAMS for its size, then map it through the
/// node (the same mapping code as `resource0`).
pub fn open_pci_cr(path: &Path, bdf: Bdf, lock: Option<LockFile>) -> Result<Mmio> {
    let node = Node::open(path)?;
    let mut a = Arg::new(16);
    a.put(0, bdf.domain as u32)
        .put(4, bdf.bus as u32)
        .put(8, devfn(bdf))
        .put(12, 0);
    node.ioctl("PCI_INIT", MFT_PCI_INIT, &mut a)?;
    let mut p = Arg::new(16);
    node.ioctl("PCI_PARAMS", MFT_PCI_PARAMS, &mut p)?;
    let size = p.get64(8);
    if size < crate::access::mmio::MAP_SIZE as u64 {
        return Err(Error::Unsupported(format!(
            "{}: BAR0 is {size:#x} bytes, smaller than the crspace map",
            path.display()
        )));
    }
    Mmio::from_file(
        node.file().try_clone().map_err(|e| Error::io("dup", e))?,
        path,
        lock,
        PathKind::MftPci,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_mask() {
        // INITIALIZED, ICMD(1), CR, ALL_ICMD(3), GLOBAL_SEMAPHORE, MAC.
        let k = 1 | 2 | 4 | 8 | (1 << 8) | (1 << 9);
        let u = kernel_mask_to_user(k);
        assert_eq!(
            u,
            (1 << VCC_INITIALIZED)
                | (1 << VCC_ICMD_EXT_SPACE_SUPPORTED)
                | (1 << VCC_CRSPACE_SPACE_SUPPORTED)
                | (1 << VCC_ICMD_SPACE_SUPPORTED)
                | (1 << VCC_SEMAPHORE_SPACE_SUPPORTED)
                | (1 << VCC_MAC_SPACE_SUPPORTED)
        );
    }
}
