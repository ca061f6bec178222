//! What every chain command shares: the global flags, the keyring, the client, the suite's
//! addresses, output in text or JSON, progress on waits, and errors that say how to fix them.

use std::fmt::Write as _;
use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, ValueEnum};
use cosmwasm_std::{Coin, Decimal256};
use kumo_chain::{ChainError, Client, ClientConfig, Key, Keyring, KumoContracts, TxResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The environment variable the keyring password is read from before prompting.
pub const PASSWORD_ENV: &str = "KUMO_KEYRING_PASSWORD";
/// Seconds in a month (30.4375 days), for monthly prices.
pub const SECONDS_PER_MONTH: u64 = 2_629_800;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human tables and sentences.
    Text,
    /// One JSON document per command.
    Json,
}

/// Flags every command takes, before or after the subcommand.
#[derive(Clone, Debug, Args)]
pub struct Globals {
    /// REST endpoint of the chain (wasmd's API, port 1317).
    #[arg(long, global = true, default_value = "http://127.0.0.1:1317")]
    pub node: String,
    /// Kumo's directory: the keyring (keyring.json) and the devnet (devnet/, with its
    /// suite.json) [default: ~/.kumo]
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
    /// Name of the keyring key that signs [default: the only key, when there is one]
    #[arg(long, global = true)]
    pub from: Option<String>,
    /// The suite's addresses: the JSON `kumo devnet` writes and `kumo deploy-suite` prints
    /// [default: HOME/devnet/suite.json]
    #[arg(long, global = true)]
    pub suite: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Bech32 prefix of the chain's addresses.
    #[arg(long, global = true, default_value = "kumo")]
    pub prefix: String,
    /// The chain's fee (and default deposit) denom.
    #[arg(long, global = true, default_value = "ukumo")]
    pub denom: String,
    /// Price of a unit of gas, in --denom.
    #[arg(long, global = true, default_value_t = 0.025)]
    pub gas_price: f64,
}

impl Globals {
    pub fn home(&self) -> anyhow::Result<PathBuf> {
        match &self.home {
            Some(h) => Ok(h.clone()),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".kumo"))
                .ok_or_else(|| anyhow!("HOME is not set; pass --home DIR")),
        }
    }

    pub fn keyring_path(&self) -> anyhow::Result<PathBuf> {
        Ok(self.home()?.join("keyring.json"))
    }

    pub fn suite_path(&self) -> anyhow::Result<PathBuf> {
        match &self.suite {
            Some(s) => Ok(s.clone()),
            None => Ok(self.home()?.join("devnet").join("suite.json")),
        }
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    /// Prints the command's result: `json` as one document, or the text.
    pub fn emit(&self, json: Value, text: impl FnOnce() -> String) {
        if self.json() {
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string())
            );
        } else {
            let t = text();
            if !t.is_empty() {
                println!("{}", t.trim_end());
            }
        }
    }

    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(
            &self.node,
            ClientConfig {
                prefix: self.prefix.clone(),
                gas_price_amount: self.gas_price,
                gas_denom: self.denom.clone(),
                gas_adjustment: 1.4,
            },
        )?)
    }

    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        Ok(Keyring::open(self.keyring_path()?)?)
    }

    /// The signing key: `--from`, or the keyring's only key.
    pub fn key(&self) -> anyhow::Result<(String, Key)> {
        let ring = self.keyring()?;
        let name = match &self.from {
            Some(n) => n.clone(),
            None => {
                let keys = ring.list();
                match keys.as_slice() {
                    [only] => only.name.clone(),
                    [] => bail!(
                        "the keyring at {} has no keys: add one with `kumo keys add NAME` (or `--recover` a mnemonic)",
                        ring.path().display()
                    ),
                    _ => bail!(
                        "pass --from KEY to say which key signs (the keyring has {})",
                        keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                }
            }
        };
        let password = password(&format!("Password of key {name:?}: "))?;
        let key = ring.get(&name, &password)?;
        Ok((name, key))
    }

    pub fn address(&self, key: &Key) -> anyhow::Result<String> {
        Ok(key.address(&self.prefix)?)
    }

    /// The suite's contract addresses.
    pub fn contracts(&self) -> anyhow::Result<KumoContracts> {
        let path = self.suite_path()?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow!(
                "cannot read the suite file {} ({e}): start a local chain with `kumo devnet` (it writes one), or pass --suite FILE with the JSON `kumo deploy-suite` printed",
                path.display()
            )
        })?;
        if let Ok(suite) = serde_json::from_str::<kumo_chain::DeployedSuite>(&text) {
            return Ok(suite.contracts);
        }
        serde_json::from_str::<KumoContracts>(&text).map_err(|e| {
            anyhow!(
                "{} is not a suite file ({e}): it should be the JSON `kumo deploy-suite` prints",
                path.display()
            )
        })
    }

    /// Asks "proceed?" on a terminal unless `--yes`; scripts (no terminal) proceed.
    pub fn confirm(&self, what: &str) -> anyhow::Result<()> {
        if self.yes || !std::io::stdin().is_terminal() || self.json() {
            return Ok(());
        }
        eprint!("{what} Proceed? [y/N] ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if matches!(line.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            bail!("cancelled (pass --yes to skip this question)")
        }
    }

    /// Rewrites the chain client's errors into what the user should do.
    pub fn explain(&self, err: ChainError) -> anyhow::Error {
        match &err {
            ChainError::Unreachable { url, reason } => anyhow!(
                "cannot reach the node at {url}: start one with `kumo devnet`, or pass --node URL ({reason})"
            ),
            _ => {
                let text = err.to_string();
                if let Some((have, need)) = insufficient_funds(&text) {
                    return anyhow!(
                        "insufficient funds: the account has {have} and this needs {need}; fund it, or ask for less (--deposit / the amount)"
                    );
                }
                match &err {
                    ChainError::SimulationFailed { message } => match contract_error(message) {
                        Some(reason) => anyhow!("refused: {reason} (nothing was broadcast)"),
                        None => anyhow!(err),
                    },
                    _ => anyhow!(err),
                }
            }
        }
    }

    pub async fn query<T: DeserializeOwned>(
        &self,
        client: &Client,
        contract: &str,
        msg: &impl Serialize,
    ) -> anyhow::Result<T> {
        client
            .query_smart(contract, msg)
            .await
            .map_err(|e| self.explain(e))
    }

    /// Executes `msg` on `contract`, with a spinner while the transaction waits for its block.
    pub async fn exec(
        &self,
        client: &Client,
        key: &Key,
        contract: &str,
        msg: &impl Serialize,
        funds: &[Coin],
        what: &str,
    ) -> anyhow::Result<TxResponse> {
        if contract.is_empty() {
            bail!("the suite file has no address for this contract: deploy it, or pass --suite FILE naming it");
        }
        spin(
            format!("{what}: waiting for the transaction to be included"),
            client.execute(key, contract, msg, funds),
        )
        .await
        .map_err(|e| self.explain(e))
    }
}

/// What every list query asks for: the Kumo contracts' `MAX_LIMIT`. A contract caps `limit` at
/// its own maximum, so asking for more returns no more, and a page shorter than asked for is no
/// sign that the list ended: [`all_pages`] stops at the first empty page only.
pub const PAGE_LIMIT: u32 = 30;

/// Every item of a paginated list query. `page(start_after)` fetches one page (asking for
/// [`PAGE_LIMIT`]) starting after the cursor; `cursor(item)` is the `start_after` that resumes
/// after `item`. Pages are read until one is empty, never ending early on a short page (the
/// contract may cap the limit below what was asked). A contract that does not move past the
/// cursor is an error, not an endless loop.
pub async fn all_pages<T, C, F, Fut>(
    mut page: F,
    cursor: impl Fn(&T) -> C,
) -> anyhow::Result<Vec<T>>
where
    C: Clone + PartialEq + std::fmt::Debug,
    F: FnMut(Option<C>) -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<T>>>,
{
    let mut all = vec![];
    let mut start_after: Option<C> = None;
    loop {
        let items = page(start_after.clone()).await?;
        let Some(last) = items.last() else {
            return Ok(all);
        };
        let next = cursor(last);
        if start_after.as_ref() == Some(&next) {
            bail!(
                "the contract returned the same page again after {next:?}: it ignores start_after"
            );
        }
        start_after = Some(next);
        all.extend(items);
    }
}

/// The keyring password: `KUMO_KEYRING_PASSWORD`, else asked on the terminal.
pub fn password(prompt: &str) -> anyhow::Result<String> {
    if let Some(p) = password_from_env()? {
        return Ok(p);
    }
    read_secret(prompt).map_err(|_| no_terminal())
}

/// `KUMO_KEYRING_PASSWORD`, if it is set. Set but empty is an error, not a password: it is what
/// a script passing an unset variable sends.
pub fn password_from_env() -> anyhow::Result<Option<String>> {
    match std::env::var(PASSWORD_ENV) {
        Ok(p) if p.is_empty() => bail!(
            "{PASSWORD_ENV} is set but empty: set it to the keyring password, or unset it to be asked on a terminal"
        ),
        Ok(p) => Ok(Some(p)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("{PASSWORD_ENV} is not valid UTF-8: set it to the keyring password")
        }
    }
}

/// Why a password could not be asked for, and what to do.
pub fn no_terminal() -> anyhow::Error {
    anyhow::anyhow!("cannot ask for the keyring password: set {PASSWORD_ENV} or run on a terminal")
}

/// The terminal settings a secret prompt changed, for [`restore_tty_on_signal`] to put back.
static PROMPT_TTY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
static mut PROMPT_SAVED: std::mem::MaybeUninit<libc::termios> = std::mem::MaybeUninit::uninit();

/// SIGINT/SIGTERM during a secret prompt: echo back on, then die of the signal as usual (else
/// Ctrl-C at a password prompt would leave the user's terminal without echo).
extern "C" fn restore_tty_on_signal(sig: libc::c_int) {
    let fd = PROMPT_TTY.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: tcsetattr, signal and raise are async-signal-safe; PROMPT_SAVED was written
        // before PROMPT_TTY was set.
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, std::ptr::addr_of!(PROMPT_SAVED).cast());
        }
    }
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Reads a line from the terminal without echoing it. Echo goes off before the prompt is
/// shown (a fast typist's first keys are not echoed either) and comes back on even if the
/// prompt is interrupted.
pub fn read_secret(prompt: &str) -> anyhow::Result<String> {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    let mut out = &tty;
    // SAFETY: termios is plain data; tcgetattr fills it for a valid open descriptor.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    let have_term = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    let saved = term;
    let mut previous = Vec::new();
    if have_term {
        // SAFETY: written before PROMPT_TTY publishes it to the handler; one prompt at a time.
        unsafe { std::ptr::addr_of_mut!(PROMPT_SAVED).write(std::mem::MaybeUninit::new(saved)) };
        PROMPT_TTY.store(fd, Ordering::SeqCst);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let handler = restore_tty_on_signal as extern "C" fn(libc::c_int);
            // SAFETY: installs a handler that only calls async-signal-safe functions.
            previous.push((sig, unsafe {
                libc::signal(sig, handler as libc::sighandler_t)
            }));
        }
        term.c_lflag &= !libc::ECHO;
        // SAFETY: fd is open and term came from tcgetattr.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    let read = out
        .write_all(prompt.as_bytes())
        .and_then(|_| out.flush())
        .and_then(|_| {
            let mut line = String::new();
            std::io::BufReader::new(&tty).read_line(&mut line)?;
            Ok(line)
        });
    if have_term {
        // SAFETY: as above; restores what tcgetattr read, then the previous handlers.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        PROMPT_TTY.store(-1, Ordering::SeqCst);
        for (sig, handler) in previous {
            unsafe { libc::signal(sig, handler) };
        }
        out.write_all(b"\n").ok();
    }
    Ok(read?.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `fut` with a spinner on stderr when it is a terminal.
pub async fn spin<T>(message: String, fut: impl Future<Output = T>) -> T {
    let bar = spinner(message);
    let out = fut.await;
    bar.finish_and_clear();
    out
}

pub fn spinner(message: String) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `(have, need)` from the bank's "spendable balance X is smaller than Y".
pub fn insufficient_funds(text: &str) -> Option<(String, String)> {
    let rest = &text[text.find("spendable balance ")? + "spendable balance ".len()..];
    let (have, rest) = rest.split_once(" is smaller than ")?;
    let need: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == ',')
        .collect();
    let have = if have.is_empty() || have.chars().all(|c| !c.is_ascii_digit()) {
        format!("0{have}")
    } else {
        have.to_string()
    };
    Some((have, need))
}

/// The contract's own error in wasmd's "failed to execute message; message index: 0: REASON:
/// execute wasm contract failed" wrapping.
pub fn contract_error(message: &str) -> Option<&str> {
    let rest = &message[message.find("message index: ")? + "message index: ".len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix(": ")?;
    let end = rest.find(": execute wasm contract failed")?;
    Some(&rest[..end])
}

/// Splits `5000000ukumo` into the amount and the denom.
pub fn parse_coin(s: &str) -> anyhow::Result<(u128, String)> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let denom = &s[digits.len()..];
    if digits.is_empty() || denom.is_empty() {
        bail!("{s:?} is not an amount with a denom: write it like 5000000ukumo");
    }
    let amount = digits
        .parse()
        .map_err(|_| anyhow!("{s:?}: the amount is too large"))?;
    Ok((amount, denom.to_string()))
}

/// A price per second as per month, to two decimals.
pub fn per_month(per_second: Decimal256) -> String {
    let f: f64 = per_second.to_string().parse().unwrap_or(0.0);
    format!("{:.2}", f * SECONDS_PER_MONTH as f64)
}

/// Plain text columns, the first row the header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The async runtime the commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Reads a file the user named, saying what to check when it is not there.
pub fn read_file(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}: check the path ({what})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_banks_insufficient_funds_message() {
        let msg = "transaction failed in simulation: spendable balance 10ukumo is smaller than 5000000ukumo: insufficient funds";
        assert_eq!(
            insufficient_funds(msg),
            Some(("10ukumo".into(), "5000000ukumo".into()))
        );
        assert_eq!(
            insufficient_funds("spendable balance  is smaller than 5ukumo"),
            Some(("0".into(), "5ukumo".into()))
        );
        assert_eq!(insufficient_funds("out of gas"), None);
    }

    #[test]
    fn unwraps_the_contracts_error() {
        let msg = "failed to execute message; message index: 0: voting on proposal 1 runs until 1700000000: execute wasm contract failed With gas wanted: '0' and gas used: '34572' ";
        assert_eq!(
            contract_error(msg),
            Some("voting on proposal 1 runs until 1700000000")
        );
        assert_eq!(contract_error("out of gas"), None);
    }

    /// A list of `n` items served at most `cap` per page, as a contract with that `MAX_LIMIT`.
    fn capped_pages(
        n: u32,
        cap: usize,
    ) -> impl FnMut(Option<u32>) -> std::future::Ready<anyhow::Result<Vec<u32>>> {
        move |start_after| {
            let from = start_after.map_or(0, |s| s + 1);
            let page = (from..n).take(cap.min(PAGE_LIMIT as usize)).collect();
            std::future::ready(Ok(page))
        }
    }

    #[test]
    fn all_pages_reads_past_pages_shorter_than_asked_for() {
        let rt = runtime().unwrap();
        // A contract that caps pages at 7 (below PAGE_LIMIT): every page is short.
        let all = rt.block_on(all_pages(capped_pages(75, 7), |i| *i)).unwrap();
        assert_eq!(all, (0..75).collect::<Vec<_>>());
        // Exactly one full page, then an empty one.
        let all = rt
            .block_on(all_pages(capped_pages(30, 30), |i| *i))
            .unwrap();
        assert_eq!(all.len(), 30);
        let none = rt.block_on(all_pages(capped_pages(0, 30), |i| *i)).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn all_pages_stops_when_the_contract_ignores_the_cursor() {
        let rt = runtime().unwrap();
        let err = rt
            .block_on(all_pages(
                |_| std::future::ready(Ok(vec![1u32, 2, 3])),
                |i| *i,
            ))
            .unwrap_err();
        assert!(err.to_string().contains("ignores start_after"), "{err}");
    }

    #[test]
    fn parses_coins() {
        assert_eq!(
            parse_coin("5000000ukumo").unwrap(),
            (5000000, "ukumo".into())
        );
        assert!(parse_coin("ukumo").is_err());
        assert!(parse_coin("12").is_err());
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
