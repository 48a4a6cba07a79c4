//! The fuzz targets: each parser that reads outside input, through the functions the package
//! calls, with the properties that must hold for any input.
//!
//! To add a target: implement [`Target`] in a module of this folder (its seeds from the
//! [`Sample`] or made up, tokens of its format, and `run`, which panics when a property fails)
//! and list it in [`targets`]. `doodles-fuzz <name>` then fuzzes it, its finds go to
//! `corpus/<name>/`, and the replay test runs them.
mod archive;
mod drawing;
mod index;
mod rows;

use crate::sample::Sample;
use doodles_store::StoreError;

pub trait Target: Sync {
    /// Its name on the command line, and its corpus folder.
    fn name(&self) -> &'static str;

    /// The longest input the mutator makes (longer seeds are run, not mutated).
    fn max_len(&self) -> usize {
        64 << 10
    }

    /// Tokens of the input's format, for the mutator.
    fn tokens(&self) -> &'static [&'static [u8]];

    /// The inputs fuzzing starts from: the real sample, damaged copies and extremes.
    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>>;

    /// Runs `input` through the parsers, pushing the kinds of outcome seen onto `kinds` (see
    /// [`kind`]); panics when a property does not hold.
    fn run(&self, input: &[u8], kinds: &mut Vec<String>);
}

/// Every target, in the order `doodles-fuzz all` lists them.
pub fn targets() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(drawing::Drawing),
        Box::new(rows::Csv),
        Box::new(rows::Ndjson),
        Box::new(archive::Zip),
        Box::new(index::Record),
        Box::new(index::Index),
    ]
}

pub fn target(name: &str) -> Option<Box<dyn Target>> {
    targets().into_iter().find(|target| target.name() == name)
}

/// An outcome's kind: `label`, then `message` without what changes from input to input (quoted
/// text, numbers), so that an input is kept for a new kind of outcome, not for a new value. A
/// quote runs to the last quote of its kind: the quoted text may hold quotes itself.
pub fn kind(label: &str, message: &str) -> String {
    let mut rest = message;
    let mut unquoted = String::new();
    while let Some(open) = rest.find(['\'', '"', '`']) {
        unquoted.push_str(&rest[..open]);
        let quote = rest[open..].chars().next().unwrap_or('"');
        rest = rest.rfind(quote).filter(|close| *close > open).map_or("", |close| &rest[close + 1..]);
    }
    unquoted.push_str(rest);
    let mut kind = format!("{label}: ");
    for c in unquoted.chars().take(120) {
        if !c.is_ascii_digit() {
            kind.push(c);
        } else if !kind.ends_with('#') {
            kind.push('#');
        }
    }
    kind
}

/// [`kind`] of a store error, without the file and line it names.
fn store_kind(label: &str, err: &StoreError) -> String {
    let message = err.message();
    let message = err
        .file()
        .and_then(|file| message.strip_prefix(file))
        .and_then(|rest| rest.split_once(": "))
        .map_or(message, |(_, reason)| reason);
    kind(&format!("{label} {:?}", err.kind()), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_leave_out_values() {
        assert_eq!(
            kind("csv", "invalid key_id 'x1' at line 12, column 3"),
            kind("csv", "invalid key_id '99' at line 1, column 40")
        );
        assert_eq!(kind("d", "expected `,` or `]` at line 1"), "d: expected  at line #");
        assert_eq!(kind("h", "header is 'a'b', expected 'c'"), "h: header is ");
        assert_eq!(
            kind("s", "string \"x'y\", expected a number as x value 2"),
            "s: string , expected a number as x value #"
        );
        let err = StoreError::input(doodles_store::ErrorKind::Input, "a 1.csv", Some(3), "empty word");
        assert_eq!(store_kind("train", &err), "train Input: empty word");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = targets().iter().map(|target| target.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), targets().len());
    }
}
