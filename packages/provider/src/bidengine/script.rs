//! Pricing by an operator's script, with Akash's contract (`bidengine/shellscript.go`): the
//! script gets a JSON description of the group on stdin and prints one decimal price on stdout.
//!
//! stdin (one object, as Akash's `dataForScript`):
//! ```json
//! {"resources":[{"memory":536870912,"cpu":500,
//!                "gpu":{"units":1,"attributes":{"vendor":{"nvidia":{"model":"a100","ram":"80Gi"}}}},
//!                "storage":[{"class":"ephemeral","size":1073741824},{"class":"beta2","size":10737418240}],
//!                "count":2,"endpoint_quantity":1,"ip_lease_quantity":0}],
//!  "price":{"denom":"ukumo","amount":"0.25"},"price_precision":18,"confidential_compute":false}
//! ```
//! `memory` and `cpu` (millicores) are per replica; `ram` volumes appear in `storage` with class
//! `ram`; the GPU is the model the inventory reserved. `price` is the order's maximum in the
//! script's unit. Environment: `KUMO_OWNER`, `KUMO_DENOM`, `KUMO_PRICE_UNIT` (`second` or
//! `block`), and `AKASH_OWNER`/`AKASH_DENOM` so that Akash scripts run unchanged (configure
//! [`PriceUnit::PerBlock`] for those: they price per block).
//!
//! stdout: the price, a non-negative decimal with at most 18 decimals, surrounding whitespace
//! ignored. A zero price, anything else on stdout, a non-zero exit or running past the timeout
//! declines the order. The script runs in its own process group, killed when the script exits or
//! times out, so commands it started (a hanging `curl`, a stray `&`) do not outlive it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::{Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cosmwasm_std::Decimal256;
use kumo::EndpointKind;
use serde::Serialize;

use super::pricing::{PriceRequest, PriceUnit, PricingError, PricingStrategy};
use crate::inventory::volume_kind;

/// Decimals the script is asked for: all the market keeps (per-second prices are small).
pub const SCRIPT_PRICE_PRECISION: u32 = 18;
/// Longest stdout accepted; the rest is drained and the output refused.
const MAX_STDOUT: usize = 1024;
/// stderr kept for the decline reason.
const MAX_STDERR: usize = 1024;
const POLL: Duration = Duration::from_millis(5);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptStorage {
    pub class: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptGpuModel {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScriptGpuAttributes {
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vendor: std::collections::BTreeMap<String, ScriptGpuModel>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptGpu {
    pub units: u32,
    pub attributes: ScriptGpuAttributes,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptResource {
    pub memory: u64,
    pub cpu: u64,
    pub gpu: ScriptGpu,
    pub storage: Vec<ScriptStorage>,
    pub count: u32,
    pub endpoint_quantity: usize,
    pub ip_lease_quantity: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptPrice {
    pub denom: String,
    pub amount: Decimal256,
}

/// What the script reads on stdin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptInput {
    pub resources: Vec<ScriptResource>,
    pub price: ScriptPrice,
    pub price_precision: u32,
    pub confidential_compute: bool,
}

impl ScriptInput {
    /// Describes the request, with the order's maximum price in `unit`.
    pub fn new(request: &PriceRequest<'_>, unit: PriceUnit) -> Result<ScriptInput, PricingError> {
        let order = request.order;
        let resources = order
            .group
            .resources
            .iter()
            .map(|unit| {
                let r = &unit.resources;
                let mut attributes = ScriptGpuAttributes::default();
                if let Some(gpu) = request
                    .reservation
                    .allocations
                    .iter()
                    .filter(|a| a.resource_id == r.id)
                    .find_map(|a| a.gpu.as_ref())
                {
                    attributes.vendor.insert(
                        gpu.vendor.clone(),
                        ScriptGpuModel {
                            model: gpu.model.clone(),
                            ram: gpu.ram.clone(),
                            interface: gpu.interface.clone(),
                        },
                    );
                }
                ScriptResource {
                    memory: r.memory.size.u64(),
                    cpu: u64::from(r.cpu.units),
                    gpu: ScriptGpu {
                        units: r.gpu.units,
                        attributes,
                    },
                    storage: r
                        .storage
                        .iter()
                        .map(|v| ScriptStorage {
                            class: volume_kind(v).class().to_string(),
                            size: v.size.u64(),
                        })
                        .collect(),
                    count: unit.count,
                    endpoint_quantity: r.endpoints.len(),
                    ip_lease_quantity: r
                        .endpoints
                        .iter()
                        .filter(|e| e.kind == EndpointKind::LeasedIp)
                        .count(),
                }
            })
            .collect();
        Ok(ScriptInput {
            resources,
            price: ScriptPrice {
                denom: order.denom.clone(),
                amount: unit.from_per_second(order.max_price)?,
            },
            price_precision: SCRIPT_PRICE_PRECISION,
            confidential_compute: false,
        })
    }
}

/// Bounds concurrent scripts (Akash's `processLimit`): a burst of orders must not fork a
/// process each.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Runs an executable per order to price it.
pub struct ScriptPricing {
    path: PathBuf,
    timeout: Duration,
    unit: PriceUnit,
    slots: Slots,
}

impl ScriptPricing {
    /// Prices with the executable at `path`, which must finish within `timeout`. At most 4
    /// scripts run at once.
    pub fn new(path: impl Into<PathBuf>, timeout: Duration) -> Result<ScriptPricing, PricingError> {
        let path = path.into();
        if path.as_os_str().is_empty() {
            return Err(PricingError::InvalidConfig {
                reason: "the script path is empty".into(),
            });
        }
        if timeout.is_zero() {
            return Err(PricingError::InvalidConfig {
                reason: "the script timeout must be positive".into(),
            });
        }
        Ok(ScriptPricing {
            path,
            timeout,
            unit: PriceUnit::PerSecond,
            slots: Slots {
                free: Mutex::new(4),
                freed: Condvar::new(),
            },
        })
    }

    /// The unit the script reads and prints prices in.
    pub fn with_unit(mut self, unit: PriceUnit) -> Result<ScriptPricing, PricingError> {
        unit.validate()?;
        self.unit = unit;
        Ok(self)
    }

    pub fn with_max_processes(mut self, max: usize) -> Result<ScriptPricing, PricingError> {
        if max == 0 {
            return Err(PricingError::InvalidConfig {
                reason: "the process limit must be positive".into(),
            });
        }
        self.slots.free = Mutex::new(max);
        Ok(self)
    }

    /// Runs the script; returns its stdout on a zero exit.
    fn run(&self, stdin: Vec<u8>, owner: &str, denom: &str) -> Result<Vec<u8>, PricingError> {
        let _slot = self.slots.acquire();
        let unit = match self.unit {
            PriceUnit::PerSecond => "second",
            PriceUnit::PerBlock { .. } => "block",
        };
        let mut cmd = Command::new(&self.path);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("KUMO_OWNER", owner)
            .env("KUMO_DENOM", denom)
            .env("KUMO_PRICE_UNIT", unit)
            .env("AKASH_OWNER", owner)
            .env("AKASH_DENOM", denom);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that everything it started can be killed with it.
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| PricingError::ScriptSpawn {
            reason: format!("{}: {e}", self.path.display()),
        })?;
        let stdin_pipe = child.stdin.take();
        // Writing may block if the script reads slowly; it ends with the script at the latest.
        thread::spawn(move || {
            if let Some(mut pipe) = stdin_pipe {
                // A script that ignores its input closes the pipe: not an error.
                let _ = pipe.write_all(&stdin);
            }
        });
        let stdout = reader(child.stdout.take(), MAX_STDOUT);
        let stderr = reader(child.stderr.take(), MAX_STDERR);
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            let exited = match process::exited(&mut child) {
                Ok(exited) => exited,
                Err(e) => {
                    process::kill(&mut child);
                    return Err(PricingError::ScriptSpawn {
                        reason: format!("waiting for the script: {e}"),
                    });
                }
            };
            if exited {
                // Commands it left running would keep the pipes open: they end with it.
                process::kill_leftovers(&child);
                if stdout.is_finished() && stderr.is_finished() {
                    break process::reap(&mut child);
                }
            }
            if Instant::now() >= deadline {
                process::kill(&mut child);
                return Err(PricingError::ScriptTimeout {
                    timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
            thread::sleep(POLL);
        };
        let status = status.map_err(|e| PricingError::ScriptSpawn {
            reason: format!("waiting for the script: {e}"),
        })?;
        let (out, out_truncated) = stdout.join().unwrap_or_default();
        let (err, _) = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(PricingError::ScriptFailed {
                status: describe(status),
                stderr: String::from_utf8_lossy(&err).trim().to_string(),
            });
        }
        if out_truncated {
            return Err(PricingError::ScriptOutput {
                output: String::from_utf8_lossy(&out).into_owned(),
                reason: format!("more than {MAX_STDOUT} bytes"),
            });
        }
        Ok(out)
    }
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// Reads a pipe to its end, keeping the first `max` bytes (and whether there was more). It keeps
/// draining past `max` so that the script never blocks on a full pipe.
fn reader<R: Read + Send + 'static>(pipe: Option<R>, max: usize) -> JoinHandle<(Vec<u8>, bool)> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        let Some(mut pipe) = pipe else {
            return (kept, truncated);
        };
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = max.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        (kept, truncated)
    })
}

/// Waiting for and killing the script. On Linux the child is polled without being reaped, so
/// that its pid — which names its process group — cannot be reused before the group is killed.
#[cfg(target_os = "linux")]
mod process {
    use std::io;
    use std::process::{Child, ExitStatus};

    pub fn exited(child: &mut Child) -> io::Result<bool> {
        let pid = libc::id_t::from(child.id());
        // SAFETY: `info` is a plain C struct that `waitid` fills; zeroed, `si_pid` stays 0 when
        // no child changed state (WNOHANG). WNOWAIT leaves the child waitable for `reap`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(info.si_pid() != 0)
        }
    }

    /// Kills the script's process group (what it started too), then reaps the script.
    pub fn kill(child: &mut Child) {
        kill_group(child);
        let _ = child.wait();
    }

    /// Kills what the exited script left running in its group.
    pub fn kill_leftovers(child: &Child) {
        kill_group(child);
    }

    pub fn reap(child: &mut Child) -> io::Result<ExitStatus> {
        child.wait()
    }

    fn kill_group(child: &Child) {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: plain syscall. The negative pid names the group the script leads; the
            // script is not reaped yet, so its pid (the group id) is still its own.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Elsewhere: only the script itself is waited for and killed.
#[cfg(not(target_os = "linux"))]
mod process {
    use std::io;
    use std::process::{Child, ExitStatus};

    pub fn exited(child: &mut Child) -> io::Result<bool> {
        child.try_wait().map(|s| s.is_some())
    }

    pub fn kill(child: &mut Child) {
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Without a safe way to name its group once it exited, leftovers are not killed.
    pub fn kill_leftovers(_child: &Child) {}

    pub fn reap(child: &mut Child) -> io::Result<ExitStatus> {
        child.wait()
    }
}

impl PricingStrategy for ScriptPricing {
    fn name(&self) -> &str {
        "script"
    }

    fn price(&self, request: &PriceRequest<'_>) -> Result<Decimal256, PricingError> {
        let input = ScriptInput::new(request, self.unit)?;
        // Serializing this plain struct cannot fail.
        let stdin = serde_json::to_vec(&input).unwrap_or_default();
        let order = request.order;
        let out = self.run(stdin, order.owner().as_str(), &order.denom)?;
        let bad = |reason: &str| PricingError::ScriptOutput {
            output: String::from_utf8_lossy(&out).into_owned(),
            reason: reason.to_string(),
        };
        let text = std::str::from_utf8(&out)
            .map_err(|_| bad("not UTF-8"))?
            .trim();
        if text.is_empty() {
            return Err(bad("empty"));
        }
        // Decimal256 refuses signs, exponents and more than 18 decimals.
        let price = Decimal256::from_str(text).map_err(|e| bad(&e.to_string()))?;
        if price.is_zero() {
            return Err(PricingError::ZeroPrice);
        }
        let price = self.unit.to_per_second(price)?;
        if price.is_zero() {
            return Err(PricingError::ZeroPrice);
        }
        Ok(price)
    }
}
