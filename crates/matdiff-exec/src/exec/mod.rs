//! Compiled evaluation: plan once per set of dimensions, then run many times without re-planning.
//!
//! The planner (`plan`) turns the DAG into a flat list of steps over preallocated buffers:
//! matrix chains in the cheapest order for the actual sizes (sub-chains shared across chains),
//! inverses used as factors turned into Cholesky/LU solves, traces of products turned into
//! inner products, products distributed over sums when that avoids a large intermediate, and
//! one factorization per matrix shared by log det, solves and inverses (Woodbury for a thin
//! low-rank update of the identity); trees of entrywise operations are fused into one pass
//! (`fuse`). The runner (`run`) executes the steps with faer kernels and the vectorized loops of
//! `simd`, keeps factorizations in place in plan-owned storage (`factor`), and hands the second
//! half of large steps to a helper thread (`duo`). After the first run with given sizes nothing
//! is allocated (`Compiled::run_into`).

mod duo;
mod factor;
mod fuse;
mod plan;
mod run;
mod simd;

use crate::eval::Env;
use faer::{Mat, MatMut, MatRef};
use matdiff_core::{Graph, NodeId};
use matdiff_syntax::{Error, Input, Result};
use plan::Plan;

/// An expression (or several, e.g. a value and its gradients) compiled for repeated evaluation.
pub struct Compiled {
    graph: Graph,
    roots: Vec<NodeId>,
    plan: Option<Plan>,
}

impl Compiled {
    /// Compile `roots` of `g` (the graph is copied; nothing is planned until the first run).
    pub fn new(g: &Graph, roots: &[NodeId]) -> Compiled {
        Compiled { graph: g.clone(), roots: roots.to_vec(), plan: None }
    }

    /// Evaluate at `inputs` (one matrix per variable, in `Graph::vars` order; scalars are 1×1,
    /// vectors n×1). Dimensions are read off the inputs; the plan and its buffers are reused
    /// while they stay the same.
    pub fn run(&mut self, inputs: &[MatRef<'_, f64>]) -> Result<Vec<MatRef<'_, f64>>> {
        self.execute(inputs)?;
        Ok(self.plan.as_ref().unwrap().outputs())
    }

    /// Evaluate at `inputs` and copy the results into the caller's matrices (`outputs[k]` has
    /// root k's shape). After the first call with given sizes this allocates nothing: buffers,
    /// factorizations and their workspace live in the plan, and split steps go to the plan's
    /// helper thread (faer's own threaded routines, used for thin products and large
    /// factorizations, go through rayon, whose job queue may allocate).
    pub fn run_into(&mut self, inputs: &[MatRef<'_, f64>], outputs: &mut [MatMut<'_, f64>]) -> Result<()> {
        self.execute(inputs)?;
        self.copy_outputs(outputs)
    }

    /// Like [`Compiled::run_into`], with every dimension's size given (indexed by `DimId`):
    /// for dimensions no input names, such as `n` in `sum(eye(n))` when the caller knows it
    /// from a declared input the expression does not use. The inputs must agree with `dims`.
    pub fn run_into_sized(
        &mut self,
        dims: &[usize],
        inputs: &[MatRef<'_, f64>],
        outputs: &mut [MatMut<'_, f64>],
    ) -> Result<()> {
        if dims_of(&self.graph, inputs)?
            .iter()
            .zip(dims)
            .any(|(&from_inputs, &given)| from_inputs != usize::MAX && from_inputs != given)
        {
            return Err(Error::unspanned(Input::Values, "inputs do not match the dimension sizes".to_string()));
        }
        let plan = self.plan_for(dims.to_vec())?;
        plan.execute(inputs);
        self.copy_outputs(outputs)
    }

    /// Copy the last run's results into the caller's matrices, checking their shapes.
    fn copy_outputs(&self, outputs: &mut [MatMut<'_, f64>]) -> Result<()> {
        let plan = self.plan.as_ref().unwrap();
        if outputs.len() != plan.outputs.len() {
            return Err(Error::unspanned(
                Input::Values,
                format!("expected {} output matrices, got {}", plan.outputs.len(), outputs.len()),
            ));
        }
        for (k, (out, &slot)) in outputs.iter_mut().zip(&plan.outputs).enumerate() {
            let src = plan.slots[slot].as_ref();
            if (out.nrows(), out.ncols()) != (src.nrows(), src.ncols()) {
                return Err(Error::unspanned(
                    Input::Values,
                    format!(
                        "output {k} should be {}×{}, got {}×{}",
                        src.nrows(),
                        src.ncols(),
                        out.nrows(),
                        out.ncols()
                    ),
                ));
            }
            out.copy_from(src);
        }
        Ok(())
    }

    /// Plan if the sizes are new (checking the inputs), then run the plan.
    fn execute(&mut self, inputs: &[MatRef<'_, f64>]) -> Result<()> {
        if !self.plan.as_ref().is_some_and(|p| p.fits(inputs)) {
            let dims = dims_of(&self.graph, inputs)?;
            self.plan_for(dims)?;
        }
        self.plan.as_mut().unwrap().execute(inputs);
        Ok(())
    }

    /// The plan for these dimension sizes, made if the current one is for others.
    fn plan_for(&mut self, dims: Vec<usize>) -> Result<&mut Plan> {
        if self.plan.as_ref().is_none_or(|p| p.dims != dims) {
            self.plan = Some(Plan::new(&self.graph, &self.roots, dims)?);
        }
        Ok(self.plan.as_mut().unwrap())
    }

    /// Evaluate at a bound environment (`Problem::bind`), whose dimension sizes may come from
    /// declarations the expression does not use (`sum(eye(n))` with `x: vector(n)` given).
    pub fn run_env(&mut self, env: &Env) -> Result<Vec<MatRef<'_, f64>>> {
        let plan = self.plan_for(env.dims.clone())?;
        let inputs: Vec<MatRef<'_, f64>> = env.vars.iter().map(|m| m.as_ref()).collect();
        if !plan.fits(&inputs) {
            return Err(Error::unspanned(Input::Values, "inputs do not match the dimension sizes".to_string()));
        }
        plan.execute(&inputs);
        Ok(plan.outputs())
    }

    /// Like `run`, returning owned results.
    pub fn run_owned(&mut self, inputs: &[MatRef<'_, f64>]) -> Result<Vec<Mat<f64>>> {
        Ok(self.run(inputs)?.into_iter().map(|m| m.to_owned()).collect())
    }

    /// Time each planned step over `reps` runs: (step, median milliseconds).
    pub fn profile(&mut self, inputs: &[MatRef<'_, f64>], reps: usize) -> Result<Vec<(String, f64)>> {
        self.run(inputs)?;
        Ok(self.plan.as_mut().unwrap().profile(inputs, reps))
    }

    /// The planned steps, one per line (for tests and curiosity).
    pub fn describe(&self) -> String {
        self.plan.as_ref().map(|p| p.describe()).unwrap_or_default()
    }
}

/// Read dimension sizes off the inputs, checking they agree with each other and the shapes.
fn dims_of(g: &Graph, inputs: &[MatRef<'_, f64>]) -> Result<Vec<usize>> {
    if inputs.len() != g.vars().len() {
        return Err(Error::unspanned(
            Input::Values,
            format!("expected {} inputs, got {}", g.vars().len(), inputs.len()),
        ));
    }
    let mut dims: Vec<Option<usize>> = g.dims().dims().iter().map(|d| d.size).collect();
    for (v, m) in g.vars().iter().zip(inputs) {
        for (d, k) in [(v.shape.rows, m.nrows()), (v.shape.cols, m.ncols())] {
            match d {
                None if k != 1 => {
                    return Err(Error::unspanned(
                        Input::Values,
                        format!(
                            "`{}` should be {}, got {}×{}",
                            v.name,
                            g.dims().describe(v.shape),
                            m.nrows(),
                            m.ncols()
                        ),
                    ))
                }
                None => {}
                Some(d) => match dims[d as usize] {
                    Some(k0) if k0 != k => {
                        return Err(Error::unspanned(
                            Input::Values,
                            format!("dimension {} is {k0} elsewhere but {k} in `{}`", g.dims().name(d), v.name),
                        ))
                    }
                    _ => dims[d as usize] = Some(k),
                },
            }
        }
    }
    let mut sizes: Vec<usize> = dims.into_iter().map(|d| d.unwrap_or(usize::MAX)).collect();
    if let Some((d, given, product)) = g.dims().fill_products(&mut sizes) {
        return Err(Error::unspanned(
            Input::Values,
            format!(
                "dimension {} is {given} in the inputs, but the product of its factors is {product}",
                g.dims().name(d)
            ),
        ));
    }
    Ok(sizes)
}
