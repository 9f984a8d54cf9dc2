//! What the API answers instead of the object asked for: one JSON shape for every failure.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};
use std::time::Duration;

/// A failed request. Every variant answers `{message, input, span, label, notes}` (the shape of
/// a user error, so a client reads all of them alike).
#[derive(Debug)]
pub enum ApiError {
    /// The user's input is wrong (400): the library's error as `matdiff::report::error_json` writes it,
    /// `input` naming the request field its span points into.
    User(Json),
    /// No such endpoint (404), or one the server does not have yet (`derivative`, `hessian`).
    NotFound(String),
    /// The endpoint exists with another method (405).
    MethodNotAllowed {
        /// The path segment after `/api/`.
        endpoint: String,
        /// The methods it takes (the `Allow` header).
        allow: &'static str,
    },
    /// The body is over the limit (413).
    TooLarge {
        /// The largest body accepted, in bytes.
        limit: usize,
    },
    /// A POST whose body is not declared as JSON (415): browsers send cross-site `text/plain`
    /// POSTs without asking first, `application/json` ones only after a CORS check we refuse.
    UnsupportedMediaType,
    /// The `Host` header names another site (421): a DNS-rebinding page, not our own page.
    WrongHost(String),
    /// Every worker is busy and the queue is full (503).
    Busy {
        /// How many requests may wait.
        queue: usize,
    },
    /// The work used up its CPU-time budget and was stopped (503).
    TimeLimit {
        /// The CPU time a request may use.
        limit: Duration,
    },
    /// A bug: a panic inside a handler or the library (500).
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::User(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::WrongHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Busy { .. } | ApiError::TimeLimit { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A user error about one request field, without a span (a missing or mistyped field).
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::User(
            json!({"message": message.into(), "kind": "input", "input": field, "span": null, "label": "", "notes": []}),
        )
    }

    /// The `kind` field: the library's `ErrorKind` name for user errors; `request` for a
    /// request this server does not take (endpoint, method, media type, host), `limit` for a
    /// size, time or load limit, `internal` for a bug.
    pub fn kind(&self) -> &str {
        match self {
            ApiError::User(j) => j["kind"].as_str().unwrap_or("input"),
            ApiError::NotFound(_)
            | ApiError::MethodNotAllowed { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::WrongHost(_) => "request",
            ApiError::TooLarge { .. } | ApiError::Busy { .. } | ApiError::TimeLimit { .. } => "limit",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A user error about the request as a whole (its body), not one field.
    pub fn request(message: impl Into<String>, notes: &[&str]) -> ApiError {
        ApiError::User(
            json!({"message": message.into(), "kind": "input", "input": null, "span": null, "label": "", "notes": notes}),
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Json {
        let kind = self.kind().to_string();
        let plain = |message: String, notes: Vec<String>| json!({"message": message, "kind": kind, "input": null, "span": null, "label": "", "notes": notes});
        match self {
            ApiError::User(j) => j.clone(),
            ApiError::NotFound(what) => plain(what.clone(), vec![]),
            ApiError::MethodNotAllowed { endpoint, allow } => {
                plain(format!("/api/{endpoint} answers {allow} requests"), vec![])
            }
            ApiError::TooLarge { limit } => plain(
                format!("the request body is larger than the limit of {limit} bytes"),
                vec!["a derivation or a problem file is a few pages: is this the right document?".into()],
            ),
            ApiError::UnsupportedMediaType => {
                plain("send the request body as JSON (`Content-Type: application/json`)".into(), vec![])
            }
            ApiError::WrongHost(host) => plain(
                format!("this server answers requests for its own address, not for `{host}`"),
                vec!["start it with --host to serve another address".into()],
            ),
            ApiError::Busy { queue } => plain(
                format!("the server is busy: every worker is taken and {queue} requests are already waiting"),
                vec!["try again in a moment".into()],
            ),
            ApiError::TimeLimit { limit } => plain(
                format!("the computation was stopped after {} s of CPU time", secs(*limit)),
                vec![
                    "the expression is too large or too deeply nested to finish within the server's time limit".into(),
                    "the command line (`matdiff grad …`) has no time limit; `matdiff serve --cpu-limit` changes it"
                        .into(),
                ],
            ),
            ApiError::Internal(why) => plain(
                format!("internal error (a bug in matdiff, please report it): {why}"),
                vec!["the server keeps running; other requests are not affected".into()],
            ),
        }
    }
}

/// Seconds, written shortly (`5`, `0.25`).
pub(crate) fn secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = crate::json_response(self.status(), &self.body());
        match &self {
            ApiError::Busy { .. } | ApiError::TimeLimit { .. } => {
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        r
    }
}

impl From<&matdiff::Error> for ApiError {
    fn from(e: &matdiff::Error) -> ApiError {
        ApiError::User(matdiff::report::error_json(e))
    }
}

impl From<matdiff::Error> for ApiError {
    fn from(e: matdiff::Error) -> ApiError {
        ApiError::from(&e)
    }
}
