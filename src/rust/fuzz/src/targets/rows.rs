//! A CSV file and an ndjson file, read by the loader's own readers (record splitting, header,
//! each field checked), into both tables for CSV: no panic, rows in line order, and every
//! accepted row's drawing one that the rasterizer parses.
use super::{kind, store_kind, Target};
use crate::sample::Sample;
use doodles_store::load::{checker_pool, read_rows, RowOutcome, Target as Table};
use doodles_store::source::{Format, Location, SourceFile};
use std::sync::{Arc, OnceLock};

pub(super) struct Csv;
pub(super) struct Ndjson;

const TRAIN_HEADER: &str = "countrycode,drawing,key_id,recognized,timestamp,word";

impl Target for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[
            b"\"\"",
            b",,",
            b"True",
            b"False",
            b"true",
            b"2017-03-08 21:12:07.266040",
            b" UTC",
            b"Z",
            b"T",
            b"9999-12-31 23:59:60.999999999",
            b"0000-02-29 00:00:00",
            b"2000-02-29 24:00:00",
            b"countrycode,drawing,key_id,recognized,timestamp,word\n",
            b"key_id,countrycode,drawing\n",
            b",\"[[[0], [0]]]\",",
            b"6372658063654912",
        ]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        let test_lines: Vec<&[u8]> = sample.test.split(|b| *b == b'\n').collect();
        let mut seeds: Vec<Vec<u8>> = sample.train.iter().map(|(_, contents)| contents.clone()).collect();
        seeds.extend(test_lines[1..].chunks(10).map(|chunk| [&[test_lines[0]], chunk].concat().join(&b'\n')));
        let first = &sample.train[0].1;
        seeds.extend([
            sample.test.clone(),
            String::from_utf8_lossy(first).replace('\n', "\r\n").into_bytes(),
            [&b"\xef\xbb\xbf"[..], first].concat(),
            String::from_utf8_lossy(first)
                .replacen(TRAIN_HEADER, "\"countrycode\", drawing ,key_id,recognized,timestamp,word", 1)
                .into_bytes(),
            first[..first.len() / 3].to_vec(),
            Vec::new(),
        ]);
        seeds
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        for table in [Table::Train, Table::Test] {
            read(input, Format::Csv, table, kinds);
        }
    }
}

impl Target for Ndjson {
    fn name(&self) -> &'static str {
        "ndjson"
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[
            b"{",
            b"}",
            b":",
            b"\"drawing\":",
            b"\"key_id\":",
            b"\"recognized\":",
            b"\"timestamp\":",
            b"\"word\":",
            b"\"countrycode\":",
            b"\"2017-03-08 21:12:07.26604 UTC\"",
            b"6372658063654912",
            b"\"\"",
            b"[[[0], [0]]]",
            b"1e2",
            b"-1",
        ]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        let mut records = sample.records().into_iter().filter(|(header, _)| header.len() == 6).peekable();
        while records.peek().is_some() {
            let lines: Vec<String> = records.by_ref().take(3).map(|(_, record)| ndjson_line(&record)).collect();
            seeds.push(lines.join("\n").into_bytes());
        }
        let first = String::from_utf8_lossy(&seeds[0]).into_owned();
        seeds.extend(
            [
                first.replace('\n', "\r\n\n"),
                first.replacen("\"key_id\":\"", "\"key_id\":", 1).replacen("\",\"drawing", ",\"drawing", 1),
                first.replacen("\"countrycode\"", "\"country\"", 1),
                first.replacen("true", "1", 1),
            ]
            .map(String::into_bytes),
        );
        seeds
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        read(input, Format::Ndjson, Table::Train, kinds);
    }
}

/// A training record as a line of the dataset's simplified ndjson files (its field order).
fn ndjson_line(record: &csv::StringRecord) -> String {
    let drawing: serde_json::Value = serde_json::from_str(&record[1]).expect("the sample's drawings are JSON");
    let line = serde_json::json!({
        "word": &record[5], "countrycode": &record[0], "timestamp": format!("{} UTC", &record[4]),
        "recognized": &record[3] == "True", "key_id": &record[2], "drawing": drawing,
    });
    line.to_string()
}

/// One checker thread for every read, as the loader keeps its pool from file to file.
pub(super) fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<Arc<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| checker_pool(1).expect("a checker thread starts"))
}

fn read(input: &[u8], format: Format, table: Table, kinds: &mut Vec<String>) {
    let name = match format {
        Format::Csv => "fuzz.csv",
        Format::Ndjson => "fuzz.ndjson",
    };
    let source = SourceFile {
        name: name.to_string(),
        display: name.to_string(),
        location: Location::File(name.into()),
        format,
        bytes: input.len() as u64,
        crc32: None,
    };
    let rows = read_rows(&mut &input[..], &source, table, pool()).expect("the format loads into this table");
    check_rows(&format!("{table:?}"), rows, kinds);
}

/// Checks rows read from a file and pushes their kinds: lines in order (records ended by a lone
/// CR share a line: the CSV reader counts LFs), and accepted drawings that parse.
pub(super) fn check_rows(label: &str, rows: doodles_store::Result<Vec<RowOutcome>>, kinds: &mut Vec<String>) {
    let rows = match rows {
        Ok(rows) => rows,
        Err(err) => return kinds.push(store_kind(&format!("{label} file"), &err)),
    };
    let mut previous = 0;
    for (line, row) in rows {
        assert!(line >= previous.max(1), "line {line} comes after line {previous}");
        previous = line;
        kinds.push(match row {
            Ok(drawing) => {
                let parsed = doodles_raster::parse_drawing(&drawing);
                assert!(parsed.is_ok(), "an accepted row's drawing {drawing:?} does not parse: {parsed:?}");
                format!("{label} row accepted")
            }
            Err(reason) => kind(&format!("{label} row"), &reason),
        });
    }
}
