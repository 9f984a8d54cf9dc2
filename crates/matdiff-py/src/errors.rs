//! matdiff errors as Python exceptions: one class per [`ErrorKind`] (defined in
//! `python/matdiff/_errors.py`), whose `str()` is the message rendered as the CLI renders it
//! (the source line with the span underlined) and whose `.span` counts characters, so that
//! `text[start:end]` is the offending part.

use matdiff::render::{render, Sources};
use matdiff::{Error, ErrorKind, Input};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The texts a call received, so an error can show the line it points into.
#[derive(Clone, Copy, Default)]
pub struct Texts<'a> {
    pub expr: &'a str,
    pub decl: &'a str,
    pub claim: &'a str,
}

/// The Python class for an error kind (a subclass of `matdiff.MatdiffError`).
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "ParseError",
        ErrorKind::UnknownName => "UnknownNameError",
        ErrorKind::Shape => "ShapeError",
        ErrorKind::Domain => "DomainError",
        ErrorKind::Limit => "LimitError",
        ErrorKind::Input => "InputError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::Internal => "InternalError",
        // A kind added later still raises a MatdiffError.
        _ => "MatdiffError",
    }
}

/// The name of the input a span points into, as the Python exception reports it.
fn input_name(input: Input) -> Option<&'static str> {
    match input {
        Input::Expr => Some("expr"),
        Input::Decl => Some("decl"),
        Input::Claim => Some("claim"),
        Input::Values => Some("values"),
        Input::None => None,
    }
}

/// Convert a matdiff error into the Python exception of its kind.
pub fn to_py(py: Python<'_>, e: &Error, texts: Texts<'_>) -> PyErr {
    let rendered = render(e, &Sources { expr: texts.expr, decl: texts.decl, claim: texts.claim });
    let text = match e.input {
        Input::Expr => texts.expr,
        Input::Decl => texts.decl,
        Input::Claim => texts.claim,
        Input::Values | Input::None => "",
    };
    // Python strings index characters; the core's spans count bytes.
    let to_char = |b: usize| text.get(..b.min(text.len())).map_or(0, |s| s.chars().count());
    let span = e.span.filter(|_| !text.is_empty()).map(|s| (to_char(s.start), to_char(s.end.max(s.start))));
    match build(py, e, rendered.trim_end(), span) {
        Ok(err) => err,
        Err(failed) => failed,
    }
}

fn build(py: Python<'_>, e: &Error, rendered: &str, span: Option<(usize, usize)>) -> PyResult<PyErr> {
    let module = py.import("matdiff._errors")?;
    let class = module.getattr(class_name(e.kind))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("kind", e.kind.as_str())?;
    kwargs.set_item("message", &e.message)?;
    kwargs.set_item("span", span)?;
    kwargs.set_item("input", input_name(e.input))?;
    kwargs.set_item("label", &e.label)?;
    kwargs.set_item("notes", &e.notes)?;
    let instance = class.call((rendered,), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// A plain error (no span) of a given kind, for failures found by the bindings themselves
/// (a missing argument, an array of the wrong shape).
pub fn plain(py: Python<'_>, kind: ErrorKind, message: impl Into<String>) -> PyErr {
    let e = Error::unspanned(Input::None, message).with_kind(kind);
    to_py(py, &e, Texts::default())
}

/// A bug surfaced as an exception rather than a crash.
pub fn internal(what: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(format!("internal error in matdiff (please report it): {what}"))
}
