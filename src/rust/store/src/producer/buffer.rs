//! A batch and its memory, and the pool that hands image buffers back for the next batches.
use super::spec::Pixels;
use std::sync::Mutex;

/// A batch's memory: images, labels or features.
#[derive(Debug)]
pub enum Buffer {
    U8(Vec<u8>),
    F32(Vec<f32>),
    I32(Vec<i32>),
}

impl Buffer {
    /// Address and length in bytes, for numpy.
    pub fn bytes(&mut self) -> (*mut u8, usize) {
        match self {
            Buffer::U8(v) => (v.as_mut_ptr(), v.len()),
            Buffer::F32(v) => (v.as_mut_ptr().cast(), v.len() * 4),
            Buffer::I32(v) => (v.as_mut_ptr().cast(), v.len() * 4),
        }
    }

    fn len(&self) -> usize {
        match self {
            Buffer::U8(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::I32(v) => v.len(),
        }
    }
}

/// The image buffers of dropped batches, for the next ones: a 1024-drawing colour float32 batch
/// is 192 MB, which fresh memory would cost page faults to write (as much as rendering it).
#[derive(Default)]
pub struct BufferPool(Mutex<Vec<Buffer>>);

impl BufferPool {
    const KEEP: usize = 4;

    /// A buffer of `len` elements of `pixels`' type: a kept one, else a new one.
    pub(super) fn take(&self, pixels: Pixels, len: usize) -> Buffer {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let fits = |b: &Buffer| {
            b.len() == len
                && matches!((b, pixels), (Buffer::U8(_), Pixels::Uint8) | (Buffer::F32(_), Pixels::Float32 { .. }))
        };
        if let Some(at) = kept.iter().position(fits) {
            return kept.swap_remove(at);
        }
        drop(kept);
        match pixels {
            Pixels::Uint8 => Buffer::U8(vec![0; len]),
            Pixels::Float32 { .. } => Buffer::F32(vec![0.0; len]),
        }
    }

    /// Keeps `buffer` for a later batch (or frees it when enough are kept).
    pub fn put(&self, buffer: Buffer) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < Self::KEEP {
            kept.push(buffer);
        }
    }
}

/// One batch: `x` NHWC images, `y` labels (none for test batches), side features.
#[derive(Debug)]
pub struct Batch {
    /// Its absolute step, epoch (1-based) and step within the epoch.
    pub step: u64,
    pub epoch: u64,
    pub epoch_step: u64,
    pub ids: Vec<i64>,
    pub x: Buffer,
    pub y: Option<Buffer>,
    pub features: Option<Vec<f32>>,
}
