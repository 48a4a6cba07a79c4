//! The C functions Python calls (through ctypes, which releases the GIL during the call) to take
//! batches from a producer on any thread, without R. Handles are boxed `Arc`s: Python retains
//! one from the producer R made (so the producer and its stroke index live while Python holds
//! it, whatever R drops), and each array of a batch is a handle whose memory numpy views until it
//! frees the handle. No function here touches R, and no panic crosses the C boundary.
use crate::errors::Class;
use crate::producer::ProducerCell;
use doodles_store::producer::{Batch, Buffer, BufferPool};
use doodles_store::StoreError;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Weak;

/// One array of a batch: its handle (for `doodles_array_free`), address and size in bytes.
#[repr(C)]
pub struct DoodlesArray {
    handle: *mut ArrayHandle,
    data: *mut u8,
    bytes: usize,
}

/// A batch: images, labels (null handle for test batches) and side features (null handle
/// without), its number of drawings, absolute step, epoch (1-based) and step within the epoch.
#[repr(C)]
pub struct DoodlesBatch {
    x: DoodlesArray,
    y: DoodlesArray,
    features: DoodlesArray,
    rows: u64,
    step: u64,
    epoch: u64,
    epoch_step: u64,
}

/// Why a call failed: the error's kind (the `doodles_error_*` class suffix), the id of the
/// drawing at fault (0 when none) and a message, both NUL-terminated.
#[repr(C)]
pub struct DoodlesError {
    kind: [c_char; 32],
    id: i64,
    message: [c_char; 2048],
}

/// The memory of one array; images go back to their producer's pool when freed.
pub struct ArrayHandle {
    buffer: Buffer,
    pool: Option<Weak<BufferPool>>,
}

impl Drop for ArrayHandle {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take().and_then(|pool| pool.upgrade()) {
            pool.put(std::mem::replace(&mut self.buffer, Buffer::I32(Vec::new())));
        }
    }
}

fn write_text(into: &mut [c_char], text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(into.len() - 1);
    for (slot, &byte) in into.iter_mut().zip(&bytes[..n]) {
        *slot = byte as c_char;
    }
    into[n] = 0;
}

fn report(err: Option<&mut DoodlesError>, kind: &str, id: i64, message: &str) {
    if let Some(err) = err {
        write_text(&mut err.kind, kind);
        err.id = id;
        write_text(&mut err.message, message);
    }
}

fn report_store(err: Option<&mut DoodlesError>, error: &StoreError) {
    let id = error.drawing_at().map_or(0, |at| at.id);
    report(err, Class::from(error.kind()).name(), id, error.message());
}

fn array(buffer: Option<Buffer>, pool: Option<Weak<BufferPool>>) -> DoodlesArray {
    match buffer {
        None => DoodlesArray { handle: std::ptr::null_mut(), data: std::ptr::null_mut(), bytes: 0 },
        Some(buffer) => {
            let mut handle = Box::new(ArrayHandle { buffer, pool });
            let (data, bytes) = handle.buffer.bytes();
            DoodlesArray { handle: Box::into_raw(handle), data, bytes }
        }
    }
}

fn batch_out(batch: Batch, pool: Weak<BufferPool>) -> DoodlesBatch {
    DoodlesBatch {
        rows: batch.ids.len() as u64,
        step: batch.step,
        epoch: batch.epoch,
        epoch_step: batch.epoch_step,
        x: array(Some(batch.x), Some(pool)),
        y: array(batch.y, None),
        features: array(batch.features.map(Buffer::F32), None),
    }
}

/// A new handle on the producer at `address` (what `producer_new` gave R, while R holds it).
///
/// # Safety
/// `address` must be the address `producer_new` returned, of a producer R still holds.
#[no_mangle]
pub unsafe extern "C" fn doodles_producer_retain(address: *const ProducerCell) -> *mut ProducerCell {
    if address.is_null() {
        return std::ptr::null_mut();
    }
    catch_unwind(AssertUnwindSafe(|| Box::into_raw(Box::new(ProducerCell::clone(&*address)))))
        .unwrap_or(std::ptr::null_mut())
}

/// Drops a handle from `doodles_producer_retain`.
///
/// # Safety
/// `handle` must come from `doodles_producer_retain` and not have been released.
#[no_mangle]
pub unsafe extern "C" fn doodles_producer_release(handle: *mut ProducerCell) {
    if !handle.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(handle))));
    }
}

/// Writes batch `step` (absolute; negative: the next of the sequential road) into `out`. Returns
/// 0, or 1 with `err` filled in.
///
/// # Safety
/// `handle` must be a live handle; `out` and `err` must point to writable structs.
#[no_mangle]
pub unsafe extern "C" fn doodles_producer_batch(
    handle: *const ProducerCell,
    step: i64,
    out: *mut DoodlesBatch,
    err: *mut DoodlesError,
) -> i32 {
    let err = err.as_mut();
    if handle.is_null() || out.is_null() {
        report(err, "internal", 0, "null producer or batch");
        return 1;
    }
    let producer = &*handle;
    let result =
        catch_unwind(AssertUnwindSafe(|| if step < 0 { producer.next() } else { producer.batch(step as u64) }));
    match result {
        Ok(Ok(batch)) => {
            out.write(batch_out(batch, producer.pool()));
            0
        }
        Ok(Err(error)) => {
            report_store(err, &error);
            1
        }
        Err(_) => {
            report(err, "internal", 0, "the batch producer panicked (a bug in doodles)");
            1
        }
    }
}

/// Writes the ids of batch `step` (absolute) into `out` (room for `capacity`); returns how many
/// the batch has (so a short `out` can be retried), or -1 on a bad handle.
///
/// # Safety
/// `handle` must be a live handle; `out` must have room for `capacity` ids.
#[no_mangle]
pub unsafe extern "C" fn doodles_producer_ids(
    handle: *const ProducerCell,
    step: u64,
    out: *mut i64,
    capacity: usize,
) -> i64 {
    let Some(producer) = handle.as_ref() else { return -1 };
    match catch_unwind(AssertUnwindSafe(|| producer.ids(step))) {
        Ok(ids) => {
            if !out.is_null() {
                std::ptr::copy_nonoverlapping(ids.as_ptr(), out, ids.len().min(capacity));
            }
            ids.len() as i64
        }
        Err(_) => -1,
    }
}

/// Seconds callers have waited for this producer's batches.
///
/// # Safety
/// `handle` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn doodles_producer_waited(handle: *const ProducerCell) -> f64 {
    match handle.as_ref() {
        Some(producer) => catch_unwind(AssertUnwindSafe(|| producer.waited_seconds())).unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

/// Frees an array of a batch (its images go back to the producer's pool, if it lives).
///
/// # Safety
/// `handle` must come from a `DoodlesArray` and not have been freed.
#[no_mangle]
pub unsafe extern "C" fn doodles_array_free(handle: *mut ArrayHandle) {
    if !handle.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(handle))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doodles_raster::{Encoding, RenderOptions};
    use doodles_store::producer::{Drawings, Pixels, Plan, Producer, Spec, Targets};
    use std::sync::Arc;

    fn producer(texts: Vec<String>) -> ProducerCell {
        let n = texts.len();
        Arc::new(
            Producer::new(Spec {
                drawings: Drawings::Texts(texts),
                plan: Plan {
                    ids: (1..=n as i64).collect(),
                    batch_size: 2,
                    seed: None,
                    workers: 1,
                    worker: 0,
                    initial_epoch: 0,
                },
                options: RenderOptions::new(4, Encoding::Gray, 3.0, false).unwrap(),
                pixels: Pixels::Float32 { imagenet: false },
                targets: Targets::None,
                features: None,
                hflip: false,
                threads: 1,
                depth: 1,
                closed: None,
            })
            .unwrap(),
        )
    }

    fn text(chars: &[c_char]) -> String {
        chars.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect()
    }

    #[test]
    fn batches_and_errors_cross_the_c_boundary() {
        let cell = producer(vec!["[[[0, 255], [0, 255]]]".into(), "[[[0], [0]]]".into(), "[[[0, 1]]]".into()]);
        unsafe {
            let handle = doodles_producer_retain(&cell);
            drop(cell);
            let mut out = std::mem::MaybeUninit::<DoodlesBatch>::uninit();
            let mut err = std::mem::MaybeUninit::<DoodlesError>::zeroed();
            assert_eq!(doodles_producer_batch(handle, -1, out.as_mut_ptr(), err.as_mut_ptr()), 0);
            let batch = out.assume_init_read();
            assert_eq!((batch.rows, batch.epoch, batch.epoch_step), (2, 1, 0));
            assert_eq!(batch.x.bytes, 2 * 16 * 4);
            assert!(batch.y.handle.is_null() && batch.features.handle.is_null());
            let pixels = std::slice::from_raw_parts(batch.x.data.cast::<f32>(), 32);
            assert!(pixels.iter().any(|&v| v > 0.0));
            doodles_array_free(batch.x.handle);
            assert_eq!(doodles_producer_batch(handle, -1, out.as_mut_ptr(), err.as_mut_ptr()), 1);
            let err = err.assume_init();
            assert_eq!(text(&err.kind), "drawing");
            assert_eq!(err.id, 3);
            assert!(text(&err.message).contains("id 3"), "{}", text(&err.message));
            assert!(doodles_producer_waited(handle) >= 0.0);
            let mut ids = [0i64; 2];
            assert_eq!(doodles_producer_ids(handle, 1, ids.as_mut_ptr(), 2), 1);
            assert_eq!(ids[0], 3);
            doodles_producer_release(handle);
        }
    }
}
