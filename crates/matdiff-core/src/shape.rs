//! Shapes over symbolic dimensions, and the union-find that unifies them.

use std::fmt;

/// Index of a dimension in a [`DimTable`] (or, during inference, a unifier variable).
pub type DimId = u32;

/// A value's shape: `None` is the literal size 1 that marks scalars and vectors.
///
/// Scalar = (1,1), column vector = (n,1), row vector = (1,n), matrix = (m,n). Symbolic
/// dimensions never unify with 1: a vector stays a vector for every value of `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    /// The row dimension; `None` is the literal 1 (scalars and row vectors).
    pub rows: Option<DimId>,
    /// The column dimension; `None` is the literal 1 (scalars and column vectors).
    pub cols: Option<DimId>,
}

impl Shape {
    /// The shape of a scalar, 1×1.
    pub const SCALAR: Shape = Shape { rows: None, cols: None };
    /// A column vector of length n.
    pub fn col(n: DimId) -> Shape {
        Shape { rows: Some(n), cols: None }
    }
    /// A row vector of length n.
    pub fn row(n: DimId) -> Shape {
        Shape { rows: None, cols: Some(n) }
    }
    /// An m×n matrix.
    pub fn mat(m: DimId, n: DimId) -> Shape {
        Shape { rows: Some(m), cols: Some(n) }
    }
    /// 1×1.
    pub fn is_scalar(self) -> bool {
        self.rows.is_none() && self.cols.is_none()
    }
    /// n×1.
    pub fn is_col(self) -> bool {
        self.rows.is_some() && self.cols.is_none()
    }
    /// 1×n.
    pub fn is_row(self) -> bool {
        self.rows.is_none() && self.cols.is_some()
    }
    /// m×n with two symbolic dimensions.
    pub fn is_matrix(self) -> bool {
        self.rows.is_some() && self.cols.is_some()
    }
    /// Rows and columns are the same dimension (a scalar is square).
    pub fn is_square(self) -> bool {
        self.rows == self.cols
    }
    /// The transposed shape.
    pub fn t(self) -> Shape {
        Shape { rows: self.cols, cols: self.rows }
    }
    /// The shape with every dimension mapped by `f`.
    pub fn map(self, mut f: impl FnMut(DimId) -> DimId) -> Shape {
        Shape { rows: self.rows.map(&mut f), cols: self.cols.map(&mut f) }
    }
}

/// One dimension after inference: its display name and, if fixed, its size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dim {
    /// The display name (`n`, or a generated `k1`).
    pub name: String,
    /// `Some(k)` for literal sizes such as `eye(3)` or `vector(3)` declarations.
    pub size: Option<usize>,
    /// Named by the user (in `--decl` or `eye(n)`), as opposed to generated.
    pub declared: bool,
    /// For a product dimension (`m*n`, the length of `vec(A)` or the rows of `kron(A,B)`): its
    /// factors, atomic dimensions with smaller ids, sorted. Empty for an atomic dimension.
    pub factors: Vec<DimId>,
}

impl Dim {
    /// An atomic dimension.
    pub fn atomic(name: String, size: Option<usize>, declared: bool) -> Dim {
        Dim { name, size, declared, factors: vec![] }
    }
}

/// The dimensions of one problem, indexed by [`DimId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DimTable {
    /// Every dimension, indexed by `DimId` (added through [`DimTable::add`]; read with
    /// [`DimTable::dims`]).
    pub(crate) dims: Vec<Dim>,
}

impl DimTable {
    /// Every dimension, indexed by [`DimId`].
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }
    /// The display name of `d`.
    pub fn name(&self, d: DimId) -> &str {
        &self.dims[d as usize].name
    }
    /// A generated name not used by any dimension yet.
    pub fn fresh_name(&self) -> String {
        (1..).map(|i| format!("k{i}")).find(|n| self.by_name(n).is_none()).unwrap()
    }
    /// The dimension called `name`.
    pub fn by_name(&self, name: &str) -> Option<DimId> {
        self.dims.iter().position(|d| d.name == name).map(|i| i as DimId)
    }
    /// The dimension called `name`, added (atomic, declared, size unknown) if there is none.
    pub fn add(&mut self, name: &str) -> DimId {
        if let Some(d) = self.by_name(name) {
            return d;
        }
        self.dims.push(Dim::atomic(name.to_string(), None, true));
        (self.dims.len() - 1) as DimId
    }
    /// Whether `d` is a product of other dimensions.
    pub fn is_product(&self, d: DimId) -> bool {
        !self.dims[d as usize].factors.is_empty()
    }
    /// The atomic factors of `d` (itself when atomic).
    pub fn factors(&self, d: DimId) -> Vec<DimId> {
        match self.dims[d as usize].factors.as_slice() {
            [] => vec![d],
            fs => fs.to_vec(),
        }
    }
    /// The dimension `a*b` (found or added), `None` standing for the literal 1.
    pub fn product(&mut self, a: Option<DimId>, b: Option<DimId>) -> Option<DimId> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.product_of(&[a, b])),
        }
    }
    /// The product of dimensions (found or added): factors flattened and sorted; a product of
    /// fixed sizes is the fixed size (`2*3` is `6`), a lone factor is itself.
    pub fn product_of(&mut self, ds: &[DimId]) -> DimId {
        let mut atoms: Vec<DimId> = ds.iter().flat_map(|&d| self.factors(d)).collect();
        atoms.sort_unstable();
        // A factor of size 1 changes nothing (unless everything is 1).
        let unit = |t: &DimTable, d: DimId| t.dims[d as usize].size == Some(1);
        if atoms.iter().any(|&d| !unit(self, d)) {
            atoms.retain(|&d| !unit(self, d));
        }
        if atoms.len() == 1 {
            return atoms[0];
        }
        if atoms.iter().all(|&d| self.dims[d as usize].size.is_some()) {
            let k = atoms.iter().fold(1usize, |k, &d| k.saturating_mul(self.dims[d as usize].size.unwrap()));
            return self.sized(k);
        }
        if let Some(i) = self.dims.iter().position(|d| d.factors == atoms) {
            return i as DimId;
        }
        let name = atoms.iter().map(|&d| self.dims[d as usize].name.as_str()).collect::<Vec<_>>().join("*");
        let declared = atoms.iter().all(|&d| self.dims[d as usize].declared);
        self.dims.push(Dim { name, size: None, declared, factors: atoms });
        (self.dims.len() - 1) as DimId
    }
    /// The atomic dimension of fixed size `k` (found or added).
    pub fn sized(&mut self, k: usize) -> DimId {
        if let Some(i) = self.dims.iter().position(|d| d.size == Some(k) && d.factors.is_empty()) {
            return i as DimId;
        }
        self.dims.push(Dim::atomic(k.to_string(), Some(k), true));
        (self.dims.len() - 1) as DimId
    }
    /// Set each product dimension's size from its factors' (`usize::MAX` = unknown stays
    /// unknown). Returns the first product whose size was already set and disagrees:
    /// `(dimension, size it had, product of its factors)`.
    pub fn fill_products(&self, sizes: &mut [usize]) -> Option<(DimId, usize, usize)> {
        let mut clash = None;
        for (i, d) in self.dims.iter().enumerate() {
            if d.factors.is_empty() || d.factors.iter().any(|&f| sizes[f as usize] == usize::MAX) {
                continue;
            }
            let k = d.factors.iter().fold(1usize, |k, &f| k.saturating_mul(sizes[f as usize]));
            if sizes[i] != usize::MAX && sizes[i] != k && clash.is_none() {
                clash = Some((i as DimId, sizes[i], k));
            }
            sizes[i] = k;
        }
        clash
    }
    /// "scalar", "vector(n)", "row vector(n)", "matrix(m,n)".
    pub fn describe(&self, s: Shape) -> String {
        match (s.rows, s.cols) {
            (None, None) => "scalar".into(),
            (Some(n), None) => format!("vector({})", self.name(n)),
            (None, Some(n)) => format!("row vector({})", self.name(n)),
            (Some(m), Some(n)) => format!("matrix({},{})", self.name(m), self.name(n)),
        }
    }
    /// The JSON-style list of dimension names: `[]`, `["n"]`, `["m","n"]` (`"1"` for a row vector's rows).
    pub fn shape_names(&self, s: Shape) -> Vec<String> {
        match (s.rows, s.cols) {
            (None, None) => vec![],
            (Some(n), None) => vec![self.name(n).to_string()],
            (None, Some(n)) => vec!["1".into(), self.name(n).to_string()],
            (Some(m), Some(n)) => vec![self.name(m).to_string(), self.name(n).to_string()],
        }
    }
}

/// What a unifier class is pinned to, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pin {
    Free,
    Named(String),
    Size(usize),
    /// The product of other classes (`m*n`).
    Product(Vec<DimId>),
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Free => write!(f, "?"),
            Pin::Named(n) => write!(f, "{n}"),
            Pin::Size(k) => write!(f, "{k}"),
            Pin::Product(_) => write!(f, "a product"),
        }
    }
}

/// Union-find over dimension variables used while inferring shapes.
///
/// Two different names (or sizes) never unify: a result must hold for all values of m and n.
#[derive(Clone, Debug, Default)]
pub struct Unifier {
    parent: Vec<u32>,
    pin: Vec<Pin>,
    /// Order of creation, used to hand out generated names deterministically.
    hint: Vec<String>,
}

impl Unifier {
    pub fn fresh(&mut self, hint: &str) -> DimId {
        let id = self.parent.len() as u32;
        self.parent.push(id);
        self.pin.push(Pin::Free);
        self.hint.push(hint.to_string());
        id
    }
    pub fn named(&mut self, name: &str) -> DimId {
        let d = self.fresh(name);
        self.pin[d as usize] = Pin::Named(name.to_string());
        d
    }
    pub fn sized(&mut self, k: usize) -> DimId {
        let d = self.fresh(&k.to_string());
        self.pin[d as usize] = Pin::Size(k);
        d
    }
    pub fn len(&self) -> usize {
        self.parent.len()
    }
    pub fn find(&mut self, d: DimId) -> DimId {
        let mut r = d;
        while self.parent[r as usize] != r {
            r = self.parent[r as usize];
        }
        let mut c = d;
        while self.parent[c as usize] != r {
            let next = self.parent[c as usize];
            self.parent[c as usize] = r;
            c = next;
        }
        r
    }
    /// A class for the product of `ds` (`None` entries are the literal 1); `None` when all are 1.
    pub fn product(&mut self, ds: &[Option<DimId>]) -> Option<DimId> {
        let fs: Vec<DimId> = ds.iter().flatten().copied().collect();
        match fs.as_slice() {
            [] => None,
            [d] => Some(*d),
            _ => {
                let d = self.fresh("k");
                self.pin[d as usize] = Pin::Product(fs);
                Some(d)
            }
        }
    }
    /// Whether class `d` is a product.
    pub fn is_product(&mut self, d: DimId) -> bool {
        let r = self.find(d);
        matches!(self.pin[r as usize], Pin::Product(_))
    }
    /// `atoms` for callers outside: the atomic classes and the fixed-size part of a product.
    pub fn product_parts(&mut self, d: DimId) -> (Vec<DimId>, usize) {
        self.atoms(d)
    }
    /// A class as a product: its atomic classes (roots, sorted, fixed sizes excluded) and the
    /// product of its fixed sizes.
    fn atoms(&mut self, d: DimId) -> (Vec<DimId>, usize) {
        let r = self.find(d);
        match self.pin[r as usize].clone() {
            Pin::Size(k) => (vec![], k),
            Pin::Product(fs) => {
                let (mut out, mut k) = (vec![], 1usize);
                for f in fs {
                    let (a, kf) = self.atoms(f);
                    out.extend(a);
                    k = k.saturating_mul(kf);
                }
                out.sort_unstable();
                (out, k)
            }
            _ => (vec![r], 1),
        }
    }
    /// Merge two classes; `Err` names both sides when they are pinned differently.
    pub fn unify(&mut self, a: DimId, b: DimId) -> Result<(), (String, String)> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        let (pa, pb) = (self.pin[ra as usize].clone(), self.pin[rb as usize].clone());
        if matches!(pa, Pin::Product(_)) || matches!(pb, Pin::Product(_)) {
            return self.unify_products(ra, rb);
        }
        let pin = match (&pa, &pb) {
            (Pin::Free, p) | (p, Pin::Free) => p.clone(),
            _ if pa == pb => pa.clone(),
            _ => return Err((pa.to_string(), pb.to_string())),
        };
        self.merge(ra, rb, pin);
        Ok(())
    }
    /// Keep the older root so that generated names follow first appearance.
    fn merge(&mut self, ra: DimId, rb: DimId, pin: Pin) {
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.pin[root as usize] = pin;
    }
    /// Unify classes of which one at least is a product: equal factors (up to order) merge;
    /// after cancelling common factors, a lone free class takes the other side's remainder, and
    /// two lone classes unify; anything else does not hold for all sizes.
    fn unify_products(&mut self, ra: DimId, rb: DimId) -> Result<(), (String, String)> {
        let ((mut xa, ka), (mut xb, kb)) = (self.atoms(ra), self.atoms(rb));
        let err = |u: &mut Unifier| Err((u.display(ra), u.display(rb)));
        // Cancel the factors both sides share.
        let mut i = 0;
        while i < xa.len() {
            if let Some(j) = xb.iter().position(|&y| y == xa[i]) {
                xa.remove(i);
                xb.remove(j);
            } else {
                i += 1;
            }
        }
        if xa.is_empty() && xb.is_empty() {
            if ka != kb {
                return err(self);
            }
            // The merged class keeps a pin that does not mention either class: `n = n*p` (p
            // fixed at 1 by an earlier unification) keeps n atomic, since pinning n to the
            // product n*p would make it a factor of itself (and `atoms` would never return).
            let pins = [self.pin[ra as usize].clone(), self.pin[rb as usize].clone()];
            let pin = match pins.iter().find(|p| !matches!(p, Pin::Product(_))) {
                Some(p) => p.clone(),
                None => match pins.iter().find(|p| !self.pin_reaches(p, ra, rb)) {
                    Some(p) => p.clone(),
                    None => return err(self),
                },
            };
            self.merge(ra, rb, pin);
            return Ok(());
        }
        // A lone free class on one side becomes the other side's remainder.
        for (x, kx, y, ky) in [(&xa, ka, &xb, kb), (&xb, kb, &xa, ka)] {
            if x.len() == 1 && kx == 1 && self.pin[x[0] as usize] == Pin::Free {
                let f = x[0];
                if y.contains(&f) {
                    return err(self);
                }
                let mut rest: Vec<Option<DimId>> = y.iter().map(|&d| Some(d)).collect();
                if ky != 1 || rest.is_empty() {
                    rest.push(Some(self.sized(ky)));
                }
                let target = self.product(&rest).expect("a non-empty product");
                let tr = self.find(target);
                let pin = self.pin[tr as usize].clone();
                self.merge(f, tr, pin);
                return self.unify_roots_after(ra, rb);
            }
        }
        if xa.len() == 1 && xb.len() == 1 && ka == kb {
            self.unify(xa[0], xb[0])?;
            return self.unify_roots_after(ra, rb);
        }
        err(self)
    }
    /// Whether a product pin has `a` or `b` among its factors, at any depth.
    fn pin_reaches(&mut self, pin: &Pin, a: DimId, b: DimId) -> bool {
        let Pin::Product(fs) = pin else { return false };
        let mut todo = fs.clone();
        let mut seen = vec![];
        while let Some(f) = todo.pop() {
            let r = self.find(f);
            if r == a || r == b {
                return true;
            }
            if seen.contains(&r) {
                continue;
            }
            seen.push(r);
            if let Pin::Product(more) = &self.pin[r as usize] {
                todo.extend(more.iter().copied());
            }
        }
        false
    }
    /// After factors were unified, merge the two product classes themselves (now equal).
    fn unify_roots_after(&mut self, ra: DimId, rb: DimId) -> Result<(), (String, String)> {
        let (ra, rb) = (self.find(ra), self.find(rb));
        if ra == rb {
            return Ok(());
        }
        self.unify_products(ra, rb)
    }
    /// A readable name for a class now (before generated names are final).
    pub fn display(&mut self, d: DimId) -> String {
        let r = self.find(d);
        match self.pin[r as usize].clone() {
            Pin::Free => self.hint[r as usize].clone(),
            Pin::Product(_) => {
                let (atoms, k) = self.atoms(r);
                let mut parts: Vec<String> = atoms.into_iter().map(|a| self.display(a)).collect();
                if k != 1 || parts.is_empty() {
                    parts.insert(0, k.to_string());
                }
                parts.join("*")
            }
            p => p.to_string(),
        }
    }
    pub fn describe(&mut self, s: Shape) -> String {
        match (s.rows, s.cols) {
            (None, None) => "scalar".into(),
            (Some(n), None) => format!("vector({})", self.display(n)),
            (None, Some(n)) => format!("row vector({})", self.display(n)),
            (Some(m), Some(n)) => format!("matrix({},{})", self.display(m), self.display(n)),
        }
    }

    /// Close inference: one table entry per class, free classes named from a pool of letters.
    /// Returns the table and the map from unifier variables to table ids.
    pub fn finish(&mut self, used: &[DimId]) -> (DimTable, Vec<DimId>) {
        let mut table = DimTable::default();
        let mut map = vec![u32::MAX; self.parent.len()];
        let mut taken: Vec<String> =
            self.pin.iter().filter_map(|p| if let Pin::Named(n) = p { Some(n.clone()) } else { None }).collect();
        let pool = ["m", "n", "p", "q", "k", "r", "s", "l", "d", "c"];
        let mut counter = 0;
        let mut next_name = |taken: &mut Vec<String>| -> String {
            for p in pool {
                if !taken.iter().any(|t| t == p) {
                    taken.push(p.to_string());
                    return p.to_string();
                }
            }
            loop {
                counter += 1;
                let cand = format!("n{counter}");
                if !taken.contains(&cand) {
                    taken.push(cand.clone());
                    return cand;
                }
            }
        };
        // Classes are numbered in order of first use in `used` (deterministic output); products
        // come after, made of their factors' entries.
        let order: Vec<DimId> = used.iter().copied().chain(0..self.parent.len() as u32).collect();
        let mut products = vec![];
        for d in order {
            let r = self.find(d);
            if map[r as usize] == u32::MAX {
                let dim = match self.pin[r as usize].clone() {
                    Pin::Named(n) => Dim::atomic(n, None, true),
                    Pin::Size(k) => Dim::atomic(k.to_string(), Some(k), true),
                    Pin::Free => Dim::atomic(next_name(&mut taken), None, false),
                    Pin::Product(_) => {
                        if !products.contains(&r) {
                            products.push(r);
                        }
                        continue;
                    }
                };
                map[r as usize] = table.dims.len() as u32;
                table.dims.push(dim);
            }
        }
        for r in products {
            let (atoms, k) = self.atoms(r);
            let mut ids: Vec<DimId> = atoms.iter().map(|&a| map[a as usize]).collect();
            if k != 1 || ids.is_empty() {
                ids.push(table.sized(k));
            }
            map[r as usize] = table.product_of(&ids);
        }
        let out = (0..self.parent.len() as u32).map(|d| map[self.find(d) as usize]).collect();
        (table, out)
    }
}
