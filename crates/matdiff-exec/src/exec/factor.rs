//! Factorizations held between steps, in storage allocated once with the plan: Cholesky (LU if
//! the matrix is not positive definite), and Woodbury for α·U·Uᵀ + β·I with U thin.
//!
//! Everything works in place through faer's low-level routines and a scratch stack sized at
//! planning time, so a steady-state run allocates nothing here. The one exception is rare: a
//! Woodbury factor refused at run time (its q×q matrix not positive definite) grows the d×d
//! storage of the dense fallback the first time it happens.

use super::run::{par_for, reduce2, trace};
use faer::dyn_stack::{MemStack, StackReq};
use faer::linalg::cholesky::llt;
use faer::linalg::lu::partial_pivoting as lu;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::mat::AsMatMut;
use faer::perm::PermRef;
use faer::reborrow::{IntoConst, Reborrow, ReborrowMut};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Not computed yet.
    None,
    Llt,
    Lu,
    LowRank,
}

/// A factorization of one matrix, in reusable storage.
pub struct Factor {
    kind: Kind,
    /// n×n, in place: the Cholesky factor (lower triangle), or the LU factors (unit lower part
    /// below the diagonal, upper part on and above it).
    a: Mat<f64>,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// det P = ±1 from the number of row swaps.
    perm_sign: f64,
    low: Option<LowRank>,
}

/// α·U·Uᵀ + β·I through its q×q capacitance matrix M = βI + α·UᵀU.
struct LowRank {
    u: Mat<f64>,
    alpha: f64,
    beta: f64,
    /// M's Cholesky factor in place (lower triangle); an LU of M when the fallback needs it.
    m: Mat<f64>,
    m_perm: Vec<usize>,
    m_perm_inv: Vec<usize>,
    /// M⁻¹ (q×q: applying it is a small product, cheaper than two solves on a wide right side).
    minv: Mat<f64>,
    /// U·M⁻¹ = A⁻¹·U, the left factor of every Woodbury correction.
    um: Mat<f64>,
}

impl Factor {
    /// Storage for an n×n matrix.
    pub fn dense(n: usize) -> Factor {
        Factor {
            kind: Kind::None,
            a: Mat::zeros(n, n),
            perm: vec![0; n],
            perm_inv: vec![0; n],
            perm_sign: 1.0,
            low: None,
        }
    }

    /// Storage for α·U·Uᵀ + β·I with U d×q (the d×d fallback is grown only if needed).
    pub fn low_rank(d: usize, q: usize) -> Factor {
        let low = LowRank {
            u: Mat::zeros(d, q),
            alpha: 0.0,
            beta: 0.0,
            m: Mat::zeros(q, q),
            m_perm: vec![0; q],
            m_perm_inv: vec![0; q],
            minv: Mat::zeros(q, q),
            um: Mat::zeros(d, q),
        };
        Factor { kind: Kind::None, a: Mat::new(), perm: vec![], perm_inv: vec![], perm_sign: 1.0, low: Some(low) }
    }

    /// Scratch for factorizing an n×n matrix, inverting it, and solving with k right-hand sides.
    pub fn scratch(n: usize, k: usize) -> StackReq {
        // (The requirements do not depend on the thread count; `Par::rayon` would start the pool.)
        let par = Par::Seq;
        StackReq::any_of(&[
            llt::factor::cholesky_in_place_scratch::<f64>(n, par, Default::default()),
            lu::factor::lu_in_place_scratch::<usize, f64>(n, n, par, Default::default()),
            llt::inverse::inverse_scratch::<f64>(n, par),
            lu::inverse::inverse_scratch::<usize, f64>(n, par),
            lu::solve::solve_in_place_scratch::<usize, f64>(n, k, par).and(faer::linalg::temp_mat_scratch::<f64>(n, k)),
        ])
    }

    /// Factorize `a`: Cholesky when symmetric (LU if that fails), else LU.
    pub fn factorize(&mut self, a: MatRef<'_, f64>, sym: bool, stack: &mut MemStack) {
        let n = a.nrows();
        if self.a.nrows() != n {
            // Only the dense fallback of a refused Woodbury factor lands here.
            *self = Factor { low: self.low.take(), ..Factor::dense(n) };
        }
        let par = par_for(n * n * n / 3);
        if sym {
            self.a.copy_from(a);
            if llt::factor::cholesky_in_place(self.a.as_mut(), Default::default(), par, stack, Default::default())
                .is_ok()
            {
                // The upper triangle still holds A; the inverse routine reads the whole factor.
                zero_upper(self.a.as_mut());
                self.kind = Kind::Llt;
                return;
            }
        }
        self.a.copy_from(a);
        let (info, _) = lu::factor::lu_in_place(
            self.a.as_mut(),
            &mut self.perm,
            &mut self.perm_inv,
            par,
            stack,
            Default::default(),
        );
        self.perm_sign = if info.transposition_count % 2 == 0 { 1.0 } else { -1.0 };
        self.kind = Kind::Lu;
    }

    /// Woodbury factor of α·U·Uᵀ + β·I; falls back to forming the d×d matrix when M is not
    /// positive definite (β ≤ 0, or α < 0 with a large U).
    pub fn factorize_low_rank(&mut self, u: MatRef<'_, f64>, alpha: f64, beta: f64, stack: &mut MemStack) {
        let (d, q) = (u.nrows(), u.ncols());
        let low = self.low.as_mut().expect("low-rank storage");
        low.u.copy_from(u);
        (low.alpha, low.beta) = (alpha, beta);
        form_capacitance(low);
        if beta > 0.0
            && llt::factor::cholesky_in_place(low.m.as_mut(), Default::default(), Par::Seq, stack, Default::default())
                .is_ok()
        {
            low.minv.fill(0.0);
            for i in 0..q {
                low.minv[(i, i)] = 1.0;
            }
            llt_solve(low.m.as_ref(), low.minv.as_mut());
            matmul(low.um.as_mut(), Accum::Replace, u, low.minv.as_ref(), 1.0, par_for(d * q * q));
            self.kind = Kind::LowRank;
            return;
        }
        let mut a = Mat::<f64>::zeros(d, d);
        matmul(a.as_mut(), Accum::Replace, u, u.transpose(), alpha, par_for(d * d * q));
        for i in 0..d {
            a[(i, i)] += beta;
        }
        self.factorize(a.as_ref(), true, stack);
    }

    fn perm(&self) -> PermRef<'_, usize> {
        PermRef::new_checked(&self.perm, &self.perm_inv, self.perm.len())
    }

    /// rhs ← op(A)⁻¹·rhs, op = transpose when `t`.
    pub fn solve_in_place(&self, t: bool, rhs: MatMut<'_, f64>, stack: &mut MemStack) {
        let par = par_for(self.a.nrows() * self.a.nrows() * rhs.ncols());
        match self.kind {
            // A Cholesky factor is of a symmetric matrix: the transpose is the same solve.
            Kind::Llt => llt_solve(self.a.as_ref(), rhs),
            Kind::Lu if t => {
                let a = self.a.as_ref();
                lu::solve::solve_transpose_in_place_with_conj(a, a, self.perm(), Conj::No, rhs, par, stack)
            }
            Kind::Lu => {
                let a = self.a.as_ref();
                lu::solve::solve_in_place_with_conj(a, a, self.perm(), Conj::No, rhs, par, stack)
            }
            Kind::LowRank => self.low_rank_solve(rhs, stack),
            Kind::None => nan(rhs),
        }
    }

    /// (α·U·Uᵀ + β·I)⁻¹·B = (B − α·(U·M⁻¹)·(Uᵀ·B))/β, in place.
    fn low_rank_solve(&self, mut b: MatMut<'_, f64>, stack: &mut MemStack) {
        let low = self.low.as_ref().unwrap();
        let (d, q, k) = (low.u.nrows(), low.u.ncols(), b.ncols());
        let (mut t, _) = faer::linalg::temp_mat_zeroed::<f64, _, _>(q, k, stack);
        let mut t = t.as_mat_mut();
        matmul(t.rb_mut(), Accum::Replace, low.u.transpose(), b.rb(), 1.0, par_for(d * q * k));
        matmul(b.rb_mut(), Accum::Add, low.um.as_ref(), t.rb(), -low.alpha, par_for(d * q * k));
        let beta = low.beta;
        for j in 0..k {
            for i in 0..d {
                b[(i, j)] /= beta;
            }
        }
    }

    /// out ← A⁻¹.
    pub fn inverse_into(&self, mut out: MatMut<'_, f64>, stack: &mut MemStack) {
        let par = par_for(self.a.nrows().pow(3));
        match self.kind {
            Kind::Llt => {
                // faer writes the lower triangle of the (symmetric) inverse only.
                llt::inverse::inverse(out.rb_mut(), self.a.as_ref(), par, stack);
                for j in 1..out.ncols() {
                    for i in 0..j {
                        out[(i, j)] = out[(j, i)];
                    }
                }
            }
            Kind::Lu => {
                let a = self.a.as_ref();
                lu::inverse::inverse(out, a, a, self.perm(), par, stack)
            }
            Kind::LowRank => {
                out.fill(0.0);
                for i in 0..out.nrows() {
                    out[(i, i)] = 1.0;
                }
                self.low_rank_solve(out, stack)
            }
            Kind::None => nan(out),
        }
    }

    /// tr(A⁻¹·B); `bu` = B·U when planned (Woodbury: (tr B − α·⟨U·M⁻¹, B·U⟩)/β).
    pub fn trace_solve(&self, b: MatRef<'_, f64>, bu: Option<MatRef<'_, f64>>, stack: &mut MemStack) -> f64 {
        if self.kind != Kind::LowRank {
            let (n, k) = (b.nrows(), b.ncols());
            let (mut x, stack) = faer::linalg::temp_mat_zeroed::<f64, _, _>(n, k, stack);
            let mut x = x.as_mat_mut();
            x.copy_from(b);
            self.solve_in_place(false, x.rb_mut(), stack);
            return trace(x.rb());
        }
        let low = self.low.as_ref().unwrap();
        let (d, q) = (low.u.nrows(), low.u.ncols());
        // B·U as planned, or formed here (a d×q temporary on the workspace).
        let (mut tmp, _) = faer::linalg::temp_mat_zeroed::<f64, _, _>(if bu.is_some() { 0 } else { d }, q, stack);
        let bu = bu.unwrap_or_else(|| {
            let mut tmp = tmp.as_mat_mut();
            matmul(tmp.rb_mut(), Accum::Replace, b, low.u.as_ref(), 1.0, par_for(d * d * q));
            tmp.into_const()
        });
        (trace(b) - low.alpha * reduce2(low.um.as_ref(), bu)) / low.beta
    }

    /// out ← M⁻¹·rhs, or rhs·M⁻¹ when `right`, for the capacitance matrix M = βI + α·UᵀU
    /// (A·U = U·M, so A⁻¹·U = U·M⁻¹). When the Woodbury factor was refused, M (still invertible
    /// whenever A is) is factorized here by LU.
    pub fn cap_solve(&mut self, rhs: MatRef<'_, f64>, right: bool, mut out: MatMut<'_, f64>, stack: &mut MemStack) {
        let kind = self.kind;
        let low = self.low.as_mut().expect("low-rank storage");
        let q = low.m.nrows();
        if kind == Kind::LowRank {
            let par = par_for(q * q * rhs.nrows().max(rhs.ncols()));
            if right {
                matmul(out, Accum::Replace, rhs, low.minv.as_ref(), 1.0, par)
            } else {
                matmul(out, Accum::Replace, low.minv.as_ref(), rhs, 1.0, par)
            }
            return;
        }
        form_capacitance(low);
        lu::factor::lu_in_place(
            low.m.as_mut(),
            &mut low.m_perm,
            &mut low.m_perm_inv,
            Par::Seq,
            stack,
            Default::default(),
        );
        out.copy_from(rhs);
        let m = low.m.as_ref();
        let perm = PermRef::new_checked(&low.m_perm, &low.m_perm_inv, q);
        if right {
            // X·M = R  ⇔  Mᵀ·Xᵀ = Rᵀ.
            lu::solve::solve_transpose_in_place_with_conj(m, m, perm, Conj::No, out.transpose_mut(), Par::Seq, stack);
        } else {
            lu::solve::solve_in_place_with_conj(m, m, perm, Conj::No, out, Par::Seq, stack);
        }
    }

    pub fn logdet(&self) -> f64 {
        let diag_log_sum = |a: &Mat<f64>| (0..a.nrows()).map(|i| a[(i, i)].abs().ln()).sum::<f64>();
        match self.kind {
            // det(βI + αUUᵀ) = β^(d−q) · det(βI + αUᵀU)
            Kind::LowRank => {
                let low = self.low.as_ref().unwrap();
                (low.u.nrows() - low.u.ncols()) as f64 * low.beta.ln() + 2.0 * diag_log_sum(&low.m)
            }
            Kind::Llt => 2.0 * diag_log_sum(&self.a),
            Kind::Lu if self.det() > 0.0 => diag_log_sum(&self.a),
            _ => f64::NAN,
        }
    }

    pub fn det(&self) -> f64 {
        let diag_product = |a: &Mat<f64>| (0..a.nrows()).map(|i| a[(i, i)]).product::<f64>();
        match self.kind {
            Kind::LowRank => self.logdet().exp(),
            Kind::Llt => diag_product(&self.a).powi(2),
            Kind::Lu => self.perm_sign * diag_product(&self.a),
            Kind::None => f64::NAN,
        }
    }
}

/// M = βI + α·UᵀU into `low.m`.
fn form_capacitance(low: &mut LowRank) {
    let (d, q) = (low.u.nrows(), low.u.ncols());
    matmul(low.m.as_mut(), Accum::Replace, low.u.transpose(), low.u.as_ref(), low.alpha, par_for(d * q * q));
    for i in 0..q {
        low.m[(i, i)] += low.beta;
    }
}

fn zero_upper(mut a: MatMut<'_, f64>) {
    for j in 1..a.ncols() {
        for i in 0..j.min(a.nrows()) {
            a[(i, j)] = 0.0;
        }
    }
}

fn nan(mut m: MatMut<'_, f64>) {
    m.fill(f64::NAN)
}

/// Solve L·Lᵀ·X = B in place (L in the lower triangle of `l`) by two triangular solves,
/// threaded only when large.
pub fn llt_solve(l: MatRef<'_, f64>, mut b: MatMut<'_, f64>) {
    let par = par_for(l.nrows() * l.nrows() * b.ncols());
    solve_lower_triangular_in_place(l, b.rb_mut(), par);
    solve_upper_triangular_in_place(l.transpose(), b, par);
}
