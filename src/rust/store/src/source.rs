//! Input files: the CSVs inside a zip (read in place, never unpacked to disk), a folder of CSV or
//! ndjson files, or one such file; each with the size and CRC-32 that identify its contents.
use crate::error::{ErrorKind, Result, StoreError};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

#[derive(Debug, Clone)]
pub enum Location {
    /// Entry `index` of a zip archive.
    ZipEntry {
        zip: PathBuf,
        index: usize,
    },
    File(PathBuf),
}

/// One file to load.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file's base name: the key in `upload_log`, the same whether it comes from a zip or a folder.
    pub name: String,
    /// Where it was found, for messages (`train.zip:cat.csv`, or the path).
    pub display: String,
    pub location: Location,
    pub format: Format,
    /// Uncompressed size in bytes.
    pub bytes: u64,
    /// Known without reading the data for zip entries (from the zip's directory).
    pub crc32: Option<u32>,
}

impl SourceFile {
    /// The word the file is named after in Kaggle's layout (`cat.csv`) and the dataset's
    /// (`cat.ndjson`, `full_simplified_cat.ndjson`): a guess used to number labels while
    /// loading, never trusted.
    pub fn word_guess(&self) -> &str {
        let name = base_name(&self.name);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        stem.strip_prefix("full_simplified_").unwrap_or(stem)
    }
}

fn format_of(name: &str) -> Option<Format> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Some(Format::Csv)
    } else if lower.ends_with(".ndjson") {
        Some(Format::Ndjson)
    } else {
        None
    }
}

fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn io_error(path: &Path, err: impl std::fmt::Display) -> StoreError {
    StoreError::input(ErrorKind::Io, &path.display().to_string(), None, err)
}

pub fn open_zip(zip: &Path) -> Result<zip::ZipArchive<BufReader<File>>> {
    let file = File::open(zip).map_err(|e| io_error(zip, e))?;
    // A small buffer: opening an archive seeks once per entry, and each seek refills the buffer.
    zip::ZipArchive::new(BufReader::with_capacity(64 << 10, file)).map_err(|e| {
        StoreError::input(
            ErrorKind::Zip,
            &zip.display().to_string(),
            None,
            format!("not a readable zip file (truncated or corrupt?): {e}"),
        )
    })
}

/// The loadable files at `path`: a `.zip`, a folder, or a single `.csv`/`.ndjson` file, in name
/// order. Other files are ignored.
pub fn list_sources(path: &Path) -> Result<Vec<SourceFile>> {
    let mut sources = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| io_error(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(path, e))?;
            let file = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let (Some(format), true) = (format_of(&name), file.is_file()) {
                sources.push(plain_file(&file, name, format)?);
            }
        }
    } else if path.to_string_lossy().to_ascii_lowercase().ends_with(".zip") {
        let mut archive = open_zip(path)?;
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(|e| {
                StoreError::input(
                    ErrorKind::Zip,
                    &path.display().to_string(),
                    None,
                    format!("corrupt entry {}: {e}", index + 1),
                )
            })?;
            let full = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            let name = base_name(&full).to_string();
            if entry.is_dir() || name.starts_with("._") {
                continue;
            }
            if let Some(format) = format_of(&name) {
                sources.push(SourceFile {
                    display: format!("{}:{full}", path.display()),
                    name,
                    location: Location::ZipEntry { zip: path.to_path_buf(), index },
                    format,
                    bytes: entry.size(),
                    crc32: Some(entry.crc32()),
                });
            }
        }
    } else if path.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let format = format_of(&name).ok_or_else(|| {
            StoreError::new(
                ErrorKind::Argument,
                format!("{}: expected a .zip, a .csv or an .ndjson file, or a folder", path.display()),
            )
        })?;
        sources.push(plain_file(path, name, format)?);
    } else {
        return Err(StoreError::new(ErrorKind::Argument, format!("{} does not exist", path.display())));
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sources)
}

fn plain_file(path: &Path, name: String, format: Format) -> Result<SourceFile> {
    let bytes = std::fs::metadata(path).map_err(|e| io_error(path, e))?.len();
    Ok(SourceFile {
        name,
        display: path.display().to_string(),
        location: Location::File(path.to_path_buf()),
        format,
        bytes,
        crc32: None,
    })
}

/// Counts and checksums the bytes read through it.
pub struct ChecksumReader<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    bytes: u64,
}

impl<R: Read> ChecksumReader<R> {
    pub fn new(inner: R) -> Self {
        ChecksumReader { inner, hasher: crc32fast::Hasher::new(), bytes: 0 }
    }

    pub fn finish(self) -> (u64, u32) {
        (self.bytes, self.hasher.finalize())
    }
}

impl<R: Read> Read for ChecksumReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Size and CRC-32 of a source's contents: from the zip directory, or by reading a plain file.
pub fn checksum(source: &SourceFile) -> Result<(u64, u32)> {
    match (&source.location, source.crc32) {
        (Location::ZipEntry { .. }, Some(crc)) => Ok((source.bytes, crc)),
        (Location::File(path), _) | (Location::ZipEntry { zip: path, .. }, None) => {
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let mut reader = ChecksumReader::new(BufReader::with_capacity(1 << 20, file));
            std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| io_error(path, e))?;
            Ok(reader.finish())
        }
    }
}

/// Runs `body` on a reader of the source's bytes (decompressed on the fly for zip entries; the
/// zip crate checks the entry's CRC-32 at its end), and returns its result with the size and
/// CRC-32 of what was read.
pub fn with_reader<T>(source: &SourceFile, body: impl FnOnce(&mut dyn Read) -> Result<T>) -> Result<(T, u64, u32)> {
    match &source.location {
        Location::ZipEntry { zip, index } => {
            let mut archive = open_zip(zip)?;
            let entry = archive.by_index(*index).map_err(|e| {
                StoreError::input(ErrorKind::Zip, &source.display, None, format!("cannot read this entry: {e}"))
            })?;
            let mut reader = ChecksumReader::new(entry);
            let value = body(&mut reader)?;
            let (bytes, crc) = reader.finish();
            // The zip crate checks the CRC-32 but not the size: an entry whose directory gives
            // another size would load, then look changed to the next load (see `checksum`).
            if (bytes, Some(crc)) != (source.bytes, source.crc32) {
                return Err(StoreError::input(
                    ErrorKind::Zip,
                    &source.display,
                    None,
                    format!("the entry holds {bytes} bytes, the zip's directory says {} (corrupt?)", source.bytes),
                ));
            }
            Ok((value, bytes, crc))
        }
        Location::File(path) => {
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            let mut reader = ChecksumReader::new(BufReader::with_capacity(1 << 20, file));
            let value = body(&mut reader)?;
            let (bytes, crc) = reader.finish();
            Ok((value, bytes, crc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Found by the fuzzer: a zip whose directory gives an entry another size than it holds.
    #[test]
    fn an_entry_of_another_size_than_the_directory_says_is_refused() {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer.start_file("cat.csv", zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(b"countrycode,drawing,key_id,recognized,timestamp,word\n").unwrap();
        let mut bytes = writer.finish().unwrap().into_inner();
        let directory = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        bytes[directory + 24..directory + 28].copy_from_slice(&1_000_000u32.to_le_bytes());
        let path = std::env::temp_dir().join(format!("doodles-size-{}.zip", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let sources = list_sources(&path).unwrap();
        let read = with_reader(&sources[0], |input| {
            std::io::copy(input, &mut std::io::sink()).map_err(|e| io_error(&path, e))
        });
        std::fs::remove_file(&path).unwrap();
        let err = read.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Zip);
        assert!(err.message().contains("holds 53 bytes, the zip's directory says 1000000"), "{err}");
    }
}
