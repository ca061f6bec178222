//! `hello`: the smallest useful workload for a Kumo lease. An HTTP/1.1 server on `$PORT`
//! (default 8080) with no dependencies, so that it builds as a static binary and ships in a
//! `FROM scratch` image (nothing can be pulled in tests or offline demos).
//!
//! - `GET /` answers `$GREETING` (default `hello from Kumo`). With `$HELLO_DATA` set to a
//!   directory, it also counts visits in `$HELLO_DATA/visits`, which shows whether a persistent
//!   volume survived a restart.
//! - `GET /health` answers `ok`.
//!
//! One line per request goes to stdout (the lease's logs). SIGTERM exits at once: as PID 1 in a
//! container the default action would be ignored and `docker stop` would wait for its timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

struct Config {
    greeting: String,
    data: Option<PathBuf>,
}

// Serializes the read-increment-write of the visit counter across connection threads.
static VISITS: Mutex<()> = Mutex::new(());

fn main() {
    exit_on_sigterm();
    let port = match std::env::var("PORT") {
        Ok(p) => match p.parse::<u16>() {
            Ok(p) => p,
            Err(_) => fail(&format!("PORT={p} is not a port number")),
        },
        Err(_) => 8080,
    };
    let config: &'static Config = Box::leak(Box::new(Config {
        greeting: std::env::var("GREETING").unwrap_or_else(|_| "hello from Kumo".to_string()),
        data: std::env::var_os("HELLO_DATA").map(PathBuf::from),
    }));
    // `[::]` takes IPv4 too where the kernel allows it; fall back to IPv4 where IPv6 is off.
    let listener = TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)))
        .or_else(|_| TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))))
        .unwrap_or_else(|e| fail(&format!("cannot listen on port {port}: {e}")));
    println!("hello: listening on port {port}");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || serve(stream, config));
            }
            Err(e) => eprintln!("hello: accept failed: {e}"),
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("hello: {message}");
    std::process::exit(1)
}

/// Serves requests on one connection until the client closes it or sends `Connection: close`.
fn serve(stream: TcpStream, config: &Config) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // A client that stalls must not pin a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut keep_alive = request_line.trim_end().ends_with("HTTP/1.1");
        // Headers: only `Connection` matters; bodies are not expected and are not read.
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("connection") {
                    keep_alive = !value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("");
        let path = target.split('?').next().unwrap_or("");
        let (status, body) = respond(method, path, config);
        println!("{peer} {method} {target} {}", status.0);
        let response = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{}",
            status.0,
            status.1,
            body.len(),
            if keep_alive { "keep-alive" } else { "close" },
            body
        );
        if writer.write_all(response.as_bytes()).is_err() || !keep_alive {
            return;
        }
    }
}

fn respond(method: &str, path: &str, config: &Config) -> ((u16, &'static str), String) {
    match (method, path) {
        ("GET" | "HEAD", "/") => {
            let mut body = format!("{}\n", config.greeting);
            if let Some(dir) = &config.data {
                match count_visit(dir) {
                    Ok(n) => body.push_str(&format!("visits: {n}\n")),
                    Err(e) => {
                        return ((500, "Internal Server Error"), format!("visits: {e}\n"));
                    }
                }
            }
            ((200, "OK"), body)
        }
        ("GET" | "HEAD", "/health") => ((200, "OK"), "ok\n".to_string()),
        ("GET" | "HEAD", _) => ((404, "Not Found"), "not found\n".to_string()),
        _ => (
            (405, "Method Not Allowed"),
            "method not allowed\n".to_string(),
        ),
    }
}

fn count_visit(dir: &std::path::Path) -> std::io::Result<u64> {
    let _guard = VISITS.lock().unwrap_or_else(|e| e.into_inner());
    let file = dir.join("visits");
    let seen = match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let now = seen + 1;
    std::fs::write(&file, format!("{now}\n"))?;
    Ok(now)
}

#[cfg(target_os = "linux")]
fn exit_on_sigterm() {
    // std has no signal API; these two libc functions are all that is needed, and `_exit` is
    // async-signal-safe.
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
        fn _exit(status: i32) -> !;
    }
    extern "C" fn on_sigterm(_: i32) {
        // SAFETY: `_exit` ends the process without running anything that is unsafe in a
        // signal handler.
        unsafe { _exit(0) }
    }
    const SIGTERM: i32 = 15;
    // SAFETY: installs a handler that only calls `_exit`.
    unsafe {
        signal(SIGTERM, on_sigterm);
    }
}

#[cfg(not(target_os = "linux"))]
fn exit_on_sigterm() {}
