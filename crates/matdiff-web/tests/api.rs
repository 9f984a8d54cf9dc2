//! The API in process (`tower::ServiceExt::oneshot`, no socket): every endpoint, every limit,
//! a panic in a handler. Every gradient the tests accept is checked numerically (the answer's
//! own finite-difference check, and the gradient sent back to `check` as a claim).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use matdiff_web::{app, harden, routes, state, AppState, Config, CSP, MAX_BODY_BYTES};
use serde_json::{json, Value as Json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn config() -> Config {
    Config { workers: 2, queue: 8, cpu_limit: Duration::from_secs(60), ..Config::default() }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Response) {
    let r = app.clone().oneshot(req).await.expect("the router never fails");
    (r.status(), r)
}

async fn body_json(r: Response) -> Json {
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

fn post_json(path: &str, body: &Json) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn call(app: &Router, endpoint: &str, body: Json) -> (StatusCode, Json) {
    let (status, r) = send(app, post_json(&format!("/api/{endpoint}"), &body)).await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json", "{endpoint}");
    (status, body_json(r).await)
}

async fn get_json(app: &Router, path: &str) -> (StatusCode, Json) {
    let (status, r) = send(app, Request::get(path).body(Body::empty()).unwrap()).await;
    (status, body_json(r).await)
}

/// A user error's shape: message, input, span (byte offsets into that input), label, notes.
fn assert_user_error(j: &Json, input: Option<&str>) {
    assert!(j["message"].as_str().is_some_and(|m| !m.is_empty()), "{j}");
    assert_eq!(j["input"].as_str(), input, "{j}");
    assert!(j["span"].is_null() || j["span"].as_array().is_some_and(|s| s.len() == 2), "{j}");
    assert!(j["label"].is_string() && j["notes"].is_array(), "{j}");
}

const AE: &str = "0.5*norm2(W'*W*x - x)^2";
const AE_DECL: &str = "W: matrix(m,n); x: vector(n)";

/// The gradient of every seed model, checked against central differences by the server and
/// then sent back as a claim, which `check` must find right.
#[tokio::test]
async fn grad_of_every_seed_is_numerically_right_and_checks_as_right() {
    let app = app(&config());
    for ex in matdiff::EXAMPLES {
        let (status, j) =
            call(&app, "grad", json!({"expr": ex.expr, "decl": ex.decls, "wrt": ex.wrt.join(","), "check": true}))
                .await;
        assert_eq!(status, StatusCode::OK, "{}: {j}", ex.name);
        let items = if ex.wrt.len() == 1 { vec![j.clone()] } else { j.as_array().unwrap().clone() };
        assert_eq!(items.len(), ex.wrt.len());
        for (item, wrt) in items.iter().zip(ex.wrt) {
            assert_eq!(item["wrt"], *wrt);
            let err = item["check"]["max_rel_error"].as_f64().unwrap();
            assert!(err < 1e-6, "{} w.r.t. {wrt}: max relative error {err}", ex.name);
            assert_eq!(item["check"]["settings"], 2);
            assert!(item["latex"].as_str().is_some_and(|s| !s.is_empty()));
            let claim = item["gradient"].as_str().unwrap();
            let (status, v) =
                call(&app, "check", json!({"expr": ex.expr, "decl": ex.decls, "wrt": wrt, "claim": claim})).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            assert_eq!(v["verdict"], "right", "{} w.r.t. {wrt}: {v}", ex.name);
        }
    }
}

/// The same objects as the CLI's `--format json` (the library builds both).
#[tokio::test]
async fn grad_answers_the_cli_object() {
    let app = app(&config());
    let (_, j) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "format": "json"})).await;
    let mut p = matdiff::Problem::new(AE, AE_DECL).unwrap();
    let g = p.gradients(&["W"]).unwrap();
    let items =
        matdiff::report::gradients_json(&mut p, &g, &["W"], None, matdiff::check::Convention::Symmetric).unwrap();
    assert_eq!(j, Json::Object(items[0].clone()));
    // `wrt` as a list, LaTeX input.
    let (status, j) = call(
        &app,
        "grad",
        json!({"expr": r"\frac{1}{2}\|W^T W x - x\|^2", "decl": AE_DECL, "wrt": ["W", "x"], "latex": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn grad_steps_is_the_derivation() {
    let app = app(&config());
    let (status, j) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "steps": true})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["output"], "L");
    assert!(!j["nodes"].as_array().unwrap().is_empty() && !j["steps"].as_array().unwrap().is_empty());
    let err = j["check"]["max_rel_error"].as_f64().unwrap();
    assert!(err < 1e-6, "the derivation's own numeric check: {err}");
    let (status, j) =
        call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "steps": true, "format": "markdown"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(j["format"], "markdown");
    assert!(j["text"].as_str().unwrap().contains('$'));
    // Without steps only JSON.
    let (status, j) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "format": "latex"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_user_error(&j, Some("format"));
}

#[tokio::test]
async fn user_errors_are_400_with_the_span_in_the_right_field() {
    let app = app(&config());
    // (endpoint, body, input the span points into, the spanned text)
    let cases: Vec<(&str, Json, Option<&str>, Option<&str>)> = vec![
        ("grad", json!({"expr": "0.5*norm2(W'*W*x - x^2", "decl": AE_DECL, "wrt": "W"}), Some("expr"), Some("(")),
        ("grad", json!({"expr": AE, "decl": "W: matrx(m,n); x: vector(n)", "wrt": "W"}), Some("decl"), None),
        ("grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "V"}), Some("expr"), None),
        ("grad", json!({"expr": "W*x", "decl": AE_DECL, "wrt": "W"}), Some("expr"), None),
        ("grad", json!({"decl": AE_DECL, "wrt": "W"}), Some("expr"), None),
        ("grad", json!({"expr": AE, "wrt": 3}), Some("wrt"), None),
        ("grad", json!({"expr": AE, "wrt": "W", "check": "yes"}), Some("check"), None),
        ("check", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "claim": "2*W*x +"}), Some("claim"), None),
        ("check", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"}), Some("claim"), None),
        ("check", json!({"expr": AE, "decl": AE_DECL, "wrt": "W,x", "claim": "W"}), Some("wrt"), None),
        ("emit", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "emit": "fortran"}), Some("emit"), None),
        ("emit", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"}), Some("emit"), None),
        ("graph", json!({"expr": AE, "format": "png"}), Some("format"), None),
        ("graph", json!({"expr": "a +* b"}), Some("expr"), Some("*")),
        ("read", json!({"expr": "norm2(", "decl": ""}), Some("expr"), None),
        ("audit", json!({"document": "x", "problem": "title = 3"}), Some("problem"), None),
        ("audit", json!({"problem": "title = \"t\""}), Some("document"), None),
    ];
    for (endpoint, body, input, spanned) in cases {
        let (status, j) = call(&app, endpoint, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint} {body}: {j}");
        assert_user_error(&j, input);
        if let Some(text) = spanned {
            let field = body[input.unwrap()].as_str().unwrap();
            let span = j["span"].as_array().unwrap();
            let (a, b) = (span[0].as_u64().unwrap() as usize, span[1].as_u64().unwrap() as usize);
            assert_eq!(&field[a..b], text, "{endpoint} {body}: {j}");
        }
    }
    // Not JSON, not an object.
    for raw in ["{", "[1, 2]", "\"expr\""] {
        let req =
            Request::post("/api/grad").header(header::CONTENT_TYPE, "application/json").body(Body::from(raw)).unwrap();
        let (status, r) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_user_error(&body_json(r).await, None);
    }
}

#[tokio::test]
async fn check_gives_verdict_diagnosis_and_counterexample() {
    let app = app(&config());
    let (status, j) =
        call(&app, "check", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "claim": "2W(W^T W - I)xx^T"})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["verdict"], "wrong");
    let cx = &j["counterexample"];
    assert!(cx["dims"].is_object() && cx["inputs"]["W"].is_array(), "{j}");
    // The counterexample is one: the gradient there differs from the claim there.
    assert!(cx["max_diff"].as_f64().unwrap() > 1e-6, "{cx}");
    assert!(!j["diagnosis"].as_array().unwrap().is_empty());
    let (_, j) = call(
        &app,
        "check",
        json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "claim": "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"}),
    )
    .await;
    assert_eq!(j["verdict"], "right", "{j}");
}

#[tokio::test]
async fn emit_graph_read_audit() {
    let app = app(&config());
    for lang in ["numpy", "jax", "torch", "rust"] {
        let (status, j) = call(&app, "emit", json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "emit": lang})).await;
        assert_eq!(status, StatusCode::OK, "{lang}: {j}");
        assert_eq!(j["emit"], lang);
        assert!(j["code"].as_str().unwrap().len() > 100);
    }
    let (status, j) = call(&app, "graph", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["format"], "svg");
    assert!(j["svg"].as_str().unwrap().contains("<svg"), "{j}");
    let (_, j) = call(&app, "graph", json!({"expr": AE, "decl": AE_DECL, "format": "dot"})).await;
    assert!(j["dot"].as_str().unwrap().contains("digraph"), "{j}");
    let (status, j) = call(&app, "read", json!({"expr": r"\frac{1}{2}\|W^T W x - x\|^2", "decl": AE_DECL})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert!(j["plain"].as_str().unwrap().contains("norm2"), "{j}");
    assert!(j["latex"].as_str().unwrap().contains("W^\\top"), "{j}");
    // A seed-like homework: its last step is wrong.
    let doc = include_str!("../assets/samples/autoencoder-homework.md");
    let problem = include_str!("../../../problems/autoencoder.toml");
    let (status, j) = call(&app, "audit", json!({"document": doc, "problem": problem})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    let q = &j["questions"][0];
    assert_eq!(q["answer"], "wrong", "{j}");
    let line = q["first_wrong_line"].as_u64().unwrap() as usize;
    let text = q["steps"][q["first_wrong_step"].as_u64().unwrap() as usize]["text"].as_str().unwrap();
    assert!(doc.lines().nth(line - 1).unwrap().contains(text), "line {line}: {text}");
    assert!(j.get("file").is_none() && j.get("problem").is_none(), "no paths in answers");
}

/// `grad` answers with the CLI's `notes` (LaTeX readings, retyped names) and, for a symmetric
/// matrix, the `convention` asked (sym(G) by default); each form is checked numerically by
/// `check` under the same convention.
#[tokio::test]
async fn grad_has_notes_and_the_convention() {
    let app = app(&config());
    let (status, j) = call(&app, "grad", json!({"expr": r"\sum_i \log(1 + e^{z_i})", "wrt": "z"})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["gradient"], "sigmoid(z)", "{j}");
    let notes: Vec<&str> = j["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.iter().any(|n| n.contains("sum(log(1 + exp(z)))")), "{j}");
    let (_, j) = call(&app, "grad", json!({"expr": "sum(x + 1)", "wrt": "x"})).await;
    assert!(j["notes"].as_array().is_some(), "{j}");
    let decl = "S: symmetric(n); A: matrix(n,n)";
    for convention in ["symmetric", "cookbook"] {
        let body = json!({"expr": "tr(A*S)", "decl": decl, "wrt": "S", "convention": convention, "check": true});
        let (status, j) = call(&app, "grad", body).await;
        assert_eq!(status, StatusCode::OK, "{j}");
        assert_eq!(j["convention"], convention, "{j}");
        assert_eq!(j["check"]["verdict"], "agrees", "{j}");
        let claim = j["gradient"].as_str().unwrap();
        let body = json!({"expr": "tr(A*S)", "decl": decl, "wrt": "S", "claim": claim, "convention": convention});
        let (status, v) = call(&app, "check", body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["verdict"], "right", "{convention}: {claim}: {v}");
    }
    let (status, j) = call(&app, "grad", json!({"expr": "tr(A*S)", "decl": decl, "wrt": "S", "convention": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{j}");
}

#[tokio::test]
async fn solve_gives_the_stationary_point_checked_numerically() {
    let app = app(&config());
    let body = json!({"expr": "norm2(A*x - b)^2", "decl": "A: matrix(m,n); x: vector(n); b: vector(m)", "wrt": "x", "check": true, "steps": true});
    let (status, j) = call(&app, "solve", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["wrt"], "x");
    assert!(j["solution"].as_str().unwrap().contains("inv"), "{j}");
    assert!(!j["steps"].as_array().unwrap().is_empty(), "{j}");
    // The gradient vanishes at the solution, at random points of two dimension settings.
    assert_eq!(j["check"]["passed"], true, "{j}");
    assert!(j["check"]["max_residual"].as_f64().unwrap() < 1e-6, "{j}");
    assert!(j["check"]["settings"].as_u64().unwrap() >= 2, "{j}");
    // No closed form: a 400 saying why.
    let (status, j) = call(&app, "solve", json!({"expr": "sum(exp(A*x))", "wrt": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{j}");
    assert_user_error(&j, j["input"].as_str());
}

/// The numeric check of a derivative answer: it compared points at two dimension settings and
/// agrees (central differences; second differences for Hessians).
fn assert_checked(j: &Json) {
    assert_eq!(j["check"]["verdict"], "agrees", "{j}");
    assert!(j["check"]["max_rel_error"].as_f64().unwrap() < 1e-5, "{j}");
    assert!(j["check"]["settings"].as_u64().unwrap() >= 2, "{j}");
}

#[tokio::test]
async fn derivative_and_hessian_are_checked_numerically() {
    let app = app(&config());
    // A matrix by a matrix: the vec layout.
    let body =
        json!({"expr": "A*X*B", "decl": "A: matrix(m,n); X: matrix(n,k); B: matrix(k,l)", "wrt": "X", "check": true});
    let (status, j) = call(&app, "derivative", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["derivative"], "kron(B', A)", "{j}");
    assert_eq!(j["layout"], "vec", "{j}");
    assert_checked(&j);
    // A vector by a vector: the Jacobian, with the chain rule node by node.
    let body = json!({"expr": "exp(x)/sum(exp(x))", "wrt": "x", "check": true, "steps": true});
    let (status, j) = call(&app, "derivative", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["layout"], "jacobian", "{j}");
    assert!(j["steps"].as_str().is_some_and(|s| !s.is_empty()), "{j}");
    assert_checked(&j);
    // The Hessian of x'Ax, and of logistic regression (second differences).
    let (status, j) =
        call(&app, "hessian", json!({"expr": "x'*A*x", "decl": "A: matrix(n,n)", "wrt": "x", "check": true})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["hessian"], "A + A'", "{j}");
    assert_checked(&j);
    let logistic = "sum(softplus(-y.*(A*x)))";
    let body =
        json!({"expr": logistic, "decl": "A: matrix(N,n); x: vector(n); y: vector(N)", "wrt": "x", "check": true});
    let (status, j) = call(&app, "hessian", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert!(j["hessian"].as_str().unwrap().contains("diag("), "{j}");
    assert_checked(&j);
    // A Hessian-vector product: plain matrix notation, never a Kronecker product.
    let body = json!({"expr": AE, "decl": AE_DECL, "wrt": "W", "direction": "V", "check": true});
    let (status, j) = call(&app, "hessian", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    assert_eq!(j["direction"], "V", "{j}");
    assert!(!j["hvp"].as_str().unwrap().contains("kron"), "{j}");
    assert_eq!(j["shape"], json!(["m", "n"]), "{j}");
    assert_checked(&j);
    // The page sends `grad`'s body: several variables give a list, each checked.
    let body = json!({"expr": "x'*A*x + sum(exp(y))", "decl": "A: matrix(n,n)", "wrt": "x, y", "check": true});
    let (status, j) = call(&app, "hessian", body).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    let items = j.as_array().unwrap();
    assert_eq!(items.len(), 2, "{j}");
    assert_eq!(items[1]["wrt"], "y", "{j}");
    items.iter().for_each(assert_checked);
    // User errors: a Hessian of a non-scalar, an HVP along two variables, a clashing direction.
    let (status, j) = call(&app, "hessian", json!({"expr": "A*x", "wrt": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{j}");
    assert_eq!(j["kind"], "shape", "{j}");
    let body = json!({"expr": "x'*A*x + sum(exp(y))", "wrt": "x,y", "direction": "v"});
    let (status, j) = call(&app, "hessian", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{j}");
    let (status, j) = call(&app, "hessian", json!({"expr": "x'*A*x", "wrt": "x", "direction": "A"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{j}");
    assert_user_error(&j, j["input"].as_str());
}

#[tokio::test]
async fn get_endpoints_and_the_page() {
    let app = app(&config());
    let (status, j) = get_json(&app, "/api/info").await;
    assert_eq!(status, StatusCode::OK);
    let endpoints: Vec<&str> = j["endpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    for e in
        ["grad", "check", "audit", "emit", "graph", "read", "solve", "derivative", "hessian", "problems", "examples"]
    {
        assert!(endpoints.contains(&e), "{e} in {endpoints:?}");
    }
    let (_, j) = get_json(&app, "/api/problems").await;
    let problems = j.as_array().unwrap();
    assert!(problems
        .iter()
        .any(|p| p["name"] == "autoencoder" && p["text"].as_str().unwrap().contains("[[question]]")));
    assert!(problems.iter().all(|p| p["title"].as_str().is_some_and(|t| !t.is_empty())));
    let (_, j) = get_json(&app, "/api/examples").await;
    assert_eq!(j.as_array().unwrap().len(), matdiff::EXAMPLES.len());
    // The page and its files, embedded, with their types; every answer has the headers.
    for (path, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/vendor/katex/katex.min.js", "text/javascript; charset=utf-8"),
        ("/vendor/katex/fonts/KaTeX_Main-Regular.woff2", "font/woff2"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let (status, r) = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(r.headers()[header::CONTENT_TYPE], kind, "{path}");
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    let (status, r) = send(&app, Request::get("/nothing.js").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
    // The CSP allows no inline script or style and no other origin.
    for forbidden in ["unsafe-inline", "unsafe-eval", "http:", "https:", "*"] {
        assert!(!CSP.contains(forbidden), "{forbidden}");
    }
    // The page refers to no other origin.
    let html = String::from_utf8(body(&app, "/").await).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script>"), "{html}");
}

async fn body(app: &Router, path: &str) -> Vec<u8> {
    let (_, r) = send(app, Request::get(path).body(Body::empty()).unwrap()).await;
    r.into_body().collect().await.unwrap().to_bytes().to_vec()
}

#[tokio::test]
async fn unknown_later_and_wrong_method() {
    let app = app(&config());
    let (status, j) = call(&app, "nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_user_error(&j, None);
    let (status, r) = send(&app, Request::get("/api/grad").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()[header::ALLOW], "POST");
    let (status, _) = send(&app, post_json("/api/info", &json!({}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // A POST that is not declared JSON (what a foreign page can send without a CORS check).
    let req = Request::post("/api/grad").header(header::CONTENT_TYPE, "text/plain").body(Body::from("{}")).unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A foreign Host (DNS rebinding) on a loopback server.
    let mut req = post_json("/api/grad", &json!({"expr": AE, "wrt": "W"}));
    req.headers_mut().insert(header::HOST, "evil.example:8080".parse().unwrap());
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    for host in ["localhost:8080", "127.0.0.1", "[::1]:9000", "LOCALHOST"] {
        let mut req = Request::get("/api/info").body(Body::empty()).unwrap();
        req.headers_mut().insert(header::HOST, host.parse().unwrap());
        assert_eq!(send(&app, req).await.0, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn bodies_over_one_megabyte_are_413() {
    let app = app(&config());
    let big = json!({"expr": "x".repeat(MAX_BODY_BYTES), "wrt": "x"});
    let (status, j) = call(&app, "grad", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{j}");
    assert!(j["message"].as_str().unwrap().contains("limit"));
    // Also without a Content-Length (a streamed body).
    let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 32 * 1024]));
    let req = Request::post("/api/grad")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the limit is read (and is a user error about its content, not its size).
    let doc = "a".repeat(MAX_BODY_BYTES - 200);
    let (status, _) = call(&app, "audit", json!({"document": doc, "problem": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// `h1 = tanh(A*h0 + h0)`, … : its derivation takes minutes (the expanded forms grow with the
/// depth), its gradient milliseconds.
fn deep(depth: usize) -> String {
    let mut lines = vec!["h0 = x".to_string()];
    for i in 1..depth {
        lines.push(format!("h{i} = tanh(A*h{} + h{})", i - 1, i - 1));
    }
    lines.push(format!("sum(h{})", depth - 1));
    lines.join("\n")
}

fn heavy() -> Json {
    // Thousands of levels with the step-by-step derivation and its checks: seconds of work.
    json!({"expr": deep(4000), "decl": "A: matrix(n,n); x: vector(n)", "wrt": "A", "steps": true})
}

#[tokio::test]
async fn cpu_time_limit_stops_the_work_with_a_503() {
    let cfg = Config { cpu_limit: Duration::from_millis(300), ..config() };
    let st = state(&cfg);
    let app = harden(routes(st.clone()), st.clone());
    let t = Instant::now();
    let (status, r) = send(&app, post_json("/api/grad", &heavy())).await;
    let took = t.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    let j = body_json(r).await;
    assert!(j["message"].as_str().unwrap().contains("0.3 s of CPU time"), "{j}");
    // The answer comes when the work has stopped (the worker is free again), not minutes later.
    assert_eq!(st.limits.running(), 0);
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Other requests are served as before.
    let (status, _) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_that_goes_away_stops_its_work() {
    let st = state(&config()); // 60 s of CPU time: only the cancellation can stop it early
    let app = harden(routes(st.clone()), st.clone());
    let task = tokio::spawn({
        let app = app.clone();
        async move { send(&app, post_json("/api/grad", &heavy())).await.0 }
    });
    wait_until(|| st.limits.running() == 1).await;
    task.abort();
    let t = Instant::now();
    wait_until(|| st.limits.running() == 0).await;
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

async fn wait_until(mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(30), "timed out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_in_a_bounded_queue_and_the_rest_get_503() {
    // One worker, two places in the queue; the CPU limit ends the slow requests.
    let cfg = Config { workers: 1, queue: 2, cpu_limit: Duration::from_millis(400), ..config() };
    let st = state(&cfg);
    let app = harden(routes(st.clone()), st.clone());
    let slow = |app: Router| tokio::spawn(async move { send(&app, post_json("/api/grad", &heavy())).await.0 });
    let first = slow(app.clone());
    wait_until(|| st.limits.running() == 1).await;
    // Two wait (not refused)…
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"})).await.0 })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // …the next one finds the queue full.
    let (status, j) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{j}");
    assert!(j["message"].as_str().unwrap().contains("busy"), "{j}");
    // The slow one is stopped by its limit; the queued ones are then answered.
    assert_eq!(first.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    for q in queued {
        assert_eq!(q.await.unwrap(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_panic_in_a_handler_is_a_500_and_the_server_goes_on() {
    let st: Arc<AppState> = state(&config());
    let worker = st.clone();
    let extra = Router::new()
        .route(
            "/api/panic",
            get(|| async {
                panic!("boom in a handler");
                #[allow(unreachable_code)]
                StatusCode::OK
            }),
        )
        .route(
            "/api/panic-in-work",
            post(move || {
                let st = worker.clone();
                async move {
                    match st.limits.run(|| -> u32 { panic!("boom in the library") }).await {
                        Ok(_) => StatusCode::OK.into_response(),
                        Err(e) => e.into_response(),
                    }
                }
            }),
        );
    let app = harden(routes(st.clone()).merge(extra), st.clone());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (status, r) = send(&app, Request::get("/api/panic").body(Body::empty()).unwrap()).await;
    let (status2, r2) = send(&app, post_json("/api/panic-in-work", &json!({}))).await;
    std::panic::set_hook(hook);
    for (status, r, why) in [(status, r, "boom in a handler"), (status2, r2, "boom in the library")] {
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        let j = body_json(r).await;
        assert!(j["message"].as_str().unwrap().contains(why), "{j}");
    }
    assert_eq!(st.limits.running(), 0);
    let (status, j) = call(&app, "grad", json!({"expr": AE, "decl": AE_DECL, "wrt": "W"})).await;
    assert_eq!(status, StatusCode::OK, "{j}");
}
