//! The text framing that c2sp.org/tlog-proof and c2sp.org/tlog-witness share:
//! `\n`-terminated UTF-8 header lines, then base64 hashes one per line, an empty
//! line, and a signed checkpoint note. Each format's own module names the lines
//! and maps the messages into its error type.

use crate::hash::Hash;

/// Reads lines off the front of a body.
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Lines<'a> {
        Lines { rest: body }
    }

    /// The next line, without its `\n`; `what` names it in the message.
    pub(crate) fn next(&mut self, what: &str) -> Result<&'a str, String> {
        let nl = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("missing newline after {what}"))?;
        let line =
            std::str::from_utf8(&self.rest[..nl]).map_err(|_| format!("{what} is not UTF-8"))?;
        self.rest = &self.rest[nl + 1..];
        Ok(line)
    }

    /// Canonical base64 hashes, one per line, up to an empty line: at most `max`.
    pub(crate) fn hashes(&mut self, max: usize, what: &str) -> Result<Vec<Hash>, String> {
        let mut hashes = Vec::new();
        loop {
            let line = self.next(what)?;
            if line.is_empty() {
                return Ok(hashes);
            }
            if hashes.len() == max {
                return Err(format!("more than {max} {what}"));
            }
            let h = Hash::from_base64(line)
                .map_err(|e| format!("{what}, line {}: {e}", hashes.len() + 1))?;
            hashes.push(h);
        }
    }

    /// What follows: the checkpoint note, which must not be empty.
    pub(crate) fn checkpoint(self) -> Result<Vec<u8>, String> {
        if self.rest.is_empty() {
            return Err("the checkpoint is missing".into());
        }
        Ok(self.rest.to_vec())
    }
}

/// `header`, then `hashes` one per line, an empty line, and `checkpoint`.
pub(crate) fn encode(header: String, hashes: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut out = header;
    for h in hashes {
        out.push_str(&h.to_base64());
        out.push('\n');
    }
    out.push('\n');
    let mut out = out.into_bytes();
    out.extend_from_slice(checkpoint);
    out
}
