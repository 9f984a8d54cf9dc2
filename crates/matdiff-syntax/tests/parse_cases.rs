//! Parser fixtures: every `tests/cases/parse/*.txt` is parsed and its tree or error snapshotted.
//!
//! A case file may start with a header line: `# decl` parses it with `parse_decls`, `# expr`
//! with `parse_expr`; anything else (including no header) uses `parse_program`. The header line
//! and one trailing newline are stripped, so a case that needs a trailing line break ends with
//! two. Limits, timing and never-panic properties are ordinary tests at the end.

#[path = "common/tree.rs"]
mod tree;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use tree::{assert_valid_span, check_spans, children, render_tree, show_span};

use matdiff_syntax::{
    parse_decls, parse_expr, parse_program, to_sexpr, Decl, DeclKind, DimSpec, Error, Expr, ExprKind, Span, MAX_DEPTH,
    MAX_INPUT_LEN,
};
use proptest::prelude::*;

// ----- fixtures ------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Mode {
    Program,
    Expr,
    Decl,
}

/// Split off the header line and the single trailing newline.
fn case_source(text: &str) -> (Mode, &str) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (mode, src) = match first.trim_end() {
        "# decl" => (Mode::Decl, rest),
        "# expr" => (Mode::Expr, rest),
        "# program" => (Mode::Program, rest),
        _ => (Mode::Program, text),
    };
    (mode, src.strip_suffix('\n').unwrap_or(src))
}

fn render_case(mode: Mode, src: &str) -> String {
    let mut out = format!("source:\n{}\n---\n", indent(src));
    let result = match mode {
        Mode::Program => parse_program(src).map(|p| {
            for def in &p.defs {
                let _ = writeln!(out, "def {} {} =", def.name, show_span(src, def.name_span));
                render_tree(src, &def.value, 1, &mut out);
            }
            let _ = writeln!(out, "body: {}", to_sexpr(&p.body));
            render_tree(src, &p.body, 1, &mut out);
        }),
        Mode::Expr => parse_expr(src).map(|e| {
            let _ = writeln!(out, "expr: {}", to_sexpr(&e));
            render_tree(src, &e, 1, &mut out);
        }),
        Mode::Decl => parse_decls(src).map(|decls| render_decls(src, &decls, &mut out)),
    };
    if let Err(err) = result {
        out.push_str(&render_error(src, &err));
    }
    out
}

fn indent(src: &str) -> String {
    src.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn render_decls(src: &str, decls: &[Decl], out: &mut String) {
    if decls.is_empty() {
        out.push_str("(no declarations)\n");
    }
    for d in decls {
        let _ = writeln!(out, "{}: {}  {}", d.name, show_kind(&d.kind), show_span(src, d.span));
    }
}

fn show_kind(kind: &DeclKind) -> String {
    let dim = |d: &Option<DimSpec>| match d {
        None => "?".to_string(),
        Some(DimSpec::Name(n)) => n.clone(),
        Some(DimSpec::Num(n)) => n.to_string(),
    };
    match kind {
        DeclKind::Scalar => "scalar".to_string(),
        DeclKind::Vector(None) => "vector".to_string(),
        DeclKind::Vector(n) => format!("vector({})", dim(n)),
        DeclKind::Matrix(None, None) => "matrix".to_string(),
        DeclKind::Matrix(m, n) => format!("matrix({}, {})", dim(m), dim(n)),
        DeclKind::Symmetric(None) => "symmetric".to_string(),
        DeclKind::Symmetric(n) => format!("symmetric({})", dim(n)),
    }
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
        let gutter = " ".repeat(line_no.to_string().len());
        let _ = writeln!(out, "{gutter}--> {}:{} (bytes {}..{})", line_no, col + 1, span.start, span.end);
        let _ = writeln!(out, "{line_no} | {}", &src[line_start..line_end]);
        let _ = writeln!(out, "{gutter} | {}{} {}", " ".repeat(col), "^".repeat(width), err.label);
    }
    for note in &err.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

#[test]
fn parse_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/parse");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("case directory")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() > 40, "expected the parse cases in {}", dir.display());
    for path in paths {
        let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 case name").to_string();
        let text = std::fs::read_to_string(&path).expect("read case");
        let (mode, src) = case_source(&text);
        insta::assert_snapshot!(name, render_case(mode, src));
    }
}

// ----- nesting and size limits -----------------------------------------------------------------

const TOO_DEEP: &str = "expression nested too deeply (more than 256 levels)";

/// Run on a thread with the default test-thread stack (2 MiB), whatever RUST_MIN_STACK says.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).expect("spawn").join().expect("no panic")
}

/// Parse on a small stack, quickly, and return the error (or `None` on success).
fn parse_quickly(src: String) -> Option<Error> {
    let started = Instant::now();
    let result = on_small_stack(move || parse_program(&src).err());
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    result
}

fn assert_too_deep(src: String, expected_span: Span) {
    let err = parse_quickly(src).expect("should be too deep");
    assert_eq!(err.message, TOO_DEEP);
    assert_eq!(err.span, Some(expected_span));
}

#[test]
fn deep_parentheses_are_refused_quickly() {
    let n = 100_000;
    let src = "(".repeat(n) + "x" + &")".repeat(n);
    assert_too_deep(src, Span::new(MAX_DEPTH - 1, MAX_DEPTH));
}

#[test]
fn long_prefix_chains_are_refused_quickly() {
    assert_too_deep("-".repeat(100_000) + "x", Span::new(MAX_DEPTH - 1, MAX_DEPTH));
    assert_too_deep("+".repeat(100_000) + "x", Span::new(MAX_DEPTH - 1, MAX_DEPTH));
}

#[test]
fn long_left_associative_chains_are_refused_quickly() {
    // The 256th `+` would make the 257th level.
    let src = "x".to_string() + &"+x".repeat(100_000);
    let plus = 1 + 2 * (MAX_DEPTH - 1);
    assert_too_deep(src, Span::new(plus, plus + 1));
    let src = "x".to_string() + &"*x".repeat(100_000);
    assert_too_deep(src, Span::new(plus, plus + 1));
}

#[test]
fn long_right_associative_and_postfix_chains_are_refused_quickly() {
    let src = "x".to_string() + &"^x".repeat(100_000);
    let caret = 1 + 2 * (MAX_DEPTH - 1);
    assert_too_deep(src, Span::new(caret, caret + 1));
    let src = "x".to_string() + &"'".repeat(100_000);
    assert_too_deep(src, Span::new(MAX_DEPTH, MAX_DEPTH + 1));
}

#[test]
fn deep_calls_are_refused_quickly() {
    let n = 100_000;
    let src = "f(".repeat(n) + "x" + &")".repeat(n);
    let err = parse_quickly(src).expect("too deep");
    assert_eq!(err.message, TOO_DEEP);
}

#[test]
fn trees_at_the_limit_are_accepted() {
    let k = MAX_DEPTH - 1;
    let cases = [
        "(".repeat(k) + "x" + &")".repeat(k),
        "-".repeat(k) + "x",
        "x".to_string() + &"+x".repeat(k),
        "x".to_string() + &"^x".repeat(k),
        "x".to_string() + &"'".repeat(k),
        "f(".repeat(k) + "x" + &")".repeat(k),
        // Alternate kinds of nesting so every parse function recurses.
        "-(f(".repeat(k / 3) + "x" + &"))".repeat(k / 3),
    ];
    for src in cases {
        let shown = src.chars().take(20).collect::<String>();
        let tree = on_small_stack(move || parse_expr(&src).map(|e| depth(&e)));
        let d = tree.unwrap_or_else(|e| panic!("{shown}...: {e}"));
        assert!(d <= MAX_DEPTH, "{shown}...: depth {d}");
    }
}

#[test]
fn one_past_the_limit_is_refused() {
    let k = MAX_DEPTH;
    for src in ["(".repeat(k) + "x" + &")".repeat(k), "-".repeat(k) + "x", "x".to_string() + &"+x".repeat(k)] {
        let err = parse_quickly(src).expect("one level too deep");
        assert_eq!(err.message, TOO_DEEP);
    }
}

#[test]
fn huge_inputs_are_refused() {
    let src = "x+".repeat(MAX_INPUT_LEN / 2) + "x";
    let err = parse_program(&src).unwrap_err();
    assert!(err.message.starts_with("input too long"), "{}", err.message);
    let err = parse_decls(&" ".repeat(MAX_INPUT_LEN + 1)).unwrap_err();
    assert!(err.message.starts_with("input too long"), "{}", err.message);
}

#[test]
fn long_flat_inputs_parse() {
    // Long but shallow: many definitions, each a short expression.
    let src = "a = x + 1\n".repeat(50_000) + "a";
    let program = parse_quickly(src);
    assert!(program.is_none(), "{program:?}");
}

// ----- properties ------------------------------------------------------------------------------

/// Depth as counted by the parser's limit, minus parentheses (which leave no node).
fn depth(e: &Expr) -> usize {
    1 + children(e).into_iter().map(depth).max().unwrap_or(0)
}

/// Fully parenthesized source for a tree; reparsing it must give the same tree.
fn print_parenthesized(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Num(v) => format!("{v:?}"),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Neg(a) => format!("(-{})", print_parenthesized(a)),
        ExprKind::Transpose(a) => format!("({})'", print_parenthesized(a)),
        ExprKind::Binary(op, a, b) => {
            format!("({} {} {})", print_parenthesized(a), op.symbol(), print_parenthesized(b))
        }
        ExprKind::Call { func, args, .. } => {
            let args: Vec<String> = args.iter().map(print_parenthesized).collect();
            format!("{func}({})", args.join(", "))
        }
    }
}

fn check_never_panics(src: &str) {
    match parse_program(src) {
        Ok(program) => {
            for e in program.defs.iter().map(|d| &d.value).chain([&program.body]) {
                check_spans(src, e);
                assert!(depth(e) <= MAX_DEPTH);
                if depth(e) < 100 {
                    let again = parse_expr(&print_parenthesized(e)).expect("reparses");
                    assert_eq!(to_sexpr(&again), to_sexpr(e));
                }
            }
        }
        Err(err) => {
            if let Some(span) = err.span {
                assert_valid_span(src, span);
            }
        }
    }
    if let Err(err) = parse_decls(src) {
        if let Some(span) = err.span {
            assert_valid_span(src, span);
        }
    }
}

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "x", "y", "f", "2", "0.5", ".", "e", "(", ")", "+", "-", "*", "/", "'", "^", ".*", "./", ".^", ",", ";", "\n",
        " ", "=", ":", "#", "1e3",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        check_never_panics(&src);
    }

    #[test]
    fn printable_ascii_never_panics(src in "[ -~\n]{0,60}") {
        check_never_panics(&src);
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        check_never_panics(&src);
    }
}
