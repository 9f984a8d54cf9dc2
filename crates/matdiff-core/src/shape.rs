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
    pub rows: Option<DimId>,
    pub cols: Option<DimId>,
}

impl Shape {
    pub const SCALAR: Shape = Shape { rows: None, cols: None };
    pub fn col(n: DimId) -> Shape {
        Shape { rows: Some(n), cols: None }
    }
    pub fn row(n: DimId) -> Shape {
        Shape { rows: None, cols: Some(n) }
    }
    pub fn mat(m: DimId, n: DimId) -> Shape {
        Shape { rows: Some(m), cols: Some(n) }
    }
    pub fn is_scalar(self) -> bool {
        self.rows.is_none() && self.cols.is_none()
    }
    pub fn is_col(self) -> bool {
        self.rows.is_some() && self.cols.is_none()
    }
    pub fn is_row(self) -> bool {
        self.rows.is_none() && self.cols.is_some()
    }
    pub fn is_matrix(self) -> bool {
        self.rows.is_some() && self.cols.is_some()
    }
    pub fn is_square(self) -> bool {
        self.rows == self.cols
    }
    pub fn t(self) -> Shape {
        Shape { rows: self.cols, cols: self.rows }
    }
    pub fn map(self, mut f: impl FnMut(DimId) -> DimId) -> Shape {
        Shape { rows: self.rows.map(&mut f), cols: self.cols.map(&mut f) }
    }
}

/// One dimension after inference: its display name and, if fixed, its size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dim {
    pub name: String,
    /// `Some(k)` for literal sizes such as `eye(3)` or `vector(3)` declarations.
    pub size: Option<usize>,
    /// Named by the user (in `--decl` or `eye(n)`), as opposed to generated.
    pub declared: bool,
}

/// The dimensions of one problem, indexed by [`DimId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DimTable {
    pub dims: Vec<Dim>,
}

impl DimTable {
    pub fn name(&self, d: DimId) -> &str {
        &self.dims[d as usize].name
    }
    /// A generated name not used by any dimension yet.
    pub fn fresh_name(&self) -> String {
        (1..).map(|i| format!("k{i}")).find(|n| self.by_name(n).is_none()).unwrap()
    }
    pub fn by_name(&self, name: &str) -> Option<DimId> {
        self.dims.iter().position(|d| d.name == name).map(|i| i as DimId)
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
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Free => write!(f, "?"),
            Pin::Named(n) => write!(f, "{n}"),
            Pin::Size(k) => write!(f, "{k}"),
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
    /// Merge two classes; `Err` names both sides when they are pinned differently.
    pub fn unify(&mut self, a: DimId, b: DimId) -> Result<(), (String, String)> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        let (pa, pb) = (self.pin[ra as usize].clone(), self.pin[rb as usize].clone());
        let pin = match (&pa, &pb) {
            (Pin::Free, p) | (p, Pin::Free) => p.clone(),
            _ if pa == pb => pa.clone(),
            _ => return Err((pa.to_string(), pb.to_string())),
        };
        // Keep the older root so that generated names follow first appearance.
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.pin[root as usize] = pin;
        Ok(())
    }
    /// A readable name for a class now (before generated names are final).
    pub fn display(&mut self, d: DimId) -> String {
        let r = self.find(d);
        match &self.pin[r as usize] {
            Pin::Free => self.hint[r as usize].clone(),
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
        // Classes are numbered in order of first use in `used` (deterministic output).
        let order: Vec<DimId> = used.iter().copied().chain(0..self.parent.len() as u32).collect();
        for d in order {
            let r = self.find(d);
            if map[r as usize] == u32::MAX {
                let dim = match self.pin[r as usize].clone() {
                    Pin::Named(n) => Dim { name: n, size: None, declared: true },
                    Pin::Size(k) => Dim { name: k.to_string(), size: Some(k), declared: true },
                    Pin::Free => Dim { name: next_name(&mut taken), size: None, declared: false },
                };
                map[r as usize] = table.dims.len() as u32;
                table.dims.push(dim);
            }
        }
        let out = (0..self.parent.len() as u32).map(|d| map[self.find(d) as usize]).collect();
        (table, out)
    }
}
