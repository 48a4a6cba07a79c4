//! Where the time of a batch goes: parsing, drawing into coverage (first pass), writing the
//! doubles (second pass) into a reused buffer or into fresh memory with and without huge pages.
//! Wall-clock ms per batch of 1024 at 128 x 128, gray (the median of 7 passes over all batches).
//!
//! Usage (drawings: one JSON per line, e.g. written by inst/bench/bench-raster.R):
//! `cargo run --release -p doodles-raster --example phases -- drawings.jsonl [threads]`
use doodles_raster::{memory, parse_drawing, render_batch, render_tiles, Encoding, RenderOptions};
use std::time::Instant;

fn median_ms(batches: usize, mut pass: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed().as_secs_f64() * 1000.0 / batches as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[3]
}

/// A fresh buffer whose pages are not yet touched, as R's allocVector gives: zeroed allocations
/// this large are fresh mmap()s (calloc), faulted in by the first write.
fn fresh(len: usize) -> Vec<f64> {
    vec![0.0; len]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: phases drawings.jsonl [threads]");
    let threads: usize = args.get(2).map_or(2, |t| t.parse().expect("threads"));
    let text = std::fs::read_to_string(path).expect("readable drawings file");
    let lines: Vec<&str> = text.lines().collect();
    let batch = 1024;
    let batches: Vec<&[&str]> = lines.chunks_exact(batch).collect();
    let options = RenderOptions::new(128, Encoding::Gray, 3.0, false).expect("valid options");
    let len = batch * options.values_per_drawing();
    println!("{} batches of {batch}, 128 x 128 gray, {threads} threads; ms per batch:", batches.len());

    let parse = median_ms(batches.len(), || batches.iter().flat_map(|b| b.iter()).for_each(|l| drop(parse_drawing(l))));
    println!("  parse only (1 thread)              {parse:6.1}");
    let tiles = median_ms(batches.len(), || batches.iter().for_each(|b| drop(render_tiles(b, &options, threads))));
    println!("  first pass: parse + draw coverage  {tiles:6.1}");
    let mut reused = vec![0.0; len];
    let warm = median_ms(batches.len(), || {
        batches.iter().for_each(|b| render_batch(b, &options, &mut reused, threads).expect("valid"))
    });
    println!("  both passes, reused buffer         {warm:6.1}");
    let cold = median_ms(batches.len(), || {
        batches.iter().for_each(|b| render_batch(b, &options, &mut fresh(len), threads).expect("valid"))
    });
    println!("  both passes, fresh buffer          {cold:6.1}");
    let huge = median_ms(batches.len(), || {
        batches.iter().for_each(|b| {
            let mut out = fresh(len);
            memory::advise_huge_pages(&mut out);
            render_batch(b, &options, &mut out, threads).expect("valid")
        })
    });
    println!("  both passes, fresh + huge pages    {huge:6.1}");
}
