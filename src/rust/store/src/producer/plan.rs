//! Which ids make each batch: the order of an epoch, a worker's shard of it, and the drawings the
//! `hflip` augmentation mirrors.
use crate::error::{ErrorKind, Result, StoreError};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which ids make each batch.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ids, in their given order (the test order when `seed` is `None`).
    pub ids: Vec<i64>,
    pub batch_size: usize,
    /// Shuffle every epoch with this seed; `None` walks the ids in order, the last batch partial.
    pub seed: Option<u64>,
    /// Workers of a multi-worker training and this one's index: each epoch's order is cut into
    /// global batches of `workers * batch_size` ids, of which this worker takes its slice.
    pub workers: usize,
    pub worker: usize,
    /// Epochs trained before: the first batch is one of epoch `initial_epoch + 1`.
    pub initial_epoch: u64,
}

impl Plan {
    /// Whether the plan makes batches at all (an argument error says why not).
    pub(super) fn check(&self) -> Result<()> {
        let bad = |message: String| Err(StoreError::new(ErrorKind::Argument, message));
        if self.batch_size == 0 || self.workers == 0 || self.worker >= self.workers {
            return bad(format!(
                "batch_size {} and worker {} of {} workers do not make a batch",
                self.batch_size, self.worker, self.workers
            ));
        }
        if self.ids.len() > u32::MAX as usize {
            return bad("more than 2^32 ids".into());
        }
        if self.seed.is_some() && self.ids.len() < self.batch_size * self.workers {
            return bad(format!(
                "{} ids are fewer than one batch of {} ({} workers of {})",
                self.ids.len(),
                self.batch_size * self.workers,
                self.workers,
                self.batch_size
            ));
        }
        if self.seed.is_none() && self.workers != 1 {
            return bad("an ordered walk has one worker".into());
        }
        Ok(())
    }

    /// Batches per epoch: full global batches when shuffled, every id (the last batch partial)
    /// when walked in order.
    pub fn steps_per_epoch(&self) -> u64 {
        match self.seed {
            Some(_) => (self.ids.len() / (self.batch_size * self.workers)) as u64,
            None => self.ids.len().div_ceil(self.batch_size) as u64,
        }
    }

    /// The epoch (1-based, counting `initial_epoch`) and step within it of absolute step `a`.
    pub fn epoch_and_step(&self, a: u64) -> (u64, u64) {
        let steps = self.steps_per_epoch();
        (self.initial_epoch + 1 + a / steps, a % steps)
    }

    /// The permutation of positions for `epoch`: the same for a (seed, epoch) on every machine.
    pub(super) fn order(&self, seed: u64, epoch: u64) -> Vec<u32> {
        let mut positions: Vec<u32> = (0..self.ids.len() as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        positions.shuffle(&mut rng);
        positions
    }

    /// Whether the drawing at `position` (in the ids) is mirrored in `epoch` by the `hflip`
    /// augmentation: bit `position` of the ChaCha8 stream of (seed, epoch) set apart from the
    /// orders' (its stream number has the top bit set), so each drawing is decided on its own with
    /// probability 1/2, whichever batch it lands in, the same on every machine and worker.
    pub fn flipped(seed: u64, epoch: u64, position: u32) -> bool {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch | (1 << 63));
        rng.set_word_pos(u128::from(position / 32));
        (rng.next_u32() >> (position % 32)) & 1 == 1
    }
}
