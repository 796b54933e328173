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
            println!("{}", c.stats_json()?);
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
