//! `matdiff serve`: the web page and its JSON API (the server is the `matdiff-web` crate).

use super::Failure;
use std::net::IpAddr;
use std::time::Duration;

/// The flags of `matdiff serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one; the URL printed has it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Only a loopback address unless you mean it: another one makes the
    /// server reachable from the network (a warning says so).
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    pub host: IpAddr,
    /// CPU time a request may use, in seconds; its work is stopped after that (503).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_seconds)]
    pub cpu_limit: f64,
    /// Requests computed at once [default: the number of cores].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker; past that the server answers 503.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
}

fn parse_host(s: &str) -> Result<IpAddr, String> {
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    s.parse().map_err(|_| format!("`{s}` is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)"))
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 86_400.0 => Ok(x),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

pub fn serve(args: &ServeArgs) -> Result<u8, Failure> {
    let defaults = matdiff_web::Config::default();
    let config = matdiff_web::Config {
        host: args.host,
        port: args.port,
        cpu_limit: Duration::from_secs_f64(args.cpu_limit),
        workers: args.workers.unwrap_or(defaults.workers).max(1),
        queue: args.queue,
    };
    // A server must outlive a closed pipe: a client gone mid-answer, or a stdout closed by
    // whoever read the URL. (`main` restored the default SIGPIPE action, which exits.)
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Handlers turn panics into 500 answers; the CLI's silent panic hook would hide them from
    // the server's log, so print one line per panic.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("matdiff serve: panic{at}: {}", matdiff_web::panic_message(info.payload()));
    }));
    matdiff_web::serve_blocking(config)
        .map_err(|e| format!("error: cannot serve on {}:{}: {e}\n", args.host, args.port))?;
    Ok(0)
}
