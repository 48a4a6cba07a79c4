//! A batch and its memory, and the pool that hands image buffers back for the next batches.
use super::spec::Pixels;
use bytemuck::Pod;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Eigen's largest alignment (AVX-512): TensorFlow takes a numpy array whose memory starts on a
/// multiple of it as it is, and copies any other (measured through `tf.data`'s `from_generator`,
/// which Keras' PyDataset adapter uses: 5.2 ms against 0.26 ms for a colour float32 batch of 256).
const ALIGNMENT: usize = 64;

/// `len` values of `T`, zeroed at first, in memory that starts on a multiple of 64 bytes. The
/// bytes are a plain zeroed vector (fresh pages from the system, zero until written, as before
/// alignment) with up to 63 bytes unused before the values.
pub struct Aligned<T> {
    bytes: Vec<u8>,
    offset: usize,
    len: usize,
    values: PhantomData<T>,
}

impl<T: Pod> Aligned<T> {
    pub fn zeroed(len: usize) -> Self {
        let bytes = vec![0u8; len * std::mem::size_of::<T>() + ALIGNMENT - 1];
        // The vector never grows, so its memory never moves.
        let offset = (ALIGNMENT - bytes.as_ptr() as usize % ALIGNMENT) % ALIGNMENT;
        Aligned { bytes, offset, len, values: PhantomData }
    }

    fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len * std::mem::size_of::<T>()
    }
}

impl<T: Pod> Deref for Aligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        bytemuck::cast_slice(&self.bytes[self.range()])
    }
}

impl<T: Pod> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        let range = self.range();
        bytemuck::cast_slice_mut(&mut self.bytes[range])
    }
}

impl<T: Pod + PartialEq> PartialEq for Aligned<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// A batch's memory: images, labels or features.
#[derive(Debug)]
pub enum Buffer {
    U8(Aligned<u8>),
    F32(Aligned<f32>),
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
            Pixels::Uint8 => Buffer::U8(Aligned::zeroed(len)),
            Pixels::Float32 { .. } => Buffer::F32(Aligned::zeroed(len)),
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
    pub features: Option<Aligned<f32>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_memory_starts_on_64_bytes_and_holds_exactly_len_values() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let mut floats = Aligned::<f32>::zeroed(len);
            let bytes = Aligned::<u8>::zeroed(len);
            assert_eq!((floats.len(), bytes.len()), (len, len));
            assert_eq!(floats.as_ptr() as usize % 64, 0);
            assert_eq!(bytes.as_ptr() as usize % 64, 0);
            assert!(floats.iter().all(|&v| v == 0.0));
            floats.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
            assert_eq!(floats.last().copied(), len.checked_sub(1).map(|i| i as f32));
        }
    }
}
