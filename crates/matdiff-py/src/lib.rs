//! `matdiff._native`, the compiled half of the `matdiff` Python package (pyo3, abi3).
//!
//! Thin bindings over the library: each function reads text, calls `matdiff`'s typed API
//! (`Problem`, `check::Checker`, `audit::Auditor`, `derivation::Derivation`, `diagram`, `emit`,
//! `Compiled`) with the GIL released, and returns the same reports as the CLI's
//! (`matdiff::report`) as Python dicts and strings. The result classes, the exceptions and the
//! documentation users see live in `python/matdiff`; errors become the exception class of their
//! `ErrorKind` (`errors`), and `compile` returns a `Function` (`function`).

mod convert;
mod errors;
mod function;

use convert::json_to_py;
use errors::{plain, to_py, Texts};
use function::Function;
use matdiff::audit::Auditor;
use matdiff::check::{CheckOptions, Checker};
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::derivative as second;
use matdiff::emit::{Lang, Source};
use matdiff::{report, ErrorKind, Problem};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Documents larger than this are refused by `audit` (a derivation is a few pages; the CLI
/// has the same bound).
const MAX_DOCUMENT_BYTES: usize = 2_000_000;

/// Parse and type-check an expression (LaTeX detected, or forced by `latex`).
fn load(expr: &str, decl: &str, latex: bool) -> matdiff::Result<Problem> {
    if latex {
        Problem::new_latex(expr, decl)
    } else {
        Problem::new(expr, decl)
    }
}

/// Split `"W,x"` style lists as the CLI's `--wrt` does.
fn names(wrt: &[String]) -> Vec<&str> {
    wrt.iter().flat_map(|w| w.split(',')).map(str::trim).collect()
}

/// Gradients as the CLI's `grad --format json` objects (plus `notes`): one dict per variable.
#[pyfunction]
#[pyo3(signature = (expr, wrt, decl = "", latex = false, check = false))]
fn grad<'py>(
    py: Python<'py>,
    expr: &str,
    wrt: Vec<String>,
    decl: &str,
    latex: bool,
    check: bool,
) -> PyResult<Bound<'py, PyList>> {
    let names = names(&wrt);
    let out = py.detach(|| -> matdiff::Result<_> {
        let mut p = load(expr, decl, latex)?;
        let mut grads = p.gradients(&names)?;
        // As `matdiff grad` prints them by default: sym(G) for a symmetric matrix.
        let report = check.then(|| p.fd_check(&grads, 1, 2));
        let convention = matdiff::check::Convention::Symmetric;
        matdiff::check::apply_convention(&mut p, &mut grads, convention);
        report::gradients_json(&mut p, &grads, &names, report.as_ref(), convention)
    });
    let items = out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))?;
    let list = PyList::empty(py);
    for item in items {
        list.append(json_to_py(py, &serde_json::Value::Object(item))?)?;
    }
    Ok(list)
}

/// The derivative of any expression w.r.t. one variable, as the CLI's `derivative --format
/// json` object (`derivative`, `latex`, `shape`, `layout`, `cse`, `where`, `wrt`, `notes`, and
/// `check` when asked): the gradient for a scalar expression, the entrywise derivative by a
/// scalar, the Jacobian of a vector by a vector, else ∂vec(f)/∂vec(X)ᵀ.
#[pyfunction]
#[pyo3(signature = (expr, wrt, decl = "", latex = false, check = false))]
fn derivative<'py>(
    py: Python<'py>,
    expr: &str,
    wrt: &str,
    decl: &str,
    latex: bool,
    check: bool,
) -> PyResult<Bound<'py, PyAny>> {
    second_order(py, expr, wrt, decl, latex, check, None)
}

/// The Hessian of a scalar expression (`hessian`: n×n for a vector, mn×mn w.r.t. vec(X) for a
/// matrix) or, with `direction` (the name of a new variable of `wrt`'s shape), the
/// Hessian-vector product (`hvp`, in `wrt`'s shape): the CLI's `hessian --format json` object.
#[pyfunction]
#[pyo3(signature = (expr, wrt, decl = "", direction = None, latex = false, check = false))]
fn hessian<'py>(
    py: Python<'py>,
    expr: &str,
    wrt: &str,
    decl: &str,
    direction: Option<&str>,
    latex: bool,
    check: bool,
) -> PyResult<Bound<'py, PyAny>> {
    second_order(py, expr, wrt, decl, latex, check, Some(direction))
}

/// `derivative` (`hessian` is `None`), `hessian` (`Some(None)`) or the HVP along a direction.
fn second_order<'py>(
    py: Python<'py>,
    expr: &str,
    wrt: &str,
    decl: &str,
    latex: bool,
    check: bool,
    hessian: Option<Option<&str>>,
) -> PyResult<Bound<'py, PyAny>> {
    let wrt = wrt.trim();
    let out = py.detach(|| -> matdiff::Result<_> {
        let mut p = load(expr, decl, latex)?;
        let d = match hessian {
            None => second::derivative(&mut p, wrt),
            Some(None) => second::hessian(&mut p, wrt),
            Some(Some(v)) => second::hvp(&mut p, wrt, v.trim()),
        }?;
        let report = check.then(|| second::check(&p, &d, 1, 2));
        Ok(serde_json::Value::Object(report::derivative_json(&p, &d, report.as_ref())?))
    });
    let json = out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))?;
    json_to_py(py, &json)
}

/// The derivation in every format: a dict with `text`, `markdown`, `latex`, `json` (the JSON
/// text) and `max_rel_error` of its numeric check (None when not checked).
#[pyfunction]
#[pyo3(signature = (expr, wrt, decl = "", latex = false))]
fn steps<'py>(py: Python<'py>, expr: &str, wrt: Vec<String>, decl: &str, latex: bool) -> PyResult<Bound<'py, PyDict>> {
    let names = names(&wrt);
    let out = py.detach(|| -> matdiff::Result<_> {
        let mut p = load(expr, decl, latex)?;
        let grads = p.gradients(&names)?;
        let user = user_names(&p);
        let d = Derivation::with_names(&p, &grads, &user);
        let formats = [StepsFormat::Text, StepsFormat::Markdown, StepsFormat::Latex, StepsFormat::Json];
        let texts: Vec<String> = formats.into_iter().map(|f| d.render(f)).collect();
        // A check that compared nothing has no error to report (never a pass).
        let checked = d.check.as_ref().filter(|r| !matches!(r.outcome(), matdiff::FdOutcome::Unchecked(_)));
        Ok((texts, checked.map(|r| r.max_err)))
    });
    let (texts, err) = out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))?;
    let dict = PyDict::new(py);
    for (key, text) in ["text", "markdown", "latex", "json"].into_iter().zip(texts) {
        dict.set_item(key, text)?;
    }
    dict.set_item("max_rel_error", err)?;
    Ok(dict)
}

/// The computational graph: `(svg, dot)`; with `wrt`, each node shows its adjoint.
#[pyfunction]
#[pyo3(signature = (expr, decl = "", wrt = None, latex = false))]
fn graph(py: Python<'_>, expr: &str, decl: &str, wrt: Option<Vec<String>>, latex: bool) -> PyResult<(String, String)> {
    let out = py.detach(|| -> matdiff::Result<_> {
        let mut p = load(expr, decl, latex)?;
        let user = user_names(&p);
        let d = match &wrt {
            Some(w) => {
                let grads = p.gradients(&names(w))?;
                Derivation::with_names(&p, &grads, &user)
            }
            None => Derivation::forward_with_names(&p, &user),
        };
        Ok((matdiff::diagram::svg(&d)?, matdiff::diagram::dot(&d)))
    });
    out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))
}

/// A claimed gradient checked: `(report, text)`, the CLI's `check --format json` object and
/// its text form.
#[pyfunction]
#[pyo3(signature = (expr, wrt, claim, decl = "", latex = false))]
fn check<'py>(
    py: Python<'py>,
    expr: &str,
    wrt: &str,
    claim: &str,
    decl: &str,
    latex: bool,
) -> PyResult<(Bound<'py, PyAny>, String)> {
    let wrt = wrt.trim();
    let out = py.detach(|| -> matdiff::Result<_> {
        let p = load(expr, decl, latex)?;
        let mut checker = Checker::new(p, wrt, CheckOptions::default())?;
        let verdict = checker.check(claim)?;
        Ok((report::verdict_json(&verdict), report::verdict_text(&verdict, wrt)))
    });
    let (json, text) = out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim }))?;
    Ok((json_to_py(py, &json)?, text))
}

/// A document audited against a problem file: `(report, text, all_right)`.
#[pyfunction]
fn audit<'py>(py: Python<'py>, document: &str, problem: &str) -> PyResult<(Bound<'py, PyAny>, String, bool)> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(plain(
            py,
            ErrorKind::Limit,
            format!("the document is too large ({} bytes; the limit is {MAX_DOCUMENT_BYTES})", document.len()),
        ));
    }
    // An error comes with the loss and declarations it points into (empty: the problem file).
    type Failure = Box<(matdiff::Error, String, String)>;
    let out = py.detach(|| -> Result<_, Failure> {
        let spec = matdiff::audit::parse_problem(problem).map_err(|e| Box::new((e, String::new(), String::new())))?;
        // Compile each question's loss first, so an error shows the loss it points into.
        for q in &spec.questions {
            if let Err(e) = Problem::new(&q.loss, &q.decl) {
                let e = matdiff::Error { message: format!("question `{}`: {}", q.id, e.message), ..e };
                return Err(Box::new((e, q.loss.clone(), q.decl.clone())));
            }
        }
        let title = spec.title.clone();
        let auditor = Auditor::new(spec).map_err(|e| Box::new((e, String::new(), String::new())))?;
        let r = auditor.audit(document);
        let all_right = r.questions.iter().all(|q| q.answer == matdiff::audit::Answer::Right);
        Ok((report::audit_json(&r), report::audit_text(&r, "the document", &title), all_right))
    });
    let (json, text, right) = out.map_err(|f| to_py(py, &f.0, Texts { expr: &f.1, decl: &f.2, claim: "" }))?;
    Ok((json_to_py(py, &json)?, text, right))
}

/// A self-contained module computing the value and gradient(s), in `target` (numpy, jax,
/// torch or rust).
#[pyfunction]
#[pyo3(signature = (expr, wrt, decl = "", target = "numpy", latex = false))]
fn emit(py: Python<'_>, expr: &str, wrt: Vec<String>, decl: &str, target: &str, latex: bool) -> PyResult<String> {
    let Some(lang) = Lang::from_name(&target.trim().to_ascii_lowercase()) else {
        let known: Vec<&str> = Lang::ALL.iter().map(|l| l.name()).collect();
        return Err(plain(
            py,
            ErrorKind::Input,
            format!("unknown target `{target}`: the targets are {}", known.join(", ")),
        ));
    };
    let names = names(&wrt);
    let out = py.detach(|| -> matdiff::Result<_> {
        let mut p = load(expr, decl, latex)?;
        let grads = p.gradients(&names)?;
        matdiff::emit::emit(&p, &grads, lang, Source { expr, decls: decl })
    });
    out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))
}

/// Compile the expression and its gradients w.r.t. `wrt` (empty: the value only).
#[pyfunction]
#[pyo3(signature = (expr, wrt = Vec::new(), decl = "", latex = false))]
fn compile(py: Python<'_>, expr: &str, wrt: Vec<String>, decl: &str, latex: bool) -> PyResult<Function> {
    let names = names(&wrt);
    let out = py.detach(|| -> matdiff::Result<_> { Function::new(load(expr, decl, latex)?, &names, expr, decl) });
    let mut f = out.map_err(|e| to_py(py, &e, Texts { expr, decl, claim: "" }))?;
    f.intern(py);
    Ok(f)
}

/// The value of the expression at `arrays` (a float, or an array for a vector or matrix).
#[pyfunction]
#[pyo3(signature = (expr, decl = "", latex = false, arrays = None))]
fn evaluate<'py>(
    py: Python<'py>,
    expr: &str,
    decl: &str,
    latex: bool,
    arrays: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let f = compile(py, expr, vec![], decl, latex)?;
    Ok(f.call(py, arrays)?.0)
}

/// The pipeline's version (the Rust crates').
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Function>()?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(derivative, m)?)?;
    m.add_function(wrap_pyfunction!(hessian, m)?)?;
    m.add_function(wrap_pyfunction!(steps, m)?)?;
    m.add_function(wrap_pyfunction!(graph, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_function(wrap_pyfunction!(emit, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
