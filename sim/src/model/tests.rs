//! In-process tests of the whole device through its public API, including a small client
//! that speaks the gateway protocol exactly as the stock library does (mtcr_api.md §4).

use super::*;
use crate::config::SimConfig;

fn dev(toml: &str) -> Arc<SimDevice> {
    let cfg = SimConfig::from_toml(toml).expect("config");
    SimDevice::new(&cfg.devices[0], CrStore::anonymous()).expect("device")
}

/// A config-space client doing 4-byte preads/pwrites like mtcr_ul.
struct Client<'a> {
    dev: &'a SimDevice,
    pid: u32,
    vsec: u32,
    sem_retries: u32,
}

#[derive(Debug, PartialEq)]
enum CErr {
    Io(Errno),
    SemLocked,
    SpaceNotSupported,
    Timeout,
}

impl From<Errno> for CErr {
    fn from(e: Errno) -> Self {
        CErr::Io(e)
    }
}

impl<'a> Client<'a> {
    fn new(dev: &'a SimDevice, pid: u32) -> Self {
        Client {
            dev,
            pid,
            vsec: 0,
            sem_retries: 2048,
        }
    }

    fn r32(&self, off: u32) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        let n = self.dev.config_read(off as u64, &mut b, self.pid)?;
        if n != 4 {
            return Err(libc::EIO);
        }
        Ok(u32::from_le_bytes(b))
    }

    fn w32(&self, off: u32, v: u32) -> Result<(), Errno> {
        let n = self
            .dev
            .config_write(off as u64, &v.to_le_bytes(), self.pid)?;
        if n != 4 {
            return Err(libc::EIO);
        }
        Ok(())
    }

    fn r8(&self, off: u32) -> Result<u8, Errno> {
        let mut b = [0u8; 1];
        match self.dev.config_read(off as u64, &mut b, self.pid)? {
            1 => Ok(b[0]),
            _ => Err(libc::EIO),
        }
    }

    /// §4.1: walk the capability list for id 9; returns (offset, type).
    fn find_vsec(&mut self) -> Result<Option<(u32, u8)>, Errno> {
        let mut p = self.r8(0x34)? as u32;
        let mut seen = 0;
        while p != 0 {
            if !(0x40..=0xff).contains(&p) || seen > 48 {
                return Ok(None);
            }
            seen += 1;
            let id = self.r8(p)?;
            if id == 9 {
                let ty = (self.r32(p)? >> 24) as u8;
                self.vsec = p;
                return Ok(Some((p, ty)));
            }
            p = self.r8(p + 1)? as u32;
        }
        Ok(None)
    }

    fn lock(&self) -> Result<u32, CErr> {
        let mut retries = 0;
        loop {
            if retries > self.sem_retries {
                return Err(CErr::SemLocked);
            }
            if self.r32(self.vsec + 0xc)? != 0 {
                retries += 1;
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let t = self.r32(self.vsec + 0x8)?;
            self.w32(self.vsec + 0xc, t)?;
            retries += 1;
            if self.r32(self.vsec + 0xc)? == t {
                return Ok(t);
            }
        }
    }

    fn unlock(&self) -> Result<(), Errno> {
        self.w32(self.vsec + 0xc, 0)
    }

    fn set_space(&self, space: u32) -> Result<(), CErr> {
        let v = self.r32(self.vsec + 4)?;
        self.w32(self.vsec + 4, (v & !0xffff) | space)?;
        let r = self.r32(self.vsec + 4)?;
        if r & 0xffff != space || r >> 29 == 0 {
            return Err(CErr::SpaceNotSupported);
        }
        Ok(())
    }

    fn wait_flag(&self, want: bool) -> Result<(), CErr> {
        for _ in 0..=2048 {
            if (self.r32(self.vsec + 0x10)? >> 31 == 1) == want {
                return Ok(());
            }
        }
        Err(CErr::Timeout)
    }

    fn raw_read(&self, addr: u32) -> Result<u32, CErr> {
        self.w32(self.vsec + 0x10, addr)?;
        self.wait_flag(true)?;
        Ok(self.r32(self.vsec + 0x14)?)
    }

    fn raw_write(&self, addr: u32, v: u32) -> Result<(), CErr> {
        self.w32(self.vsec + 0x14, v)?;
        self.w32(self.vsec + 0x10, addr | 1 << 31)?;
        self.wait_flag(false)
    }

    /// mread4 over the VSEC: lock, select space, read, always unlock.
    fn read4(&self, space: u32, addr: u32) -> Result<u32, CErr> {
        self.lock()?;
        let r = self.set_space(space).and_then(|_| self.raw_read(addr));
        self.unlock()?;
        r
    }

    fn write4(&self, space: u32, addr: u32, v: u32) -> Result<(), CErr> {
        self.lock()?;
        let r = self.set_space(space).and_then(|_| self.raw_write(addr, v));
        self.unlock()?;
        r
    }

    /// §4.8 capability probing; returns the supported spaces in probe order.
    fn probe(&self) -> Result<Vec<u32>, CErr> {
        self.lock()?;
        let mut out = vec![];
        for s in [
            3, 4, 5, 6, 7, 0xf, 1, 0xa, 2, 0x101, 0x102, 0x103, 0x107, 0x10a, 0xc,
        ] {
            if self.set_space(s).is_ok() {
                out.push(s);
            }
        }
        self.unlock()?;
        Ok(out)
    }

    /// §4.9 legacy window.
    fn legacy_wo(&self) -> Result<bool, Errno> {
        self.w32(0x58, 0xf0014)?;
        Ok(self.r32(0x58)? == 0xbadacce5)
    }

    fn legacy_read(&self, wo: bool, addr: u32) -> Result<u32, Errno> {
        self.w32(0x58, addr | wo as u32)?;
        self.r32(0x5c)
    }

    fn legacy_write(&self, wo: bool, addr: u32, v: u32) -> Result<(), Errno> {
        if wo {
            self.w32(0x5c, v)?;
            self.w32(0x58, addr)
        } else {
            self.w32(0x58, addr)?;
            self.w32(0x5c, v)
        }
    }
}

#[test]
fn stock_read4_over_vsec() {
    let d = dev("");
    let mut c = Client::new(&d, 100);
    assert_eq!(c.find_vsec().unwrap(), Some((0x40, 0)));
    assert_eq!(d.vsec_offset(), Some(0x40));
    assert_eq!(c.read4(2, HW_ID_ADDR).unwrap(), 0x20d);
    assert_eq!(d.hw_id(), 0x20d);
    assert_eq!(c.read4(2, 0x1000).unwrap(), seed_pattern(1, 0x1000));
    c.write4(2, 0x1000, 0xcafe_f00d).unwrap();
    assert_eq!(c.read4(2, 0x1000).unwrap(), 0xcafe_f00d);
    assert_eq!(d.crspace().read(0x1000), 0xcafe_f00d);
    assert_eq!(d.cr_read(2, 0x1000), Ok(0xcafe_f00d));
    let k = d.counters();
    assert_eq!(k.gateway_reads, 3);
    assert_eq!(k.gateway_writes, 1);
    assert_eq!(k.kernel_reads, 1);
    assert_eq!(k.interleaved_transactions, 0);
    assert_eq!(k.semaphore_acquired, 4);
    assert_eq!(
        k.semaphore_busy_reads, 0,
        "the owner's read-back is not busy"
    );
    assert_eq!(k.config_reads + k.config_writes, k.accesses - 1);
    // Each dword access is one call.
    assert!(k.config_reads > 10 && k.config_writes > 10);
}

#[test]
fn space_probe_and_unsupported_fault() {
    let d = dev("");
    let mut c = Client::new(&d, 7);
    c.find_vsec().unwrap();
    assert_eq!(c.probe().unwrap(), vec![3, 6, 7, 1, 0xa, 2]);
    // Status bits 0 but the space reads back as written.
    c.w32(0x44, 5).unwrap();
    assert_eq!(c.r32(0x44).unwrap(), 5);
    c.w32(0x44, 2).unwrap();
    assert_eq!(c.r32(0x44).unwrap(), 2 | CTRL_STATUS_OK);
    d.set_faults(Faults {
        unsupported_spaces: vec![3, 0xa],
        ..Faults::default()
    });
    assert_eq!(c.probe().unwrap(), vec![6, 7, 1, 2]);
    assert!(!d.space_supported(3));
    assert!(d.space_supported(2));
    assert_eq!(c.read4(3, 0), Err(CErr::SpaceNotSupported));
    assert_eq!(d.cr_read(3, 0), Err(libc::EINVAL));
}

#[test]
fn semaphore_tickets_and_interleaving() {
    let d = dev("");
    let mut a = Client::new(&d, 10);
    let mut b = Client::new(&d, 20);
    a.find_vsec().unwrap();
    b.find_vsec().unwrap();
    let t1 = d.config_dword(0x48).unwrap();
    let t2 = d.config_dword(0x48).unwrap();
    assert!(t1 != 0 && t2 > t1, "tickets increase");
    let ta = a.lock().unwrap();
    assert_eq!(a.r32(0x4c).unwrap(), ta);
    // B cannot take it: writing its ticket is ignored.
    let tb = b.r32(0x48).unwrap();
    b.w32(0x4c, tb).unwrap();
    assert_eq!(b.r32(0x4c).unwrap(), ta);
    b.sem_retries = 3;
    assert_eq!(b.lock(), Err(CErr::SemLocked));
    // The owner's transactions are fine; B's are interleaved.
    a.set_space(2).unwrap();
    a.raw_read(HW_ID_ADDR).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 0);
    b.raw_read(HW_ID_ADDR).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 1);
    // pid 0 (kernel) is exempt.
    let k = Client {
        pid: 0,
        ..Client::new(&d, 0)
    };
    let mut k = k;
    k.find_vsec().unwrap();
    k.raw_read(HW_ID_ADDR).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 1);
    a.unlock().unwrap();
    assert_eq!(a.r32(0x4c).unwrap(), 0);
    // Free semaphore: a transaction without it counts too (once per transaction).
    a.raw_write(0x2000, 1).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 2);
    a.raw_read(0x2000).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 3);
    // An intruder's DATA write while A owns it counts, and so does A's own ADDRESS write
    // afterwards only if A is not the owner.
    a.lock().unwrap();
    b.w32(0x54, 5).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 4);
    a.raw_write(0x2000, 1).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 4);
    a.unlock().unwrap();
    b.sem_retries = 2048;
    b.lock().unwrap();
    b.unlock().unwrap();
    // cr_read (kernel) while a user holds the semaphore waits, then gives up.
    a.lock().unwrap();
    let t0 = std::time::Instant::now();
    let h = {
        let d = d.clone();
        std::thread::spawn(move || d.cr_read(2, HW_ID_ADDR))
    };
    std::thread::sleep(Duration::from_millis(30));
    a.unlock().unwrap();
    assert_eq!(h.join().unwrap(), Ok(0x20d));
    assert!(t0.elapsed() >= Duration::from_millis(30));
}

#[test]
fn semaphore_held_by_fault_for_a_while() {
    let d = dev("[[device]]\n[device.faults]\nsemaphore_held_ms = 150\n");
    let mut c = Client::new(&d, 5);
    c.find_vsec().unwrap();
    assert_eq!(c.r32(0x4c).unwrap(), FAULT_SEM_TICKET);
    c.sem_retries = 5;
    assert_eq!(c.lock(), Err(CErr::SemLocked));
    std::thread::sleep(Duration::from_millis(160));
    c.sem_retries = 2048;
    assert_eq!(c.read4(2, HW_ID_ADDR), Ok(0x20d));
    assert!(d.counters().semaphore_busy_reads >= 6);
    // Kernel accessor waits for the hold to expire.
    d.set_faults(Faults {
        semaphore_held_ms: 50,
        ..Faults::default()
    });
    assert_eq!(d.cr_read(2, HW_ID_ADDR), Ok(0x20d));
}

#[test]
fn semaphore_held_forever_and_clear() {
    let d = dev("[[device]]\n[device.faults]\nsemaphore_held_forever = true\n");
    let mut c = Client::new(&d, 5);
    c.find_vsec().unwrap();
    c.sem_retries = 20;
    assert_eq!(c.read4(2, 0), Err(CErr::SemLocked));
    let t0 = std::time::Instant::now();
    assert_eq!(d.cr_read(2, 0), Err(libc::EBUSY));
    assert!(t0.elapsed() >= Duration::from_millis(2000));
    // Clear_Vsec_Semaphore: writing 0 releases even the stuck owner.
    c.unlock().unwrap();
    assert_eq!(c.read4(2, HW_ID_ADDR), Ok(0x20d));
}

#[test]
fn flag_stuck() {
    let d = dev("[[device]]\n[device.faults]\nflag_stuck = true\n");
    let mut c = Client::new(&d, 5);
    c.find_vsec().unwrap();
    assert_eq!(c.read4(2, HW_ID_ADDR), Err(CErr::Timeout));
    assert_eq!(c.r32(0x4c).unwrap(), 0, "unlocked after the failure");
    assert_eq!(c.write4(2, 0x100, 1), Err(CErr::Timeout));
    assert_eq!(d.cr_read(2, HW_ID_ADDR), Err(libc::ETIMEDOUT));
    assert_eq!(d.counters().gateway_reads, 0);
    d.set_faults(Faults::default());
    assert_eq!(c.read4(2, HW_ID_ADDR), Ok(0x20d));
}

#[test]
fn legacy_window() {
    let d = dev("[[device]]\ngateway = \"legacy\"\nmodel = \"connectx3\"\n");
    let mut c = Client::new(&d, 3);
    assert_eq!(c.find_vsec().unwrap(), None);
    assert_eq!(d.vsec_offset(), None);
    assert!(!d.space_supported(2));
    assert!(!c.legacy_wo().unwrap());
    assert_eq!(c.legacy_read(false, HW_ID_ADDR).unwrap(), 0x0001_01f5);
    c.legacy_write(false, 0x3000, 0x1234).unwrap();
    assert_eq!(c.legacy_read(false, 0x3000).unwrap(), 0x1234);
    assert_eq!(
        d.cr_read(7, 0x3000),
        Ok(0x1234),
        "space ignored without VSEC"
    );
    let k = d.counters();
    assert_eq!((k.gateway_reads, k.gateway_writes), (2, 1));
    assert_eq!(k.kernel_reads, 1);
}

#[test]
fn legacy_write_only_window() {
    let d = dev("[[device]]\ngateway = \"legacy_write_only\"\n");
    let c = Client::new(&d, 3);
    let before = d.hw_id();
    assert!(c.legacy_wo().unwrap());
    assert_eq!(d.hw_id(), before, "detection write changes nothing");
    assert_eq!(c.legacy_read(true, HW_ID_ADDR).unwrap(), 0x20d);
    c.legacy_write(true, 0x3000, 0x55aa).unwrap();
    assert_eq!(c.legacy_read(true, 0x3000).unwrap(), 0x55aa);
    assert_eq!(d.crspace().read(0x3000), 0x55aa);
    // Out of crspace: 0, dropped.
    assert_eq!(c.legacy_read(true, 0x400_0000).unwrap(), 0);
}

#[test]
fn recovery_vsec_plus_window() {
    let d = dev("[[device]]\ngateway = \"recovery\"\n");
    let mut c = Client::new(&d, 3);
    assert_eq!(c.find_vsec().unwrap(), Some((0x40, 2)));
    assert_eq!(d.vsec_offset(), None);
    assert_eq!(c.r32(0x44).unwrap(), 0, "recovery VSEC registers are inert");
    assert!(!c.legacy_wo().unwrap());
    assert_eq!(c.legacy_read(false, HW_ID_ADDR).unwrap(), 0x20d);
}

#[test]
fn truncated_config() {
    let d = dev("[[device]]\n[device.faults]\ntruncated_config = true\n");
    assert_eq!(d.config_size(), 64);
    let mut b = [0u8; 8];
    assert_eq!(d.config_read(0x3c, &mut b, 1), Ok(4));
    assert_eq!(d.config_read(0x40, &mut b, 1), Ok(0));
    let mut c = Client::new(&d, 1);
    assert_eq!(
        c.find_vsec(),
        Err(libc::EIO),
        "capability at 0x40 unreadable"
    );
    assert_eq!(d.config_write(0x44, &[0; 4], 1), Ok(0));
    // Header still readable.
    assert_eq!(c.r32(0).unwrap(), 0x1017_15b3);
    d.set_faults(Faults::default());
    assert_eq!(d.config_size(), 4096);
}

#[test]
fn config_write_eperm() {
    let d = dev("[[device]]\n[device.faults]\nconfig_write_eperm = true\n");
    let c = Client::new(&d, 1);
    assert_eq!(c.r32(0).unwrap(), 0x1017_15b3);
    assert_eq!(c.w32(0x4c, 1), Err(libc::EPERM));
    assert_eq!(d.counters().config_writes, 1);
    assert_eq!(d.counters().faults_injected, 1);
}

#[test]
fn eio_after_and_vanish() {
    let d = dev("[[device]]\n[device.faults]\neio_after = 3\n");
    let c = Client::new(&d, 1);
    assert!(c.r32(0).is_ok());
    assert!(c.r32(4).is_ok());
    assert_eq!(c.r32(8), Err(libc::EIO));
    assert_eq!(d.cr_read(2, 0), Err(libc::EIO));
    assert_eq!(d.vpd_read4(0), Err(libc::EIO));
    // Counting restarts when faults are set at run time.
    d.set_faults(Faults {
        vanish_after: 2,
        ..Faults::default()
    });
    assert!(c.r32(0).is_ok());
    assert_eq!(c.r32(0), Err(libc::ENODEV));
    assert_eq!(d.cr_write(2, 0, 0), Err(libc::ENODEV));
    assert_eq!(d.access_gate(), Err(libc::ENODEV));
    let mut b = [0u8; 4];
    assert_eq!(d.vpd_file_read(0, &mut b), Err(libc::ENODEV));
    assert_eq!(d.config_dword(0), Err(libc::ENODEV));
}

#[test]
fn delay_per_access() {
    let d = dev("[[device]]\n[device.faults]\ndelay_us = 20000\n");
    let t0 = std::time::Instant::now();
    let mut b = [0u8; 4];
    d.config_read(0, &mut b, 1).unwrap();
    d.cr_read(2, 0).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(40));
}

#[test]
fn byte_granular_config_access() {
    let d = dev("");
    let mut whole = [0u8; 4096];
    assert_eq!(d.config_read(0, &mut whole, 1), Ok(4096));
    assert_eq!(&whole[0..4], &[0xb3, 0x15, 0x17, 0x10]);
    // Unaligned reads equal slices of the whole (plain registers).
    let mut b = [0u8; 7];
    assert_eq!(d.config_read(0x2b, &mut b, 1), Ok(7));
    assert_eq!(&b, &whole[0x2b..0x32]);
    let mut tail = [0u8; 8];
    assert_eq!(d.config_read(4092, &mut tail, 1), Ok(4));
    assert_eq!(d.config_read(4096, &mut tail, 1), Ok(0));
    // Byte write into the command register; read-only device id ignores writes.
    assert_eq!(d.config_write(0x04, &[0x02], 1), Ok(1));
    assert_eq!(d.config_dword(4).unwrap() & 0xffff, 0x0002);
    d.config_write(0x02, &[0, 0], 1).unwrap();
    assert_eq!(d.config_dword(0).unwrap(), 0x1017_15b3);
    // 2-byte write of the space selector (read-modify-write keeps other bytes).
    d.config_write(0x44, &[0x02, 0x00], 1).unwrap();
    assert_eq!(d.config_dword(0x44).unwrap(), 2 | CTRL_STATUS_OK);
    // BAR sizing.
    d.config_write(0x10, &[0xff; 4], 1).unwrap();
    assert_eq!(d.config_dword(0x10).unwrap(), 0xfc00_000c);
    let k = d.counters();
    assert_eq!(k.config_reads, 4);
    assert_eq!(k.config_writes, 4);
}

#[test]
fn mstmcra_observed_sequence() {
    // The sequence README "Observed" describes: cap pointer, capability at 0x40, semaphore,
    // counter, control probes, then the hw id.
    let d = dev("");
    let c = Client::new(&d, 42);
    assert_eq!(c.r8(0x34).unwrap(), 0x40);
    assert_eq!(c.r32(0x40).unwrap() & 0xff, 9);
    assert_eq!(c.r32(0x4c).unwrap(), 0);
    let t = c.r32(0x48).unwrap();
    c.w32(0x4c, t).unwrap();
    assert_eq!(c.r32(0x4c).unwrap(), t);
    let mut ok = vec![];
    for s in [3, 4, 5, 6, 7, 0xf, 1, 0xa, 2] {
        c.w32(0x44, s).unwrap();
        if c.r32(0x44).unwrap() >> 29 != 0 {
            ok.push(s);
        }
    }
    assert_eq!(ok, vec![3, 6, 7, 1, 0xa, 2]);
    c.w32(0x50, HW_ID_ADDR).unwrap();
    assert_eq!(c.r32(0x50).unwrap() >> 31, 1);
    assert_eq!(c.r32(0x54).unwrap(), 0x20d);
    c.w32(0x4c, 0).unwrap();
    assert_eq!(d.counters().interleaved_transactions, 0);
}

#[test]
fn pxir_syndrome_out_of_range() {
    let d = dev(
        "[[device]]\nmodel = \"connectx7\"\nspaces = [1, 2, 3, 10, 0x101, 0x102, 0x103, 0x10a]\n",
    );
    let mut c = Client::new(&d, 9);
    c.find_vsec().unwrap();
    c.lock().unwrap();
    c.set_space(2).unwrap();
    assert_eq!(c.raw_read(0x400_0000).unwrap(), 0);
    assert_ne!(c.r32(0x50).unwrap() & ADDR_SYNDROME, 0);
    assert_eq!((c.r32(0x44).unwrap() >> 24) & 0xf, 3);
    // An in-range access clears it.
    assert_eq!(c.raw_read(HW_ID_ADDR).unwrap(), 0x218);
    assert_eq!(c.r32(0x50).unwrap() & ADDR_SYNDROME, 0);
    assert_eq!((c.r32(0x44).unwrap() >> 24) & 0xf, 0);
    c.unlock().unwrap();
    // Non-PXIR device: no syndrome, data 0.
    let d = dev("");
    let mut c = Client::new(&d, 9);
    c.find_vsec().unwrap();
    assert_eq!(c.read4(2, 0x400_0000).unwrap(), 0);
    assert_eq!(c.r32(0x50).unwrap() & ADDR_SYNDROME, 0);
    assert_eq!(d.cr_read(2, 0x400_0000), Err(libc::EFAULT));
    assert_eq!(d.cr_read(2, 0x4000_0000), Err(libc::EINVAL));
}

#[test]
fn semaphore_and_icmd_spaces_through_gateway() {
    let d = dev("");
    let mut c = Client::new(&d, 9);
    c.find_vsec().unwrap();
    // ICMD-style: write pid, read back.
    c.write4(0xa, 0, 1234).unwrap();
    assert_eq!(c.read4(0xa, 0).unwrap(), 1234);
    c.write4(0xa, 0, 4321).unwrap();
    assert_eq!(c.read4(0xa, 0).unwrap(), 1234);
    c.write4(0xa, 0, 0).unwrap();
    // Lock on read.
    assert_eq!(d.cr_read(0xa, 8), Ok(0));
    assert_eq!(d.cr_read(0xa, 8), Ok(1));
    // ICMD is plain storage.
    c.write4(3, 0x100000, 0xabcd).unwrap();
    assert_eq!(c.read4(3, 0x100000).unwrap(), 0xabcd);
    assert_eq!(d.cr_read(3, 0x100000), Ok(0xabcd));
    assert_eq!(d.cr_read(1, 0x100000), Ok(0));
}

#[test]
fn registers_and_hw_id_override() {
    let d = dev("[[device]]\nseed = 9\n[device.registers]\n\"0xf0014\" = 0x1020d\n\"0x100\" = 7\n");
    assert_eq!(d.hw_id(), 0x1020d);
    assert_eq!(d.cr_read(2, 0x100), Ok(7));
    assert_eq!(d.cr_read(2, 0x104), Ok(seed_pattern(9, 0x104)));
    let cfg = SimConfig::from_toml("[[device]]\n[device.registers]\n\"0x4000000\" = 1\n").unwrap();
    assert!(SimDevice::new(&cfg.devices[0], CrStore::anonymous()).is_err());
}

#[test]
fn crspace_is_big_endian() {
    let d = dev("");
    d.cr_write(2, 0x500, 0x0102_0304).unwrap();
    let mut b = [0u8; 4];
    d.crspace().raw_bytes(0x500, &mut b);
    assert_eq!(b, [1, 2, 3, 4]);
    let mut h = [0u8; 4];
    d.crspace().raw_bytes(HW_ID_ADDR as usize, &mut h);
    assert_eq!(h, [0, 0, 0x02, 0x0d]);
}

#[test]
fn file_backed_store_shared_with_second_mapping() {
    let path = std::env::temp_dir().join(format!("simdev-test-{}", std::process::id()));
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap()
    };
    let cfg = DeviceConfig::default();
    let d = SimDevice::new(&cfg, CrStore::from_file(open()).unwrap()).unwrap();
    assert!(d.crspace_file().is_some());
    // A second independent MAP_SHARED mapping, as a client's mmap of resource0.
    let f = open();
    // SAFETY: mapping a 64 MiB file read-write shared; unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CrStore::SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            std::os::fd::AsRawFd::as_raw_fd(&f),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    let word = |a: usize| unsafe {
        // SAFETY: a < SIZE, aligned, inside the mapping.
        std::ptr::read_volatile((p as *const u8).add(a) as *const u32)
    };
    assert_eq!(u32::from_be(word(HW_ID_ADDR as usize)), 0x20d);
    d.cr_write(2, 0x800, 0x1122_3344).unwrap();
    assert_eq!(u32::from_be(word(0x800)), 0x1122_3344);
    // A client store through the mapping is seen by the gateway.
    unsafe {
        // SAFETY: as above.
        std::ptr::write_volatile(
            (p as *mut u8).add(0x900) as *mut u32,
            0xa5a5_0001u32.to_be(),
        );
    }
    let mut c = Client::new(&d, 77);
    c.find_vsec().unwrap();
    assert_eq!(c.read4(2, 0x900).unwrap(), 0xa5a5_0001);
    // SAFETY: unmapping the mapping made above.
    unsafe { libc::munmap(p, CrStore::SIZE) };
    drop(d);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn vpd_file_and_driver_access() {
    let d = dev("");
    let size = d.vpd_size();
    assert!(size > 0 && size & 3 == 0);
    let mut img = vec![0u8; size as usize + 16];
    assert_eq!(d.vpd_file_read(0, &mut img), Ok(size as usize));
    img.truncate(size as usize);
    let (id, kws) = parse_vpd_image(&img).unwrap();
    assert!(id.starts_with("ConnectX-5"));
    assert_eq!(kws[2], ("SN".to_string(), b"MT1943X01234".to_vec()));
    let mut b = [0u8; 4];
    assert_eq!(d.vpd_file_read(size, &mut b), Ok(0));
    assert_eq!(d.vpd_read4(4).unwrap(), img[4..8]);
    // Read-only area: writes accepted, nothing changes.
    assert_eq!(d.vpd_file_write(0, &[0, 0, 0, 0]), Ok(4));
    assert_eq!(d.vpd_read4(0).unwrap(), img[0..4]);
    assert_eq!(d.vpd_file_write(2, &[0, 0, 0, 0]), Err(libc::EINVAL));
    let k = d.counters();
    assert_eq!((k.vpd_reads, k.vpd_writes), (4, 2));
    // No VPD path: no capability, ENODEV.
    let d = dev("[[device]]\npaths = [\"config\"]\n");
    assert_eq!(d.vpd_size(), 0);
    assert_eq!(d.vpd_read4(0), Err(libc::ENODEV));
}

#[test]
fn vpd_capability_protocol() {
    let d = dev(
        "[[device]]\n[device.vpd]\nid = \"Card\"\nro = [[\"PN\", \"X1\"]]\nrw = [[\"V1\", \"abcdefgh\"]]\n",
    );
    let size = d.vpd_size() as usize;
    let mut img = vec![0u8; size];
    d.vpd_file_read(0, &mut img).unwrap();
    // Kernel-style: 16-bit write of the address (F=0) at cap+2, poll F, read data at cap+4.
    let cap = VPD_OFF as u64;
    let read_dw = |off: u16| -> [u8; 4] {
        d.config_write(cap + 2, &off.to_le_bytes(), 1).unwrap();
        let mut w = [0u8; 2];
        d.config_read(cap + 2, &mut w, 1).unwrap();
        assert_ne!(u16::from_le_bytes(w) & VPD_FLAG, 0);
        let mut b = [0u8; 4];
        d.config_read(cap + 4, &mut b, 1).unwrap();
        b
    };
    for off in (0..size as u16).step_by(4) {
        assert_eq!(read_dw(off), img[off as usize..off as usize + 4]);
    }
    // Write into VPD-W: data first, then address with F=1; F reads 0 when done.
    let (_, kws) = parse_vpd_image(&img).unwrap();
    assert_eq!(kws[2].0, "V1");
    let v1 = img.windows(2).position(|w| w == b"V1").unwrap() + 3;
    let dw = (v1 as u16 + 3) & !3;
    d.config_write(cap + 4, b"WXYZ", 1).unwrap();
    d.config_write(cap + 2, &(dw | VPD_FLAG).to_le_bytes(), 1)
        .unwrap();
    let mut w = [0u8; 2];
    d.config_read(cap + 2, &mut w, 1).unwrap();
    assert_eq!(u16::from_le_bytes(w) & VPD_FLAG, 0);
    assert_eq!(&read_dw(dw), b"WXYZ");
    let mut after = vec![0u8; size];
    d.vpd_file_read(0, &mut after).unwrap();
    assert_eq!(&after[dw as usize..dw as usize + 4], b"WXYZ");
    // Capability visible in the list.
    let mut c = Client::new(&d, 1);
    c.find_vsec().unwrap();
    assert_eq!(c.r8(0x9d).unwrap(), VPD_OFF as u8);
    assert_eq!(c.r8(VPD_OFF).unwrap(), 3);
}

#[test]
fn counters_ioctl_mmap_and_json() {
    let d = dev("");
    d.count_ioctl("MST_READ4");
    d.count_ioctl("MST_READ4");
    d.count_ioctl("MST_PARAMS");
    d.count_mmap();
    let k = d.counters();
    assert_eq!(k.ioctls["MST_READ4"], 2);
    assert_eq!(k.ioctls_total, 3);
    assert_eq!(k.mmaps, 1);
    let j = serde_json::to_string(&k).unwrap();
    let back: CounterSnapshot = serde_json::from_str(&j).unwrap();
    assert_eq!(back, k);
    // Older snapshots without the newer fields still parse.
    let old: CounterSnapshot = serde_json::from_str("{\"config_reads\": 3}").unwrap();
    assert_eq!(old.config_reads, 3);
}

#[test]
fn identity_accessors() {
    let d = dev("[[device]]\nbdf = \"0000:81:00.1\"\nmodel = \"connectx6dx\"\n");
    assert_eq!(d.bdf(), "0000:81:00.1");
    assert_eq!(d.pci_device_id(), 0x101d);
    assert_eq!(d.hw_id(), 0x212);
    assert_eq!(d.config().model, "connectx6dx");
    assert_eq!(d.bar0_address() % BAR0_SIZE, 0);
    let lo = d.config_dword(0x10).unwrap() as u64;
    let hi = d.config_dword(0x14).unwrap() as u64;
    assert_eq!((hi << 32 | lo) & !0xf, d.bar0_address());
    assert_eq!(d.config_dword(0x2c).unwrap(), 0x0016_15b3);
}

#[test]
fn device_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<SimDevice>();
    check::<CrStore>();
}

#[test]
fn examples_parse_and_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        let cfg = SimConfig::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
        for d in &cfg.devices {
            SimDevice::validate(d).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        n += 1;
    }
    assert!(n >= 20, "examples found: {n}");
    // Spot checks that the examples mean what they say.
    let load = |f: &str| SimConfig::from_file(&dir.join(f)).unwrap().devices;
    assert_eq!(load("basic.toml")[0], DeviceConfig::default());
    assert_eq!(load("multi_device.toml").len(), 4);
    let r = &load("registers.toml")[0];
    let d = SimDevice::new(r, CrStore::anonymous()).unwrap();
    assert_eq!(d.hw_id(), 0x1020d);
    assert_eq!(d.cr_read(2, 0x1000), Ok(7));
    assert_eq!(d.cr_read(2, 0x104), Ok(seed_pattern(0x1234, 0x104)));
    let v = &load("vpd_custom.toml")[0];
    let d = SimDevice::new(v, CrStore::anonymous()).unwrap();
    let mut img = vec![0u8; d.vpd_size() as usize];
    d.vpd_file_read(0, &mut img).unwrap();
    let (id, kws) = parse_vpd_image(&img).unwrap();
    assert!(id.starts_with("ConnectX-6 Dx"));
    let names: Vec<_> = kws.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(names, ["PN", "EC", "SN", "V0", "RV", "V1", "RW"]);
}

#[test]
fn validate_rejects() {
    let mut c = DeviceConfig::default();
    c.paths.push("resource2".into());
    assert!(SimDevice::validate(&c).is_err());
    let c = DeviceConfig {
        physfn: Some("81:00.0".into()),
        ..DeviceConfig::default()
    };
    assert!(SimDevice::validate(&c).is_err());
    let mut c = DeviceConfig::default();
    c.vpd.ro.push(("RV".into(), "x".into()));
    assert!(SimDevice::validate(&c).is_err());
}

#[test]
fn concurrent_clients_are_serialized_by_the_semaphore() {
    let d = dev("");
    let hs: Vec<_> = (1..=3u32)
        .map(|pid| {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(&d, pid);
                c.find_vsec().unwrap();
                for i in 0..100u32 {
                    let a = 0x10_0000 + pid * 0x1000 + i * 4;
                    c.write4(2, a, pid << 16 | i).unwrap();
                    assert_eq!(c.read4(2, a).unwrap(), pid << 16 | i);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let k = d.counters();
    assert_eq!(k.interleaved_transactions, 0);
    assert_eq!((k.gateway_reads, k.gateway_writes), (300, 300));
    assert_eq!(k.semaphore_acquired, 600);
    // Without the semaphore, two writers interleave and the model notices.
    let c1 = Client {
        vsec: 0x40,
        ..Client::new(&d, 1)
    };
    let c2 = Client {
        vsec: 0x40,
        ..Client::new(&d, 2)
    };
    c1.lock().unwrap();
    c1.set_space(2).unwrap();
    c1.w32(0x54, 0x1111).unwrap();
    c2.w32(0x54, 0x2222).unwrap(); // clobbers c1's data
    c1.w32(0x50, 0x3000 | 1 << 31).unwrap();
    c1.unlock().unwrap();
    assert_eq!(d.cr_read(2, 0x3000), Ok(0x2222));
    assert_eq!(d.counters().interleaved_transactions, 1);
}

#[test]
fn extreme_offsets_do_not_panic() {
    let d = dev("");
    let mut b = [0u8; 16];
    assert_eq!(d.config_read(u64::MAX - 2, &mut b, 1), Ok(0));
    assert_eq!(d.config_write(u64::MAX - 2, &b, 1), Ok(0));
    assert_eq!(d.vpd_file_read(u64::MAX - 2, &mut b), Ok(0));
    assert_eq!(d.vpd_file_write(u64::MAX - 3, &[0; 4]), Err(libc::EINVAL));
    assert_eq!(d.config_dword(u32::MAX), Err(libc::EINVAL));
    assert_eq!(d.config_dword(0x1000), Err(libc::EINVAL));
    assert_eq!(d.cr_read(u32::MAX, u32::MAX), Err(libc::EINVAL));
    assert_eq!(d.cr_write(2, u32::MAX, 0), Err(libc::EINVAL));
    assert!(d.vpd_read4(u32::MAX).is_ok());
    assert!(d.vpd_write4(u32::MAX, [0; 4]).is_ok());
}

#[test]
fn tools_hcr_through_the_legacy_window() {
    let d = dev("[[device]]\nmodel = \"connectx3\"\ngateway = \"legacy\"\ntools_hcr = true\n");
    let c = Client::new(&d, 3);
    // The semaphore locks on read; the HCR is idle.
    assert_eq!(c.legacy_read(false, HCR_SEM).unwrap(), 0);
    assert_eq!(c.legacy_read(false, HCR_SEM).unwrap(), 1);
    assert_eq!(c.legacy_read(false, HCR_CMD).unwrap(), 0);
    // MBOX_WRITE then MBOX_READ of one quad word, as the stock library sends them.
    let cmd = |op: u32, modifier: u32, hi: u32, lo: u32| {
        for (i, v) in [hi, lo, modifier, 0, 0, 0, op].iter().enumerate() {
            c.legacy_write(false, HCR_ADDR + 4 * i as u32, *v).unwrap();
        }
        c.legacy_write(false, HCR_CMD, op | 1 << 23).unwrap();
        let st = c.legacy_read(false, HCR_CMD).unwrap();
        assert_eq!(st & 1 << 23, 0, "done at once");
        let hi = c.legacy_read(false, HCR_ADDR + 0xc).unwrap();
        let lo = c.legacy_read(false, HCR_ADDR + 0x10).unwrap();
        (st >> 24, hi, lo)
    };
    assert_eq!(cmd(HCR_OP_MBOX_WRITE, 8, 0xaaaa_0001, 0xbbbb_0002).0, 0);
    assert_eq!(
        cmd(HCR_OP_MBOX_READ, 8, 0, 0),
        (0, 0xaaaa_0001, 0xbbbb_0002)
    );
    assert_eq!(cmd(0x7ff, 0, 0, 0).0, 2, "bad opcode");
    // No CR mailbox configured: the magic does not stick.
    c.legacy_write(false, HCR_CR_MBOX, 0x0bad_b00f).unwrap();
    assert_eq!(c.legacy_read(false, HCR_CR_MBOX).unwrap(), 0);
    c.legacy_write(false, HCR_SEM, 0).unwrap();
    assert_eq!(d.crspace().read(HCR_SEM), 0, "released");
    // The in-kernel accessor goes through the same registers.
    assert_eq!(d.cr_read(AS_CR_SPACE, HCR_SEM), Ok(0));
    assert_eq!(d.cr_read(AS_CR_SPACE, HCR_SEM), Ok(1));

    // Without `tools_hcr` (the default) these addresses are plain crspace.
    let d = dev("[[device]]\nmodel = \"connectx3\"\ngateway = \"legacy\"\n");
    let c = Client::new(&d, 3);
    let v = c.legacy_read(false, HCR_SEM).unwrap();
    assert_eq!(v, seed_pattern(1, HCR_SEM));
    assert_eq!(c.legacy_read(false, HCR_SEM).unwrap(), v);
    assert!(SimDevice::validate(&DeviceConfig {
        tools_hcr_cr_mbox: true,
        ..DeviceConfig::default()
    })
    .is_err());
}
