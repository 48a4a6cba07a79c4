//! The real sample shipped with the package (`inst/extdata`), which the seeds are made of.
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The training drawings (a zip of one CSV per word) and the test drawings (one CSV).
#[derive(Debug)]
pub struct Sample {
    pub zip: Vec<u8>,
    /// The zip's entries: name and contents.
    pub train: Vec<(String, Vec<u8>)>,
    pub test: Vec<u8>,
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../inst/extdata")
}

/// The sample, read once.
pub fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let read = |name: &str| {
            let path = sample_dir().join(name);
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read the sample {}: {e}", path.display()))
        };
        let zip = read("train_simplified.zip");
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).expect("the sample zip opens");
        let train = (0..archive.len())
            .map(|index| {
                let mut entry = archive.by_index(index).expect("the sample zip's entries open");
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).expect("the sample zip's entries read");
                (entry.name().expect("the sample zip's names are text").to_string(), contents)
            })
            .collect();
        Sample { zip, train, test: read("test_simplified.csv") }
    })
}

impl Sample {
    /// The records of every CSV of the sample, training files first, each with its header.
    pub fn records(&self) -> Vec<(csv::StringRecord, csv::StringRecord)> {
        let files = self.train.iter().map(|(_, contents)| contents).chain([&self.test]);
        files
            .flat_map(|contents| {
                let mut reader = csv::Reader::from_reader(&contents[..]);
                let header = reader.headers().expect("the sample's CSV files have a header").clone();
                let records: Vec<_> = reader.records().map(|r| r.expect("the sample's CSV files parse")).collect();
                records.into_iter().map(move |record| (header.clone(), record))
            })
            .collect()
    }

    /// Every drawing of the sample, as the CSV files hold it.
    pub fn drawings(&self) -> Vec<String> {
        self.records()
            .into_iter()
            .map(|(header, record)| {
                let column = header.iter().position(|name| name == "drawing").expect("a drawing column");
                record[column].to_string()
            })
            .collect()
    }
}
