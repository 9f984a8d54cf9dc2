//! The runner: executes a plan's steps with faer kernels over its preallocated buffers.

use super::factor::Factor;
use super::fuse::run_fused;
use super::plan::{Coef, Opnd, Plan, Src, Step};
use faer::dyn_stack::{MemStack, StackReq};
use faer::linalg::matmul::matmul;
use faer::mat::AsMatMut;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use matdiff_core::Func;

/// Products smaller than this many multiply-adds run on one thread.
const PARALLEL_FLOPS: usize = 1 << 22;

pub(super) fn par_for(flops: usize) -> Par {
    if flops < PARALLEL_FLOPS {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

impl Plan {
    /// Whether `inputs` have the shapes this plan was made for.
    pub fn fits(&self, inputs: &[MatRef<'_, f64>]) -> bool {
        self.input_shapes.len() == inputs.len()
            && self.input_shapes.iter().zip(inputs).all(|(&s, m)| s == (m.nrows(), m.ncols()))
    }

    /// The output buffers, in root order.
    pub fn outputs(&self) -> Vec<MatRef<'_, f64>> {
        self.outputs.iter().map(|&s| self.slots[s].as_ref()).collect()
    }

    pub fn execute(&mut self, inputs: &[MatRef<'_, f64>]) {
        self.with_helper(|plan| {
            for i in 0..plan.steps.len() {
                matdiff_syntax::budget::tick();
                plan.execute_step(i, inputs);
            }
        })
    }

    /// Run `body` with the plan's helper thread (if any) spinning and registered for `halves`.
    fn with_helper(&mut self, body: impl FnOnce(&mut Plan)) {
        let duo = self.duo.take();
        match &duo {
            Some(d) => d.with(|| body(self)),
            None => body(self),
        }
        self.duo = duo;
    }

    /// Time each step (milliseconds, the median of `reps` whole runs), for profiling plans.
    pub fn profile(&mut self, inputs: &[MatRef<'_, f64>], reps: usize) -> Vec<(String, f64)> {
        let mut times = vec![vec![]; self.steps.len()];
        self.with_helper(|plan| {
            for _ in 0..reps.max(1) {
                for (i, t) in times.iter_mut().enumerate() {
                    let start = std::time::Instant::now();
                    plan.execute_step(i, inputs);
                    t.push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        });
        times
            .into_iter()
            .enumerate()
            .map(|(i, mut t)| {
                t.sort_by(f64::total_cmp);
                (format!("{:?}", self.steps[i]), t[t.len() / 2])
            })
            .collect()
    }

    fn execute_step(&mut self, i: usize, inputs: &[MatRef<'_, f64>]) {
        let dst = dst_of(&self.steps[i]);
        // Take the destination out so the sources can be borrowed alongside it.
        let mut out = dst.map(|d| std::mem::replace(&mut self.slots[d], Mat::new()));
        {
            let ctx = Ctx { slots: &self.slots, inputs };
            let stack = MemStack::new(&mut self.scratch);
            match (&self.steps[i], out.as_mut()) {
                (Step::Factor { f, a, sym }, None) => self.factors[*f].factorize(ctx.get(*a), *sym, stack),
                (Step::FactorLowRank { f, u, alpha, beta }, None) => {
                    let (alpha, beta) = (ctx.coef(alpha), ctx.coef(beta));
                    self.factors[*f].factorize_low_rank(ctx.get(*u), alpha, beta, stack)
                }
                (step, Some(out)) => run_step(step, &ctx, &mut self.factors, stack, out.as_mut()),
                _ => unreachable!("step without destination"),
            }
        }
        if let (Some(d), Some(m)) = (dst, out) {
            self.slots[d] = m;
        }
    }
}

pub(super) struct Ctx<'a, 'b> {
    slots: &'a [Mat<f64>],
    inputs: &'a [MatRef<'b, f64>],
}

impl<'a> Ctx<'a, '_> {
    /// The operand's value, borrowed for `'a` (as long as the slots and inputs are: through the
    /// `&'a` references themselves, not through `&self`).
    pub(super) fn get(&self, o: Opnd) -> MatRef<'a, f64> {
        let (slots, inputs): (&'a [Mat<f64>], &'a [MatRef<'_, f64>]) = (self.slots, self.inputs);
        let m: MatRef<'a, f64> = match o.src {
            Src::Input(i) => inputs[i],
            Src::Slot(s) => slots[s].as_ref(),
        };
        if o.t {
            m.transpose()
        } else {
            m
        }
    }
    fn scalar(&self, o: Opnd) -> f64 {
        self.get(o)[(0, 0)]
    }
    pub(super) fn coef(&self, (c, scalars): &Coef) -> f64 {
        scalars.iter().fold(*c, |k, &s| k * self.scalar(s))
    }
}

fn dst_of(step: &Step) -> Option<usize> {
    use Step::*;
    match step {
        Factor { .. } | FactorLowRank { .. } => None,
        Fill { dst, .. }
        | Ident { dst }
        | Lin { dst, .. }
        | ScaleBy { dst, .. }
        | SymGemm { dst, .. }
        | ScaledSymGemm { dst, .. }
        | Scale { dst, .. }
        | Had { dst, .. }
        | Pow { dst, .. }
        | Map { dst, .. }
        | Gemm { dst, .. }
        | Sum { dst, .. }
        | SqNorm { dst, .. }
        | Norm1 { dst, .. }
        | Norm2 { dst, .. }
        | Dot { dst, .. }
        | Trace { dst, .. }
        | LogDet { dst, .. }
        | Det { dst, .. }
        | Inverse { dst, .. }
        | Solve { dst, .. }
        | TraceSolve { dst, .. }
        | CapSolve { dst, .. }
        | Diag { dst, .. }
        | DiagPart { dst, .. }
        | Copy { dst, .. }
        | Kron { dst, .. }
        | Reshape { dst, .. }
        | Commutation { dst, .. }
        | Softmax { dst, .. }
        | Fused { dst, .. } => Some(*dst),
    }
}

/// A contiguous column, when the view has unit row stride.
pub(super) fn col(m: MatRef<'_, f64>, j: usize) -> Option<&[f64]> {
    m.col(j).try_as_col_major().map(|c| c.as_slice())
}

/// Transcendental maps and fused passes over arrays at least this large use two threads (split by
/// columns; measured on the P3 benchmark, 2^18 was slower).
pub(super) const PARALLEL_ENTRIES: usize = 1 << 15;
/// Cheap (memory-bound) maps need far larger arrays before a second thread pays for its start.
const PARALLEL_ENTRIES_CHEAP: usize = 1 << 18;

/// out[i,j] = f(a[i,j]) with a fast path over contiguous columns, split across threads when large.
fn map1(out: MatMut<'_, f64>, a: MatRef<'_, f64>, f: impl Fn(f64) -> f64 + Sync) {
    map2_ref(out, a, a, &|x, _| f(x), PARALLEL_ENTRIES_CHEAP)
}

/// `map1` for expensive functions: worth a second thread on large arrays.
fn map1_heavy(out: MatMut<'_, f64>, a: MatRef<'_, f64>, f: impl Fn(f64) -> f64 + Sync) {
    map2_ref(out, a, a, &|x, _| f(x), PARALLEL_ENTRIES)
}

fn map2(out: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, f: impl Fn(f64, f64) -> f64 + Sync) {
    map2_ref(out, a, b, &f, PARALLEL_ENTRIES_CHEAP)
}

/// out (+)= α·a·b. A large product with both output sides wide is split in two halves along
/// the longer side, each multiplied on one core by faer's sequential kernel: measured here,
/// 15–20% faster than faer's own threading for the 2-core benchmark shapes (1.32 against
/// 1.57 ms for 512×784×256). Thin outputs keep faer's threading, which splits them better.
///
/// The choice follows the problem size and the threads actually available: one thread (or a
/// small product) runs sequentially; exactly two (this project's machines) split in halves; more
/// go to faer's own partitioning, which uses them all (two halves would leave the rest idle).
fn gemm(out: MatMut<'_, f64>, accum: Accum, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    let (m, n) = (out.nrows(), out.ncols());
    let flops = m * a.ncols() * n;
    let threads = rayon::current_num_threads();
    if flops < PARALLEL_FLOPS || threads < 2 {
        return matmul(out, accum, a, b, alpha, Par::Seq);
    }
    if m.min(n) < 64 || threads > 2 {
        return matmul(out, accum, a, b, alpha, Par::rayon(threads));
    }
    if n >= m {
        let (o1, o2) = out.split_at_col_mut(n / 2);
        let (b1, b2) = b.split_at_col(n / 2);
        halves(|| matmul(o1, accum, a, b1, alpha, Par::Seq), || matmul(o2, accum, a, b2, alpha, Par::Seq));
    } else {
        let (o1, o2) = out.split_at_row_mut(m / 2);
        let (a1, a2) = a.split_at_row(m / 2);
        halves(|| matmul(o1, accum, a1, b, alpha, Par::Seq), || matmul(o2, accum, a2, b, alpha, Par::Seq));
    }
}

/// Run two halves of a step at once: on the plan's spinning helper thread (see `duo`), or on
/// rayon's pool outside a plan.
fn halves(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    if let Err((a, b)) = super::duo::run_pair(a, b) {
        rayon::join(a, b);
    }
}

fn map2_ref<F: Fn(f64, f64) -> f64 + Sync>(
    out: MatMut<'_, f64>,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    f: &F,
    split: usize,
) {
    in_column_halves(out, split, |mut out, c0| {
        let (r, c) = (out.nrows(), out.ncols());
        let (a, b) = (a.subcols(c0, c), b.subcols(c0, c));
        for j in 0..c {
            let oc = out.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut());
            match (oc, col(a, j), col(b, j)) {
                (Some(o), Some(x), Some(y)) => super::simd::zip_map(o, x, y, f),
                _ => (0..r).for_each(|i| out[(i, j)] = f(a[(i, j)], b[(i, j)])),
            }
        }
    })
}

/// `fill(part, first column)` over `out`: two column halves at once when `out` has at least
/// `split` entries, else the whole in one go.
fn in_column_halves(out: MatMut<'_, f64>, split: usize, fill: impl Fn(MatMut<'_, f64>, usize) + Sync) {
    let c = out.ncols();
    if out.nrows() * c >= split && c >= 2 {
        let (o1, o2) = out.split_at_col_mut(c / 2);
        halves(|| fill(o1, 0), || fill(o2, c / 2));
    } else {
        fill(out, 0)
    }
}

/// Σ a[i,i].
pub(super) fn trace(a: MatRef<'_, f64>) -> f64 {
    (0..a.nrows().min(a.ncols())).map(|i| a[(i, i)]).sum()
}

/// Σ f(a[i,j]) over all entries.
fn reduce1(a: MatRef<'_, f64>, f: impl Fn(f64) -> f64 + Sync) -> f64 {
    reduce2_by(a, a, |x, _| f(x))
}

/// Σ a[i,j]·b[i,j].
pub(super) fn reduce2(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    reduce2_by(a, b, |x, y| x * y)
}

fn reduce2_by<F: Fn(f64, f64) -> f64 + Sync>(a: MatRef<'_, f64>, b: MatRef<'_, f64>, f: F) -> f64 {
    let c = a.ncols();
    if a.nrows() * c >= PARALLEL_ENTRIES_CHEAP && c >= 2 {
        // Memory-bound: two halves by columns on two cores (a fixed split, so a fixed order).
        let ((a1, a2), (b1, b2)) = (a.split_at_col(c / 2), b.split_at_col(c / 2));
        let (mut s1, mut s2) = (0.0, 0.0);
        halves(|| s1 = reduce_cols(a1, b1, &f), || s2 = reduce_cols(a2, b2, &f));
        return s1 + s2;
    }
    reduce_cols(a, b, &f)
}

fn reduce_cols(a: MatRef<'_, f64>, b: MatRef<'_, f64>, f: &impl Fn(f64, f64) -> f64) -> f64 {
    (0..a.ncols())
        .map(|j| match (col(a, j), col(b, j)) {
            (Some(x), Some(y)) => super::simd::lane_sum(x, y, f),
            _ => (0..a.nrows()).map(|i| f(a[(i, j)], b[(i, j)])).sum(),
        })
        .sum()
}

/// Accumulate out += c·a in place, columnwise: one mutable view of `out`, never a shared one
/// beside it (the same arithmetic, `o + c·x`, as a map over out's values would do, so the same
/// bits at every vector level), split across threads when large.
fn axpy(out: MatMut<'_, f64>, c: f64, a: MatRef<'_, f64>) {
    in_column_halves(out, PARALLEL_ENTRIES_CHEAP, |mut out, c0| {
        let (r, cols) = (out.nrows(), out.ncols());
        let a = a.subcols(c0, cols);
        for j in 0..cols {
            let oc = out.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut());
            match (oc, col(a, j)) {
                (Some(o), Some(x)) => super::simd::axpy(o, c, x),
                _ => (0..r).for_each(|i| out[(i, j)] += c * a[(i, j)]),
            }
        }
    })
}

/// Entry i of a vector, stored as a column or (transposed) as a row.
fn entry(v: MatRef<'_, f64>, i: usize) -> f64 {
    if v.ncols() == 1 {
        v[(i, 0)]
    } else {
        v[(0, i)]
    }
}

/// Side of the square tiles of `lin_tiled` and `mirror_lower`: a tile of every operand and of
/// the output fits in L1 together.
const TILE: usize = 32;

/// out = Σ cₖ·xₖ over `n` terms (`term(k)` = (cₖ, xₖ)), some of them transposed views: tile by
/// tile, a transposed operand's tile copied through a small buffer so that every access runs
/// along columns. `A + A'` (the Hessian of x'Ax) is one pass instead of a pass per term with
/// strided reads. The first term sets the tile and the rest are added in order, the same
/// arithmetic as `map1` followed by `axpy`.
fn lin_tiled<'a>(out: MatMut<'_, f64>, n: usize, term: &(dyn Fn(usize) -> (f64, MatRef<'a, f64>) + Sync)) {
    in_column_halves(out, PARALLEL_ENTRIES_CHEAP, |mut out, c0| {
        let (rows, cols) = (out.nrows(), out.ncols());
        let mut buf = [0.0f64; TILE * TILE];
        for j0 in (0..cols).step_by(TILE) {
            let w = TILE.min(cols - j0);
            for i0 in (0..rows).step_by(TILE) {
                let h = TILE.min(rows - i0);
                for k in 0..n {
                    let (c, x) = term(k);
                    let x = x.submatrix(i0, c0 + j0, h, w);
                    if x.row_stride() == 1 {
                        for jj in 0..w {
                            let b = &mut buf[jj * TILE..jj * TILE + h];
                            match col(x, jj) {
                                Some(xc) if k == 0 => b.iter_mut().zip(xc).for_each(|(b, &v)| *b = c * v),
                                Some(xc) => b.iter_mut().zip(xc).for_each(|(b, &v)| *b += c * v),
                                None => b.iter_mut().enumerate().for_each(|(ii, b)| {
                                    *b = if k == 0 { c * x[(ii, jj)] } else { *b + c * x[(ii, jj)] }
                                }),
                            }
                        }
                    } else {
                        // x = yᵀ: row ii of x is column ii of y, contiguous when y is.
                        let y = x.transpose();
                        for ii in 0..h {
                            let b = buf[ii..].iter_mut().step_by(TILE).take(w);
                            match col(y, ii) {
                                Some(yc) if k == 0 => b.zip(yc).for_each(|(b, &v)| *b = c * v),
                                Some(yc) => b.zip(yc).for_each(|(b, &v)| *b += c * v),
                                None => b.enumerate().for_each(|(jj, b)| {
                                    *b = if k == 0 { c * y[(jj, ii)] } else { *b + c * y[(jj, ii)] }
                                }),
                            }
                        }
                    }
                }
                for jj in 0..w {
                    let src = &buf[jj * TILE..jj * TILE + h];
                    let mut oc = out.rb_mut().col_mut(j0 + jj).subrows_mut(i0, h);
                    match oc.rb_mut().try_as_col_major_mut() {
                        Some(o) => o.as_slice_mut().copy_from_slice(src),
                        None => src.iter().enumerate().for_each(|(ii, &v)| oc[ii] = v),
                    }
                }
            }
        }
    })
}

/// out = diag(v)·x, or x·diag(v) when `cols`: one pass over x.
fn scale_by(out: MatMut<'_, f64>, v: MatRef<'_, f64>, x: MatRef<'_, f64>, cols: bool) {
    // `v` as a column, whichever way it is stored.
    let v = if v.ncols() == 1 { v } else { v.transpose() };
    in_column_halves(out, PARALLEL_ENTRIES_CHEAP, |mut out, c0| {
        let x = x.subcols(c0, out.ncols());
        if !cols {
            return scale_rows(out, v, x);
        }
        for j in 0..out.ncols() {
            let s = v[(c0 + j, 0)];
            let oc = out.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut());
            match (oc, col(x, j)) {
                (Some(o), Some(xc)) => o.iter_mut().zip(xc).for_each(|(o, &x)| *o = s * x),
                _ => (0..out.nrows()).for_each(|i| out[(i, j)] = s * x[(i, j)]),
            }
        }
    })
}

/// out = diag(v)·x for a column `v`, on this thread: the kernel of `scale_by` and of each
/// block of `scaled_sym_gemm`.
fn scale_rows(mut out: MatMut<'_, f64>, v: MatRef<'_, f64>, x: MatRef<'_, f64>) {
    let vc = col(v, 0);
    for j in 0..out.ncols() {
        let oc = out.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut());
        match (oc, vc, col(x, j)) {
            (Some(o), Some(w), Some(xc)) => super::simd::zip_map(o, w, xc, &|s, x| s * x),
            _ => (0..out.nrows()).for_each(|i| out[(i, j)] = v[(i, 0)] * x[(i, j)]),
        }
    }
}

/// out = a·b for a product known to be symmetric: the lower triangle (faer's triangular
/// kernel, half the multiply-adds of a full product), then mirrored. On two threads the
/// triangle is split in the half-size rectangle below the diagonal on one core and the two
/// half-size triangles on the other, which is the same work.
fn sym_gemm(mut out: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    use faer::linalg::matmul::triangular::{matmul as tri, BlockStructure};
    let (n, k) = (out.nrows(), a.ncols());
    let lower = |o: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>| {
        let rect = BlockStructure::Rectangular;
        tri(o, BlockStructure::TriangularLower, Accum::Replace, a, rect, b, rect, 1.0, Par::Seq)
    };
    if n * n * k / 2 < PARALLEL_FLOPS || rayon::current_num_threads() < 2 || n < 64 {
        lower(out.rb_mut(), a, b);
    } else if rayon::current_num_threads() > 2 {
        let rect = BlockStructure::Rectangular;
        let par = Par::rayon(rayon::current_num_threads());
        tri(out.rb_mut(), BlockStructure::TriangularLower, Accum::Replace, a, rect, b, rect, 1.0, par);
    } else {
        let h = n / 2;
        let (o11, _, o21, o22) = out.rb_mut().split_at_mut(h, h);
        let (a1, a2) = a.split_at_row(h);
        let (b1, b2) = b.split_at_col(h);
        halves(
            || matmul(o21, Accum::Replace, a2, b1, 1.0, Par::Seq),
            || {
                lower(o11, a1, b1);
                lower(o22, a2, b2);
            },
        );
    }
    mirror_lower(out);
}

/// Rows of R scaled and multiplied per block by `scaled_sym_gemm`: the scaled block (256×d)
/// stays in cache for its product, and each product has enough rows (inner dimension) that
/// reading and writing the d×d triangle costs little beside its multiply-adds.
const SCALED_BLOCK: usize = 256;

/// Whether `scaled_sym_gemm` splits the rows of an n×d R between two threads.
fn scaled_sym_split(n: usize, d: usize) -> bool {
    d * d * n / 2 >= PARALLEL_FLOPS && rayon::current_num_threads() >= 2 && n >= 2 * SCALED_BLOCK && d >= 64
}

/// Workspace of `scaled_sym_gemm` for d columns: a scaled block per thread and the second
/// thread's d×d triangle (at most, whatever the split decides at run time).
pub(super) fn scaled_sym_gemm_scratch(d: usize) -> StackReq {
    let block = faer::linalg::temp_mat_scratch::<f64>(SCALED_BLOCK, d);
    StackReq::all_of(&[block, block, faer::linalg::temp_mat_scratch::<f64>(d, d)])
}

/// out = Rᵀ·diag(v)·R, R n×d: each block of rows scaled into `buf` while it is in cache and its
/// product added into the lower triangle (faer's triangular kernel), so the scaled n×d matrix
/// is never written out (the H3 Hessian spent a tenth of its time in that separate pass). On
/// two threads each takes half the rows into its own triangle (the same work each), summed.
fn scaled_sym_gemm(mut out: MatMut<'_, f64>, r: MatRef<'_, f64>, v: MatRef<'_, f64>, stack: &mut MemStack) {
    let (n, d) = (r.nrows(), r.ncols());
    if n == 0 {
        out.fill(0.0);
        return;
    }
    let v = if v.ncols() == 1 { v } else { v.transpose() };
    let split = scaled_sym_split(n, d);
    let (mut b1, stack) = faer::linalg::temp_mat_zeroed::<f64, _, _>(SCALED_BLOCK.min(n), d, stack);
    let (mut b2, stack) = faer::linalg::temp_mat_zeroed::<f64, _, _>(if split { SCALED_BLOCK } else { 0 }, d, stack);
    if !split {
        lower_scaled(out.rb_mut(), r, v, b1.as_mat_mut());
    } else {
        let (mut t, _) = faer::linalg::temp_mat_zeroed::<f64, _, _>(d, d, stack);
        let mut t = t.as_mat_mut();
        let h = n / 2;
        let ((r1, r2), (v1, v2)) = (r.split_at_row(h), v.split_at_row(h));
        let (b1, b2) = (b1.as_mat_mut(), b2.as_mat_mut());
        halves(|| lower_scaled(out.rb_mut(), r1, v1, b1), || lower_scaled(t.rb_mut(), r2, v2, b2));
        for j in 0..d {
            let mut oc = out.rb_mut().col_mut(j).subrows_mut(j, d - j);
            let tc = t.rb().col(j).subrows(j, d - j);
            match (oc.rb_mut().try_as_col_major_mut(), tc.try_as_col_major()) {
                (Some(o), Some(x)) => super::simd::axpy(o.as_slice_mut(), 1.0, x.as_slice()),
                _ => (0..d - j).for_each(|i| oc[i] += tc[i]),
            }
        }
    }
    mirror_lower(out);
}

/// The lower triangle of Rᵀ·diag(v)·R into `out`, R's rows in blocks of `buf`'s rows.
fn lower_scaled(mut out: MatMut<'_, f64>, r: MatRef<'_, f64>, v: MatRef<'_, f64>, mut buf: MatMut<'_, f64>) {
    use faer::linalg::matmul::triangular::{matmul as tri, BlockStructure};
    let n = r.nrows();
    let rect = BlockStructure::Rectangular;
    for i0 in (0..n).step_by(buf.nrows().max(1)) {
        let h = buf.nrows().min(n - i0);
        let rb = r.subrows(i0, h);
        let mut s = buf.rb_mut().subrows_mut(0, h);
        scale_rows(s.rb_mut(), v.subrows(i0, h), rb);
        let accum = if i0 == 0 { Accum::Replace } else { Accum::Add };
        tri(out.rb_mut(), BlockStructure::TriangularLower, accum, rb.transpose(), rect, s.rb(), rect, 1.0, Par::Seq);
    }
}

/// Copy the strictly lower triangle onto the upper one, tile by tile through a small buffer.
fn mirror_lower(mut out: MatMut<'_, f64>) {
    let n = out.nrows();
    let mut buf = [0.0f64; TILE * TILE];
    for j0 in (0..n).step_by(TILE) {
        let w = TILE.min(n - j0);
        for i0 in (j0..n).step_by(TILE) {
            let h = TILE.min(n - i0);
            // Tile (i0, j0) of the lower part into buf, then its transpose to tile (j0, i0).
            for jj in 0..w {
                let c = out.rb().col(j0 + jj);
                for ii in 0..h {
                    buf[ii * TILE + jj] = c[i0 + ii];
                }
            }
            for ii in 0..h {
                let mut c = out.rb_mut().col_mut(i0 + ii);
                for jj in 0..w {
                    // On a diagonal tile only the strictly lower entries are copied.
                    if i0 + ii > j0 + jj {
                        c[j0 + jj] = buf[ii * TILE + jj];
                    }
                }
            }
        }
    }
}

fn set_scalar(mut out: MatMut<'_, f64>, x: f64) {
    out[(0, 0)] = x;
}

fn run_step(step: &Step, ctx: &Ctx<'_, '_>, factors: &mut [Factor], stack: &mut MemStack, mut out: MatMut<'_, f64>) {
    match step {
        Step::Fill { value, .. } => out.fill(*value),
        Step::Ident { .. } => {
            out.fill(0.0);
            for i in 0..out.nrows().min(out.ncols()) {
                out[(i, i)] = 1.0;
            }
        }
        Step::Lin { terms, diag, acc, .. } => {
            let coef = |c: f64, scalars: &[Opnd]| scalars.iter().fold(c, |k, &s| k * ctx.scalar(s));
            match terms.split_first() {
                // A transposed term (A + A') is summed tile by tile, each tile in L1.
                Some(_) if !*acc && terms.iter().any(|(_, _, x)| ctx.get(*x).row_stride() != 1) => {
                    let term = |k: usize| {
                        let (c, scalars, x) = &terms[k];
                        (coef(*c, scalars), ctx.get(*x))
                    };
                    lin_tiled(out.rb_mut(), terms.len(), &term)
                }
                Some(((c, scalars, x), rest)) => {
                    let k = coef(*c, scalars);
                    if *acc {
                        axpy(out.rb_mut(), k, ctx.get(*x));
                    } else {
                        map1(out.rb_mut(), ctx.get(*x), |v| k * v);
                    }
                    for (c, scalars, x) in rest {
                        axpy(out.rb_mut(), coef(*c, scalars), ctx.get(*x));
                    }
                }
                None if *acc => {}
                None => out.fill(0.0),
            }
            // Identities add a constant to the diagonal, diag(v) terms their vector.
            let ones: f64 = diag.iter().filter(|d| d.2.is_none()).map(|(c, scalars, _)| coef(*c, scalars)).sum();
            let vectors = diag.iter().any(|d| d.2.is_some());
            if ones != 0.0 || vectors {
                let vs = |i: usize| {
                    diag.iter().fold(ones, |d, (c, scalars, v)| match v {
                        Some(v) => d + coef(*c, scalars) * entry(ctx.get(*v), i),
                        None => d,
                    })
                };
                for i in 0..out.nrows().min(out.ncols()) {
                    out[(i, i)] += vs(i);
                }
            }
        }
        Step::ScaleBy { v, x, cols, .. } => scale_by(out, ctx.get(*v), ctx.get(*x), *cols),
        Step::SymGemm { a, b, .. } => sym_gemm(out, ctx.get(*a), ctx.get(*b)),
        Step::ScaledSymGemm { r, v, .. } => scaled_sym_gemm(out, ctx.get(*r), ctx.get(*v), stack),
        Step::Scale { s, x, .. } => {
            let s = ctx.scalar(*s);
            map1(out, ctx.get(*x), |v| s * v);
        }
        Step::Had { a, b, .. } => map2(out, ctx.get(*a), ctx.get(*b), |x, y| x * y),
        Step::Pow { a, p, .. } => {
            let p = *p;
            if p == 2.0 {
                map1(out, ctx.get(*a), |x| x * x)
            } else {
                map1(out, ctx.get(*a), |x| pow_value(x, p))
            }
        }
        Step::Map { f, a, .. } => {
            let a = ctx.get(*a);
            // The hot activations get branch-free loops; the rest share Func::apply.
            match *f {
                Func::Sigmoid => map1_heavy(out, a, |x| map_value(Func::Sigmoid, x)),
                Func::Swish => map1_heavy(out, a, |x| map_value(Func::Swish, x)),
                Func::Relu => map1(out, a, |x| x.max(0.0)),
                Func::Exp => map1_heavy(out, a, |x| map_value(Func::Exp, x)),
                Func::Tanh => map1_heavy(out, a, f64::tanh),
                f => map1_heavy(out, a, |x| f.apply(x)),
            }
        }
        Step::Gemm { a, b, alpha, acc, .. } => {
            let accum = if *acc { Accum::Add } else { Accum::Replace };
            gemm(out, accum, ctx.get(*a), ctx.get(*b), ctx.coef(alpha));
        }
        Step::Sum { a, .. } => set_scalar(out, reduce1(ctx.get(*a), |x| x)),
        Step::SqNorm { a, .. } => set_scalar(out, reduce1(ctx.get(*a), |x| x * x)),
        Step::Norm1 { a, .. } => set_scalar(out, reduce1(ctx.get(*a), f64::abs)),
        Step::Norm2 { a, .. } => set_scalar(out, reduce1(ctx.get(*a), |x| x * x).sqrt()),
        Step::Dot { a, b, .. } => set_scalar(out, reduce2(ctx.get(*a), ctx.get(*b))),
        Step::Trace { a, .. } => set_scalar(out, trace(ctx.get(*a))),
        Step::LogDet { f, .. } => set_scalar(out, factors[*f].logdet()),
        Step::Det { f, .. } => set_scalar(out, factors[*f].det()),
        Step::Inverse { f, .. } => factors[*f].inverse_into(out, stack),
        Step::Solve { f, t, rhs, .. } => {
            out.copy_from(ctx.get(*rhs));
            factors[*f].solve_in_place(*t, out, stack)
        }
        Step::TraceSolve { f, b, bu, .. } => {
            let tr = factors[*f].trace_solve(ctx.get(*b), bu.map(|o| ctx.get(o)), stack);
            set_scalar(out, tr)
        }
        Step::CapSolve { f, rhs, right, .. } => factors[*f].cap_solve(ctx.get(*rhs), *right, out, stack),
        Step::Diag { a, .. } => {
            let a = ctx.get(*a);
            out.fill(0.0);
            for i in 0..out.nrows() {
                out[(i, i)] = a[(i, 0)];
            }
        }
        Step::Softmax { a, .. } => crate::eval::softmax_into(ctx.get(*a), out),
        Step::DiagPart { a, .. } => {
            let a = ctx.get(*a);
            for i in 0..out.nrows() {
                out[(i, 0)] = a[(i, i)];
            }
        }
        Step::Copy { a, .. } => out.copy_from(ctx.get(*a)),
        Step::Kron { a, b, .. } => {
            let (a, b) = (ctx.get(*a), ctx.get(*b));
            let (p, q) = (b.nrows(), b.ncols());
            // A zero entry of a gives a zero block (kron(eye(k), H), a full Hessian w.r.t. a
            // matrix, is mostly zero blocks) unless b holds a non-finite value (0·∞ is NaN).
            let finite = (0..q).all(|j| (0..p).all(|i| b[(i, j)].is_finite()));
            for ja in 0..a.ncols() {
                for ia in 0..a.nrows() {
                    let x = a[(ia, ja)];
                    let mut block = out.rb_mut().submatrix_mut(ia * p, ja * q, p, q);
                    if x == 0.0 && finite {
                        block.fill(0.0);
                        continue;
                    }
                    for j in 0..q {
                        let bc = b.col(j);
                        let mut oc = block.rb_mut().col_mut(j);
                        match (oc.rb_mut().try_as_col_major_mut(), bc.try_as_col_major()) {
                            (Some(o), Some(bc)) => {
                                o.as_slice_mut().iter_mut().zip(bc.as_slice()).for_each(|(o, &v)| *o = x * v)
                            }
                            _ => (0..p).for_each(|i| oc[i] = x * bc[i]),
                        }
                    }
                }
            }
        }
        Step::Reshape { a, .. } => {
            let a = ctx.get(*a);
            let (r, m) = (out.nrows(), a.nrows());
            for j in 0..out.ncols() {
                for i in 0..r {
                    let k = i + j * r;
                    out[(i, j)] = a[(k % m, k / m)];
                }
            }
        }
        Step::Commutation { m, n, .. } => {
            out.fill(0.0);
            for c in 0..m * n {
                out[(c / m + n * (c % m), c)] = 1.0;
            }
        }
        // Several operations per entry: worth a second thread as early as a transcendental map.
        Step::Fused { leaves, prog, .. } => {
            in_column_halves(out, PARALLEL_ENTRIES, |o, c0| run_fused(prog, leaves, ctx, o, c0))
        }
        Step::Factor { .. } | Step::FactorLowRank { .. } => unreachable!("factor steps have no destination"),
    }
}

/// x^p as the runner computes it (integer powers by repeated multiplication).
#[inline(always)]
pub(super) fn pow_value(x: f64, p: f64) -> f64 {
    if p == 2.0 {
        x * x
    } else if p.fract() == 0.0 && p.abs() < 64.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

/// f(x) as the runner computes it (inlined: the loops around it must vectorize).
#[inline(always)]
pub(super) fn map_value(f: Func, x: f64) -> f64 {
    use super::simd::{exp, sigmoid};
    match f {
        Func::Sigmoid => sigmoid(x),
        Func::Swish => x * sigmoid(x),
        Func::Exp => exp(x),
        f => f.apply(x),
    }
}
