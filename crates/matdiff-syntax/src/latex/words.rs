//! Splitting a run of letters (`xx`, `Wx`, `W1x`) into variable names, preferring declared ones.

use std::collections::HashSet;

/// The longest run of letters read as names; longer runs are garbage, not mathematics.
pub(crate) const MAX_RUN: usize = 64;

/// A piece of a run, as a byte range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: usize,
    pub end: usize,
}

/// Split `run` (ASCII, a letter then letters and digits) into the fewest names, each a declared
/// name or one letter with the digits after it (`W1`); among equally short splits, the one with
/// the most declared names, then the one whose first piece is longest. The whole run is one
/// piece when it is declared, so `xx` is `x*x` only when `xx` is not a name.
pub(crate) fn split(run: &str, names: &HashSet<String>, longest_name: usize) -> Vec<Piece> {
    let bytes = run.as_bytes();
    let n = bytes.len();
    // best[i]: (pieces, undeclared pieces, end of the first piece) for the suffix from i.
    let mut best: Vec<Option<(usize, usize, usize)>> = vec![None; n + 1];
    best[n] = Some((0, 0, n));
    for i in (0..n).rev() {
        if bytes[i].is_ascii_digit() {
            continue; // digits belong to the letter before them
        }
        let consider = |end: usize, declared: bool, best: &mut Vec<Option<(usize, usize, usize)>>| {
            if let Some((count, undeclared, _)) = best[end] {
                let cand = (count + 1, undeclared + usize::from(!declared), end);
                let better = match best[i] {
                    None => true,
                    Some((c, u, e)) => (cand.0, cand.1) < (c, u) || ((cand.0, cand.1) == (c, u) && end > e),
                };
                if better {
                    best[i] = Some(cand);
                }
            }
        };
        let mut letter_end = i + 1;
        while letter_end < n && bytes[letter_end].is_ascii_digit() {
            letter_end += 1;
        }
        consider(letter_end, names.contains(&run[i..letter_end]), &mut best);
        for end in i + 1..=n.min(i + longest_name) {
            if end != letter_end && names.contains(&run[i..end]) && !(end < n && bytes[end].is_ascii_digit()) {
                consider(end, true, &mut best);
            }
        }
    }
    let mut pieces = vec![];
    let mut i = 0;
    while i < n {
        let (_, _, end) = best[i].expect("every letter starts a piece");
        pieces.push(Piece { start: i, end });
        i = end;
    }
    pieces
}

/// The ways to write all of `run` as declared names (a letter's digits stay with it: `W1x` is
/// never `W`, `1x`), at most `cap` of them; the whole run is one way when it is declared.
/// Two or more ways is a genuine ambiguity (`xx` with both `x` and `xx` declared).
pub(crate) fn segmentations(run: &str, names: &HashSet<String>, longest_name: usize, cap: usize) -> Vec<Vec<Piece>> {
    let bytes = run.as_bytes();
    let n = bytes.len();
    let mut out = vec![];
    // Depth-first over piece ends; runs are at most MAX_RUN bytes and `cap` bounds the output.
    let mut stack: Vec<(usize, Vec<Piece>)> = vec![(0, vec![])];
    while let Some((i, pieces)) = stack.pop() {
        if out.len() >= cap {
            break;
        }
        if i == n {
            out.push(pieces);
            continue;
        }
        for end in (i + 1..=n.min(i + longest_name.max(1))).rev() {
            if end < n && bytes[end].is_ascii_digit() {
                continue;
            }
            if names.contains(&run[i..end]) {
                let mut next = pieces.clone();
                next.push(Piece { start: i, end });
                stack.push((end, next));
            }
        }
    }
    // Fewest pieces first (the whole run, when declared).
    out.sort_by_key(|p| p.len());
    out
}

/// How to read a run of letters and digits that is not a function: as one name, as a product
/// of names, or not at all (several ways use only declared names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunReading {
    Whole,
    Split(Vec<Piece>),
    Ambiguous(Vec<Vec<Piece>>),
}

/// Which undeclared runs split when they cannot be written with declared names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Undeclared {
    /// Plain syntax: a run with a capital splits (`Ax`, `BA`, `W1x`: matrices by the letter
    /// defaults); an all-lowercase one is one name (`lam`, `eps`, `yhat`), as before.
    SplitCapitals,
}

/// Read `run` against the declared `names`: one way with declared names is that way; several
/// are ambiguous; none falls back to [`split`] (fewest pieces, declared ones preferred) when
/// the policy `undeclared` says so.
pub(crate) fn read_run(run: &str, names: &HashSet<String>, longest_name: usize, undeclared: Undeclared) -> RunReading {
    let ways = segmentations(run, names, longest_name, 4);
    match ways.len() {
        0 => {}
        1 => {
            let way = ways.into_iter().next().unwrap();
            return if way.len() == 1 { RunReading::Whole } else { RunReading::Split(way) };
        }
        _ => return RunReading::Ambiguous(ways),
    }
    let pieces = split(run, names, longest_name);
    let split_it = match undeclared {
        Undeclared::SplitCapitals => run.bytes().any(|b| b.is_ascii_uppercase()),
    };
    if pieces.len() > 1 && split_it {
        RunReading::Split(pieces)
    } else {
        RunReading::Whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_str(run: &str, names: &[&str]) -> Vec<String> {
        let set: HashSet<String> = names.iter().map(|s| s.to_string()).collect();
        let longest = names.iter().map(|n| n.len()).max().unwrap_or(0);
        split(run, &set, longest).iter().map(|p| run[p.start..p.end].to_string()).collect()
    }

    #[test]
    fn declared_names_win() {
        assert_eq!(split_str("xx", &["x"]), ["x", "x"]);
        assert_eq!(split_str("xx", &["x", "xx"]), ["xx"]);
        assert_eq!(split_str("Wx", &["W", "x"]), ["W", "x"]);
        assert_eq!(split_str("xy", &[]), ["x", "y"]);
        assert_eq!(split_str("alpha", &["alpha"]), ["alpha"]);
        assert_eq!(split_str("W1x", &["W1", "x"]), ["W1", "x"]);
        assert_eq!(split_str("W1x", &["W", "x"]), ["W1", "x"]);
        assert_eq!(split_str("Nm", &["N", "m"]), ["N", "m"]);
        assert_eq!(split_str("xyz", &["xy", "yz", "z", "x"]), ["xy", "z"]);
    }
}

#[cfg(test)]
mod reading_tests {
    use super::*;

    fn read(run: &str, names: &[&str]) -> String {
        let set: HashSet<String> = names.iter().map(|s| s.to_string()).collect();
        let longest = names.iter().map(|n| n.len()).max().unwrap_or(0);
        let show = |ps: &[Piece]| ps.iter().map(|p| &run[p.start..p.end]).collect::<Vec<_>>().join("*");
        match read_run(run, &set, longest, Undeclared::SplitCapitals) {
            RunReading::Whole => run.to_string(),
            RunReading::Split(ps) => show(&ps),
            RunReading::Ambiguous(ways) => ways.iter().map(|w| show(w)).collect::<Vec<_>>().join(" | "),
        }
    }

    #[test]
    fn runs_read_against_declared_names() {
        assert_eq!(read("Ax", &[]), "A*x");
        assert_eq!(read("W1x", &[]), "W1*x");
        assert_eq!(read("lam", &[]), "lam");
        assert_eq!(read("ab", &["a", "b"]), "a*b");
        assert_eq!(read("ab", &["ab"]), "ab");
        assert_eq!(read("xx", &["x", "xx"]), "xx | x*x");
        assert_eq!(read("abx", &["a", "b", "ab", "x"]), "ab*x | a*b*x");
        assert_eq!(read("W1", &["W", "W1"]), "W1");
    }
}
