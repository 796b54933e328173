//! The firmware side of a simulated device: its flash (see [`super::flash`]) preloaded with
//! a generated (or given) image, and the firmware "running" from it, which MGIR reports.
//! Documented in `sim/FIRMWARE.md`.

use std::fs::OpenOptions;
use std::io::Read;

use super::flash::{self, Flash};
use super::fwupdate::FwUpdate;
use super::nvconfig::NvConfig;
use super::reset::ResetState;
use crate::config::{DeviceConfig, FirmwareConfig};
use crate::fw::image::{self, Device, ImageParams};

/// Crspace addresses of the cache replacement offset / command fields (ConnectX-5;
/// ConnectX-6: 0xf0444 / 0xf0448); non-zero means the firmware runs from flash, so the tools
/// go through it (MFBA) for flash access instead of driving the flash gateway themselves.
pub const CACHE_REP_OFF_ADDR: u32 = 0xf0408;
pub const CACHE_REP_CMD_ADDR: u32 = 0xf040c;

/// The cache replacement (offset, command) addresses of a model with a firmware model.
pub fn cache_rep_addrs(model: &str) -> (u32, u32) {
    if model.eq_ignore_ascii_case("connectx6") {
        (0xf0444, 0xf0448)
    } else {
        (CACHE_REP_OFF_ADDR, CACHE_REP_CMD_ADDR)
    }
}

/// What the running firmware says about itself (from the image it booted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    pub version: (u16, u16, u16),
    pub date: (u16, u8, u8),
    pub psid: String,
    /// Part number, description and device VSD (MQIS strings under fw_ctrl).
    pub part_number: String,
    pub description: String,
    pub device_vsd: String,
}

pub(crate) struct Firmware {
    pub flash: Flash,
    /// None when the flash holds no valid image (the device would be in recovery).
    pub running: Option<Running>,
    /// Image start the next boot loads (MFAI, after a failsafe burn); None: the image
    /// found by its magic pattern.
    pub next_boot: Option<u32>,
    /// The NV configuration store (`mstconfig`).
    pub nv: NvConfig,
    /// Reset requests (MFRL) and the time of the last boot.
    pub reset: ResetState,
    /// Hardware id of the device (images for another one are refused).
    pub hw_id: u16,
    /// The firmware-controlled component update (MCC / MCDA ...), when `fw_update` is on.
    pub update: Option<FwUpdate>,
}

/// The image generator's device for a model, for the models that use FS4 images.
fn fs4_device(model: &str) -> Option<Device> {
    match model.to_ascii_lowercase().as_str() {
        "connectx5" => Some(Device::CONNECTX5),
        "connectx6" => Some(Device::CONNECTX6),
        _ => None,
    }
}

/// Whether the device has a flash model.
pub fn enabled(cfg: &DeviceConfig) -> bool {
    cfg.firmware
        .flash
        .unwrap_or_else(|| fs4_device(&cfg.model).is_some())
}

fn params(cfg: &DeviceConfig, fw: &FirmwareConfig) -> Result<ImageParams, String> {
    let device = fs4_device(&cfg.model).ok_or_else(|| {
        format!(
            "firmware.flash: no firmware image model for {} (connectx5, connectx6)",
            cfg.model
        )
    })?;
    if fw.psid.is_empty() || fw.psid.len() > 16 {
        return Err(format!("firmware.psid {:?}: 1 to 16 characters", fw.psid));
    }
    let version = match &fw.fw_version {
        Some(v) => image::parse_version(v).map_err(|e| format!("firmware.fw_version: {e}"))?,
        None if device == Device::CONNECTX6 => (20, 35, 1012),
        None => (16, 35, 1012),
    };
    let mut p = ImageParams {
        fw_version: version,
        psid: fw.psid.clone(),
        device,
        ..ImageParams::default()
    };
    if device != Device::CONNECTX5 {
        p.description = format!("{} (simulated)", cfg.model_info().description);
    }
    Ok(p)
}

/// Cheap checks of the firmware configuration (no image is built).
pub fn validate(cfg: &DeviceConfig) -> Result<(), String> {
    if !enabled(cfg) {
        return Ok(());
    }
    params(cfg, &cfg.firmware)?;
    if cfg.firmware.dma && !cfg.firmware.fw_update {
        return Err(
            "dma = true needs fw_update = true (MCDD is part of the component update)".into(),
        );
    }
    if cfg.firmware.fw_update && !(100..=3_600_000).contains(&cfg.firmware.update_timeout_ms) {
        return Err(format!(
            "firmware.update_timeout_ms {}: want 100 to 3600000",
            cfg.firmware.update_timeout_ms
        ));
    }
    if !flash::valid_size(cfg.firmware.flash_size) {
        return Err(format!(
            "firmware.flash_size {:#x}: want a power of two from 1 MiB to 16 MiB",
            cfg.firmware.flash_size
        ));
    }
    Ok(())
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

impl Firmware {
    /// Build the firmware of a device (None when it has no flash model).
    pub fn build(cfg: &DeviceConfig) -> Result<Option<Firmware>, String> {
        if !enabled(cfg) {
            return Ok(None);
        }
        validate(cfg)?;
        let fw = &cfg.firmware;
        let size = fw.flash_size;
        let fresh = || -> Result<Vec<u8>, String> {
            match &fw.image {
                Some(path) => image::flash_from_file(&read_file(path)?, size)
                    .map_err(|e| format!("firmware.image {path}: {e}")),
                None => image::build_flash(&params(cfg, fw)?, size),
            }
        };
        let (data, file) = match &fw.flash_file {
            None => (fresh()?, None),
            Some(path) => {
                let mut f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| format!("firmware.flash_file {path}: {e}"))?;
                let len = f.metadata().map_err(|e| format!("{path}: {e}"))?.len();
                let data = if len == 0 {
                    let d = fresh()?;
                    std::os::unix::fs::FileExt::write_all_at(&f, &d, 0)
                        .map_err(|e| format!("firmware.flash_file {path}: {e}"))?;
                    d
                } else if len as usize == size {
                    let mut d = Vec::with_capacity(size);
                    f.read_to_end(&mut d)
                        .map_err(|e| format!("firmware.flash_file {path}: {e}"))?;
                    d
                } else {
                    return Err(format!(
                        "firmware.flash_file {path}: {len} bytes, flash_size is {size}"
                    ));
                };
                (data, Some(f))
            }
        };
        let mut fw = Firmware {
            flash: Flash::new(data, file)?,
            running: None,
            next_boot: None,
            nv: NvConfig::connectx5(),
            reset: ResetState::new(),
            hw_id: fs4_device(&cfg.model).map_or(0, |d| d.hw_id),
            update: fw.fw_update.then(|| {
                FwUpdate::new(std::time::Duration::from_millis(fw.update_timeout_ms))
                    .with_dma(fw.dma)
            }),
        };
        fw.boot();
        // The NV store as configured, pending values included, after that first boot.
        fw.nv = NvConfig::from_config(&cfg.nvconfig)?;
        Ok(Some(fw))
    }

    /// What a boot would run: the image at the MFAI address when one was set and is
    /// valid, else the one image the flash holds (None: no valid image).
    pub fn boot_image(&self) -> Option<Running> {
        let data = self.flash.contents();
        let at = |start: usize| {
            let end = (start + (data.len() / 2)).min(data.len());
            image::check(&data[start..end])
                .ok()
                .filter(|i| i.start == 0)
        };
        let info = self
            .next_boot
            .and_then(|a| at(a as usize))
            .or_else(|| image::check(data).ok());
        let dev_vsd = image::read_dev_data(data)
            .map(|d| d.device_vsd)
            .unwrap_or_default();
        info.map(|i| Running {
            version: i.fw_version,
            date: i.release_date,
            psid: i.psid,
            part_number: i.part_number,
            description: i.description,
            device_vsd: dev_vsd,
        })
    }

    /// Whether a boot would run other firmware than runs now (a burn is pending).
    pub fn pending(&self) -> bool {
        self.boot_image() != self.running
    }

    /// (Re)load the running firmware from the flash, as a reset does (see
    /// [`Self::boot_image`]); NV next-boot values become current. Flash and NV content stay.
    pub fn boot(&mut self) {
        self.running = self.boot_image();
        self.nv.boot();
        self.reset.booted();
    }

    /// MFRL GET (dword 1).
    pub fn mfrl_get(&self) -> u32 {
        self.reset.mfrl_get(self.pending())
    }

    /// MFRL SET (dword 1).
    pub fn mfrl_set(&mut self, d1: u32) -> u32 {
        let pending = self.pending();
        self.reset.mfrl_set(d1, pending)
    }

    /// The device saw a PCI link toggle (its upstream link disabled and re-enabled, a hot
    /// reset) or, `perst`, a PERST (warm reboot): an armed firmware reset that this event
    /// triggers reboots from flash. Returns whether it did.
    pub fn pci_reset(&mut self, perst: bool) -> bool {
        if self.reset.take_on_pci_reset(perst) {
            self.boot();
            true
        } else {
            false
        }
    }

    /// MFAI SET (16 bytes): address 23:0, permanent 29, use_address 30, use_image_id 31 of
    /// dword 0; image_id 7:0 of dword 1. The model honours use_address.
    pub fn set_mfai(&mut self, data: &[u32]) -> u32 {
        use super::registers::{ST_BAD_PARAM, ST_OK};
        if data[0] >> 30 & 1 == 1 {
            let a = data[0] & 0xff_ffff;
            if a as usize >= self.flash.contents().len() {
                return ST_BAD_PARAM;
            }
            self.next_boot = Some(a);
        }
        ST_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> DeviceConfig {
        crate::config::SimConfig::from_toml(&format!("[[device]]\n{extra}"))
            .unwrap()
            .devices
            .remove(0)
    }

    #[test]
    fn default_connectx5_runs_the_generated_image() {
        let fw = Firmware::build(&cfg("")).unwrap().unwrap();
        assert_eq!(fw.flash.size(), 2 << 20);
        let r = fw.running.unwrap();
        assert_eq!(r.version, (16, 35, 1012));
        assert_eq!(r.psid, "MT_0000000008");
    }

    #[test]
    fn configured_version_and_models() {
        let fw = Firmware::build(&cfg(
            "[device.firmware]\nfw_version = \"16.30.1004\"\npsid = \"MT_1234\"\nflash_size = 0x400000",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(fw.flash.size(), 4 << 20);
        assert_eq!(fw.running.unwrap().version, (16, 30, 1004));
        let cx6 = Firmware::build(&cfg("model = \"connectx6\""))
            .unwrap()
            .unwrap();
        assert_eq!(cx6.running.unwrap().version, (20, 35, 1012));
        assert!(Firmware::build(&cfg("model = \"connectx4\""))
            .unwrap()
            .is_none());
        assert!(Firmware::build(&cfg(
            "model = \"connectx4\"\n[device.firmware]\nflash = true"
        ))
        .is_err());
        assert!(validate(&cfg("[device.firmware]\nflash_size = 3000000")).is_err());
        assert!(validate(&cfg("[device.firmware]\nfw_version = \"1.2\"")).is_err());
        assert!(validate(&cfg(
            "[device.firmware]\nfw_update = true\nupdate_timeout_ms = 0"
        ))
        .is_err());
        assert!(Firmware::build(&cfg("[device.firmware]\nflash = false"))
            .unwrap()
            .is_none());
    }

    /// MFBA / MFBE / MGIR through the ICMD mailbox, as the tools send them.
    #[test]
    fn flash_registers_through_the_icmd_mailbox() {
        use crate::model::icmd::{Icmd, ICMD_CTRL, ICMD_MAILBOX, OPCODE_ACCESS_REGISTER};
        let mut icmd = Icmd::new(0x20d);
        icmd.set_firmware(Firmware::build(&cfg("")).unwrap().unwrap());
        // Operation TLV + register TLV header + register dwords; returns status and data.
        let mut run = |id: u32, method: u32, reg: &[u32], tlv_dwords: usize| {
            let mut m = vec![1 << 27 | 4 << 16, id << 16 | method << 8 | 1, 0, 0];
            m.push(3 << 27 | ((tlv_dwords as u32 + 1) << 16));
            m.extend_from_slice(reg);
            m.resize(5 + tlv_dwords, 0);
            for (i, d) in m.iter().enumerate() {
                icmd.write(ICMD_MAILBOX + 4 * i as u32, *d);
            }
            icmd.write(ICMD_CTRL, OPCODE_ACCESS_REGISTER << 16 | 1);
            assert_eq!(icmd.read(ICMD_CTRL).unwrap() >> 8 & 0xff, 0, "ICMD status");
            let out: Vec<u32> = (0..5 + tlv_dwords)
                .map(|i| icmd.read(ICMD_MAILBOX + 4 * i as u32).unwrap())
                .collect();
            ((out[0] >> 8) & 0x7f, out[5..].to_vec())
        };
        // MFBA GET of the first 16 bytes: the FS4 magic, each dword as its bytes read LE.
        let (st, d) = run(0x9011, 1, &[0, 16, 0], 3 + 4);
        assert_eq!(st, 0);
        for (i, m) in image::FS4_MAGIC.iter().enumerate() {
            assert_eq!(d[3 + i], m.swap_bytes());
        }
        // A short MFBA TLV (header only) cannot carry 16 bytes.
        assert_eq!(run(0x9011, 1, &[0, 16, 0], 3).0, 7);
        // Erase the first sector (MFBE SET), read back 0xff.
        assert_eq!(run(0x9012, 2, &[0, 0, 0], 3).0, 0);
        let (_, d) = run(0x9011, 1, &[0, 16, 0], 3 + 4);
        assert_eq!(d[3..7], [u32::MAX; 4]);
        // MGIR: running version 16.35.1012 in the extended fields.
        let (st, d) = run(0x9020, 1, &[], 40);
        assert_eq!(st, 0);
        assert_eq!((d[17], d[18], d[19]), (16, 35, 1012));
        assert_eq!(d[12], u32::from_be_bytes(*b"MT_0"));
    }

    /// A failsafe burn's end: the new image in slot 1, MFAI pointing at it, the old
    /// signature zeroed; a reboot runs the new image.
    #[test]
    fn reboot_loads_the_image_mfai_names() {
        let mut fw = Firmware::build(&cfg("")).unwrap().unwrap();
        let slot = image::build_slot(&ImageParams {
            fw_version: (16, 36, 5),
            ..ImageParams::default()
        });
        let base = 1 << 20;
        for (i, page) in slot.chunks(flash::PAGE_SIZE).enumerate() {
            fw.flash.program(base + i * flash::PAGE_SIZE, page).unwrap();
        }
        use crate::model::registers::ST_OK;
        assert_eq!(fw.set_mfai(&[1 << 30 | base as u32, 0, 0, 0]), ST_OK);
        assert_ne!(fw.set_mfai(&[1 << 30 | 0xff_ffff, 0, 0, 0]), ST_OK);
        fw.flash.program(0, &[0; 4]).unwrap();
        assert_eq!(
            fw.running.as_ref().unwrap().version,
            (16, 35, 1012),
            "until a reboot"
        );
        fw.boot();
        assert_eq!(fw.running.as_ref().unwrap().version, (16, 36, 5));
    }

    /// mstfwreset's activation: MFRL arms a reset (level 3: PCI link toggle), the link
    /// toggle reboots from flash; the burnt image runs, NV next-boot values become current,
    /// flash content stays.
    #[test]
    fn mfrl_and_pci_reset_activate_the_burnt_image() {
        use crate::model::registers::{ST_BAD_PARAM, ST_OK};
        use crate::model::reset::{TRIGGER_LIVE_PATCH, TRIGGER_PCI_LINK};
        let c = cfg("[device.nvconfig]\npending = { SRIOV_EN = 1, NUM_OF_VFS = 8 }");
        let mut fw = Firmware::build(&c).unwrap().unwrap();
        assert!(!fw.pending());
        assert_eq!(
            fw.mfrl_get() & 0xff,
            0x49,
            "live patch possible: nothing pending"
        );
        assert!(
            !fw.pci_reset(false),
            "nothing armed: a link toggle reboots nothing"
        );
        assert_eq!(fw.reset.boots, 1);
        let slot = image::build_slot(&ImageParams {
            fw_version: (16, 36, 1000),
            ..ImageParams::default()
        });
        let base = 1 << 20;
        for (i, page) in slot.chunks(flash::PAGE_SIZE).enumerate() {
            fw.flash.program(base + i * flash::PAGE_SIZE, page).unwrap();
        }
        assert_eq!(fw.set_mfai(&[1 << 30 | base as u32, 0, 0, 0]), ST_OK);
        assert!(fw.pending());
        assert_eq!(
            fw.mfrl_get() & 0xff,
            0x48,
            "no live patch to another version"
        );
        assert_eq!(fw.mfrl_set(TRIGGER_LIVE_PATCH), ST_BAD_PARAM);
        assert_eq!(fw.running.as_ref().unwrap().version, (16, 35, 1012));
        assert_eq!(fw.mfrl_set(TRIGGER_PCI_LINK), ST_OK);
        assert_eq!(
            fw.mfrl_get() >> 16 & 0xf,
            8,
            "waiting for the reset trigger"
        );
        let flash_before = fw.flash.contents().to_vec();
        let sriov = |fw: &Firmware, which| {
            fw.nv
                .values(0x80, which)
                .into_iter()
                .find(|(n, _)| *n == "SRIOV_EN")
                .unwrap()
                .1
        };
        assert_eq!(
            (sriov(&fw, 1), sriov(&fw, 2)),
            (0, 1),
            "pending for the next boot"
        );
        assert!(fw.pci_reset(false));
        assert_eq!(fw.running.as_ref().unwrap().version, (16, 36, 1000));
        assert!(!fw.pending());
        assert_eq!(fw.mfrl_get(), 0x149, "idle, live patch possible again");
        assert_eq!(sriov(&fw, 1), 1, "next boot became current");
        assert_eq!(fw.flash.contents(), &flash_before[..], "flash kept");
        assert_eq!(fw.reset.boots, 2);
        assert_eq!(fw.reset.uptime(), 0);
        assert!(!fw.pci_reset(false), "disarmed by the boot");
    }

    #[test]
    fn image_file_and_flash_file() {
        let dir = std::env::temp_dir().join(format!("mtcr-sim-fwtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("fw.bin");
        let p = ImageParams {
            fw_version: (16, 99, 7),
            ..ImageParams::default()
        };
        std::fs::write(&img, image::build_file(&p)).unwrap();
        let ff = dir.join("flash.bin");
        let _ = std::fs::remove_file(&ff);
        let c = cfg(&format!(
            "[device.firmware]\nimage = \"{}\"\nflash_file = \"{}\"",
            img.display(),
            ff.display()
        ));
        let mut fw = Firmware::build(&c).unwrap().unwrap();
        assert_eq!(fw.running.as_ref().unwrap().version, (16, 99, 7));
        // A change goes through to the file, and the file is the flash next time.
        fw.flash.erase(0, flash::SECTOR_SIZE).unwrap();
        drop(fw);
        let fw = Firmware::build(&c).unwrap().unwrap();
        assert!(fw.running.is_none(), "slot 0 header erased: nothing boots");
        assert_eq!(std::fs::read(&ff).unwrap()[..4], [0xff; 4]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
