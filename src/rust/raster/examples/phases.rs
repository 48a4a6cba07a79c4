//! Where the time of a batch goes: parsing, drawing into coverage (first pass), writing the
//! output (second pass: R doubles, NHWC float32 or uint8) into a reused buffer, or doubles into
//! fresh memory with and without huge pages. Wall-clock ms per batch (1024 drawings by default) at 128 x 128, gray
//! and colour (the median of 7 passes over all batches).
//!
//! Usage (drawings: one JSON per line, e.g. written by inst/bench/bench-raster.R):
//! `tools/cargo.sh build --release --workspace --examples`, then
//! `$CARGO_TARGET_DIR/release/examples/phases drawings.jsonl [threads] [batch size, default 1024]`
use doodles_raster::{memory, parse_drawing, render_batch, render_tiles, Encoding, Layout, Output, RenderOptions};
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
    let batch: usize = args.get(3).map_or(1024, |b| b.parse().expect("batch size"));
    let batches: Vec<&[&str]> = lines.chunks_exact(batch).collect();
    println!("{} batches of {batch}, 128 x 128, {threads} threads; ms per batch:", batches.len());
    let parse = median_ms(batches.len(), || batches.iter().flat_map(|b| b.iter()).for_each(|l| drop(parse_drawing(l))));
    println!("  parse only (1 thread)                    {parse:6.1}");
    for encoding in [Encoding::Gray, Encoding::Hue] {
        let options = RenderOptions::new(128, encoding, 3.0, false).expect("valid options");
        let len = batch * options.values_per_drawing();
        println!("{encoding:?}:");
        let tiles = median_ms(batches.len(), || {
            batches.iter().for_each(|b| drop(render_tiles(b, &options, Layout::RArray, threads)))
        });
        let nhwc_tiles = median_ms(batches.len(), || {
            batches.iter().for_each(|b| drop(render_tiles(b, &options, Layout::Nhwc, threads)))
        });
        println!("  first pass: parse + draw coverage, for R arrays {tiles:6.1}, for NHWC {nhwc_tiles:6.1}");
        let rendered = |layout| {
            batches.iter().map(|b| render_tiles(b, &options, layout, threads).expect("valid")).collect::<Vec<_>>()
        };
        let (by_column, by_row) = (rendered(Layout::RArray), rendered(Layout::Nhwc));
        let (mut doubles, mut floats, mut bytes) = (vec![0.0; len], vec![0f32; len], vec![0u8; len]);
        let second = |rendered: &[doodles_raster::RenderedBatch],
                      out: &mut dyn FnMut(&doodles_raster::RenderedBatch)| {
            median_ms(rendered.len(), || rendered.iter().for_each(&mut *out))
        };
        let r_array = second(&by_column, &mut |r| r.write_into(Output::RArray(&mut doubles), threads).expect("valid"));
        let float32 = second(&by_row, &mut |r| {
            r.write_into(Output::Float32 { out: &mut floats, imagenet: false }, threads).expect("valid")
        });
        let uint8 = second(&by_row, &mut |r| r.write_into(Output::Uint8(&mut bytes), threads).expect("valid"));
        println!(
            "  second pass, reused buffer: R doubles {r_array:6.1}, NHWC float32 {float32:6.1}, NHWC uint8 {uint8:6.1}"
        );
        let warm = median_ms(batches.len(), || {
            batches
                .iter()
                .for_each(|b| render_batch(b, &options, Output::RArray(&mut doubles), threads).expect("valid"))
        });
        println!("  both passes, reused buffer (R doubles)   {warm:6.1}");
        let cold = median_ms(batches.len(), || {
            batches
                .iter()
                .for_each(|b| render_batch(b, &options, Output::RArray(&mut fresh(len)), threads).expect("valid"))
        });
        println!("  both passes, fresh buffer (R doubles)    {cold:6.1}");
        let huge = median_ms(batches.len(), || {
            batches.iter().for_each(|b| {
                let mut out = fresh(len);
                memory::advise_huge_pages(&mut out);
                render_batch(b, &options, Output::RArray(&mut out), threads).expect("valid")
            })
        });
        println!("  both passes, fresh + huge pages          {huge:6.1}");
    }
}
