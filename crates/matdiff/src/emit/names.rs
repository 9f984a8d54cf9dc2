//! Identifiers in generated code: parameters keep the user's names where the language allows,
//! and every other name is chosen not to collide with them.

use std::collections::HashSet;

pub(crate) const PYTHON_RESERVED: &[&str] = &[
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "match",
    "case",
    "type",
    "np",
    "jnp",
    "jax",
    "jsl",
    "torch",
    "f_and_grad",
    "check_gradient",
    "float",
    "int",
    "max",
    "abs",
    "all",
    "len",
    "zip",
    "print",
    "range",
];

pub(crate) const RUST_RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "union",
    "Mat",
    "Side",
    "f64",
    "usize",
    "f_and_grad",
    "check_gradient",
];

/// Hands out identifiers that are unique within one generated function.
#[derive(Clone, Debug, Default)]
pub(crate) struct Namer {
    taken: HashSet<String>,
}

impl Namer {
    pub fn new(reserved: &[&str]) -> Namer {
        Namer { taken: reserved.iter().map(|s| s.to_string()).collect() }
    }
    /// `want` if free, else `want_`, `want__`, …
    pub fn claim(&mut self, want: &str) -> String {
        let mut name = want.to_string();
        while self.taken.contains(&name) {
            name.push('_');
        }
        self.taken.insert(name.clone());
        name
    }
    /// The first free `{prefix}{k}`, k = 0, 1, …
    pub fn numbered(&mut self, prefix: &str) -> String {
        let name = (0..).map(|k| format!("{prefix}{k}")).find(|n| !self.taken.contains(n)).unwrap();
        self.taken.insert(name.clone());
        name
    }
}
