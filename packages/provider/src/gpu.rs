//! NVIDIA GPU detection for `inventory.mode = "detect"`: asks `nvidia-smi` for each GPU's name
//! and memory and turns them into [`GpuPool`]s named as Akash providers name GPUs in SDL
//! (`vendor/nvidia/model/a100/ram/80Gi/interface/sxm`).
//!
//! `nvidia-smi` is run as `nvidia-smi --query-gpu=name,memory.total
//! --format=csv,noheader,nounits`, which prints one line per GPU: `NVIDIA A100-SXM4-80GB,
//! 81920` (memory in MiB). Identical GPUs make one pool with a count.
//!
//! No `nvidia-smi` where the default name is looked up (`PATH`) means a host without NVIDIA
//! GPUs: no pools. Anything else that goes wrong (a binary the operator named is missing, it
//! fails, hangs or prints a line that does not parse) is an error naming the command and what
//! it printed: a GPU host whose driver is broken must not quietly advertise no GPUs.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::inventory::GpuPool;

/// The program run when the configuration names none (looked up on `PATH`).
pub const NVIDIA_SMI: &str = "nvidia-smi";
/// Its arguments: name and total memory (MiB) of every GPU, one CSV line each.
pub const NVIDIA_SMI_ARGS: [&str; 2] = [
    "--query-gpu=name,memory.total",
    "--format=csv,noheader,nounits",
];
/// How long `nvidia-smi` may take (it hangs on some broken drivers).
pub const NVIDIA_SMI_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the GPUs could not be detected. Every message names the command and says how to fix or
/// bypass it.
#[derive(Debug, thiserror::Error)]
pub enum GpuDetectError {
    #[error("{command}: not found; install the NVIDIA driver's nvidia-smi, fix inventory.nvidia_smi, or list the GPUs with inventory.gpus (gpus = [] for none)")]
    NotFound { command: String },
    #[error("{command}: cannot run it: {reason}")]
    Spawn { command: String, reason: String },
    #[error("{command}: no answer after {seconds} s (is the NVIDIA driver loaded?); fix the driver or list the GPUs with inventory.gpus")]
    Timeout { command: String, seconds: u64 },
    #[error("{command}: {status}: {output:?}; fix the NVIDIA driver, or list the GPUs with inventory.gpus (gpus = [] for none)")]
    Failed {
        command: String,
        status: String,
        /// The first line it printed (stderr, else stdout).
        output: String,
    },
    #[error("{command}: cannot read the line {line:?}: {reason}; expected \"<name>, <memory MiB>\" such as \"NVIDIA A100-SXM4-80GB, 81920\" (or list the GPUs with inventory.gpus)")]
    Unparsable {
        command: String,
        line: String,
        reason: String,
    },
}

/// The command line as shown in errors.
pub fn command_line(program: &Path) -> String {
    format!("{} {}", program.display(), NVIDIA_SMI_ARGS.join(" "))
}

/// Runs `program` (`nvidia-smi`) and returns the GPUs it lists, identical ones pooled.
/// `named`: the operator configured the program, so its absence is an error; otherwise a
/// missing program means no NVIDIA GPUs (logged at info). Blocks for up to `timeout`.
pub fn detect_nvidia(
    program: &Path,
    named: bool,
    timeout: Duration,
) -> Result<Vec<GpuPool>, GpuDetectError> {
    let command = command_line(program);
    let child = Command::new(program)
        .args(NVIDIA_SMI_ARGS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound && !named => {
            tracing::info!(%command, "no nvidia-smi: no NVIDIA GPUs detected");
            return Ok(Vec::new());
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(GpuDetectError::NotFound { command })
        }
        Err(e) => {
            return Err(GpuDetectError::Spawn {
                command,
                reason: e.to_string(),
            })
        }
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(timeout) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(GpuDetectError::Spawn {
                command,
                reason: e.to_string(),
            })
        }
        Err(_) => {
            // Not reaped (the waiting thread would have answered), so the pid is still its,
            // short of an exit in the last instant.
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid and a signal number; no memory is involved.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            return Err(GpuDetectError::Timeout {
                command,
                seconds: timeout.as_secs(),
            });
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = |s: &str| {
            s.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        };
        return Err(GpuDetectError::Failed {
            command,
            status: match output.status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            },
            output: first(&stderr)
                .or_else(|| first(&stdout))
                .unwrap_or_default(),
        });
    }
    let pools = parse_nvidia_smi(&stdout).map_err(|(line, reason)| GpuDetectError::Unparsable {
        command: command.clone(),
        line,
        reason,
    })?;
    if pools.is_empty() {
        tracing::info!(%command, "nvidia-smi lists no GPUs");
    }
    Ok(pools)
}

/// [`detect_nvidia`] with the configured program, or `nvidia-smi` on `PATH`.
pub fn detect_configured(program: Option<&PathBuf>) -> Result<Vec<GpuPool>, GpuDetectError> {
    match program {
        Some(p) => detect_nvidia(p, true, NVIDIA_SMI_TIMEOUT),
        None => detect_nvidia(Path::new(NVIDIA_SMI), false, NVIDIA_SMI_TIMEOUT),
    }
}

/// Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` output
/// into pools, identical GPUs counted together, in the order first seen. Blank lines are
/// skipped. Errors carry the offending line and what is wrong with it.
pub fn parse_nvidia_smi(output: &str) -> Result<Vec<GpuPool>, (String, String)> {
    let mut pools: Vec<GpuPool> = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let bad = |reason: &str| (line.to_string(), reason.to_string());
        // The memory is the last field; a name with a comma keeps it.
        let (name, memory) = line
            .rsplit_once(',')
            .ok_or_else(|| bad("no memory field"))?;
        let mib: u64 = memory
            .trim()
            .parse()
            .map_err(|_| bad("the memory is not a whole number of MiB"))?;
        if mib == 0 {
            return Err(bad("the GPU has no memory"));
        }
        let (model, interface) =
            nvidia_model(name).ok_or_else(|| bad("the name has no model in it"))?;
        let pool = GpuPool {
            vendor: "nvidia".to_string(),
            model,
            ram: Some(format!("{}Gi", nominal_gib(mib))),
            interface: interface.map(str::to_string),
            count: 1,
        };
        match pools
            .iter_mut()
            .find(|p| p.model == pool.model && p.ram == pool.ram && p.interface == pool.interface)
        {
            Some(p) => p.count += 1,
            None => pools.push(pool),
        }
    }
    Ok(pools)
}

/// Words of a marketing name that say nothing about the model: brands, form factors, editions.
const NOISE: &[&str] = &[
    "nvidia",
    "tesla",
    "geforce",
    "quadro",
    "nvl",
    "generation",
    "edition",
    "workstation",
    "server",
    "laptop",
    "gpu",
];

/// The SDL model name and interface of an NVIDIA GPU, from the name `nvidia-smi` prints, as
/// Akash providers write them (`model: a100`, `interface: sxm`): lower case, split into words
/// at every character that is not a letter or digit, then
///
/// - brand and edition words dropped (`NVIDIA`, `Tesla`, `GeForce`, `Quadro`, `NVL`, `Ada
///   Generation`'s `generation`, `Laptop GPU`, ...);
/// - the interface taken out: `SXM`, `SXM2`..`SXM5` give `sxm`, `PCIe` gives `pcie` (none when
///   the name does not say);
/// - memory sizes and kinds dropped (`80GB`, `HBM3`, `GDDR6`): the memory comes from
///   `memory.total`;
/// - `RTX` dropped before a name that starts with a letter (`RTX A6000` is `a6000`);
/// - the remaining words joined: `GeForce RTX 4090` is `rtx4090`, `RTX 3080 Ti` `rtx3080ti`.
///
/// `None` when no word is left.
pub fn nvidia_model(name: &str) -> Option<(String, Option<&'static str>)> {
    let lower = name.to_ascii_lowercase();
    let mut interface = None;
    let mut words: Vec<&str> = Vec::new();
    for word in lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let is_size = word
            .strip_suffix("gb")
            .or_else(|| word.strip_suffix('g'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if NOISE.contains(&word) || is_size || word.starts_with("hbm") || word.starts_with("gddr") {
            continue;
        }
        if word.starts_with("sxm") && word[3..].bytes().all(|b| b.is_ascii_digit()) {
            interface = Some("sxm");
        } else if word == "pcie" {
            interface = Some("pcie");
        } else {
            words.push(word);
        }
    }
    if words.len() > 1
        && words[0] == "rtx"
        && words[1].starts_with(|c: char| c.is_ascii_alphabetic())
        && words[1] != "pro"
    {
        words.remove(0);
    }
    (!words.is_empty()).then(|| (words.concat(), interface))
}

/// GPU memory sizes as GPUs are sold and as SDLs ask for them, in GiB.
const NOMINAL_GIB: &[u64] = &[
    1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 128, 141, 180, 192,
    288,
];

/// The memory a GPU is sold with, in GiB, from the MiB `nvidia-smi` reports. The driver reports
/// a little less than the nominal size (a T4's 16 GB shows as 15360 MiB, an L4's 24 GB as
/// 23034 MiB, an L40S's 48 GB as 46068 MiB), and SDLs ask for the nominal size (`ram: 16Gi`),
/// so plain rounding would not match them: the result is the smallest nominal size that is at
/// least the reported one and at most 10% above it, else the reported size rounded up to a
/// whole GiB.
pub fn nominal_gib(mib: u64) -> u64 {
    NOMINAL_GIB
        .iter()
        .copied()
        .find(|&g| g * 1024 >= mib && g * 1024 * 10 <= mib.saturating_mul(11))
        .unwrap_or_else(|| mib.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marketing_names_reduce_to_sdl_models() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("NVIDIA A100-SXM4-80GB", "a100", Some("sxm")),
            ("NVIDIA A100-PCIE-40GB", "a100", Some("pcie")),
            ("NVIDIA A100 80GB PCIe", "a100", Some("pcie")),
            ("NVIDIA H100 80GB HBM3", "h100", None),
            ("NVIDIA H100 PCIe", "h100", Some("pcie")),
            ("NVIDIA H100 NVL", "h100", None),
            ("NVIDIA H200", "h200", None),
            ("NVIDIA GH200 480GB", "gh200", None),
            ("NVIDIA GeForce RTX 4090", "rtx4090", None),
            ("NVIDIA GeForce RTX 3080 Ti", "rtx3080ti", None),
            ("NVIDIA GeForce GTX 1080 Ti", "gtx1080ti", None),
            ("NVIDIA GeForce RTX 4060 Laptop GPU", "rtx4060", None),
            ("NVIDIA RTX A6000", "a6000", None),
            ("NVIDIA RTX 6000 Ada Generation", "rtx6000ada", None),
            ("Quadro RTX 8000", "rtx8000", None),
            ("Tesla T4", "t4", None),
            ("Tesla V100-SXM2-16GB", "v100", Some("sxm")),
            ("Tesla V100-PCIE-32GB", "v100", Some("pcie")),
            ("NVIDIA L40S", "l40s", None),
            ("NVIDIA L4", "l4", None),
            ("NVIDIA A10G", "a10g", None),
        ];
        for (name, model, interface) in cases {
            assert_eq!(
                nvidia_model(name),
                Some((model.to_string(), *interface)),
                "{name}"
            );
        }
        assert_eq!(nvidia_model("NVIDIA"), None);
        assert_eq!(nvidia_model("  "), None);
    }

    #[test]
    fn reported_memory_rounds_to_the_nominal_size() {
        let cases: &[(u64, u64)] = &[
            (81920, 80),    // A100 80GB
            (81559, 80),    // H100 80GB HBM3
            (40960, 40),    // A100 40GB
            (24564, 24),    // RTX 4090
            (15360, 16),    // T4
            (23034, 24),    // L4
            (46068, 48),    // L40S
            (95830, 94),    // H100 NVL
            (143771, 141),  // H200
            (11264, 11),    // GTX 1080 Ti
            (7611, 8),      // P4
            (400_000, 391), // beyond the table: rounded up
        ];
        for (mib, gib) in cases {
            assert_eq!(nominal_gib(*mib), *gib, "{mib} MiB");
        }
    }

    #[test]
    fn identical_gpus_make_one_pool() {
        let out = "NVIDIA A100-SXM4-80GB, 81920\nNVIDIA A100-SXM4-80GB, 81920\n\n\
                   NVIDIA GeForce RTX 4090, 24564\nNVIDIA A100-SXM4-80GB, 81920\n";
        let pools = parse_nvidia_smi(out).unwrap();
        assert_eq!(pools.len(), 2, "{pools:?}");
        assert_eq!(pools[0].key(), "nvidia/a100");
        assert_eq!(pools[0].ram.as_deref(), Some("80Gi"));
        assert_eq!(pools[0].interface.as_deref(), Some("sxm"));
        assert_eq!(pools[0].count, 3);
        assert_eq!(pools[1].key(), "nvidia/rtx4090");
        assert_eq!(pools[1].ram.as_deref(), Some("24Gi"));
        assert_eq!(pools[1].interface, None);
        assert_eq!(pools[1].count, 1);
        assert!(parse_nvidia_smi("").unwrap().is_empty());
    }

    #[test]
    fn lines_that_do_not_parse_are_named() {
        for (line, reason) in [
            ("NVIDIA A100-SXM4-80GB", "no memory field"),
            ("NVIDIA A100-SXM4-80GB, [N/A]", "not a whole number"),
            ("NVIDIA A100-SXM4-80GB, 0", "no memory"),
            ("NVIDIA, 81920", "no model"),
        ] {
            let (got_line, got_reason) = parse_nvidia_smi(line).unwrap_err();
            assert_eq!(got_line, line);
            assert!(got_reason.contains(reason), "{line}: {got_reason}");
        }
    }
}
