//! Checked IR construction (`Graph::apply`): random operation sequences over random operands
//! never panic, refuse ill-shaped combinations with a Shape error, and every node they accept
//! evaluates to a matrix of the shape it claims (reference and compiled evaluators agree), at
//! two dimension settings.

use matdiff::{eval, random_env, rel_diff, Build, Compiled, DimTable, ErrorKind, Func, Graph, NodeId, Shape, Var};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const OPS: [Build; 23] = [
    Build::Add,
    Build::Sub,
    Build::Neg,
    Build::Times(-0.5),
    Build::Mul,
    Build::Hadamard,
    Build::Pow(2.0),
    Build::Map(Func::Tanh),
    Build::Transpose,
    Build::Sum,
    Build::SqNorm,
    Build::Norm2,
    Build::Norm1,
    Build::Dot,
    Build::Trace,
    Build::Det,
    Build::LogDet,
    Build::Inv,
    Build::Diag,
    Build::DiagPart,
    Build::Kron,
    Build::Vec,
    Build::Softmax,
];

fn base() -> (Graph, Vec<NodeId>) {
    let mut dims = DimTable::default();
    let (n, m) = (dims.add("n"), dims.add("m"));
    let mut g = Graph::new(dims);
    let vars = [
        ("A", Shape::mat(n, n)),
        ("B", Shape::mat(n, m)),
        ("x", Shape::col(n)),
        ("y", Shape::col(m)),
        ("s", Shape::SCALAR),
    ];
    let pool = vars
        .into_iter()
        .map(|(name, shape)| g.add_var(Var { name: name.into(), shape, symmetric: false }).unwrap())
        .collect();
    (g, pool)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_builds_are_well_shaped(steps in prop::collection::vec((0..OPS.len(), 0usize..64, 0usize..64), 1..40)) {
        let (mut g, mut pool) = base();
        for (op, i, j) in steps {
            let op = OPS[op];
            let args: Vec<NodeId> = [i, j][..op.arity()].iter().map(|&k| pool[k % pool.len()]).collect();
            match g.apply(op, &args) {
                Ok(node) => pool.push(node),
                Err(e) => prop_assert!(matches!(e.kind, ErrorKind::Shape), "{op:?}: {e}"),
            }
        }
        // Values only where they are defined everywhere we draw (no det/inv/log of arbitrary
        // matrices): the shapes must hold whatever the values.
        let mut rng = StdRng::seed_from_u64(7);
        for (n, m) in [(2, 3), (4, 1)] {
            // Product dimensions (from kron and vec) follow from n and m.
            let mut dims = vec![usize::MAX; g.dims().dims().len()];
            dims[..2].copy_from_slice(&[n, m]);
            prop_assert!(g.dims().fill_products(&mut dims).is_none());
            let env = random_env(&g, pool[0], dims, &mut rng);
            let vals = eval(&g, &pool, &env);
            let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
            let compiled = Compiled::new(&g, &pool).run_owned(&inputs).unwrap();
            for ((&node, v), c) in pool.iter().zip(&vals).zip(&compiled) {
                prop_assert_eq!((v.nrows(), v.ncols()), env.size(g.shape(node)));
                if v.col_iter().flat_map(|c| c.iter().copied()).all(f64::is_finite) {
                    prop_assert!(rel_diff(v, c, 0.0) < 1e-8, "evaluators differ");
                }
            }
        }
    }
}

#[test]
fn refusals_name_the_shapes() {
    let (mut g, pool) = base();
    let (a, b, x) = (pool[0], pool[1], pool[2]);
    let cases: [(Build, Vec<NodeId>, &str); 8] = [
        (Build::Mul, vec![x, a], "inner dimensions"),
        (Build::Add, vec![a, b], "same shape"),
        (Build::Trace, vec![b], "square"),
        (Build::Inv, vec![x], "square"),
        (Build::Diag, vec![a], "column vector"),
        (Build::Kron, vec![pool[4], a], "vectors or matrices"),
        (Build::Softmax, vec![a], "column vector"),
        (Build::Softmax, vec![pool[4]], "column vector"),
    ];
    for (op, args, why) in cases {
        let e = g.apply(op, &args).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape, "{op:?}");
        assert!(e.message.contains(why), "{op:?}: {}", e.message);
    }
    let e = g.apply(Build::Neg, &[NodeId(10_000)]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(g.apply(Build::Add, &[a]).is_err());
    let e = g.add_var(Var { name: "A".into(), shape: Shape::SCALAR, symmetric: false }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
}
