//! LaTeX reader fixtures: every `tests/cases/latex/{ok,err}/*.txt` (one test each) is read with `parse_latex` and its
//! plain form, tree and notes (or its spanned error) snapshotted.
//!
//! A case file starts with header lines, then the LaTeX source (the rest of the file, one
//! trailing newline stripped):
//! - `# names: W x` — the known names (for splitting juxtapositions), or
//! - `# decl: W: matrix(m,n); x: vector(n)` — declarations; their names are the known names,
//! - `# plain: 0.5*norm2(W'*W*x - x)^2` (with `# decl`) — an equivalent plain expression: the
//!   LaTeX and plain problems must evaluate to the same numbers at random inputs, at two
//!   dimension settings.
//!
//! Every successful reading is also printed as plain syntax and re-parsed with the plain
//! parser, which must give the same tree. Limits, timing and never-panic properties follow.

use crate::tree::{assert_valid_span, check_spans, render_tree};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use matdiff::syntax::{
    looks_like_latex, parse_decls, parse_latex, parse_plain, to_plain, to_sexpr, Expr, ExprKind, LatexRead, PlainMode,
    MAX_DEPTH, MAX_INPUT_LEN,
};
use matdiff::{check_sizes, eval, random_dims, random_env, Error, Problem};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

// ----- fixtures ------------------------------------------------------------------------------

struct Case {
    names: Vec<String>,
    decl: Option<String>,
    plain: Option<String>,
    src: String,
}

fn read_case(text: &str) -> Case {
    let mut case = Case { names: vec![], decl: None, plain: None, src: String::new() };
    let mut rest = text;
    while let Some(line) = rest.strip_prefix("# ") {
        let (line, after) = line.split_once('\n').unwrap_or((line, ""));
        rest = after;
        if let Some(names) = line.strip_prefix("names:") {
            case.names = names.split_whitespace().map(str::to_string).collect();
        } else if let Some(decl) = line.strip_prefix("decl:") {
            let decl = decl.trim().to_string();
            let decls = parse_decls(&decl).unwrap_or_else(|e| panic!("bad decl `{decl}`: {e}"));
            case.names = decls.iter().map(|d| d.name.clone()).collect();
            case.decl = Some(decl);
        } else if let Some(plain) = line.strip_prefix("plain:") {
            case.plain = Some(plain.trim().to_string());
        } else {
            panic!("unknown header line `# {line}`");
        }
    }
    case.src = rest.strip_suffix('\n').unwrap_or(rest).to_string();
    case
}

fn render_case(case: &Case) -> String {
    let src = case.src.as_str();
    let names: Vec<&str> = case.names.iter().map(String::as_str).collect();
    let mut out = format!("names: {}\nsource:\n    {}\n", names.join(" "), src.replace('\n', "\n    "));
    let _ = writeln!(out, "detected as LaTeX: {}\n---", looks_like_latex(src));
    match parse_latex(src, &names) {
        Ok(read) => render_read(src, &read, &mut out),
        Err(err) => out.push_str(&render_error(src, &err)),
    }
    out
}

fn render_read(src: &str, read: &LatexRead, out: &mut String) {
    let body = &read.program.body;
    assert!(read.program.defs.is_empty());
    let plain = to_plain(body);
    let _ = writeln!(out, "plain: {plain}");
    let _ = writeln!(out, "sexpr: {}", to_sexpr(body));
    for note in &read.notes {
        let _ = writeln!(out, "note: {note}");
    }
    render_tree(src, body, 1, out);
    // The plain printing reads back as the same tree.
    let again = reparse(&plain, body).unwrap_or_else(|e| panic!("`{plain}` does not re-parse: {e}"));
    assert_eq!(to_sexpr(&again), to_sexpr(body), "plain form `{plain}` re-parses differently");
    check_spans(src, body);
}

/// The names a tree uses (the plain reader splits undeclared runs with capitals: `Wx` is W*x).
fn names_in(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => out.push(n.clone()),
        ExprKind::Num(_) => {}
        ExprKind::Neg(a) | ExprKind::Transpose(a) => names_in(a, out),
        ExprKind::Binary(_, a, b) => {
            names_in(a, out);
            names_in(b, out);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| names_in(a, out)),
    }
}

/// The plain form of a LaTeX reading parsed back, with the reading's names declared.
fn reparse(plain: &str, body: &Expr) -> Result<Expr, matdiff::Error> {
    let mut names = vec![];
    names_in(body, &mut names);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    parse_plain(plain, &names, PlainMode::Expression).map(|r| r.program.body.clone())
}

/// rustc-style: message, location, the source line with `^^^` under the span, label, notes.
fn render_error(src: &str, err: &Error) -> String {
    let mut out = format!("error [{:?}]: {}\n", err.input, err.message);
    if let Some(span) = err.span {
        assert_valid_span(src, span);
        let line_start = src[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[span.start..].find('\n').map_or(src.len(), |i| span.start + i);
        let line_no = src[..span.start].matches('\n').count() + 1;
        let col = src[line_start..span.start].chars().count();
        let width = src[span.start..span.end.min(line_end)].chars().count().max(1);
        let _ = writeln!(out, " --> {}:{} (bytes {}..{})", line_no, col + 1, span.start, span.end);
        let _ = writeln!(out, "  | {}", &src[line_start..line_end]);
        let _ = writeln!(out, "  | {}{} {}", " ".repeat(col), "^".repeat(width), err.label);
    }
    for note in &err.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Every fixture of `tests/cases/latex/{ok,err}/`, sorted.
fn case_paths() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/latex");
    let mut paths = vec![];
    for folder in ["ok", "err"] {
        let dir = root.join(folder);
        paths.extend(
            std::fs::read_dir(&dir)
                .expect("case directory")
                .map(|entry| entry.expect("dir entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt")),
        );
    }
    paths.sort();
    assert!(paths.len() > 100, "expected the LaTeX cases in {}", root.display());
    paths
}

/// One fixture: what was read (or the error) is snapshotted; fixtures in `err/` must fail.
fn run_case(path: &Path) {
    let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 case name").to_string();
    let case = read_case(&std::fs::read_to_string(path).expect("read case"));
    let rendered = render_case(&case);
    let is_error = rendered.lines().any(|l| l.starts_with("error"));
    let in_err = path.parent().is_some_and(|d| d.ends_with("err"));
    assert_eq!(is_error, in_err, "{}: fixtures in err/ must fail and those in ok/ must not", path.display());
    insta::assert_snapshot!(name, rendered);
}

// One `#[test]` per fixture, generated by build.rs.
include!(concat!(env!("OUT_DIR"), "/fixtures_latex.rs"));

#[test]
fn the_fixtures_are_there() {
    assert_eq!(FIXTURE_COUNT, case_paths().len());
}

// ----- numeric equivalence with the plain form -----------------------------------------------------

/// The LaTeX and the plain expression, lowered into one graph (the plain one as a claim, so
/// variables and dimensions are shared), evaluate to the same numbers at random inputs.
fn assert_same_values(latex: &str, plain: &str, decl: &str, at: &str) {
    let mut p = Problem::new_latex(latex, decl).unwrap_or_else(|e| panic!("{at}: LaTeX `{latex}`: {e}"));
    let q = p.claim(plain).unwrap_or_else(|e| panic!("{at}: plain `{plain}`: {e}"));
    let (a, g) = (p.output, p.graph());
    assert_eq!(g.shape(a), g.shape(q), "{at}: shapes differ");
    for (seed, (lo, hi)) in [(1u64, (1, 3)), (2, (4, 6))] {
        let mut rng = StdRng::seed_from_u64(seed);
        let dims = random_dims(g, &mut rng, lo, hi);
        let env = random_env(g, a, dims, &mut rng);
        check_sizes(g, &[a, q], &env).unwrap_or_else(|e| panic!("{at}: {e}"));
        let vals = eval(g, &[a, q], &env);
        let (x, y) = (&vals[0], &vals[1]);
        for i in 0..x.nrows() {
            for j in 0..x.ncols() {
                let (u, v) = (x[(i, j)], y[(i, j)]);
                assert!(u.is_finite(), "{at}: not finite at dims {lo}..{hi}");
                assert!(
                    (u - v).abs() <= 1e-9 * (1.0 + u.abs().max(v.abs())),
                    "{at}: {u} vs {v} at ({i},{j}), dims {lo}..{hi}"
                );
            }
        }
    }
}

#[test]
fn latex_cases_evaluate_like_their_plain_forms() {
    let mut checked = 0;
    for path in case_paths() {
        let case = read_case(&std::fs::read_to_string(&path).expect("read case"));
        if let (Some(plain), Some(decl)) = (&case.plain, &case.decl) {
            assert_same_values(&case.src, plain, decl, &path.display().to_string());
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} cases have a `# plain:` form");
}

#[test]
fn problem_detects_latex_and_keeps_notes() {
    let decl = "W: matrix(m,n); x: vector(n)";
    let p = Problem::new("\\frac{1}{2}\\|W^T Wx - x\\|^2", decl).expect("reads");
    assert_eq!(p.notes[0], "read as: 1/2*norm2(W'*W*x - x)^2");
    assert!(p.notes.iter().any(|n| n == "read `Wx` as W*x"), "{:?}", p.notes);
    let plain = Problem::new("0.5*norm2(W'*W*x - x)^2", decl).expect("reads");
    assert!(plain.notes.is_empty());
    // `2W` is a product in plain syntax too, and the note says so.
    let plain = Problem::new("sum(2W)", "W: matrix(m,n)").expect("reads");
    assert_eq!(plain.notes[0], "read as: sum(2*W)");
    let forced = Problem::new_latex("\\operatorname{sum}(2W)", "W: matrix(m,n)").expect("reads");
    assert_eq!(forced.notes[0], "read as: sum(2*W)");
    let forced = Problem::new_latex("sum(2W)", "W: matrix(m,n)").expect("reads");
    assert_eq!(forced.notes[0], "read as: sum(2*W)");
}

#[test]
fn gradients_of_latex_and_plain_agree() {
    // The README's example, end to end through the library: same gradient node.
    let decl = "W: matrix(m,n); x: vector(n)";
    let mut p = Problem::new("\\frac{1}{2}\\|W^T W x - x\\|^2", decl).expect("reads");
    let g = p.gradients(&["W"]).expect("gradient").nodes[0];
    let same = p.claim("W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'").expect("claim");
    assert_eq!(g, same, "{}", p.print(g, matdiff::Style::Plain));
    // A LaTeX claim, as a student writes it (seed 002): the right one and the wrong one.
    let right = p.claim("W(xx^T(W^T W - I) + (W^T W - I)xx^T)").expect("claim");
    let wrong = p.claim("2W(W^T W - I)xx^T").expect("claim");
    let mut rng = StdRng::seed_from_u64(7);
    let dims = random_dims(p.graph(), &mut rng, 2, 5);
    let env = random_env(p.graph(), p.output, dims, &mut rng);
    let vals = eval(p.graph(), &[g, right, wrong], &env);
    let diff = |a: usize, b: usize| {
        let (x, y) = (&vals[a], &vals[b]);
        (0..x.nrows())
            .flat_map(|i| (0..x.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| (x[(i, j)] - y[(i, j)]).abs())
            .fold(0.0, f64::max)
    };
    assert!(diff(0, 1) < 1e-9, "the right claim differs by {}", diff(0, 1));
    assert!(diff(0, 2) > 1e-3, "the wrong claim matches");
}

// ----- nesting and size limits -------------------------------------------------------------------

const TOO_DEEP: &str = "expression nested too deeply (more than 256 levels)";

/// Parse on a thread with a 2 MiB stack, within a second, and return the error if any.
fn parse_quickly(src: String) -> Option<Error> {
    let started = Instant::now();
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || parse_latex(&src, &["x"]).err())
        .expect("spawn")
        .join()
        .expect("no panic");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    result
}

fn assert_too_deep(src: String) {
    let shown: String = src.chars().take(30).collect();
    let err = parse_quickly(src).unwrap_or_else(|| panic!("{shown}...: should be too deep"));
    assert_eq!(err.message, TOO_DEEP, "{shown}...");
    assert!(err.span.is_some());
}

#[test]
fn deep_nesting_is_refused_quickly() {
    // As deep as the 1 MB input limit allows.
    assert_too_deep("\\left(".repeat(70_000) + "x" + &"\\right)".repeat(70_000));
    let n = 100_000;
    assert_too_deep("{".repeat(n) + "x" + &"}".repeat(n));
    assert_too_deep("(".repeat(n) + "x" + &")".repeat(n));
    assert_too_deep("\\frac{".repeat(90_000) + "x" + &"}{2}".repeat(90_000));
    assert_too_deep("x^{".repeat(n) + "2" + &"}".repeat(n));
    assert_too_deep("\\|".repeat(n) + "x" + &"\\|".repeat(n));
    assert_too_deep("\\log(".repeat(n) + "x" + &")".repeat(n));
    assert_too_deep("\\log ".repeat(n) + "x");
    assert_too_deep("-".repeat(n) + "x");
    // Only nesting counts: a product of 100,000 juxtaposed factors, or a sum of as many terms,
    // is one level (regrouped into a balanced tree) and parses quickly on a small stack.
    assert!(parse_quickly("x".to_string() + &" x".repeat(n)).is_none(), "x x x …");
    assert!(parse_quickly("x".to_string() + &" + x".repeat(n)).is_none(), "x + x + …");
    assert_too_deep("x".to_string() + &"^T".repeat(n));
    assert_too_deep("\\mathbf{".repeat(n) + "x" + &"}".repeat(n));
}

#[test]
fn unclosed_deep_nesting_is_refused_quickly() {
    let n = 100_000;
    for src in ["\\left(".repeat(n), "{".repeat(n), "|".repeat(n), "\\frac{".repeat(n), "\\sqrt{".repeat(n)] {
        assert!(parse_quickly(src).is_some());
    }
    // Wrappers without braces vanish; a long run of them must not recurse.
    assert!(parse_quickly("\\mathbf ".repeat(n) + "x").is_none());
    assert!(parse_quickly("x".to_string() + &"\\quad".repeat(n)).is_none());
}

#[test]
fn trees_at_the_limit_are_accepted() {
    let k = MAX_DEPTH - 1;
    let src = "(".repeat(k) + "x" + &")".repeat(k);
    assert!(parse_quickly(src).is_none());
    let src = "x".to_string() + &"+x".repeat(k);
    assert!(parse_quickly(src).is_none());
}

#[test]
fn huge_inputs_are_refused() {
    let src = "x+".repeat(MAX_INPUT_LEN / 2) + "x";
    let err = parse_latex(&src, &[]).unwrap_err();
    assert!(err.message.starts_with("input too long"), "{}", err.message);
}

#[test]
fn long_letter_runs_are_refused() {
    let err = parse_latex(&"x".repeat(10_000), &["x"]).unwrap_err();
    assert!(err.message.contains("cannot be read as names"), "{}", err.message);
}

// ----- properties: never a panic, always valid spans, plain forms that read back --------------------

fn check_never_panics(src: &str) {
    match parse_latex(src, &["x", "W", "A", "xy", "alpha", "W1"]) {
        Ok(read) => {
            let body = &read.program.body;
            check_spans(src, body);
            let plain = to_plain(body);
            let again = reparse(&plain, body)
                .unwrap_or_else(|e| panic!("{src:?} read as `{plain}`, which does not re-parse: {e}"));
            assert_eq!(to_sexpr(&again), to_sexpr(body), "{src:?}");
        }
        Err(err) => {
            if let Some(span) = err.span {
                assert_valid_span(src, span);
            }
            assert!(!err.message.is_empty());
        }
    }
    let _ = looks_like_latex(src);
}

fn latex_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "x",
        "W",
        "A",
        "y",
        "e",
        "I",
        "2",
        "1",
        "0.5",
        " ",
        "+",
        "-",
        "*",
        "/",
        "^",
        "_",
        "'",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "|",
        "\\|",
        "\\frac",
        "\\frac12",
        "\\left(",
        "\\right)",
        "\\left|",
        "\\right|",
        "\\log",
        "\\det",
        "\\exp",
        "\\sigma",
        "\\alpha",
        "\\beta",
        "\\top",
        "T",
        "^T",
        "^{-1}",
        "\\cdot",
        "\\odot",
        "\\mathbf{",
        "\\mathbf{1}",
        "\\operatorname{tr}",
        "\\text{tr}",
        "\\sqrt",
        "\\,",
        "\\\\",
        "&",
        ",",
        ".",
        "//",
        "=",
        "\\partial",
        "\\nabla_W",
        "\\hat{y}",
        "\\big(",
        "\\big)",
        "_2",
        "_F",
        "_{1}",
        "xx",
        "Wx",
        "\\mathcal{L}",
        "$",
        "%",
        "\\",
        "ᵀ",
        "‖",
        "−",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|t| t.concat())
}

proptest! {
    // 2000 cases each in `cargo test`; PROPTEST_CASES=100000 for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        check_never_panics(&src);
    }

    #[test]
    fn printable_ascii_never_panics(src in "[ -~\n]{0,60}") {
        check_never_panics(&src);
    }

    #[test]
    fn latex_soup_never_panics(src in latex_soup()) {
        check_never_panics(&src);
    }
}
