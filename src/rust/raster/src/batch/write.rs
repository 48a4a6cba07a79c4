//! The second pass: a rendered batch's coverage expanded into the output's values (an R array's
//! doubles, or NHWC float32 or bytes), streaming in the order the coverage was laid out in.
use super::{pool, BatchError, Output, RenderedBatch};
use rayon::prelude::*;

/// Pixel-channels (each a run of all `n` drawings' values) written per parallel task.
const RUNS_PER_TASK: usize = 64;

impl RenderedBatch {
    /// Writes the batch into `out` with `threads` threads; every element of it is written. `out`
    /// must have the layout the batch was rendered for.
    pub fn write_into(&self, out: Output<'_>, threads: usize) -> Result<(), BatchError> {
        let expected = self.len * self.options.values_per_drawing();
        if out.len() != expected {
            return Err(BatchError::OutputLength { expected, actual: out.len() });
        }
        if out.layout() != self.layout {
            return Err(BatchError::Layout { rendered: self.layout, wanted: out.layout() });
        }
        if self.len == 0 {
            return Ok(());
        }
        match out {
            Output::RArray(out) => self.write_r_array(out, threads),
            Output::Float32 { out, imagenet } => {
                let (scale, offset) = if imagenet { (2.0, -1.0) } else { (1.0, 0.0) };
                self.write_nhwc(out, |value| (value * scale + offset) as f32, threads)
            }
            Output::Uint8(out) => self.write_nhwc(out, |value| (value * 255.0).round_ties_even() as u8, threads),
        }
    }

    /// The channels of the pixel at `at` (an offset in [`RenderedBatch::coverage`]) of drawing
    /// `drawing`, for an encoding with items (all but gray).
    #[inline]
    fn ink_at(&self, at: usize, drawing: usize, alpha: &[f64; 256]) -> [f64; 3] {
        let level = self.coverage[at];
        let background = self.options.encoding.background();
        if level == 0 {
            return [background; 3];
        }
        let ink = self.inks[self.first_ink[drawing] + usize::from(self.items[at])];
        if !self.options.antialias {
            return ink;
        }
        let alpha = alpha[usize::from(level)];
        ink.map(|ink| (1.0 - alpha) * background + alpha * ink)
    }

    /// Channel `channel` of an antialiased pixel of coverage `level` whose ink is `inks[ink]`.
    #[inline]
    fn blend(&self, level: u8, ink: usize, channel: usize, alpha: &[f64; 256]) -> f64 {
        let background = self.options.encoding.background();
        if level == 0 {
            return background;
        }
        let alpha = alpha[usize::from(level)];
        (1.0 - alpha) * background + alpha * self.inks[ink][channel]
    }

    fn write_r_array(&self, out: &mut [f64], threads: usize) -> Result<(), BatchError> {
        let n = self.len;
        let pixels = self.options.side * self.options.side;
        let (alpha, gray) = value_tables();
        let size = self.group;
        let background = self.options.encoding.background();
        pool(threads)?.install(|| {
            out.par_chunks_mut(n * RUNS_PER_TASK).enumerate().for_each(|(task, chunk)| {
                for (offset, run) in chunk.chunks_exact_mut(n).enumerate() {
                    let index = task * RUNS_PER_TASK + offset;
                    let (channel, pixel) = (index / pixels, index % pixels);
                    for (group, run) in run.chunks_mut(size).enumerate() {
                        let at = group * size * pixels + pixel * size;
                        let levels = &self.coverage[at..at + run.len()];
                        if self.items.is_empty() {
                            for (out, &level) in run.iter_mut().zip(levels) {
                                *out = gray[usize::from(level)];
                            }
                            continue;
                        }
                        // One channel of the group's drawings at this pixel, the options' branches
                        // hoisted out of the loop over drawings.
                        let items = &self.items[at..at + run.len()];
                        let first_inks = &self.first_ink[group * size..group * size + run.len()];
                        let values = run.iter_mut().zip(levels).zip(items).zip(first_inks);
                        if self.options.antialias {
                            for (((out, &level), &item), &first_ink) in values {
                                *out = self.blend(level, first_ink + usize::from(item), channel, &alpha);
                            }
                        } else {
                            for (((out, &level), &item), &first_ink) in values {
                                *out = if level == 0 {
                                    background
                                } else {
                                    self.inks[first_ink + usize::from(item)][channel]
                                };
                            }
                        }
                    }
                }
            });
        });
        Ok(())
    }

    /// Row-major `(n, side, side, channels)` from coverage laid out the same way ([`Layout::Nhwc`]):
    /// each drawing's pixels are read and written in one sequential pass.
    fn write_nhwc<T: Copy + Send + Sync>(
        &self,
        out: &mut [T],
        map: impl Fn(f64) -> T + Sync,
        threads: usize,
    ) -> Result<(), BatchError> {
        match self.options.channels() {
            1 => self.write_nhwc_channels::<T, 1>(out, map, threads),
            _ => self.write_nhwc_channels::<T, 3>(out, map, threads),
        }
    }

    fn write_nhwc_channels<T: Copy + Send + Sync, const C: usize>(
        &self,
        out: &mut [T],
        map: impl Fn(f64) -> T + Sync,
        threads: usize,
    ) -> Result<(), BatchError> {
        let pixels = self.options.side * self.options.side;
        let (alpha, gray) = value_tables();
        let gray_values: [T; 256] = std::array::from_fn(|level| map(gray[level]));
        // Without antialiasing every pixel shows one of its drawing's inks (ink 0, the background,
        // where the coverage is 0) exactly: convert them once.
        let antialias = self.options.antialias;
        let inks: Vec<[T; C]> = if antialias {
            Vec::new()
        } else {
            self.inks.iter().map(|ink| std::array::from_fn(|c| map(ink[c]))).collect()
        };
        let size = self.group;
        pool(threads)?.install(|| {
            out.par_chunks_mut(pixels * C).enumerate().for_each(|(drawing, out)| {
                let (group, j) = (drawing / size, drawing % size);
                let start = group * size * pixels + j * pixels;
                let coverage = &self.coverage[start..][..pixels];
                if self.items.is_empty() {
                    for (out, &level) in out.iter_mut().zip(coverage) {
                        *out = gray_values[usize::from(level)];
                    }
                    return;
                }
                if antialias {
                    for (p, out) in out.chunks_exact_mut(C).enumerate() {
                        let ink = self.ink_at(start + p, drawing, &alpha);
                        out.iter_mut().zip(ink).for_each(|(out, value)| *out = map(value));
                    }
                    return;
                }
                let items = &self.items[start..][..pixels];
                let first_ink = self.first_ink[drawing];
                let last_ink = self.first_ink.get(drawing + 1).map_or(inks.len(), |&next| next);
                let inks = &inks[first_ink..last_ink];
                // Whole pixels as arrays: one store per channel, no length check or memcpy call.
                let (out, _) = out.as_chunks_mut::<C>();
                for ((out, &level), &item) in out.iter_mut().zip(coverage).zip(items) {
                    // Items are stale where nothing is drawn: select the background without a branch.
                    let item = if level == 0 { 0 } else { usize::from(item) };
                    *out = inks[item];
                }
            });
        });
        Ok(())
    }
}

/// Coverage level to alpha, and to the gray encoding's value.
fn value_tables() -> ([f64; 256], [f64; 256]) {
    let alpha: [f64; 256] = std::array::from_fn(|level| level as f64 / 255.0);
    let gray = std::array::from_fn(|level| 1.0 - alpha[level]);
    (alpha, gray)
}
