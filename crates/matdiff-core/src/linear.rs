//! A linear map read off as a matrix: for a node that is linear in a direction node D (a
//! differential built by `forward::jvp`), the matrix M with vec(node) = M*vec(D).
//!
//! The rules are the vec identities: vec(L*D*R) = kron(R', L)*vec(D), vec(D') = K*vec(D) with K
//! the commutation matrix, vec(H.*D) = diag(vec(H))*vec(D), sum(D) = 1'*vec(D),
//! ⟨H, D⟩ = vec(H)'*vec(D), diag(D) = S'*vec(D) with S the n²×n selection matrix,
//! vec(kron(A, D)) = (I ⊗ K ⊗ I)*(vec(A) ⊗ I)*vec(D). Kronecker
//! factors of vectors collapse through the constructors (`kron(1, A)` is `A`, `kron(x', I)`
//! stays), so a vector-by-vector map comes out without any `kron`.

use crate::ir::{Graph, NodeId, Op};
use crate::shape::{DimId, Shape};

/// The matrix of the linear map `dir ↦ node` (numel(node) × numel(dir), a row for a scalar
/// node). `Err(n)` names a node where `dir` does not enter linearly by the rules above (a
/// nonlinear function of it).
pub fn linear_matrix(g: &mut Graph, node: NodeId, dir: NodeId) -> Result<NodeId, NodeId> {
    let ds = g.shape(dir);
    let p = g.dims.product(ds.rows, ds.cols);
    let order = g.reachable(&[node]);
    let mut mat: Vec<Option<NodeId>> = vec![None; g.len()];
    let mut dep = vec![false; g.len()];
    for &n in &order {
        matdiff_syntax::budget::tick();
        dep[n.index()] = n == dir || g.op(n).children().iter().any(|c| dep[c.index()]);
        if !dep[n.index()] {
            continue;
        }
        let m = if n == dir { eye(g, p) } else { rule(g, n, &mat, p)? };
        if mat.len() < g.len() {
            mat.resize(g.len(), None);
        }
        mat[n.index()] = Some(m);
    }
    match mat[node.index()] {
        Some(m) => Ok(m),
        None => {
            let s = g.shape(node);
            let rows = g.dims.product(s.rows, s.cols);
            Ok(g.zero(Shape { rows, cols: p }))
        }
    }
}

/// The identity of a dimension; the scalar 1 for the literal 1.
fn eye(g: &mut Graph, d: Option<DimId>) -> NodeId {
    match d {
        Some(d) => g.identity(d),
        None => g.constant(1.0),
    }
}

/// The number of entries of a node, as a dimension (`None` for a scalar).
fn numel(g: &mut Graph, n: NodeId) -> Option<DimId> {
    let s = g.shape(n);
    g.dims.product(s.rows, s.cols)
}

/// The matrix of one node from its children's (`None`: a child free of the direction).
fn rule(g: &mut Graph, n: NodeId, mat: &[Option<NodeId>], p: Option<DimId>) -> Result<NodeId, NodeId> {
    let m = |c: NodeId| mat.get(c.index()).copied().flatten();
    let rows = numel(g, n);
    let shape = Shape { rows, cols: p };
    let out = match g.op(n).clone() {
        Op::Lin(ts) => {
            let parts: Vec<(f64, NodeId)> = ts.iter().filter_map(|&(c, t)| m(t).map(|j| (c.get(), j))).collect();
            g.lin(parts)
        }
        Op::Scale(s, x) => {
            let mut parts = vec![];
            if let Some(js) = m(s) {
                let vx = g.vectorize(x);
                parts.push(g.mul(vx, js));
            }
            if let Some(jx) = m(x) {
                parts.push(g.scale(s, jx));
            }
            g.sum_of(&parts, shape)
        }
        Op::MatMul(fs) => {
            let mut parts = vec![];
            for i in 0..fs.len() {
                let Some(jy) = m(fs[i]) else { continue };
                let ys = g.shape(fs[i]);
                let left = if i > 0 { g.matmul(fs[..i].to_vec()) } else { eye(g, ys.rows) };
                let right_t = if i + 1 < fs.len() {
                    let r = g.matmul(fs[i + 1..].to_vec());
                    g.transpose(r)
                } else {
                    eye(g, ys.cols)
                };
                let k = g.kron(right_t, left);
                parts.push(g.mul(k, jy));
            }
            g.sum_of(&parts, shape)
        }
        Op::Hadamard(a, b) => {
            let mut parts = vec![];
            for (x, other) in [(a, b), (b, a)] {
                if let Some(jx) = m(x) {
                    let v = g.vectorize(other);
                    let d = g.diag(v);
                    parts.push(g.mul(d, jx));
                }
            }
            g.sum_of(&parts, shape)
        }
        Op::Transpose(a) => {
            let ja = m(a).ok_or(n)?;
            let s = g.shape(a);
            match (s.rows, s.cols) {
                (Some(r), Some(c)) => {
                    let k = g.commutation(r, c);
                    g.mul(k, ja)
                }
                // A vector and its transpose have the same entries in the same order.
                _ => ja,
            }
        }
        // sum(H.*Y) = vec(H)'*vec(Y): no diag(vec(H)) to sum up.
        Op::Sum(a) if matches!(*g.op(a), Op::Hadamard(x, y) if m(x).is_none() != m(y).is_none()) => {
            let Op::Hadamard(x, y) = *g.op(a) else { unreachable!() };
            let (h, jy) = if m(x).is_some() { (y, m(x).unwrap()) } else { (x, m(y).unwrap()) };
            inner_with(g, h, jy)
        }
        Op::Sum(a) => {
            let ja = m(a).ok_or(n)?;
            let len = numel(g, a);
            let ones = g.fill(1.0, Shape { rows: None, cols: len });
            g.mul(ones, ja)
        }
        Op::Dot(a, b) => {
            let mut parts = vec![];
            for (x, other) in [(a, b), (b, a)] {
                if let Some(jx) = m(x) {
                    parts.push(inner_with(g, other, jx));
                }
            }
            g.sum_of(&parts, shape)
        }
        Op::Trace(a) => {
            let ja = m(a).ok_or(n)?;
            let i = g.identity(g.shape(a).rows.unwrap());
            inner_with(g, i, ja)
        }
        Op::DiagPart(a) => {
            let ja = m(a).ok_or(n)?;
            let s = selection(g, g.shape(a).rows.unwrap());
            let st = g.transpose(s);
            g.mul(st, ja)
        }
        Op::Diag(v) => {
            let jv = m(v).ok_or(n)?;
            let s = selection(g, g.shape(v).rows.unwrap());
            g.mul(s, jv)
        }
        Op::Vectorize(a) | Op::Unvec(a) => m(a).ok_or(n)?,
        // vec(kron(A, B)) = P*(vec(A) ⊗ vec(B)) with P = I_n ⊗ K(q,m) ⊗ I_p for A m×n, B p×q;
        // vec(A) ⊗ vec(B) = (vec(A) ⊗ I)*vec(B) = (I ⊗ vec(B))*vec(A).
        Op::Kron(a, b) => {
            let (sa, sb) = (g.shape(a), g.shape(b));
            let k = match (sb.cols, sa.rows) {
                (Some(q), Some(m)) => g.commutation(q, m),
                (q, m) => {
                    let d = g.dims.product(q, m);
                    eye(g, d)
                }
            };
            let (i_n, i_p) = (eye(g, sa.cols), eye(g, sb.rows));
            let nk = g.kron(i_n, k);
            let perm = g.kron(nk, i_p);
            let mut parts = vec![];
            if let Some(ja) = m(a) {
                let vb = g.vectorize(b);
                let na = numel(g, a);
                let ia = eye(g, na);
                let spread = g.kron(ia, vb);
                parts.push(g.matmul(vec![perm, spread, ja]));
            }
            if let Some(jb) = m(b) {
                let va = g.vectorize(a);
                let nb = numel(g, b);
                let ib = eye(g, nb);
                let spread = g.kron(va, ib);
                parts.push(g.matmul(vec![perm, spread, jb]));
            }
            g.sum_of(&parts, shape)
        }
        _ => return Err(n),
    };
    Ok(out)
}

/// vec(h)'*j, written as (j'*vec(h))' so that a Kronecker factor meets the vec and simplifies:
/// vec(H)'*kron(R', L) = vec(L'*H*R)'.
fn inner_with(g: &mut Graph, h: NodeId, j: NodeId) -> NodeId {
    let v = g.vectorize(h);
    let jt = g.transpose(j);
    let p = g.mul(jt, v);
    g.transpose(p)
}

/// The n²×n matrix S with vec(diag(v)) = S*v: diag(vec(I))*kron(ones(n), I).
fn selection(g: &mut Graph, n: DimId) -> NodeId {
    let i = g.identity(n);
    let vi = g.vectorize(i);
    let d = g.diag(vi);
    let ones = g.fill(1.0, Shape::col(n));
    let k = g.kron(ones, i);
    g.matmul(vec![d, k])
}
