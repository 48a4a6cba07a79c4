//! One batch, from its step to its arrays: the positions of its drawings in the plan, the
//! drawings (through the stroke index or as texts), rendered, with labels and side features.
use super::buffer::{Aligned, Batch, Buffer};
use super::plan::Plan;
use super::spec::{Drawings, Pixels, Targets};
use super::{lock, Shared};
use crate::batch::{drawing_error, lookup, render_error};
use crate::error::{ErrorKind, Result, StoreError};
use doodles_raster::{render_batch_mirrored, Drawing, Output};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Shared {
    /// The order of `epoch`, computed once for the producer's threads; the previous epoch's is
    /// kept for batches still asked of it.
    fn order(&self, seed: u64, epoch: u64) -> Arc<Vec<u32>> {
        if let Some((_, order)) = lock(&self.orders).iter().find(|(e, _)| *e == epoch) {
            return Arc::clone(order);
        }
        let order = Arc::new(self.spec.plan.order(seed, epoch));
        let mut orders = lock(&self.orders);
        orders.retain(|(e, _)| e + 1 >= epoch);
        orders.push((epoch, Arc::clone(&order)));
        order
    }

    /// Positions (in the plan's ids) of the drawings of absolute step `step`.
    pub(super) fn positions(&self, step: u64) -> (u64, u64, Vec<u32>) {
        let plan = &self.spec.plan;
        let (epoch, epoch_step) = plan.epoch_and_step(step);
        let positions = match plan.seed {
            Some(seed) => {
                let order = self.order(seed, epoch);
                let start = epoch_step as usize * plan.batch_size * plan.workers + plan.worker * plan.batch_size;
                order[start..start + plan.batch_size].to_vec()
            }
            None => {
                let start = epoch_step as usize * plan.batch_size;
                let end = (start + plan.batch_size).min(plan.ids.len());
                (start as u32..end as u32).collect()
            }
        };
        (epoch, epoch_step, positions)
    }

    /// Refuses work once the connection is closed or the database was written since.
    pub(super) fn check_source(&self) -> Result<()> {
        if self.spec.closed.as_ref().is_some_and(|closed| closed.load(Ordering::SeqCst)) {
            return Err(StoreError::new(
                ErrorKind::Argument,
                "the connection of this generator has been closed (dbDisconnect): make a new generator",
            ));
        }
        if let Drawings::Index { db, write_epoch, .. } = &self.spec.drawings {
            if db.write_epoch() != *write_epoch {
                return Err(StoreError::new(
                    ErrorKind::Index,
                    "the database was written after this generator was made, so its stroke index may be out of \
                     date: make a new generator",
                ));
            }
        }
        Ok(())
    }

    /// Renders batch `step` on the calling thread.
    pub(super) fn render(&self, step: u64) -> Result<Batch> {
        self.check_source()?;
        if self.steps_per_epoch == 0 {
            return Err(StoreError::new(ErrorKind::Argument, "there are no drawings to make batches of"));
        }
        let spec = &self.spec;
        let (epoch, epoch_step, positions) = self.positions(step);
        let ids: Vec<i64> = positions.iter().map(|&p| spec.plan.ids[p as usize]).collect();
        let len = ids.len() * spec.options.values_per_drawing();
        let mut x = self.pool.take(spec.pixels, len);
        let (drawings, labels) = match &spec.drawings {
            Drawings::Index { index, .. } => lookup(index, &ids)?,
            Drawings::Texts(texts) => {
                (positions.iter().map(|&p| Drawing::Json(texts[p as usize].as_str())).collect(), Vec::new())
            }
        };
        let stroke_counts = match spec.features.as_ref().and_then(|f| f.stroke_count_at) {
            Some(_) => stroke_counts(&drawings, &ids)?,
            None => Vec::new(),
        };
        let mirror: Vec<bool> = match spec.plan.seed.filter(|_| spec.hflip) {
            Some(seed) => positions.iter().map(|&p| Plan::flipped(seed, epoch, p)).collect(),
            None => Vec::new(),
        };
        let out = match (&mut x, spec.pixels) {
            (Buffer::U8(v), _) => Output::Uint8(v),
            (Buffer::F32(v), Pixels::Float32 { imagenet }) => Output::Float32 { out: v, imagenet },
            _ => return Err(StoreError::new(ErrorKind::Internal, "image buffer of the wrong type")),
        };
        render_batch_mirrored(drawings, &mirror, &spec.options, out, spec.threads)
            .map_err(|e| render_error(e, &ids))?;
        let y = match spec.targets {
            Targets::None => None,
            Targets::OneHot { classes } | Targets::Sparse { classes } => {
                if let Some(at) = labels.iter().position(|&l| l < 0 || l as usize >= classes) {
                    return Err(StoreError::new(
                        ErrorKind::Argument,
                        format!(
                            "label_int {} of id {} is outside 0..{} (num_classes = {classes})",
                            labels[at],
                            ids[at],
                            classes - 1
                        ),
                    ));
                }
                Some(match spec.targets {
                    Targets::Sparse { .. } => Buffer::I32(labels),
                    _ => {
                        let mut rows = Aligned::zeroed(labels.len() * classes);
                        for (row, &label) in labels.iter().enumerate() {
                            rows[row * classes + label as usize] = 1.0;
                        }
                        Buffer::F32(rows)
                    }
                })
            }
        };
        let features = spec.features.as_ref().map(|f| f.gather(&positions, &stroke_counts));
        Ok(Batch { step, epoch, epoch_step, ids, x, y, features })
    }
}

/// The number of strokes of each drawing (the `n_strokes` side feature); a drawing that cannot
/// be read is named as the renderer names it.
fn stroke_counts(drawings: &[Drawing<'_>], ids: &[i64]) -> Result<Vec<usize>> {
    drawings
        .iter()
        .enumerate()
        .map(|(index, drawing)| drawing.stroke_count().map_err(|error| drawing_error(index, ids, error)))
        .collect()
}
