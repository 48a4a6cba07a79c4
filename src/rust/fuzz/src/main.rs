//! `doodles-fuzz <target> [--seconds N] [--seed N] [--corpus DIR]`: fuzzes one target (see
//! `doodles-fuzz list`) and prints what it did; exits with status 1 if an input panicked or hung.
use doodles_fuzz::{fuzz, target, targets};
use std::path::PathBuf;

fn usage() -> ! {
    let names: Vec<_> = targets().iter().map(|t| t.name()).collect();
    eprintln!("usage: doodles-fuzz <{}|list> [--seconds N] [--seed N] [--corpus DIR]", names.join("|"));
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| usage());
    if name == "list" {
        targets().iter().for_each(|t| println!("{}", t.name()));
        return;
    }
    let target = target(&name).unwrap_or_else(|| usage());
    let (mut seconds, mut seed) = (60.0, 1);
    let mut corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--seconds" => seconds = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => seed = value.parse().unwrap_or_else(|_| usage()),
            "--corpus" => corpus = PathBuf::from(value),
            _ => usage(),
        }
    }
    let report = fuzz(target.as_ref(), seconds, seed, &corpus);
    println!("{report}");
    if report.panics + report.slow > 0 {
        std::process::exit(1);
    }
}
