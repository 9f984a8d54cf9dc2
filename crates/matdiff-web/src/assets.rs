//! The page's files, embedded at build time (`build.rs`): nothing is read from disk or fetched
//! from elsewhere when the server runs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The content type of a file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "md" => "text/markdown; charset=utf-8",
        "json" => "application/json",
        "txt" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path` (relative, `""` is the page itself).
pub fn find(path: &str) -> Option<&'static [u8]> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

/// `GET /<path>`: the file, or a plain 404.
pub fn serve(path: &str) -> Response {
    let path = path.trim_start_matches('/');
    match find(path) {
        Some(bytes) => {
            let shown = if path.is_empty() { "index.html" } else { path };
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(shown)));
            // The files change only with the binary; revalidating is cheap on loopback.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n")
            .into_response(),
    }
}
