//! `matdiff serve` as a process: the URL on the first line (the real port with `--port 0`), a
//! server that outlives its closed stdout and clients that hang up, the warning for a
//! non-loopback address, bad flags refused. (The API itself: crates/matdiff-web/tests/api.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `matdiff serve --port 0 ARGS`; the server and the URL from its first line (stdout is
/// closed right after it is read).
fn start(args: &[&str]) -> (Server, String, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    // (The reader is dropped here: stdout is closed, as by `matdiff serve | head -1`.)
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line:?}"));
    (Server(child), url.to_string(), stderr)
}

/// A raw HTTP/1.1 request; the status code and the body.
fn request(url: &str, head: &str, body: &str) -> (u16, String) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "{head}\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

#[test]
fn serves_on_the_printed_port_after_its_stdout_is_closed() {
    let (_server, url, _stderr) = start(&[]);
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0/"), "{url}");
    // The banner's second line was written after the reader went away: still serving.
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = request(&url, "GET /api/info HTTP/1.1", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"grad\""), "{body}");
    // A client that hangs up mid-answer does not take the server down either.
    for _ in 0..20 {
        let host = url.trim_start_matches("http://").trim_end_matches('/');
        let mut s = TcpStream::connect(host).unwrap();
        let _ = write!(s, "GET /vendor/katex/katex.min.js HTTP/1.1\r\nHost: {host}\r\n\r\n");
        drop(s);
    }
    let body = r#"{"expr": "x'*A*x", "wrt": "x"}"#;
    let (status, answer) = request(&url, "POST /api/grad HTTP/1.1\r\nContent-Type: application/json", body);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"gradient\""), "{answer}");
}

#[test]
fn a_non_loopback_address_is_served_with_a_warning() {
    let (_server, url, mut stderr) = start(&["--host", "0.0.0.0"]);
    assert!(url.starts_with("http://0.0.0.0:"), "{url}");
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("warning:") && line.contains("network"), "{line}");
}

#[test]
fn bad_flags_are_refused() {
    for args in [&["--host", "my-laptop"][..], &["--cpu-limit", "0"], &["--cpu-limit", "-1"], &["--port", "70000"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_matdiff")).arg("serve").args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("error"), "{args:?}");
    }
}
