//! The first pass on a thread of its own, so that the next batch is drawn while the caller uses
//! this one.
use super::{render_tiles, BatchError, Layout, RenderedBatch};
use crate::compact::AsDrawing;
use crate::options::RenderOptions;

/// A batch being rendered on a background thread, e.g. the next training batch while R and
/// Keras use the current one. Dropping it lets the thread finish and discards its result.
#[derive(Debug)]
pub struct Prefetch {
    handle: std::thread::JoinHandle<Result<RenderedBatch, BatchError>>,
}

impl Prefetch {
    /// Starts rendering `drawings` (owned, so the caller's buffers are free) with `threads`
    /// worker threads, for an output of layout `layout`.
    pub fn spawn<D: AsDrawing + Send + Sync + 'static>(
        drawings: Vec<D>,
        options: RenderOptions,
        layout: Layout,
        threads: usize,
    ) -> Result<Prefetch, BatchError> {
        let handle = std::thread::Builder::new()
            .name("doodles-prefetch".into())
            .spawn(move || render_tiles(&drawings, &options, layout, threads))
            .map_err(|err| BatchError::Threads(err.to_string()))?;
        Ok(Prefetch { handle })
    }

    /// Waits for the rendering to finish.
    pub fn wait(self) -> Result<RenderedBatch, BatchError> {
        self.handle.join().unwrap_or_else(|_| Err(BatchError::Threads("the prefetch thread panicked".into())))
    }
}
