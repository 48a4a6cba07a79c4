//! The stroke index, both of what it reads from disk:
//! - `record`: one drawing's binary record (`doodles_raster::compact`), decoded as a batch
//!   decodes it and turned back into text as `read_doodles()` does: no panic; a record that
//!   decodes gives text that parses to the same strokes and encodes to the same record.
//! - `index`: a whole index file, opened as a process opens it (`StrokeIndex::open`: structure and
//!   checksums) and every row read: no panic, and a file of one checksummed block that opens has
//!   only records that decode (its checks left no byte unchecked but the dirty flag).
use super::{kind, store_kind, Target};
use crate::sample::Sample;
use doodles_raster::{parse_drawing, render_batch, Drawing, Encoding, Output, RecordEncoder, RenderOptions};
use doodles_store::duckdb;
use doodles_store::index::StrokeIndex;
use std::path::PathBuf;

pub(super) struct Record;

impl Target for Record {
    fn name(&self) -> &'static str {
        "record"
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[b"\x00", b"\x01", b"\x80", b"\xff\xff\xff\xff\x0f", b"[[[", b"]]]", b"\x00\x01\x01\x00\x00"]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        let mut encoder = RecordEncoder::default();
        let mut drawings = sample.drawings();
        drawings.truncate(200);
        drawings.extend(["[[[0.5], [1]]]".to_string(), "[[[1,2],[3,4]]]".to_string(), "[[[1], [2, 3]]]".to_string()]);
        drawings
            .iter()
            .map(|drawing| {
                let mut record = Vec::new();
                encoder.encode(drawing, &mut record);
                record
            })
            .collect()
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        let record = Drawing::Record(input);
        let text = match record.json() {
            Ok(text) => text,
            Err(err) => return kinds.push(kind("json", &err.to_string())),
        };
        let mut out = vec![0u8; 32 * 32];
        let options = RenderOptions::new(32, Encoding::Gray, 3.0, false).expect("valid options");
        let rendered = render_batch(&[record], &options, Output::Uint8(&mut out), 1);
        match (parse_drawing(&text), rendered) {
            (Ok(strokes), Ok(())) => {
                let mut again = Vec::new();
                if input.first() == Some(&doodles_raster::compact::COMPACT) {
                    RecordEncoder::default().encode(&text, &mut again);
                    assert_eq!(again, input, "a compact record's text encodes to another record");
                }
                assert!(strokes.iter().all(|s| s.x.len() == s.y.len()));
                kinds.push(format!("drawn, {} strokes", strokes.len().min(3)));
            }
            (Err(parsed), Err(drawn)) => {
                assert!(drawn.to_string().contains(&parsed.to_string()), "{drawn} is not {parsed}");
                kinds.push(kind("refused", &parsed.to_string()));
            }
            (parsed, drawn) => panic!("the text parses ({parsed:?}) but the record draws as {drawn:?}"),
        }
    }
}

pub(super) struct Index;

/// Rows read per input: a mutated header can claim millions.
const MAX_ROWS: i64 = 4096;

impl Target for Index {
    fn name(&self) -> &'static str {
        "index"
    }

    fn max_len(&self) -> usize {
        512 << 10
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[b"DOODLIX2", b"\x00\x00\x00\x00\x00\x00\x00\x00", b"\xff\xff\xff\xff\xff\xff\xff\xff", b"\x01", b"\x00"]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        let drawings = sample.drawings();
        let built = |drawings: &[String]| {
            let conn = duckdb::Connection::open_in_memory().expect("an in-memory DuckDB");
            conn.execute_batch("CREATE TABLE doodles (id INTEGER, label_int INTEGER, drawing VARCHAR)")
                .expect("a table");
            for (i, drawing) in drawings.iter().enumerate() {
                conn.execute(
                    "INSERT INTO doodles VALUES (?, ?, ?)",
                    duckdb::params![i as i32 + 1, i as i32 % 5, drawing],
                )
                .expect("a row");
            }
            let path = scratch_path();
            StrokeIndex::build(&conn, Some(&path)).expect("an index");
            let bytes = std::fs::read(&path).expect("the index file");
            std::fs::remove_file(&path).ok();
            bytes
        };
        let small = built(&drawings[..40]);
        let mut seeds = vec![
            built(&drawings),
            small.clone(),
            built(&[]),
            built(&["[[[0.5, 300], [1, 2]]]".to_string(), "not a drawing".to_string()]),
        ];
        seeds.extend([small.len() / 2, small.len() - 4].map(|len| small[..len].to_vec()));
        seeds
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        let path = scratch_path();
        std::fs::write(&path, input).expect("the temporary folder is writable");
        match StrokeIndex::open(&path) {
            Ok(index) => {
                let mut damaged = 0;
                for id in 1..=(index.len() as i64).min(MAX_ROWS) {
                    let (record, _) = index.get(id).expect("ids 1..len are rows");
                    damaged += usize::from(record.json().is_err());
                }
                // One block: every byte but the dirty flag is under a checksum that passed.
                if input.len() <= 1 << 20 {
                    assert_eq!(damaged, 0, "a file that passed every checksum has damaged records");
                }
                kinds.push(format!("opened, {} rows, damaged records: {}", index.len().min(2), damaged.min(1)));
            }
            Err(err) => kinds.push(store_kind("open", &err)),
        }
        std::fs::remove_file(&path).ok();
    }
}

/// A file of this thread's own.
fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("doodles-fuzz-{}-{:?}.strokes", std::process::id(), std::thread::current().id()))
}
