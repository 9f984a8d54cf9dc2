//! Reading what the user gives: files, stdin, FIFOs and devices, every read bounded while it
//! happens (a size from `stat` is not trusted: `/dev/zero`, FIFOs and stdin have none), with the
//! limit in the message; and the `-` (stdin) / `@FILE` forms of text arguments.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest expression, declaration list or claim (the parsers' own limit).
pub const MAX_TEXT_BYTES: usize = matdiff::syntax::MAX_INPUT_LEN;
/// Largest document `audit` and `grade` read (a derivation is a few pages).
pub const MAX_DOCUMENT_BYTES: usize = 2_000_000;
/// Largest problem file.
pub const MAX_PROBLEM_BYTES: usize = 1_000_000;
/// Largest `--at` JSON file: room for matrices of a few million entries.
pub const MAX_VALUES_BYTES: usize = 256 << 20;

/// Where bytes come from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    Stdin,
    Path(&'a Path),
}

impl<'a> Source<'a> {
    /// `-` is stdin, anything else a path.
    pub fn of(path: &'a Path) -> Source<'a> {
        if path.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::Path(path)
        }
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "stdin".into(),
            Source::Path(p) => p.display().to_string(),
        }
    }
}

/// Only one argument can be read from stdin: it is consumed.
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// `12345 bytes` or `2.0 MB`.
fn size(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{n} bytes ({:.1} MiB)", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{n} bytes")
    }
}

/// Read at most `limit` bytes of text; more is an error that names the limit. The read stops
/// at `limit + 1` bytes, and at the first chunk holding a NUL byte (everything matdiff reads is
/// text), so an endless source such as `/dev/zero` is refused at once. The message has no
/// `error:` prefix and names the source.
pub fn read_bounded(src: Source, limit: usize) -> Result<Vec<u8>, String> {
    match src {
        Source::Stdin => {
            if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
                return Err("stdin was already read for another argument; only one input can be `-`".into());
            }
            read_from(std::io::stdin().lock(), &src, limit)
        }
        Source::Path(p) => {
            if p.is_dir() {
                return Err(format!("cannot read {}: it is a directory", p.display()));
            }
            let f = std::fs::File::open(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            read_from(f, &src, limit)
        }
    }
}

fn read_from(mut r: impl Read, src: &Source, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", src.name())),
        };
        if let Some(i) = chunk[..n].iter().position(|&b| b == 0) {
            return Err(format!("{} holds binary data (a NUL byte at offset {}), not text", src.name(), out.len() + i));
        }
        if out.len() + n > limit {
            return Err(format!("{} is too large: more than the limit of {}", src.name(), size(limit)));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(src: Source, limit: usize) -> Result<String, String> {
    let bytes = read_bounded(src, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        format!("{} is not UTF-8 text (invalid byte at offset {})", src.name(), e.utf8_error().valid_up_to())
    })
}

/// The text of an expression, `--decl` or `--claim` argument: `-` reads it from stdin,
/// `@FILE` from a file (both bounded by [`MAX_TEXT_BYTES`]; a trailing line break is dropped);
/// anything else is the text itself. A clap value parser, so every command that takes an
/// expression gets both forms.
pub fn text_arg(arg: &str) -> Result<String, String> {
    let text = if arg == "-" {
        read_text(Source::Stdin, MAX_TEXT_BYTES)?
    } else if let Some(path) = arg.strip_prefix('@') {
        if path.is_empty() {
            return Err("`@` must be followed by a file name (`@loss.txt`)".into());
        }
        read_text(Source::Path(Path::new(path)), MAX_TEXT_BYTES)?
    } else {
        return Ok(arg.to_string());
    };
    Ok(text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string())
}
