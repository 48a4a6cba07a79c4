//! A zip file, listed and its entries read the way a load does (`list_sources`, then
//! `with_reader` and the entry's reader): no panic, no hang, and an entry read to its end without
//! error has the size and CRC-32 that the zip's directory gives (the load records those).
use super::rows::{check_rows, pool};
use super::{store_kind, Target};
use crate::sample::Sample;
use doodles_store::load::{read_rows, Target as Table};
use doodles_store::source::{list_sources, with_reader, Format, SourceFile};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

pub(super) struct Zip;

/// Entries read per input: a mutated directory can list thousands.
const MAX_ENTRIES: usize = 8;

impl Target for Zip {
    fn name(&self) -> &'static str {
        "zip"
    }

    fn max_len(&self) -> usize {
        256 << 10
    }

    fn tokens(&self) -> &'static [&'static [u8]] {
        &[
            b"PK\x03\x04",
            b"PK\x01\x02",
            b"PK\x05\x06",
            b"PK\x06\x06",
            b"PK\x06\x07",
            b"PK\x07\x08",
            b".csv",
            b".ndjson",
            b"._",
            b"/",
            b"\\",
            b"\x01\x00\x10\x00",
        ]
    }

    fn seeds(&self, sample: &Sample) -> Vec<Vec<u8>> {
        // The first lines of a few of the sample's files, small enough to mutate quickly.
        let head = |contents: &[u8], lines: usize| -> Vec<u8> {
            contents.split_inclusive(|b| *b == b'\n').take(lines).flatten().copied().collect()
        };
        let train: Vec<(String, Vec<u8>)> =
            sample.train.iter().take(4).map(|(name, contents)| (name.clone(), head(contents, 3))).collect();
        let ndjson = br#"{"word":"cat","countrycode":"US","timestamp":"2017-03-09 00:28:55.19715 UTC","recognized":true,"key_id":"6372658063654912","drawing":[[[1, 2],[3, 4]]]}"#;
        let mixed = vec![
            ("cat.ndjson".to_string(), ndjson.to_vec()),
            ("folder/dog.csv".to_string(), train[0].1.clone()),
            ("__MACOSX/._dog.csv".to_string(), b"\0\x05\x16\x07".to_vec()),
            ("readme.txt".to_string(), b"not loaded".to_vec()),
            ("empty.csv".to_string(), Vec::new()),
        ];
        vec![
            sample.zip.clone(),
            zip_of(&train, CompressionMethod::Deflated),
            zip_of(&train, CompressionMethod::Stored),
            zip_of(&mixed, CompressionMethod::Stored),
            zip_of(&[("test_simplified.csv".to_string(), head(&sample.test, 3))], CompressionMethod::Deflated),
            zip_of(&[], CompressionMethod::Stored),
        ]
    }

    fn run(&self, input: &[u8], kinds: &mut Vec<String>) {
        // The loader opens zips by path, so the input goes through a file of this thread's own.
        let path = std::env::temp_dir().join(format!(
            "doodles-fuzz-{}-{:?}.zip",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, input).expect("the temporary folder is writable");
        match list_sources(&path) {
            Ok(sources) => read_entries(&sources, kinds),
            Err(err) => kinds.push(store_kind("list", &err)),
        }
        std::fs::remove_file(&path).ok();
    }
}

/// Reads the first entries into each table they can go to, as a load would.
fn read_entries(sources: &[SourceFile], kinds: &mut Vec<String>) {
    for source in sources.iter().take(MAX_ENTRIES) {
        for table in [Table::Train, Table::Test] {
            if source.format == Format::Ndjson && table == Table::Test {
                continue;
            }
            let read = with_reader(source, |reader| read_rows(reader, source, table, pool()).transpose());
            let label = format!("{table:?} {:?}", source.format);
            let rows = read.map(|(rows, bytes, crc32)| {
                assert_eq!(
                    (bytes, Some(crc32)),
                    (source.bytes, source.crc32),
                    "{} was read without error but its size and CRC-32 are not the directory's",
                    source.display
                );
                rows.expect("the format loads into this table")
            });
            check_rows(&label, rows, kinds);
        }
    }
}

/// A zip of `entries` (name and contents).
fn zip_of(entries: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, contents) in entries {
        writer.start_file(name.as_str(), options).expect("a zip entry starts");
        writer.write_all(contents).expect("a zip entry is written");
    }
    writer.add_directory("folder/", options).expect("a zip directory is added");
    writer.finish().expect("the zip is written").into_inner()
}
