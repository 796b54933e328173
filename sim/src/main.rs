//! `mtcr-sim`: run a command against simulated ConnectX devices (see `sim/RUNNING.md`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mtcr_sim::config::{Faults, SimConfig};
use mtcr_sim::proto::Client;
use mtcr_sim::runtime::{self, RunOptions};

#[derive(Parser)]
#[command(
    name = "mtcr-sim",
    version,
    about = "Simulated ConnectX devices for mstflint tools"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run CMD in a private mount namespace where the simulated devices exist.
    Run {
        /// TOML configuration (default: one ConnectX-5 at 0000:05:00.0).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the final counters here (JSON).
        #[arg(long)]
        stats: Option<PathBuf>,
        /// Control socket path (default: private; exported to CMD as MTCR_SIM_SOCKET).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Preload library (default: MTCR_SIM_PRELOAD or beside this executable).
        #[arg(long)]
        preload: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
    /// Print the live counters of a running simulator (JSON).
    Stats {
        /// Socket (default: $MTCR_SIM_SOCKET).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// Show or change the fault knobs of a device of a running simulator.
    Fault {
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Device BDF (may be omitted when the simulator has a single device).
        #[arg(long)]
        bdf: Option<String>,
        /// key=value (e.g. eio_after=3, semaphore_held_forever=true, unsupported_spaces=[2,3]).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Reset every knob to its default first.
        #[arg(long)]
        clear: bool,
    },
    /// Toggle the PCI link of a device of a running simulator (what disabling and
    /// re-enabling its upstream port's link does): a firmware reset armed by MFRL (mstfwreset)
    /// reboots the firmware from flash. Prints "rebooted" or "no reset armed".
    PciReset {
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Device BDF (may be omitted when the simulator has a single device).
        #[arg(long)]
        bdf: Option<String>,
        /// Assert PERST (a warm reboot) instead of toggling the link.
        #[arg(long)]
        perst: bool,
    },
    /// Write a synthetic firmware image (FS4 layout, see sim/FIRMWARE.md).
    Image(ImageArgs),
    /// Check a firmware image or a flash file (e.g. a `flash_file`) as the tools verify one
    /// and print what it holds; exit status 1 when it is not valid.
    CheckImage {
        /// The file.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct ImageArgs {
    /// Output file.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Firmware version MAJOR.MINOR.SUBMINOR.
    #[arg(long, default_value = "16.35.1012")]
    fw_version: String,
    /// PSID (up to 16 characters).
    #[arg(long, default_value = "MT_0000000008")]
    psid: String,
    /// Release date YYYY-MM-DD.
    #[arg(long)]
    release_date: Option<String>,
    /// Product description.
    #[arg(long)]
    description: Option<String>,
    /// Part number.
    #[arg(long)]
    part_number: Option<String>,
    /// Image VSD string.
    #[arg(long)]
    vsd: Option<String>,
    /// Base GUID (hex); the base MAC is derived from it unless --mac is given.
    #[arg(long, value_parser = parse_hex_u64)]
    guid: Option<u64>,
    /// Base MAC (hex, 48 bits).
    #[arg(long, value_parser = parse_hex_u64)]
    mac: Option<u64>,
    /// Device model the image is for (connectx5, connectx4, connectx6).
    #[arg(long, default_value = "connectx5")]
    device: String,
    /// Clear IMAGE_INFO's mcc_en (the image then asks for the legacy burn flow).
    #[arg(long)]
    no_mcc: bool,
    /// Size of the MAIN_CODE section in bytes.
    #[arg(long, default_value_t = 0x8000)]
    main_code_size: usize,
    /// Spoil the image for negative tests: bad-crc (a MAIN_CODE byte flipped) or truncated.
    #[arg(long)]
    spoil: Option<String>,
    /// Write a whole flash of this many bytes (image in slot 0, device data at the top)
    /// instead of an image file.
    #[arg(long)]
    flash_size: Option<usize>,
}

fn parse_hex_u64(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("{s:?}: {e}"))
}

fn write_image(a: ImageArgs) -> Result<i32, String> {
    use mtcr_sim::fw::image::{self, Device, ImageParams, Spoil};
    let mut p = ImageParams {
        fw_version: image::parse_version(&a.fw_version)?,
        psid: a.psid,
        mcc_en: !a.no_mcc,
        main_code_size: a.main_code_size.div_ceil(4) * 4,
        ..ImageParams::default()
    };
    if p.psid.len() > 16 {
        return Err(format!("PSID {:?} is longer than 16 characters", p.psid));
    }
    if let Some(d) = a.release_date {
        p.release_date = image::parse_date(&d)?;
    }
    if let Some(d) = a.description {
        p.description = d;
    }
    if let Some(n) = a.part_number {
        p.part_number = n;
    }
    if let Some(v) = a.vsd {
        p.image_vsd = v;
    }
    if let Some(g) = a.guid {
        p.base_guid = g;
        // The usual derivation: drop the middle two bytes of the GUID.
        p.base_mac = (g >> 40) << 24 | (g & 0xff_ffff);
    }
    if let Some(m) = a.mac {
        p.base_mac = m & 0xffff_ffff_ffff;
    }
    p.device = match a.device.as_str() {
        "connectx5" => Device::CONNECTX5,
        "connectx4" => Device::CONNECTX4,
        "connectx6" => Device::CONNECTX6,
        d => {
            return Err(format!(
                "unknown device {d:?} (connectx5, connectx4, connectx6)"
            ))
        }
    };
    let mut bytes = match a.flash_size {
        Some(n) => image::build_flash(&p, n)?,
        None => image::build_file(&p),
    };
    match a.spoil.as_deref() {
        None => {}
        Some("bad-crc") => image::spoil(&mut bytes, Spoil::BadCrc)?,
        Some("truncated") => image::spoil(&mut bytes, Spoil::Truncated)?,
        Some(s) => return Err(format!("unknown --spoil {s:?} (bad-crc, truncated)")),
    }
    std::fs::write(&a.output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", a.output.display()))?;
    Ok(0)
}

fn client(socket: Option<PathBuf>) -> Result<Client, String> {
    match socket {
        Some(p) => Client::connect(&p),
        None => Client::from_env(),
    }
}

/// Apply `key=value` to a fault set (value parsed as JSON, else as a plain string).
fn apply_fault(f: &Faults, kv: &str) -> Result<Faults, String> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {kv:?}"))?;
    let mut obj = serde_json::to_value(f).map_err(|e| e.to_string())?;
    let map = obj.as_object_mut().ok_or("faults are not an object")?;
    if !map.contains_key(k) {
        let keys: Vec<&String> = map.keys().collect();
        return Err(format!("unknown fault {k:?} (known: {keys:?})"));
    }
    let val: serde_json::Value =
        serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
    map.insert(k.to_string(), val);
    serde_json::from_value(obj).map_err(|e| format!("{kv}: {e}"))
}

/// The BDF of the simulator's only device (error when there are several).
fn only_device(c: &mut Client) -> Result<String, String> {
    let stats: serde_json::Value =
        serde_json::from_str(&c.stats_json()?).map_err(|e| e.to_string())?;
    let devs: Vec<String> = stats["devices"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    match devs.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("several devices ({}): pass --bdf", devs.join(", "))),
    }
}

fn check_image(file: &std::path::Path) -> Result<i32, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let i = match mtcr_sim::fw::image::check(&bytes) {
        Ok(i) => i,
        Err(e) => {
            println!("invalid: {e}");
            return Ok(1);
        }
    };
    let (maj, min, sub) = i.fw_version;
    let (y, m, d) = i.release_date;
    println!("image start:   {:#x}", i.start);
    println!("fw version:    {maj}.{min}.{sub}");
    println!("release date:  {y:04}-{m:02}-{d:02}");
    println!("psid:          {}", i.psid);
    println!("part number:   {}", i.part_number);
    println!("description:   {}", i.description);
    println!(
        "device:        hw id {:#x}, pci device id {}",
        i.hw_id, i.pci_device_id
    );
    println!("image size:    {:#x}", i.image_size);
    for e in &i.itoc {
        println!("  itoc {:#04x} at {:#08x} size {:#x}", e.ty, e.addr, e.size);
    }
    match &i.dev {
        Some(d) => {
            println!("base guid:     {:016x} ({})", d.base_guid, d.num_guids);
            println!("base mac:      {:012x} ({})", d.base_mac, d.num_macs);
            println!("mfg psid:      {}", d.mfg_psid);
            for e in &d.dtoc {
                println!("  dtoc {:#04x} at {:#08x} size {:#x}", e.ty, e.addr, e.size);
            }
        }
        None => println!("device data:   none"),
    }
    Ok(0)
}

fn real_main() -> Result<i32, String> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            config,
            stats,
            socket,
            preload,
            command,
        } => {
            let config = match config {
                Some(p) => SimConfig::from_file(&p)?,
                None => SimConfig::default(),
            };
            runtime::run(RunOptions {
                config,
                stats,
                socket,
                preload,
                command,
            })
        }
        Cmd::Stats { socket } => {
            let mut c = client(socket)?;
            let json = c.stats_json()?;
            // A reader that stops early (`| grep -q`) is not an error (println! would panic).
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{json}");
            Ok(0)
        }
        Cmd::Fault {
            socket,
            bdf,
            set,
            clear,
        } => {
            let mut c = client(socket)?;
            let bdf = match bdf {
                Some(b) => b,
                None => only_device(&mut c)?,
            };
            let mut f = if clear {
                Faults::default()
            } else {
                c.get_faults(&bdf)?
            };
            for kv in &set {
                f = apply_fault(&f, kv)?;
            }
            if clear || !set.is_empty() {
                c.set_faults(&bdf, &f)?;
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&f).map_err(|e| e.to_string())?
            );
            Ok(0)
        }
        Cmd::PciReset { socket, bdf, perst } => {
            let mut c = client(socket)?;
            let bdf = match bdf {
                Some(b) => b,
                None => only_device(&mut c)?,
            };
            let rebooted = c.pci_reset(&bdf, perst)?;
            println!(
                "{}",
                if rebooted {
                    "rebooted"
                } else {
                    "no reset armed"
                }
            );
            Ok(0)
        }
        Cmd::Image(a) => write_image(a),
        Cmd::CheckImage { file } => check_image(&file),
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => {
            // Exit at once: the FUSE thread may still be parked in the kernel.
            std::process::exit(code)
        }
        Err(e) => {
            eprintln!("mtcr-sim: {e}");
            ExitCode::from(125)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_values() {
        let f = apply_fault(&Faults::default(), "eio_after=3").unwrap();
        assert_eq!(f.eio_after, 3);
        let f = apply_fault(&f, "semaphore_held_forever=true").unwrap();
        assert!(f.semaphore_held_forever);
        assert_eq!(f.eio_after, 3);
        let f = apply_fault(&f, "unsupported_spaces=[2,3]").unwrap();
        assert_eq!(f.unsupported_spaces, vec![2, 3]);
        assert!(apply_fault(&f, "nope=1").is_err());
        assert!(apply_fault(&f, "eio_after=yes").is_err());
        assert!(apply_fault(&f, "eio_after").is_err());
    }
}
