//! The file's layout (little endian): a header of [`HEADER`] bytes (see the `*_AT` constants),
//! `rows + 1` u64 offsets into the records, `rows` i32 labels, padding to 8 bytes, the records back
//! to back, then one u32 CRC-32 per [`BLOCK`] bytes of everything between the header and the CRCs.
//! Only this module knows where things are; the others go through its constants and functions.

pub(super) const MAGIC: &[u8; 8] = b"DOODLIX2";
pub(super) const HEADER: usize = 128;
/// Where each u64 field of the header is (the magic takes bytes 0..8).
pub(super) const ROWS_AT: usize = 8;
pub(super) const MAX_ID_AT: usize = 16;
pub(super) const HASH_AT: usize = 24;
pub(super) const LOG_HASH_AT: usize = 32;
pub(super) const DATA_LEN_AT: usize = 40;
pub(super) const DATA_AT: usize = 48;
pub(super) const COMPACT_ROWS_AT: usize = 56;
pub(super) const CRCS_AT: usize = 64;
/// The CRC-32 of the block CRCs.
pub(super) const CRCS_CRC_AT: usize = 72;
/// The CRC-32 of the header's other bytes, but the dirty byte.
pub(super) const HEADER_CRC_AT: usize = 88;
/// One byte, outside the header's CRC: 1 while a write made through this package may not have
/// been checked against the index yet.
pub(super) const DIRTY_AT: usize = 96;
/// Bytes per block CRC.
pub(super) const BLOCK: usize = 1 << 20;

/// The u64 at byte `at`.
pub(super) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Where the offsets, the labels and the records of `rows` rows start.
pub(super) fn layout(rows: usize) -> (usize, usize, usize) {
    let offsets_at = HEADER;
    let labels_at = offsets_at + (rows + 1) * 8;
    let data_at = (labels_at + rows * 4).div_ceil(8) * 8;
    (offsets_at, labels_at, data_at)
}

/// The CRC-32 of the header but its own field and the dirty byte.
pub(super) fn header_crc(header: &[u8]) -> u64 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..HEADER_CRC_AT]);
    crc.update(&header[DIRTY_AT + 1..HEADER]);
    u64::from(crc.finalize())
}

/// The CRC-32 of block `k` of `body` (the bytes between the header and the block CRCs).
pub(super) fn block_crc(body: &[u8], k: usize) -> u32 {
    crc32fast::hash(&body[k * BLOCK..((k + 1) * BLOCK).min(body.len())])
}
