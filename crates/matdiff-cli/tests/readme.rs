//! The README stays true: every `$ matdiff …` command in its `console` blocks (and the shell
//! lines around them, such as `echo … > in.json`) runs from the repository root as a newcomer
//! would run it after `cargo install`, and prints what the README shows. A line `…` in the
//! README stands for any number of lines; numbers in scientific notation (`3.3e-11`: rounding
//! errors, which move with the machine's vector width) are compared as numbers of that form.
//! The install and test commands are checked against the manifests.

use crate::common::{looks_like_panic, Scratch, BIN};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// One command of a console block and the output the README shows for it.
struct Example {
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands of every ```` ```console ```` block, with `\` continuations joined.
fn examples(text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = vec![];
    let mut in_console = false;
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        if !in_console {
            in_console = line.trim() == "```console";
            continue;
        }
        if line.trim() == "```" {
            in_console = false;
            continue;
        }
        if continuing {
            let last = out.last_mut().unwrap();
            last.command.push(' ');
            last.command.push_str(line.trim().trim_end_matches('\\').trim_end());
            continuing = line.trim_end().ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            continuing = cmd.trim_end().ends_with('\\');
            let command = cmd.trim_end().trim_end_matches('\\').trim_end().to_string();
            out.push(Example { line: i + 1, command, expected: vec![] });
        } else if let Some(last) = out.last_mut() {
            last.expected.push(line.trim_end().to_string());
        }
    }
    out
}

/// `3.3e-11` → `#e#`: the digits of a rounding error are the machine's, its form is the README's.
fn normalize(line: &str) -> String {
    let chars: Vec<char> = line.trim_end().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            if j < chars.len() && chars[j] == 'e' {
                let mut k = j + 1;
                if k < chars.len() && (chars[k] == '-' || chars[k] == '+') {
                    k += 1;
                }
                let digits = k;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                if k > digits {
                    out.push_str("#e#");
                    i = k;
                    continue;
                }
            }
            out.extend(&chars[start..j]);
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Whether `actual` matches `expected`, where an expected line `…` matches any lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "…" => (0..=actual.len()).any(|k| matches(rest, &actual[k..])),
        Some((e, rest)) => !actual.is_empty() && normalize(e) == normalize(&actual[0]) && matches(rest, &actual[1..]),
    }
}

#[test]
fn readme_console_examples_print_what_the_readme_shows() {
    let text = readme();
    let all = examples(&text);
    assert!(all.len() >= 15, "only {} console commands found in README.md", all.len());
    // A scratch folder that looks like the repository root (files a command writes, such as
    // in.json, land here), with `matdiff` on PATH as after `cargo install`.
    let scratch = Scratch::new("readme");
    for entry in ["problems", "examples"] {
        #[cfg(unix)]
        std::os::unix::fs::symlink(root().join(entry), scratch.0.join(entry)).unwrap();
    }
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut failures = vec![];
    let mut ran = 0;
    for ex in &all {
        // The server runs until stopped: its banner is tested in tests/serve_cli.rs.
        if ex.command.starts_with("matdiff serve") {
            continue;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(&ex.command)
            .current_dir(&scratch.0)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        ran += 1;
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!looks_like_panic(&stderr), "README.md:{}: `{}` panicked:\n{stderr}", ex.line, ex.command);
        // What a terminal shows: the output, then the messages (the README's examples are
        // written in that order).
        let actual: Vec<String> = stdout.lines().chain(stderr.lines()).map(|l| l.trim_end().to_string()).collect();
        let mut expected = ex.expected.clone();
        while expected.last().is_some_and(|l| l.is_empty()) {
            expected.pop();
        }
        if !matches(&expected, &actual) {
            failures.push(format!(
                "README.md:{}: `{}`\n--- README shows ---\n{}\n--- it prints ---\n{}",
                ex.line,
                ex.command,
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    assert!(ran >= 15, "only {ran} README commands ran");
    assert!(failures.is_empty(), "{} of {ran} README examples differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn readme_install_and_test_commands_are_true() {
    let text = readme();
    for line in
        ["cargo install --locked --path crates/matdiff-cli", "cargo run --release -- demo", "cargo test --workspace"]
    {
        assert!(text.contains(line), "README.md no longer shows `{line}`");
    }
    // `cargo install --path crates/matdiff-cli` installs a binary called matdiff …
    let manifest = std::fs::read_to_string(root().join("crates/matdiff-cli/Cargo.toml")).unwrap();
    let bin = manifest.split("[[bin]]").nth(1).expect("matdiff-cli declares its binary");
    assert!(bin.contains("name = \"matdiff\""), "the binary of crates/matdiff-cli is not `matdiff`");
    // … and `cargo run` at the root has exactly one binary to run: only matdiff-cli, of the
    // default members, has one.
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let defaults = workspace.split("default-members").nth(1).unwrap().split(']').next().unwrap();
    for member in defaults.split('"').skip(1).step_by(2) {
        let dir = root().join(member);
        let with_bin = dir.join("src/main.rs").exists()
            || dir.join("src/bin").exists()
            || std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().contains("[[bin]]");
        assert_eq!(
            with_bin,
            member == "crates/matdiff-cli",
            "{member}: a binary `cargo run` would have to choose from"
        );
    }
    // The README's test command is what CI runs.
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.contains("\ncargo test --workspace\n"), ".ci/run does not run the README's test command");
}

#[test]
fn normalize_keeps_the_form_of_scientific_numbers() {
    assert_eq!(normalize("max relative error 3.3e-11 against"), "max relative error #e# against");
    assert_eq!(normalize("tolerance 1e-8 (relative), x1e5"), "tolerance #e# (relative), x1e5");
    assert_eq!(normalize("W = [[-0.53, 2]]"), "W = [[-0.53, 2]]");
    let lines = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(matches(&lines("a\n…\nd"), &lines("a\nb\nc\nd")));
    assert!(matches(&lines("a\n…"), &lines("a")));
    assert!(!matches(&lines("a\n…\nd"), &lines("a\nb\nc")));
}
