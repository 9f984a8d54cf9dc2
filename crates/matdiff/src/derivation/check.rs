//! Numeric checks of a derivation: run the forward graph as a program, and compare every
//! node's adjoint with the central-difference derivative of the output w.r.t. that node's value.
//!
//! Perturbing a node's value (not only a variable's) is what makes a wrong intermediate step
//! visible even when the final answer happens to be right.

use super::Derivation;
use faer::Mat;
use matdiff_exec::{central_differences, eval, magnitudes, rel_diff, rounding_error, symmetrize_for_fd, Env};
use matdiff_exec::{eval_with_error, find_point, FdComparison};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The numeric check of one node's adjoint.
#[derive(Clone, Debug)]
pub struct AdjointCheck {
    /// Index into [`Derivation::nodes`].
    pub node: usize,
    /// Largest relative error between the adjoint and central differences, over the settings.
    pub max_err: f64,
}

/// The outcome of [`Derivation::check_adjoints`].
#[derive(Clone, Debug)]
pub struct AdjointReport {
    pub nodes: Vec<AdjointCheck>,
    /// Largest relative difference between the forward program's output and the expression's value.
    pub forward_err: f64,
    /// Largest relative difference between each gradient as the derivation expands it and as
    /// `Problem::gradients` computed it (zero when they are the same node).
    pub expanded_err: f64,
    /// Dimension settings tried.
    pub settings: usize,
}

impl Derivation {
    /// The value of every forward node at `env` (the problem's variables), running the
    /// definitions in order; `overridden` replaces one node's value, which its users then see.
    pub fn eval_nodes(&self, env: &Env, overridden: Option<(usize, &Mat<f64>)>) -> Vec<Mat<f64>> {
        let g = &self.graph;
        let mut full = Env { dims: env.dims.clone(), vars: env.vars.clone() };
        full.vars.resize(g.vars().len(), Mat::zeros(1, 1));
        let mut out = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            let value = match (overridden, n.def) {
                (Some((k, v)), _) if k == i => v.clone(),
                (_, Some(def)) => eval(g, &[def], &full).pop().unwrap(),
                (_, None) => eval(g, &[n.symbol], &full).pop().unwrap(),
            };
            if let matdiff_core::Op::Var(v) = g.op(n.symbol) {
                full.vars[*v as usize] = value.clone();
            }
            out.push(value);
        }
        out
    }

    /// Evaluate derivation expressions (over names and variables) given the nodes' values.
    fn eval_over(&self, env: &Env, values: &[Mat<f64>], roots: &[matdiff_core::NodeId]) -> Vec<Mat<f64>> {
        eval(&self.graph, roots, &self.env_over(env, values))
    }

    /// Rounding errors of derivation expressions over the nodes' values (as `eval_over`).
    fn errors_over(&self, env: &Env, values: &[Mat<f64>], roots: &[matdiff_core::NodeId]) -> Vec<f64> {
        magnitudes(&self.graph, roots, &self.env_over(env, values)).iter().map(rounding_error).collect()
    }

    /// The environment in which each named node is a variable holding its value.
    fn env_over(&self, env: &Env, values: &[Mat<f64>]) -> Env {
        let mut full = Env { dims: env.dims.clone(), vars: env.vars.clone() };
        full.vars.resize(self.graph.vars().len(), Mat::zeros(1, 1));
        for (n, v) in self.nodes.iter().zip(values) {
            if let matdiff_core::Op::Var(k) = self.graph.op(n.symbol) {
                full.vars[*k as usize] = v.clone();
            }
        }
        full
    }

    /// Check every adjoint in the backward pass at random inputs (`settings` dimension settings)
    /// against central differences of the output w.r.t. the node's value.
    pub fn check_adjoints(&self, seed: u64, settings: usize) -> AdjointReport {
        let mut report = AdjointReport { nodes: vec![], forward_err: 0.0, expanded_err: 0.0, settings: 0 };
        let Some(out) = self.output else {
            return report;
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let mut worst = vec![0.0f64; self.nodes.len()];
        for s in 0..settings {
            let (lo, hi) = if s == 0 { (2, 4) } else { (3, 6) };
            let root = self.problem_output;
            let found = find_point(&self.graph, root, &[root], &mut rng, (lo, hi), |env| {
                let values = self.eval_nodes(env, None);
                values.iter().all(finite).then_some(values)
            });
            let Some((env, values)) = found else {
                continue;
            };
            report.settings += 1;
            let (mut direct, direct_err) = eval_with_error(&self.graph, &[root], &env);
            let direct = direct.pop().unwrap();
            // The forward program computes the same value in the same operations.
            report.forward_err = report.forward_err.max(rel_diff(&direct, &values[out], 2.0 * direct_err[0]));
            for g in &self.gradients {
                let (both, errs) = eval_with_error(&self.graph, &[g.expanded, g.direct], &env);
                report.expanded_err = report.expanded_err.max(rel_diff(&both[0], &both[1], errs[0] + errs[1]));
            }
            let roots: Vec<_> = self.backward.iter().map(|st| st.adjoint).collect();
            let adjoints = self.eval_over(&env, &values, &roots);
            // The output's rounding error, as the expression computes it, stands for the
            // forward program's (the same operations).
            let f_error = direct_err[0];
            let adj_errors: Vec<f64> = self.errors_over(&env, &values, &roots);
            for ((st, adj), adj_error) in self.backward.iter().zip(&adjoints).zip(adj_errors) {
                let (fd, fd_error) = self.fd_node(&env, &values, st.node, out, f_error);
                let sym = self.symmetric(st.node, adj);
                let adj = if sym { symmetrize_for_fd(adj) } else { adj.clone() };
                let adj_error = if sym { 2.0 * adj_error } else { adj_error };
                let err = FdComparison::new(&fd, fd_error, &adj, adj_error).err;
                worst[st.node] = worst[st.node].max(err);
            }
        }
        report.nodes = self.backward.iter().map(|st| AdjointCheck { node: st.node, max_err: worst[st.node] }).collect();
        report
    }

    /// A node known to be symmetric is only ever perturbed symmetrically.
    fn symmetric(&self, k: usize, value: &Mat<f64>) -> bool {
        self.graph.node(self.nodes[k].value).symmetric && value.nrows() == value.ncols() && value.nrows() > 1
    }

    /// Central differences of the output w.r.t. node `k`'s value (symmetric perturbations for a
    /// symmetric node, so entry (i,j) measures the derivative along E_ij + E_ji), with their
    /// rounding error given the output's (`f_error`).
    fn fd_node(&self, env: &Env, values: &[Mat<f64>], k: usize, out: usize, f_error: f64) -> (Mat<f64>, f64) {
        let x0 = &values[k];
        let symmetric = self.symmetric(k, x0);
        central_differences(x0, symmetric, f_error, |x| self.eval_nodes(env, Some((k, x)))[out][(0, 0)])
    }
}

fn finite(m: &Mat<f64>) -> bool {
    (0..m.nrows()).all(|i| (0..m.ncols()).all(|j| m[(i, j)].is_finite()))
}
