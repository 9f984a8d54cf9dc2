//! `matdiff serve`: the web page and its JSON API, from the matdiff library, on one origin.
//!
//! - [`app`] builds the whole service (routes and [`harden`]'s limits and headers); tests drive
//!   it in process with `tower::ServiceExt::oneshot`; [`serve`] binds it to an address.
//! - `api`: the endpoints (the CLI's `--format json` objects, from `matdiff::report`).
//! - `limits`: workers, a bounded queue, and the CPU-time budget that stops a request's work.
//! - `assets`: the page (HTML, CSS, JS, vendored KaTeX and its fonts), embedded at build time.
//!
//! The contract is docs/api.md.

mod api;
mod assets;
mod error;
mod limits;

pub use api::Endpoint;
pub use error::ApiError;
pub use limits::{panic_message, thread_cpu_time, Limits};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use serde_json::Value as Json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// Request bodies larger than this are refused (413): a homework document is a few pages.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The Content-Security-Policy of every answer: only this origin's scripts, styles, fonts and
/// images (plus `data:` images), no plugins, no framing, no `<base>`. The page has no inline
/// script, style or handler; KaTeX styles through the CSSOM, which the policy allows.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How a server is set up (the flags of `matdiff serve`).
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to listen on (loopback by default).
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// CPU time each request may use before its work is stopped.
    pub cpu_limit: Duration,
    /// Requests computed at once (default: the number of cores).
    pub workers: usize,
    /// Requests that may wait for a worker; past that, 503.
    pub queue: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            cpu_limit: Duration::from_secs(5),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 64,
        }
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Request limits (body size, CPU time, queue).
    pub limits: Limits,
    /// Whether to check the `Host` header (when serving on a loopback address).
    loopback_only: bool,
}

/// The whole service: the routes of [`routes`] with [`harden`]'s layers.
pub fn app(config: &Config) -> Router {
    let state = state(config);
    harden(routes(state.clone()), state)
}

/// The shared state for a configuration.
pub fn state(config: &Config) -> Arc<AppState> {
    Arc::new(AppState {
        limits: Limits::new(config.workers, config.queue, config.cpu_limit),
        loopback_only: config.host.is_loopback(),
    })
}

/// The routes: `/api/<endpoint>` and the page's files.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/{endpoint}", any(api_route))
        .route("/", get(|| async { assets::serve("") }))
        .route("/{*path}", get(|Path(p): Path<String>| async move { assets::serve(&p) }))
        .with_state(state)
}

/// The limits and headers every answer gets: a panic becomes a 500 (and the server goes on),
/// bodies over [`MAX_BODY_BYTES`] a 413, a foreign `Host` a 421, and every answer carries the
/// security headers.
pub fn harden(router: Router, state: Arc<AppState>) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state, check_host))
        .layer(CatchPanicLayer::custom(|payload: Box<dyn std::any::Any + Send>| {
            let why = limits::panic_message(payload.as_ref());
            eprintln!("matdiff serve: internal error: {why}");
            ApiError::Internal(why).into_response()
        }))
        .layer(middleware::map_response(security_headers))
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Json) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = (status, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    r
}

/// On a loopback address, answer only requests for a loopback name: a page elsewhere that
/// rebinds its own domain name to 127.0.0.1 sends its own name as `Host`.
async fn check_host(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if state.loopback_only {
        if let Some(host) = req.headers().get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !is_loopback_host(host) {
                return ApiError::WrongHost(host.chars().take(100).collect()).into_response();
            }
        }
    }
    next.run(req).await
}

/// `localhost`, `127.0.0.1`, `[::1]`… with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, port)| if port.parse::<u16>().is_ok() { n } else { host }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `/api/<endpoint>`, any method.
async fn api_route(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    match api_answer(&state, &name, &method, &headers, body).await {
        Ok(j) => json_response(StatusCode::OK, &j),
        Err(e) => {
            if matches!(e, ApiError::Internal(_)) {
                eprintln!("matdiff serve: /api/{name}: {}", e.body()["message"].as_str().unwrap_or(""));
            }
            e.into_response()
        }
    }
}

async fn api_answer(
    state: &AppState,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json, ApiError> {
    let get = *method == Method::GET || *method == Method::HEAD;
    let fixed = match name {
        "info" => Some(api::info as fn() -> Json),
        "problems" => Some(api::problems as fn() -> Json),
        "examples" => Some(api::examples as fn() -> Json),
        _ => None,
    };
    if let Some(answer) = fixed {
        return if get {
            Ok(answer())
        } else {
            Err(ApiError::MethodNotAllowed { endpoint: name.to_string(), allow: "GET" })
        };
    }
    let Some(endpoint) = Endpoint::from_name(name) else {
        return Err(ApiError::NotFound(format!("no endpoint /api/{name}: see /api/info")));
    };
    if *method != Method::POST {
        return Err(ApiError::MethodNotAllowed { endpoint: name.to_string(), allow: "POST" });
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge { limit: MAX_BODY_BYTES },
        _ => ApiError::field("body", format!("the request body could not be read: {}", rejection.body_text())),
    })?;
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json_body {
        return Err(ApiError::UnsupportedMediaType);
    }
    // Parsing is cheap and bounded by the body limit; the work itself goes to a worker.
    let request = api::Body::parse(&body)?;
    state.limits.run(move || endpoint.answer(&request)).await?
}

/// Bind to `config`'s address, print the URL (the real port when `port` is 0), serve until
/// Ctrl-C.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    if !config.host.is_loopback() {
        eprintln!(
            "warning: serving on {} — reachable from other machines on the network; matdiff serve has no authentication",
            config.host
        );
    }
    // One write, errors ignored: whoever started us may read the first line and close the pipe
    // (a test fixture, `matdiff serve | head -1`); serving goes on regardless.
    use std::io::Write;
    let banner = format!(
        "matdiff serve: listening on http://{addr}/\n  {} workers, {} more requests may wait, {} s of CPU time per request (Ctrl-C stops)\n",
        config.workers.max(1),
        config.queue,
        error::secs(config.cpu_limit)
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    drop(out);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    axum::serve(listener, app(&config)).with_graceful_shutdown(shutdown).await
}

/// [`serve`] on a new multi-threaded runtime (for the CLI, which has none).
pub fn serve_blocking(config: Config) -> std::io::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(config))
}
