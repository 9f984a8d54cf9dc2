//! The scaling run: `matdiff grad` on a definitions chain `h1 = tanh(x)`, `h2 = tanh(h1)`, …,
//! `sum(hN)` at depths 1,000 to 32,000, end to end through the binary (read, lower,
//! differentiate, simplify, print), as text, LaTeX and `--steps` (text and LaTeX): wall time
//! (the fastest of `--runs`, default 3) and bytes written, as a Markdown table (and `--json`).
//!
//! ```sh
//! cargo build --release -p matdiff-cli -p matdiff-bench
//! target/release/scaling --bin target/release/matdiff [--depths 1000,2000,4000] [--runs 3] [--json]
//! ```
//!
//! `--steps` includes the derivation's numeric check (central differences at two dimension
//! settings); on this chain the check may report that rounding error swamped the differences
//! (exit 2), which the table shows, and the output is written all the same.

use std::process::Command;
use std::time::Instant;

/// The chain of `depth` definitions, in the input language.
fn chain(depth: usize) -> String {
    let mut s = String::from("h1 = tanh(x)\n");
    for i in 2..=depth {
        s.push_str(&format!("h{i} = tanh(h{})\n", i - 1));
    }
    s.push_str(&format!("sum(h{depth})\n"));
    s
}

struct Row {
    depth: usize,
    /// (what, seconds, bytes, exit code)
    runs: Vec<(&'static str, f64, usize, i32)>,
}

fn main() {
    let mut bin = "target/release/matdiff".to_string();
    let mut depths = vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000];
    let mut repeats = 3;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bin" => bin = args.next().expect("--bin PATH"),
            "--depths" => {
                depths = args
                    .next()
                    .expect("--depths N,N,…")
                    .split(',')
                    .map(|d| d.trim().parse().expect("a depth is a number"))
                    .collect()
            }
            "--runs" => repeats = args.next().and_then(|r| r.parse().ok()).expect("--runs N"),
            "--json" => json = true,
            other => panic!("unknown argument {other} (--bin PATH --depths N,N --runs N --json)"),
        }
    }
    let dir = std::env::temp_dir().join(format!("matdiff-scaling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kinds: [(&str, &[&str]); 4] = [
        ("text", &[]),
        ("latex", &["--format", "latex"]),
        ("steps", &["--steps"]),
        ("steps latex", &["--steps", "--format", "latex"]),
    ];
    let mut rows = vec![];
    for &depth in &depths {
        let file = dir.join(format!("chain{depth}.txt"));
        std::fs::write(&file, chain(depth)).unwrap();
        let at = format!("@{}", file.display());
        let mut row = Row { depth, runs: vec![] };
        for (what, extra) in kinds {
            let mut best = f64::INFINITY;
            let (mut bytes, mut code) = (0, 0);
            for _ in 0..repeats {
                let start = Instant::now();
                let out = Command::new(&bin)
                    .args(["grad", &at, "--wrt", "x", "--decl", "x: vector(n)"])
                    .args(extra)
                    .output()
                    .expect("the matdiff binary runs");
                best = best.min(start.elapsed().as_secs_f64());
                bytes = out.stdout.len();
                code = out.status.code().unwrap_or(-1);
            }
            row.runs.push((what, best, bytes, code));
            eprintln!("depth {depth}: {what}: {best:.3} s, {bytes} bytes, exit {code}");
        }
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let runs: Vec<serde_json::Value> = r
                    .runs
                    .iter()
                    .map(|(w, s, b, c)| serde_json::json!({"output": w, "seconds": s, "bytes": b, "exit": c}))
                    .collect();
                serde_json::json!({"depth": r.depth, "runs": runs})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        return;
    }
    let header: Vec<String> = kinds.iter().map(|k| format!("{} time | {} bytes", k.0, k.0)).collect();
    println!("| depth | {} |", header.join(" | "));
    println!("|---|{}", "---|---|".repeat(kinds.len()));
    for r in &rows {
        let cells: Vec<String> = r
            .runs
            .iter()
            .map(|(_, s, b, c)| {
                let note = if *c == 0 { String::new() } else { format!(" (exit {c})") };
                format!("{:.3} s{note} | {b}", s)
            })
            .collect();
        println!("| {} | {} |", r.depth, cells.join(" | "));
    }
}
