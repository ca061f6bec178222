//! The CLI's interactive prompts: the keyring password (`ctx::password`, `ctx::read_secret`),
//! the new-key password asked twice and the recovered mnemonic (`kumo keys add`), and the
//! "Proceed? [y/N]" confirmation (`Globals::confirm`).
//!
//! Why a pseudo-terminal: each prompt only appears on a terminal. `read_secret` opens
//! `/dev/tty` (the process's controlling terminal) and turns its echo off, and `confirm` and
//! `keys add --recover` ask only when stdin `is_terminal()`; with pipes they are skipped or fail.
//! So the real `kumo` binary runs here with stdin, stdout and stderr on the slave side of a pty
//! that is also its controlling terminal (a new session, `TIOCSCTTY`), and the test plays the
//! user on the master side: it waits for the prompt, types the answer, and reads what the
//! terminal showed. Every wait has a deadline, after which the test fails with the output so far
//! instead of hanging. The last tests run without any terminal (a new session with no
//! controlling terminal, stdin not a tty) and check the CLI says what to set instead of waiting.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{repo, start, DEV_MNEMONIC, PASSWORD};
use predicates::str::contains;
use serde_json::Value;

/// How long any one wait (for a prompt, for the exit) may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
const TTY_PASSWORD: &str = "tty-s3cret-pw";

// ---------------------------------------------------------------------------------------------
// A child on a pseudo-terminal.

struct Pty {
    master: File,
    child: Child,
    chunks: Receiver<Vec<u8>>,
    /// Everything the terminal showed so far.
    seen: Vec<u8>,
    /// Where the next `expect` starts looking in `seen`.
    pos: usize,
}

impl Pty {
    /// Spawns `cmd` with a new pty as its stdin, stdout, stderr and controlling terminal.
    fn spawn(mut cmd: Command) -> Pty {
        let (master, slave) = open_pty();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // Close this process's copies of the slave, so reading the master ends (EIO) when the
        // child exits.
        drop(cmd);
        let master = File::from(master);
        let mut reader = master.try_clone().unwrap();
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Pty {
            master,
            child,
            chunks,
            seen: vec![],
            pos: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// What the terminal showed from byte `pos` on.
    fn shown_after(&self, pos: usize) -> String {
        String::from_utf8_lossy(&self.seen[pos..]).into_owned()
    }

    /// Waits until the terminal shows `what` (after the previous match); fails after
    /// [`DEADLINE`] with the output seen so far.
    fn expect(&mut self, what: &str) {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(i) = find(&self.seen[self.pos..], what.as_bytes()) {
                self.pos += i + what.len();
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "no {what:?} on the terminal after {DEADLINE:?}; it showed:\n{}",
                        self.text()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the command ended without showing {what:?}; it showed:\n{}",
                    self.text()
                ),
            }
        }
    }

    /// Waits until the terminal's echo is off, as `read_secret` sets it (before it shows the
    /// prompt; waiting keeps the tests independent of that order).
    fn wait_for_echo_off(&mut self) {
        let until = Instant::now() + DEADLINE;
        while self.echo() {
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!(
                    "the terminal's echo is still on {DEADLINE:?} after the prompt; it showed:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the terminal echoes what is typed (the master shares the slave's termios).
    fn echo(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it for an open pty descriptor.
        let mut term: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut term) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        term.c_lflag & libc::ECHO != 0
    }

    /// Types `line` and Enter.
    fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\r").as_bytes())
            .unwrap();
        self.master.flush().unwrap();
    }

    /// Reads the rest of the output and waits for the exit; fails after [`DEADLINE`].
    fn finish(mut self) -> (ExitStatus, String, Pty) {
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "the command did not end within {DEADLINE:?}; it showed:\n{}",
                        self.text()
                    )
                }
            }
        }
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let text = self.text();
                return (status, text, self);
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the command closed the terminal but did not exit; it showed:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A new pseudo-terminal: its master and slave, both close-on-exec from the start. (Not
/// `openpty`, whose descriptors are inheritable until a later `fcntl`: a child another test
/// spawns in between would keep this pty's slave open, and reading the master would then not
/// end when this test's child exits.)
fn open_pty() -> (OwnedFd, OwnedFd) {
    let last = std::io::Error::last_os_error;
    // SAFETY: plain libc calls on descriptors this function opens; ptsname_r writes at most
    // `name.len()` bytes, NUL-terminated.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt: {}", last());
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0, "grantpt: {}", last());
        assert_eq!(
            libc::unlockpt(master.as_raw_fd()),
            0,
            "unlockpt: {}",
            last()
        );
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        assert_eq!(
            rc,
            0,
            "ptsname_r: {}",
            std::io::Error::from_raw_os_error(rc)
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(slave >= 0, "opening the pty's slave: {}", last());
        (master, OwnedFd::from_raw_fd(slave))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// The `kumo` commands.

/// `kumo --home HOME` with no keyring password in the environment.
fn kumo(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kumo"));
    c.arg("--home")
        .arg(home)
        .env_remove("KUMO_KEYRING_PASSWORD")
        .env("NO_COLOR", "1");
    c
}

/// `kumo` run without a terminal at all: stdin empty, stdout and stderr pipes, and a new
/// session so that not even `/dev/tty` reaches the terminal the tests may run on.
fn kumo_without_terminal(home: &Path) -> assert_cmd::Command {
    let mut c = kumo(home);
    c.stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut c = assert_cmd::Command::from_std(c);
    c.timeout(DEADLINE);
    c
}

/// A suite file naming made-up contracts, so commands get as far as the key before needing a
/// chain (which `--node http://127.0.0.1:9` never answers).
fn write_fake_suite(home: &Path) {
    std::fs::create_dir_all(home.join("devnet")).unwrap();
    std::fs::write(
        home.join("devnet/suite.json"),
        r#"{"registry": "kumo1r", "market": "kumo1m", "escrow": "kumo1e", "staking": "", "governance": ""}"#,
    )
    .unwrap();
}

/// Adds `mnemonic` as `name`, the password given in the environment and the mnemonic on stdin.
fn recover_with_env_password(home: &Path, name: &str, mnemonic: &str) -> Value {
    let mut c = kumo(home);
    c.args(["--output", "json", "keys", "add", name, "--recover"])
        .env("KUMO_KEYRING_PASSWORD", PASSWORD);
    let out = assert_cmd::Command::from_std(c)
        .write_stdin(mnemonic)
        .timeout(DEADLINE)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The keyring password.

#[test]
fn keys_add_asks_twice_for_the_password_on_the_terminal_without_echoing_it() {
    let home = tempfile::tempdir().unwrap();
    let mut c = kumo(home.path());
    c.args(["keys", "add", "alice"]);
    let mut pty = Pty::spawn(c);
    pty.expect("New keyring password: ");
    let after_prompt = pty.pos;
    pty.wait_for_echo_off();
    pty.type_line(TTY_PASSWORD);
    pty.expect("Repeat it: ");
    pty.wait_for_echo_off();
    pty.type_line(TTY_PASSWORD);
    pty.expect("added key \"alice\": kumo1");
    let (status, text, pty) = pty.finish();
    assert!(status.success(), "keys add failed:\n{text}");
    assert!(
        !pty.shown_after(after_prompt).contains(TTY_PASSWORD),
        "the terminal echoed the password:\n{text}"
    );
    assert!(text.contains("Write this mnemonic down"), "{text}");
    assert!(pty.echo(), "the terminal's echo was left off");

    // The key is in the keyring under the typed password: it decrypts with it (and the command
    // goes on to the unreachable node), not with another.
    write_fake_suite(home.path());
    let mut list = kumo(home.path());
    list.args(["keys", "list"]);
    assert_cmd::Command::from_std(list)
        .timeout(DEADLINE)
        .assert()
        .success()
        .stdout(contains("alice"))
        .stdout(contains("kumo1"));
    let status_with = |password: &str| {
        let mut c = kumo(home.path());
        c.args(["--node", "http://127.0.0.1:9", "status"])
            .env("KUMO_KEYRING_PASSWORD", password);
        let mut c = assert_cmd::Command::from_std(c);
        c.timeout(DEADLINE);
        c.assert().failure()
    };
    status_with(TTY_PASSWORD).stderr(contains("cannot reach the node at http://127.0.0.1:9"));
    status_with("not the password").stderr(contains("password is wrong"));
}

#[test]
fn ctrl_c_at_a_password_prompt_puts_the_echo_back() {
    let home = tempfile::tempdir().unwrap();
    let mut c = kumo(home.path());
    c.args(["keys", "add", "alice"]);
    let mut pty = Pty::spawn(c);
    pty.expect("New keyring password: ");
    // Echo is already off when the prompt shows.
    assert!(!pty.echo(), "the prompt showed before the echo went off");
    // Ctrl-C: the terminal sends SIGINT to the command.
    pty.master.write_all(&[0x03]).unwrap();
    pty.master.flush().unwrap();
    let (status, text, pty) = pty.finish();
    assert!(!status.success(), "{text}");
    assert!(pty.echo(), "Ctrl-C left the terminal's echo off:\n{text}");
}

#[test]
fn keys_add_refuses_two_different_passwords_and_adds_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut c = kumo(home.path());
    c.args(["keys", "add", "alice"]);
    let mut pty = Pty::spawn(c);
    pty.expect("New keyring password: ");
    pty.wait_for_echo_off();
    pty.type_line(TTY_PASSWORD);
    pty.expect("Repeat it: ");
    pty.wait_for_echo_off();
    pty.type_line("something else");
    pty.expect("the passwords differ; try again");
    let (status, text, _) = pty.finish();
    assert!(!status.success(), "keys add succeeded:\n{text}");
    assert!(!text.contains("added key"), "{text}");
    assert_no_keys(home.path());
}

#[test]
fn keys_add_recover_reads_the_mnemonic_on_the_terminal_without_echoing_it() {
    // The address the mnemonic gives, recovered from stdin without a terminal.
    let plain = tempfile::tempdir().unwrap();
    let expected = recover_with_env_password(plain.path(), "tenant", DEV_MNEMONIC);
    let expected = expected["address"].as_str().unwrap();

    let home = tempfile::tempdir().unwrap();
    let mut c = kumo(home.path());
    c.args(["keys", "add", "tenant", "--recover"]);
    let mut pty = Pty::spawn(c);
    pty.expect("Mnemonic (12 to 24 words): ");
    let after_prompt = pty.pos;
    pty.wait_for_echo_off();
    pty.type_line(DEV_MNEMONIC);
    pty.expect("New keyring password: ");
    pty.wait_for_echo_off();
    pty.type_line(TTY_PASSWORD);
    pty.expect("Repeat it: ");
    pty.wait_for_echo_off();
    pty.type_line(TTY_PASSWORD);
    pty.expect(&format!("added key \"tenant\": {expected}"));
    let (status, text, pty) = pty.finish();
    assert!(status.success(), "keys add --recover failed:\n{text}");
    let shown = pty.shown_after(after_prompt);
    assert!(
        !shown.contains("abandon") && !shown.contains(TTY_PASSWORD),
        "the terminal echoed the mnemonic or the password:\n{text}"
    );
    // A recovered key's mnemonic is not printed again.
    assert!(!text.contains("Write this mnemonic down"), "{text}");
}

#[test]
fn a_signing_command_asks_for_the_keyring_password_on_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    recover_with_env_password(home.path(), "tenant", DEV_MNEMONIC);
    write_fake_suite(home.path());
    for (typed, outcome) in [
        (PASSWORD, "cannot reach the node at http://127.0.0.1:9"),
        ("not the password", "password is wrong"),
    ] {
        let mut c = kumo(home.path());
        c.args(["--node", "http://127.0.0.1:9", "status"]);
        let mut pty = Pty::spawn(c);
        pty.expect("Password of key \"tenant\": ");
        let after_prompt = pty.pos;
        pty.wait_for_echo_off();
        pty.type_line(typed);
        pty.expect(outcome);
        let (status, text, pty) = pty.finish();
        assert!(!status.success(), "{text}");
        assert!(
            !pty.shown_after(after_prompt).contains(typed),
            "the terminal echoed the password:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Without a terminal.

/// `keys list` shows no key: nothing was added.
fn assert_no_keys(home: &Path) {
    let mut list = kumo(home);
    list.args(["keys", "list"]);
    assert_cmd::Command::from_std(list)
        .timeout(DEADLINE)
        .assert()
        .success()
        .stdout(contains("no keys in"));
}

#[test]
fn without_a_terminal_or_the_variable_a_signing_command_says_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    recover_with_env_password(home.path(), "tenant", DEV_MNEMONIC);
    write_fake_suite(home.path());
    kumo_without_terminal(home.path())
        .args(["--node", "http://127.0.0.1:9", "status"])
        .assert()
        .failure()
        .stderr(contains(
            "cannot ask for the keyring password: set KUMO_KEYRING_PASSWORD or run on a terminal",
        ));
}

#[test]
fn without_a_terminal_or_the_variable_keys_add_says_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    kumo_without_terminal(home.path())
        .args(["keys", "add", "alice"])
        .assert()
        .failure()
        .stderr(contains(
            "cannot ask for the keyring password: set KUMO_KEYRING_PASSWORD or run on a terminal",
        ));
    assert_no_keys(home.path());
}

#[test]
fn an_empty_password_variable_is_an_error_not_a_password() {
    let home = tempfile::tempdir().unwrap();
    let mut add = kumo_without_terminal(home.path());
    add.args(["keys", "add", "alice"])
        .env("KUMO_KEYRING_PASSWORD", "")
        .assert()
        .failure()
        .stderr(contains(
            "KUMO_KEYRING_PASSWORD is set but empty: set it to the keyring password, or unset it",
        ));
    assert_no_keys(home.path());

    recover_with_env_password(home.path(), "tenant", DEV_MNEMONIC);
    write_fake_suite(home.path());
    kumo_without_terminal(home.path())
        .args(["--node", "http://127.0.0.1:9", "status"])
        .env("KUMO_KEYRING_PASSWORD", "")
        .assert()
        .failure()
        .stderr(contains("KUMO_KEYRING_PASSWORD is set but empty"));
}

// ---------------------------------------------------------------------------------------------
// The confirmation.

#[test]
fn deploy_asks_to_proceed_and_n_cancels_while_y_creates_the_deployment() {
    let (_devnet, env) = start();
    env.recover_key("tenant", DEV_MNEMONIC);
    let deployments = || {
        env.json(&["status"])["deployments"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(deployments(), 0);
    let deploy = || {
        let mut c = kumo(env.home.path());
        c.args(["--node", &env.node, "deploy"])
            .arg(repo("examples/hello.yaml"))
            .env("KUMO_KEYRING_PASSWORD", PASSWORD);
        Pty::spawn(c)
    };

    for answer in ["n", "", "no"] {
        let mut pty = deploy();
        pty.expect("Create the deployment with a deposit of ");
        pty.expect("ukumo? Proceed? [y/N] ");
        pty.type_line(answer);
        let (status, text, _) = pty.finish();
        assert!(!status.success(), "answering {answer:?} went on:\n{text}");
        assert!(
            text.contains("cancelled (pass --yes to skip this question)"),
            "answering {answer:?}:\n{text}"
        );
        assert!(!text.contains("created deployment"), "{text}");
    }
    assert_eq!(deployments(), 0, "a cancelled deploy created a deployment");

    let mut pty = deploy();
    pty.expect("Proceed? [y/N] ");
    pty.type_line("y");
    pty.expect("created deployment kumo1");
    let (status, text, _) = pty.finish();
    assert!(status.success(), "answering y failed:\n{text}");
    assert_eq!(deployments(), 1);

    // `--yes` and `--output json` do not ask, even on a terminal.
    for flag in ["--yes", "--output=json"] {
        let mut c = kumo(env.home.path());
        c.args(["--node", &env.node, flag, "deploy"])
            .arg(repo("examples/hello.yaml"))
            .env("KUMO_KEYRING_PASSWORD", PASSWORD);
        let (status, text, _) = Pty::spawn(c).finish();
        assert!(status.success(), "deploy {flag} failed:\n{text}");
        assert!(!text.contains("Proceed?"), "deploy {flag} asked:\n{text}");
    }
    assert_eq!(deployments(), 3);
}
