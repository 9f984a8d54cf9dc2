//! A bounded load run against `matdiff serve` on loopback: N requests from C concurrent
//! clients (keep-alive connections, one thread each), the seed models' gradients in turn.
//! Prints the errors, p50/p90/p99/max latency and requests per second (and `--json` them).
//!
//! ```sh
//! cargo build --release -p matdiff-cli -p matdiff-bench
//! target/release/serve-load --bin target/release/matdiff            # starts `serve --port 0`
//! target/release/serve-load --url http://127.0.0.1:8080/ -n 2000 -c 32
//! ```
//!
//! The client is a few lines of HTTP/1.1 over `std::net` (no HTTP library): it costs little CPU
//! next to the server on the same two cores.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    url: Option<String>,
    bin: String,
    requests: usize,
    clients: usize,
    endpoint: String,
    json: bool,
    serve_args: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        url: None,
        bin: "target/release/matdiff".into(),
        requests: 2000,
        clients: 32,
        endpoint: "grad".into(),
        json: false,
        serve_args: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--url" => a.url = Some(value()),
            "--bin" => a.bin = value(),
            "-n" | "--requests" => a.requests = value().parse().unwrap_or_else(|_| die("-n: a number")),
            "-c" | "--clients" => a.clients = value().parse().unwrap_or_else(|_| die("-c: a number")),
            "--endpoint" => a.endpoint = value(),
            "--json" => a.json = true,
            "--serve-arg" => a.serve_args.push(value()),
            "-h" | "--help" => {
                println!(
                    "serve-load [--url URL | --bin MATDIFF] [-n REQUESTS] [-c CLIENTS] [--endpoint grad|check] [--serve-arg ARG]... [--json]"
                );
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other}")),
        }
    }
    a
}

fn die(msg: &str) -> ! {
    eprintln!("serve-load: {msg}");
    std::process::exit(2)
}

/// The request bodies: every seed model's gradient (or a check of it against itself).
fn bodies(endpoint: &str) -> Vec<String> {
    matdiff::EXAMPLES
        .iter()
        .map(|e| {
            let mut b = serde_json::json!({"expr": e.expr, "decl": e.decls, "wrt": e.wrt.join(",")});
            if endpoint == "check" {
                let mut p = matdiff::Problem::new(e.expr, e.decls).expect("a seed parses");
                let g = p.gradients(&e.wrt[..1]).expect("a seed differentiates");
                b["wrt"] = serde_json::json!(e.wrt[0]);
                b["claim"] = serde_json::json!(p.print(g.nodes[0], matdiff::Style::Plain));
            }
            b.to_string()
        })
        .collect()
}

/// Start `bin serve --port 0` and read its URL from the first line it prints.
fn start(bin: &str, extra: &[String]) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("cannot start {bin}: {e}")));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).ok();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
    (child, url.unwrap_or_else(|| die(&format!("{bin} serve printed {line:?}, not a URL"))))
}

/// `host:port` of `http://host:port/`.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://").split('/').next().unwrap_or("").to_string()
}

/// One keep-alive connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Client {
    fn connect(host: &str) -> std::io::Result<Client> {
        let s = TcpStream::connect(host)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Client { reader: BufReader::new(s.try_clone()?), writer: s, host: host.to_string() })
    }

    /// POST `body` to `path`; the status.
    fn post(&mut self, path: &str, body: &str) -> std::io::Result<u16> {
        write!(
            self.writer,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut buf = vec![0u8; length];
        self.reader.read_exact(&mut buf)?;
        Ok(status)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args = parse_args();
    let (child, url) = match &args.url {
        Some(u) => (None, u.clone()),
        None => {
            let (c, u) = start(&args.bin, &args.serve_args);
            (Some(c), u)
        }
    };
    let host = authority(&url);
    let path = format!("/api/{}", args.endpoint);
    let bodies = Arc::new(bodies(&args.endpoint));
    // Warm-up (not counted): one request per body per client connection's worth.
    let mut warm = Client::connect(&host).unwrap_or_else(|e| die(&format!("cannot connect to {host}: {e}")));
    for b in bodies.iter() {
        let s = warm.post(&path, b).unwrap_or_else(|e| die(&format!("warm-up: {e}")));
        if s != 200 {
            die(&format!("warm-up: status {s} for {b}"));
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..args.clients)
        .map(|_| {
            let (next, bodies, host, path, n) =
                (next.clone(), bodies.clone(), host.clone(), path.clone(), args.requests);
            std::thread::spawn(move || {
                let mut lat = vec![];
                let mut errors = vec![];
                let mut client = match Client::connect(&host) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors.push(format!("connect: {e}"));
                        None
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let Some(c) = client.as_mut() else {
                        errors.push("no connection".into());
                        continue;
                    };
                    let t = Instant::now();
                    match c.post(&path, &bodies[i % bodies.len()]) {
                        Ok(200) => lat.push(t.elapsed()),
                        Ok(s) => errors.push(format!("status {s}")),
                        Err(e) => {
                            errors.push(format!("{e}"));
                            client = Client::connect(&host).ok();
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut lat = vec![];
    let mut errors = vec![];
    for h in handles {
        let (l, e) = h.join().expect("a client thread");
        lat.extend(l);
        errors.extend(e);
    }
    let wall = t0.elapsed();
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    lat.sort();
    let rps = lat.len() as f64 / wall.as_secs_f64();
    let (p50, p90, p99, max) =
        (percentile(&lat, 50.0), percentile(&lat, 90.0), percentile(&lat, 99.0), percentile(&lat, 100.0));
    println!(
        "{} requests ({} ok, {} errors) to {path} from {} clients in {:.2} s: {rps:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.requests,
        lat.len(),
        errors.len(),
        args.clients,
        wall.as_secs_f64(),
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max)
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    if args.json {
        let j = serde_json::json!({
            "requests": args.requests, "ok": lat.len(), "errors": errors.len(), "clients": args.clients,
            "endpoint": args.endpoint, "seconds": wall.as_secs_f64(), "requests_per_second": rps,
            "p50_ms": ms(p50), "p90_ms": ms(p90), "p99_ms": ms(p99), "max_ms": ms(max),
        });
        println!("{j}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
