//! The corpus the fuzzer kept, and the seeds (the real sample and its damaged copies), replayed
//! through every target: none may panic, and for drawings the two parsers must agree.
use doodles_fuzz::sample::sample;
use doodles_fuzz::targets;
use std::path::PathBuf;

#[test]
fn every_kept_input_passes_its_target() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in targets() {
        let dir = corpus.join(target.name());
        let files = doodles_fuzz::fuzz::corpus_files(&dir);
        assert!(!files.is_empty(), "no corpus in {}", dir.display());
        let panics = doodles_fuzz::replay(target.as_ref(), &dir);
        assert!(panics.is_empty(), "{} of {} inputs fail:\n{}", panics.len(), files.len(), panics.join("\n"));
    }
}

#[test]
fn every_seed_passes_its_target() {
    for target in targets() {
        for seed in target.seeds(sample()) {
            target.run(&seed, &mut Vec::new());
        }
    }
}
