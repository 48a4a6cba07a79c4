//! What a producer is asked for: the drawings, the plan, the image and label forms, side features.
use super::buffer::Aligned;
use super::plan::Plan;
use crate::db::Database;
use crate::error::{ErrorKind, Result, StoreError};
use crate::index::StrokeIndex;
use doodles_raster::RenderOptions;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where the drawings come from.
pub enum Drawings {
    /// Table `doodles` through its stroke index. `db` and `write_epoch` tell whether the database
    /// was written after the producer was made (then its index may be stale: an error).
    Index { index: Arc<StrokeIndex>, db: Arc<Database>, write_epoch: u64 },
    /// Drawing texts (JSON), by position in the plan's ids (the test table, a data frame).
    Texts(Vec<String>),
}

/// The element type of the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// `round(255 * value)`; the model rescales.
    Uint8,
    /// Values in [0, 1], or [-1, 1] with `imagenet`.
    Float32 { imagenet: bool },
}

/// What `y` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// No labels (test batches).
    None,
    /// float32 rows of `classes` columns.
    OneHot { classes: usize },
    /// The int32 class of each drawing, checked to be below `classes`.
    Sparse { classes: usize },
}

/// Side inputs, by position in the plan's ids: `numeric` (`width` float32 values per id, row by
/// row), then one-hot columns for `categories` (a 0-based level per id, -1 for none, of `levels`).
/// With `stroke_count_at`, each drawing's number of strokes, counted from the drawing the batch
/// renders, goes in at that column of the numeric part (`width` does not count it).
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub numeric: Vec<f32>,
    pub width: usize,
    pub categories: Vec<i32>,
    pub levels: usize,
    pub stroke_count_at: Option<usize>,
}

impl Features {
    pub(super) fn columns(&self) -> usize {
        self.width + usize::from(self.stroke_count_at.is_some()) + self.levels
    }

    /// Whether there is a row of features per id.
    pub(super) fn check(&self, n: usize) -> Result<()> {
        let categories_ok = (self.levels == 0 && self.categories.is_empty()) || self.categories.len() == n;
        if self.numeric.len() != n * self.width || !categories_ok {
            return Err(StoreError::new(ErrorKind::Argument, "the side features do not have a row per id"));
        }
        if self.stroke_count_at.is_some_and(|at| at > self.width) {
            return Err(StoreError::new(ErrorKind::Argument, "the stroke count's column is past the numeric features"));
        }
        Ok(())
    }

    /// The rows of features of the drawings at `positions`, whose stroke counts are
    /// `stroke_counts` (when `stroke_count_at` asks for them).
    pub(super) fn gather(&self, positions: &[u32], stroke_counts: &[usize]) -> Aligned<f32> {
        let columns = self.columns();
        let numeric_columns = columns - self.levels;
        let mut out = Aligned::zeroed(positions.len() * columns);
        for (i, (row, &p)) in out.chunks_exact_mut(columns.max(1)).zip(positions).enumerate() {
            let p = p as usize;
            let values = &self.numeric[p * self.width..(p + 1) * self.width];
            match self.stroke_count_at {
                Some(at) => {
                    row[..at].copy_from_slice(&values[..at]);
                    row[at] = stroke_counts[i] as f32;
                    row[at + 1..numeric_columns].copy_from_slice(&values[at..]);
                }
                None => row[..self.width].copy_from_slice(values),
            }
            if self.levels > 0 {
                if let Ok(level) = usize::try_from(self.categories[p]) {
                    if level < self.levels {
                        row[numeric_columns + level] = 1.0;
                    }
                }
            }
        }
        out
    }
}

/// Everything a producer needs.
pub struct Spec {
    pub drawings: Drawings,
    pub plan: Plan,
    pub options: RenderOptions,
    pub pixels: Pixels,
    pub targets: Targets,
    pub features: Option<Features>,
    /// Mirror half of the drawings at random, per epoch (see [`Plan::flipped`]; needs a seed).
    /// `options.mirror` mirrors them all.
    pub hflip: bool,
    /// Threads rendering one batch.
    pub threads: usize,
    /// Batches rendered ahead of the last one asked for (0: none, each is rendered when asked).
    pub depth: usize,
    /// Set when the connection the producer was made from is closed.
    pub closed: Option<Arc<AtomicBool>>,
}
