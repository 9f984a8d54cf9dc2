//! Splitting a run of letters (`xx`, `Wx`, `W1x`) into variable names, preferring declared ones.

use std::collections::HashSet;

/// The longest run of letters read as names; longer runs are garbage, not mathematics.
pub(super) const MAX_RUN: usize = 64;

/// A piece of a run, as a byte range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    pub start: usize,
    pub end: usize,
}

/// Split `run` (ASCII, a letter then letters and digits) into the fewest names, each a declared
/// name or one letter with the digits after it (`W1`); among equally short splits, the one with
/// the most declared names, then the one whose first piece is longest. The whole run is one
/// piece when it is declared, so `xx` is `x*x` only when `xx` is not a name.
pub(super) fn split(run: &str, names: &HashSet<String>, longest_name: usize) -> Vec<Piece> {
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
