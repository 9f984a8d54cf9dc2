//! Code templates with holes: a value's definition in terms of other values, before it is
//! decided which of them get a local name and which are written inline.

use matdiff_core::NodeId;

/// Something the generated code computes: an IR node's value, a factorization of one, or a
/// value the code derives on the way (a solve inside a product).
///
/// Ordered like the generated statements: a node's factorization right after the node, and a
/// derived value right after the last item it depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Item {
    pub node: NodeId,
    pub kind: ItemKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ItemKind {
    Node,
    Factor,
    /// The backend's derived value number k.
    Derived(u32),
}

impl Item {
    pub fn node(node: NodeId) -> Item {
        Item { node, kind: ItemKind::Node }
    }
    pub fn factor(node: NodeId) -> Item {
        Item { node, kind: ItemKind::Factor }
    }
    /// Derived value `k`, placed after `last`, the largest node it depends on.
    pub fn derived(last: NodeId, k: u32) -> Item {
        Item { node: last, kind: ItemKind::Derived(k) }
    }
    pub fn is_factor(self) -> bool {
        self.kind == ItemKind::Factor
    }
    pub fn is_node(self) -> bool {
        self.kind == ItemKind::Node
    }
}

/// Binding strengths of written expressions (a higher number binds tighter).
pub(crate) mod prec {
    pub const LOWEST: u8 = 0;
    pub const ADD: u8 = 2;
    pub const MUL: u8 = 3;
    pub const NEG: u8 = 4;
    pub const POW: u8 = 5;
    pub const ATOM: u8 = 6;
    /// The template is another value under a new name (a vector's transpose): it binds as
    /// tightly as that value's text does.
    pub const INHERIT: u8 = 255;
}

#[derive(Clone, Debug)]
pub(crate) enum Piece {
    Text(String),
    /// Another item's value; parenthesized when its text binds looser than `min`. `borrow`
    /// asks for a reference (Rust: `&t0`, `&expr`; a parameter is already one).
    Hole {
        item: Item,
        min: u8,
        borrow: bool,
    },
}

/// An expression with holes, and how tightly its text binds.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub pieces: Vec<Piece>,
    pub prec: u8,
}

impl Template {
    pub fn new(prec: u8) -> Template {
        Template { pieces: vec![], prec }
    }
    /// Plain text binding as `prec`.
    pub fn text(s: impl Into<String>, prec: u8) -> Template {
        Template { pieces: vec![Piece::Text(s.into())], prec }
    }
    /// The value of `item`, as is.
    pub fn alias(item: Item) -> Template {
        Template { pieces: vec![Piece::Hole { item, min: prec::LOWEST, borrow: false }], prec: prec::INHERIT }
    }
    pub fn t(mut self, s: impl AsRef<str>) -> Template {
        match self.pieces.last_mut() {
            Some(Piece::Text(last)) => last.push_str(s.as_ref()),
            _ => self.pieces.push(Piece::Text(s.as_ref().to_string())),
        }
        self
    }
    pub fn hole(mut self, item: Item, min: u8) -> Template {
        self.pieces.push(Piece::Hole { item, min, borrow: false });
        self
    }
    pub fn borrow(mut self, item: Item) -> Template {
        self.pieces.push(Piece::Hole { item, min: prec::ATOM, borrow: true });
        self
    }
    /// Insert another template, parenthesized when it binds looser than `min`.
    pub fn sub(mut self, inner: Template, min: u8) -> Template {
        if inner.prec == prec::INHERIT {
            // An alias: keep the hole, with this context's requirement.
            for p in inner.pieces {
                match p {
                    Piece::Hole { item, borrow, .. } => self.pieces.push(Piece::Hole { item, min, borrow }),
                    Piece::Text(s) => self = self.t(s),
                }
            }
            return self;
        }
        let wrap = inner.prec < min;
        if wrap {
            self = self.t("(");
        }
        for p in inner.pieces {
            match p {
                Piece::Text(s) => self = self.t(s),
                hole => self.pieces.push(hole),
            }
        }
        if wrap {
            self = self.t(")");
        }
        self
    }
    /// The last item this template depends on: where a derived value made of it goes.
    pub fn last_dependency(&self) -> NodeId {
        self.holes().map(|h| h.node).max().unwrap_or(NodeId(0))
    }
    /// The items this template refers to, with repetition.
    pub fn holes(&self) -> impl Iterator<Item = Item> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole { item, .. } => Some(*item),
            Piece::Text(_) => None,
        })
    }
}

/// Join templates with a separator (arguments of a call).
pub(crate) fn join(parts: Vec<Template>, sep: &str, min: u8) -> Template {
    let mut out = Template::new(prec::ATOM);
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out = out.t(sep);
        }
        out = out.sub(p, min);
    }
    out
}
