//! `matdiff.compile`: an expression and its gradients planned by the compiled evaluator
//! (`matdiff::Compiled`), called with NumPy arrays.
//!
//! Inputs are read in place: a float64 array (C or Fortran order, or any other strides that are
//! whole elements) becomes a strided faer view of NumPy's memory, with no copy. Anything else (other
//! dtypes, Python lists, unaligned or byte-swapped data) is converted once per call with NumPy.
//! Shapes are checked against the declared kinds and the dimensions shared between inputs before
//! anything runs. The computation runs with the GIL released. Plans are not shared between
//! threads: calls that overlap take separate plans from a pool, so the object is safe to call
//! from several threads at once.

use crate::errors::{plain, to_py, Texts};
use faer::{MatMut, MatRef};
use matdiff::syntax::{DeclKind, DimSpec};
use matdiff::{Compiled, ErrorKind, Graph, NodeId, Problem, Shape};
use numpy::{PyArray0, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString, PyTuple};
use std::sync::Mutex;

/// A compiled function: `f(**arrays)` returns `(value, grads)`, the value of the expression
/// (a float, or an `np.ndarray` for a vector or matrix expression) and a tuple with one
/// `np.ndarray` per `wrt` variable (shape `()`, `(n,)` or `(m, n)`, Fortran order).
///
/// Inputs are keyword arguments named after the expression's variables (`f.inputs`). float64
/// arrays in C or Fortran order (or any strides that are whole elements) are read in place
/// without copying; other dtypes (integers, float32, bool), Python lists and numbers are
/// converted to float64 first. A vector may be given as shape `(n,)` or `(n, 1)`, a scalar as a
/// number or a 0-d array. Shapes are checked against the declarations and against each other
/// (`matdiff.ShapeError`). The computation releases the GIL, and the object may be called from
/// several threads at once (each concurrent call uses its own plan).
#[pyclass(module = "matdiff", frozen, name = "Function")]
pub struct Function {
    expr: String,
    decl: String,
    graph: Graph,
    /// The value, then one gradient per `wrt` variable.
    roots: Vec<NodeId>,
    wrt: Vec<String>,
    /// Declared names the expression does not use: accepted as inputs (so a gradient can be
    /// called with the loss's inputs), their sizes fixing the dimensions they name.
    unused: Vec<Unused>,
    /// Plans ready to run; a call takes one (or makes one) and puts it back.
    pool: Mutex<Vec<Compiled>>,
    /// The variables' names as interned Python strings (`intern`), for the keyword lookups.
    keys: Vec<Py<PyString>>,
    /// The dimension sizes last checked by `check_sizes`.
    checked: Mutex<Vec<usize>>,
}

/// A declared name the expression does not use.
struct Unused {
    name: String,
    shape: Shape,
}

/// One input as the evaluator reads it: a strided view of memory that stays alive and
/// unchanged for the call.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f64,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

/// One output: a Fortran-order buffer owned by a NumPy array made for this call.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f64,
    rows: usize,
    cols: usize,
}

/// The raw views handed to the thread that runs without the GIL.
struct Job {
    /// Every dimension's size (some only known from declared inputs the expression does not use).
    dims: Vec<usize>,
    inputs: Vec<View>,
    outputs: Vec<Out>,
}

// SAFETY: the pointers refer to NumPy buffers (and a local scalar slot) that the calling thread
// keeps alive until `detach` returns: the arrays are held by `Bound` references in `__call__`,
// so NumPy cannot free or resize them (resize refuses referenced arrays). The output buffers
// were created in this call and are not visible to Python until it returns.
unsafe impl Send for Job {}

impl Function {
    /// Compile `p` for its value and the gradients w.r.t. `wrt` (none: the value only).
    pub fn new(mut p: Problem, wrt: &[&str], expr: &str, decl: &str) -> matdiff::Result<Function> {
        let mut roots = vec![p.output];
        if !wrt.is_empty() {
            let grads = p.gradients(wrt)?;
            roots.extend(grads.nodes);
        }
        let pool = Mutex::new(vec![Compiled::new(p.graph(), &roots)]);
        let unused = p
            .decls()
            .iter()
            .filter(|d| p.graph().var_id(&d.name).is_none())
            .map(|d| Unused { name: d.name.clone(), shape: declared_shape(p.graph().dims(), &d.kind) })
            .collect();
        Ok(Function {
            unused,
            expr: expr.to_string(),
            decl: decl.to_string(),
            graph: p.into_graph(),
            roots,
            wrt: wrt.iter().map(|s| s.to_string()).collect(),
            pool,
            keys: vec![],
            checked: Mutex::new(vec![]),
        })
    }

    fn texts(&self) -> Texts<'_> {
        Texts { expr: &self.expr, decl: &self.decl, claim: "" }
    }

    /// Intern the variables' names as Python strings (dictionary lookups by them then skip
    /// hashing a new string per call).
    pub fn intern(&mut self, py: Python<'_>) {
        self.keys = self.graph.vars().iter().map(|v| PyString::intern(py, &v.name).unbind()).collect();
    }

    /// Evaluate at `arrays`: the value (a float or an array) and one array per gradient.
    pub fn call<'py>(
        &self,
        py: Python<'py>,
        arrays: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> {
        let g = &self.graph;
        let n = g.vars().len();
        // Scalars given as Python numbers live here for the call (never reallocated: one slot
        // per variable, sized before any pointer into it is taken).
        let mut scalars = vec![0.0f64; n];
        let mut keep: Vec<Bound<'py, PyArrayDyn<f64>>> = Vec::with_capacity(n);
        let mut views: Vec<Option<View>> = Vec::with_capacity(n);
        for (i, var) in g.vars().iter().enumerate() {
            let obj = match (arrays, self.keys.get(i)) {
                (Some(a), Some(key)) => a.get_item(key.bind(py))?,
                (Some(a), None) => a.get_item(&var.name)?,
                (None, _) => None,
            };
            let Some(obj) = obj else {
                return Err(plain(
                    py,
                    ErrorKind::Input,
                    format!("missing input `{}`: the expression's variables are {}", var.name, self.names()),
                ));
            };
            if var.shape.is_scalar() && (obj.is_exact_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>()) {
                scalars[i] = obj.extract()?;
                views.push(None);
                continue;
            }
            let arr = as_float64(py, &obj, &var.name)?;
            views.push(Some(self.view_of(py, &arr, &var.name, var.shape)?));
            keep.push(arr);
        }
        // Other keywords: declared names the expression does not use fix the sizes of their
        // dimensions; anything else is refused.
        let mut fixed = vec![];
        if let Some(arrays) = arrays.filter(|a| a.len() > n) {
            for (key, obj) in arrays.iter() {
                let key: String = key.extract()?;
                if let Some(u) = self.unused.iter().find(|u| u.name == key) {
                    if !(u.shape.is_scalar() && (obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>())) {
                        let arr = as_float64(py, &obj, &key)?;
                        let v = self.view_of(py, &arr, &key, u.shape)?;
                        fixed.push((u.shape, v, key));
                    }
                } else if g.var_id(&key).is_none() {
                    return Err(plain(
                        py,
                        ErrorKind::Input,
                        format!("unexpected input `{key}`: the expression's variables are {}", self.names()),
                    ));
                }
            }
        }
        let mut inputs = Vec::with_capacity(n);
        for (i, v) in views.iter().enumerate() {
            inputs.push(v.unwrap_or(View {
                ptr: &scalars[i] as *const f64,
                rows: 1,
                cols: 1,
                row_stride: 1,
                col_stride: 1,
            }));
        }
        let dims = self.dims_of(py, &inputs, &fixed)?;
        // Every size known and no result too large, before any output is allocated (checked
        // once per set of sizes).
        let mut checked = self.checked.lock().map_err(crate::errors::internal)?;
        if *checked != dims {
            let env = matdiff::Env { dims: dims.clone(), vars: vec![] };
            matdiff::check_sizes(g, &self.roots, &env).map_err(|e| to_py(py, &e, self.texts()))?;
            checked.clone_from(&dims);
        }
        drop(checked);
        // Outputs: NumPy arrays in Fortran order, written in place by the evaluator.
        let mut value_slot = 0.0f64;
        let mut results: Vec<Option<Bound<'py, PyAny>>> = Vec::with_capacity(self.roots.len());
        let mut outs = Vec::with_capacity(self.roots.len());
        for (k, &root) in self.roots.iter().enumerate() {
            let shape = g.shape(root);
            let size = |d: Option<u32>| d.map_or(1, |d| dims[d as usize]);
            let (rows, cols) = (size(shape.rows), size(shape.cols));
            let (arr, ptr) = match (shape.rows, shape.cols) {
                (None, None) if k == 0 => (None, &mut value_slot as *mut f64),
                (None, None) => {
                    let a = PyArray0::<f64>::zeros(py, (), true);
                    let ptr = a.data();
                    (Some(a.into_any()), ptr)
                }
                (Some(_), None) => {
                    let a = PyArray1::<f64>::zeros(py, rows, true);
                    let ptr = a.data();
                    (Some(a.into_any()), ptr)
                }
                _ => {
                    let a = PyArray2::<f64>::zeros(py, [rows, cols], true);
                    let ptr = a.data();
                    (Some(a.into_any()), ptr)
                }
            };
            outs.push(Out { ptr, rows, cols });
            results.push(arr);
        }
        let job = Job { dims: dims.clone(), inputs, outputs: outs };
        let compiled = self.pool.lock().map_err(crate::errors::internal)?.pop();
        let mut compiled = compiled.unwrap_or_else(|| Compiled::new(&self.graph, &self.roots));
        let outcome = py.detach(|| run(&mut compiled, job));
        self.pool.lock().map_err(crate::errors::internal)?.push(compiled);
        outcome.map_err(|e| to_py(py, &e, self.texts()))?;
        let mut results = results.into_iter();
        let value = match results.next().flatten() {
            Some(arr) => arr,
            None => PyFloat::new(py, value_slot).into_any(),
        };
        let grads =
            results.map(|r| r.ok_or_else(|| crate::errors::internal("gradient slot"))).collect::<PyResult<_>>()?;
        drop(keep);
        Ok((value, grads))
    }

    /// The variables' names, for messages.
    fn names(&self) -> String {
        let names: Vec<String> = self.graph.vars().iter().map(|v| format!("`{}`", v.name)).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// A strided view of `arr` for a variable of `shape`, or a shape error.
    fn view_of(&self, py: Python<'_>, arr: &Bound<'_, PyArrayDyn<f64>>, name: &str, shape: Shape) -> PyResult<View> {
        let dims = &self.graph.dims();
        let nd = arr.shape().to_vec();
        // NumPy strides are in bytes; `as_float64` made sure they are whole elements.
        let st: Vec<isize> = arr.strides().iter().map(|s| s / 8).collect();
        let ptr = arr.data() as *const f64;
        let wrong = || {
            plain(
                py,
                ErrorKind::Shape,
                format!(
                    "input `{name}` should be {}, got an array of shape {}",
                    describe(dims, shape),
                    shape_text(&nd)
                ),
            )
        };
        let view = match (shape.rows, shape.cols) {
            (None, None) if nd.is_empty() => View { ptr, rows: 1, cols: 1, row_stride: 1, col_stride: 1 },
            (Some(_), None) if nd.len() == 1 => View { ptr, rows: nd[0], cols: 1, row_stride: st[0], col_stride: 1 },
            (Some(_), None) if nd.len() == 2 && nd[1] == 1 => {
                View { ptr, rows: nd[0], cols: 1, row_stride: st[0], col_stride: st[1] }
            }
            (Some(_), Some(_)) if nd.len() == 2 => {
                View { ptr, rows: nd[0], cols: nd[1], row_stride: st[0], col_stride: st[1] }
            }
            _ => return Err(wrong()),
        };
        if view.rows == 0 || view.cols == 0 {
            return Err(plain(
                py,
                ErrorKind::Shape,
                format!("input `{name}` is empty (shape {}): every dimension must be at least 1", shape_text(&nd)),
            ));
        }
        Ok(view)
    }

    /// Each dimension's size, read off the inputs; a dimension two inputs disagree on is a
    /// shape error naming both.
    fn dims_of(&self, py: Python<'_>, inputs: &[View], fixed: &[(Shape, View, String)]) -> PyResult<Vec<usize>> {
        let g = &self.graph;
        // Per dimension: its size and where it came from (an index into `sources`, `None` for
        // a literal size in the declarations), so messages are only written on failure.
        let mut dims: Vec<Option<(usize, Option<Source>)>> =
            g.dims().dims().iter().map(|d| d.size.map(|k| (k, None))).collect();
        let given = fixed.iter().map(|(s, v, n)| (*s, v, n.as_str()));
        let vars = g.vars().iter().zip(inputs).map(|(var, v)| (var.shape, v, var.name.as_str()));
        let sources: Vec<(Shape, &View, &str)> = given.chain(vars).collect();
        let what = |(i, rows): Source| {
            let (shape, _, name) = sources[i];
            match (shape.is_matrix(), rows) {
                (false, _) => format!("`{name}`"),
                (true, true) => format!("the rows of `{name}`"),
                (true, false) => format!("the columns of `{name}`"),
            }
        };
        for (i, &(shape, v, _)) in sources.iter().enumerate() {
            for (d, k, rows) in [(shape.rows, v.rows, true), (shape.cols, v.cols, false)] {
                // The placeholder of `declared_shape` (a dimension the expression does not use).
                let Some(d) = d.filter(|&d| d != u32::MAX) else { continue };
                match dims[d as usize] {
                    Some((k0, from)) if k0 != k => {
                        let from = from.map_or("its declaration".to_string(), what);
                        return Err(plain(
                            py,
                            ErrorKind::Shape,
                            format!(
                                "dimension {} is {k0} from {from} but {k} from {}",
                                g.dims().name(d),
                                what((i, rows))
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => dims[d as usize] = Some((k, Some((i, rows)))),
                }
            }
        }
        let mut sizes: Vec<usize> = dims.into_iter().map(|d| d.map_or(usize::MAX, |(k, _)| k)).collect();
        // Product dimensions (`m*n`: the length of vec(W), the size of kron(A, B)) follow from
        // their factors; one also given by an input must agree.
        if let Some((d, given, product)) = g.dims().fill_products(&mut sizes) {
            return Err(plain(
                py,
                ErrorKind::Shape,
                format!(
                    "dimension {} is {given} in the inputs, but the product of its factors is {product}",
                    g.dims().name(d)
                ),
            ));
        }
        Ok(sizes)
    }
}

/// Where a dimension's size came from: an input (index into the sources) and whether its rows.
type Source = (usize, bool);

/// Run the plan on the views (without the GIL).
fn run(compiled: &mut Compiled, job: Job) -> matdiff::Result<()> {
    // SAFETY: see `Job`: every pointer is valid for its strided extent for the whole call, the
    // inputs are only read, and each output buffer is written through exactly one view.
    let inputs: Vec<MatRef<'_, f64>> = job
        .inputs
        .iter()
        .map(|v| unsafe { MatRef::from_raw_parts(v.ptr, v.rows, v.cols, v.row_stride, v.col_stride) })
        .collect();
    let mut outputs: Vec<MatMut<'_, f64>> = job
        .outputs
        .iter()
        // SAFETY: each output is a fresh Fortran-order buffer of rows × cols made for this call
        // (see `Job`): valid and writable for that extent, aliasing no input and no other
        // output, so this is the only view of it while the plan runs.
        .map(|o| unsafe { MatMut::from_raw_parts_mut(o.ptr, o.rows, o.cols, 1, o.rows as isize) })
        .collect();
    compiled.run_into_sized(&job.dims, &inputs, &mut outputs)
}

/// `obj` as a float64 NumPy array whose strides are whole elements: the array itself when it
/// already is one (no copy), else a converted copy (Fortran order, the evaluator's layout).
fn as_float64<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    if let Ok(arr) = obj.cast::<PyArrayDyn<f64>>() {
        if arr.is_aligned() && arr.strides().iter().all(|s| s % 8 == 0) {
            return Ok(arr.clone());
        }
    }
    let np = py.import("numpy")?;
    let arr = np
        .call_method1("asarray", (obj,))
        .map_err(|e| plain(py, ErrorKind::Input, format!("input `{name}` is not an array of numbers: {e}")))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        let dtype = arr.getattr("dtype")?.str()?.to_string();
        return Err(plain(
            py,
            ErrorKind::Input,
            format!("input `{name}` has dtype {dtype}: matdiff computes with real numbers (float64)"),
        ));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("order", "F")?;
    let converted = arr.call_method("astype", ("float64",), Some(&kwargs))?;
    converted.cast_into::<PyArrayDyn<f64>>().map_err(|e| crate::errors::internal(e.to_string()))
}

/// The shape a declaration gives a name, over the problem's dimensions (`None` where the
/// declaration names no dimension the expression uses: such a size is not checked).
fn declared_shape(dims: &matdiff::DimTable, kind: &DeclKind) -> Shape {
    let dim = |d: &Option<DimSpec>| match d {
        Some(DimSpec::Name(n)) => dims.by_name(n),
        _ => None,
    };
    // A placeholder dimension for an unnamed one: only its presence (vector vs matrix) matters.
    let any = |d: Option<u32>| Some(d.unwrap_or(u32::MAX));
    match kind {
        DeclKind::Scalar => Shape::SCALAR,
        DeclKind::Vector(n) => Shape { rows: any(dim(n)), cols: None },
        DeclKind::Matrix(m, n) => Shape { rows: any(dim(m)), cols: any(dim(n)) },
        DeclKind::Symmetric(n) => Shape { rows: any(dim(n)), cols: any(dim(n)) },
    }
}

/// "vector(n)" in words a NumPy user reads: "a vector of length n (shape (n,))".
fn describe(dims: &matdiff::DimTable, s: Shape) -> String {
    // The placeholder of `declared_shape` has no name.
    let name = |d: u32| if d == u32::MAX { "?".to_string() } else { dims.name(d).to_string() };
    match (s.rows, s.cols) {
        (None, None) => "a scalar (a number or a 0-d array)".into(),
        (Some(n), None) => format!("a vector of length {0} (shape ({0},) or ({0}, 1))", name(n)),
        (None, Some(n)) => format!("a row vector of length {}", name(n)),
        (Some(m), Some(n)) => format!("a {}×{} matrix (a 2-d array)", name(m), name(n)),
    }
}

fn shape_text(nd: &[usize]) -> String {
    match nd {
        [k] => format!("({k},)"),
        _ => format!("({})", nd.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

#[pymethods]
impl Function {
    /// Evaluate the value and the gradients at the given arrays (keyword arguments named after
    /// the variables): returns `(value, grads)`.
    #[pyo3(signature = (**arrays))]
    fn __call__<'py>(&self, py: Python<'py>, arrays: Option<&Bound<'py, PyDict>>) -> PyResult<Bound<'py, PyTuple>> {
        let (value, grads) = self.call(py, arrays)?;
        let grads = PyTuple::new(py, grads)?;
        PyTuple::new(py, [value, grads.into_any()])
    }

    /// The expression's variables, in the order the evaluator takes them: every one is a
    /// required keyword argument.
    #[getter]
    fn inputs(&self) -> Vec<String> {
        self.graph.vars().iter().map(|v| v.name.clone()).collect()
    }

    /// The variables the gradients are taken with respect to, in the order of `grads`.
    #[getter]
    fn wrt(&self) -> Vec<String> {
        self.wrt.clone()
    }

    /// The expression, as given.
    #[getter]
    fn expr(&self) -> String {
        self.expr.clone()
    }

    /// Each input's shape as dimension names: `{"W": ("m", "n"), "x": ("n",), "a": ()}`.
    #[getter]
    fn shapes(&self) -> Vec<(String, Vec<String>)> {
        self.graph.vars().iter().map(|v| (v.name.clone(), self.graph.dims().shape_names(v.shape))).collect()
    }

    /// The steps planned for the sizes of the last call, one per line (empty before the first
    /// call): matrix-chain order, solves, factorizations, fused passes.
    fn plan(&self) -> PyResult<String> {
        let pool = self.pool.lock().map_err(crate::errors::internal)?;
        Ok(pool.first().map(|c| c.describe()).unwrap_or_default())
    }

    fn __repr__(&self) -> String {
        let wrt = if self.wrt.is_empty() { String::new() } else { format!(", wrt={:?}", self.wrt) };
        format!("matdiff.Function({:?}{wrt})", self.expr)
    }
}
