//! Batches in the form Keras consumes, made without R: a [`Producer`] owns a generator's ids
//! (shuffled per epoch from a seed, cut into this worker's shard), reads the drawings (through
//! the stroke index, or texts it was given), renders them as NHWC uint8 or float32, adds labels
//! (one-hot or sparse) and side features, and keeps up to `depth` batches rendered ahead on a
//! thread of its own. Any thread may ask for a batch; the memory of a batch is a plain Rust
//! vector, handed back to the producer's small pool when its user drops it.
//!
//! A batch is named by its absolute step `a` (0, 1, ... over all epochs): epoch
//! `initial_epoch + 1 + a / steps_per_epoch`, step `a % steps_per_epoch` of it. Its drawings
//! depend on the plan and `a` only, so batches are the same whichever thread asks, and in
//! whatever order.
//!
//! By concern: `plan` (which ids make each batch, per epoch and worker), `spec` (what a producer
//! is asked for), `buffer` (a batch and its memory), `render` (one batch, from ids to arrays), and
//! this module (the producer, its render-ahead thread and the batches waiting to be taken).
mod buffer;
mod plan;
mod render;
mod spec;

pub use buffer::{Aligned, Batch, Buffer, BufferPool};
pub use plan::Plan;
pub use spec::{Drawings, Features, Pixels, Spec, Targets};

use crate::error::{ErrorKind, Result, StoreError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

/// A step of the render-ahead thread: being rendered, or waiting to be taken.
enum Slot {
    Rendering,
    Done(Result<Batch>),
}

/// The batches rendered ahead: steps `next_to_render - depth..next_to_render` at most.
struct Ahead {
    /// Steps below this were asked for; the renderer stays within `depth` of it.
    floor: u64,
    next_to_render: u64,
    slots: BTreeMap<u64, Slot>,
    stop: bool,
}

/// What the producer and its render-ahead thread share.
struct Shared {
    spec: Spec,
    steps_per_epoch: u64,
    pool: Arc<BufferPool>,
    /// The last orders computed, by epoch (a 50M-id shuffle takes about a second).
    orders: Mutex<Vec<(u64, Arc<Vec<u32>>)>>,
    ahead: Mutex<Ahead>,
    changed: Condvar,
    /// The next step of the sequential road ([`Producer::next`]).
    cursor: AtomicU64,
    /// Nanoseconds callers spent waiting for batches.
    waited_ns: AtomicU64,
}

/// Makes batches (see the module documentation). Dropping it stops its render-ahead thread.
pub struct Producer {
    shared: Arc<Shared>,
    renderer: Option<JoinHandle<()>>,
}

/// Locks `mutex`, even one a panicking thread left poisoned (the data stay consistent: every
/// critical section here leaves them whole).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Producer {
    pub fn new(spec: Spec) -> Result<Producer> {
        spec.plan.check()?;
        if spec.threads == 0 {
            return Err(StoreError::new(ErrorKind::Argument, "threads must be at least 1"));
        }
        if let Some(features) = &spec.features {
            features.check(spec.plan.ids.len())?;
        }
        if spec.hflip && spec.plan.seed.is_none() {
            return Err(StoreError::new(ErrorKind::Argument, "the hflip augmentation needs a seed (shuffled batches)"));
        }
        match &spec.drawings {
            Drawings::Texts(texts) if texts.len() != spec.plan.ids.len() => {
                return Err(StoreError::new(ErrorKind::Argument, "the drawings do not have one text per id"));
            }
            Drawings::Index { index, .. } => {
                if let Some((position, id)) =
                    spec.plan.ids.iter().enumerate().find(|(_, &id)| id < 1 || id as u64 > index.len() as u64)
                {
                    return Err(StoreError::new(
                        ErrorKind::Argument,
                        format!("ids[{}] is {id}, not an id of doodles (1 to {})", position + 1, index.len()),
                    ));
                }
            }
            Drawings::Texts(_) => {}
        }
        if matches!(spec.targets, Targets::OneHot { classes: 0 } | Targets::Sparse { classes: 0 }) {
            return Err(StoreError::new(ErrorKind::Argument, "the number of classes must be at least 1"));
        }
        if matches!(
            (&spec.drawings, spec.targets),
            (Drawings::Texts(_), Targets::OneHot { .. } | Targets::Sparse { .. })
        ) {
            return Err(StoreError::new(ErrorKind::Argument, "drawings given as texts have no labels"));
        }
        let depth = spec.depth;
        let shared = Arc::new(Shared {
            steps_per_epoch: spec.plan.steps_per_epoch(),
            spec,
            pool: Arc::default(),
            orders: Mutex::new(Vec::new()),
            ahead: Mutex::new(Ahead { floor: 0, next_to_render: 0, slots: BTreeMap::new(), stop: false }),
            changed: Condvar::new(),
            cursor: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
        });
        let renderer = if depth == 0 {
            None
        } else {
            let shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name("doodles-producer".into())
                .spawn(move || shared.render_ahead())
                .map_err(|e| StoreError::new(ErrorKind::Internal, format!("cannot start a thread: {e}")))?;
            Some(thread)
        };
        Ok(Producer { shared, renderer })
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.shared.steps_per_epoch
    }

    pub fn plan(&self) -> &Plan {
        &self.shared.spec.plan
    }

    /// Where dropped image buffers go back to.
    pub fn pool(&self) -> Weak<BufferPool> {
        Arc::downgrade(&self.shared.pool)
    }

    /// Seconds the callers of [`Producer::batch`] and [`Producer::next`] spent waiting.
    pub fn waited_seconds(&self) -> f64 {
        self.shared.waited_ns.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// The next batch of the sequential road: steps 0, 1, 2, ... to whichever thread asks.
    pub fn next(&self) -> Result<Batch> {
        self.batch(self.shared.cursor.fetch_add(1, Ordering::SeqCst))
    }

    /// The ids of batch `step` (absolute), in the batch's order, without rendering it.
    pub fn ids(&self, step: u64) -> Vec<i64> {
        if self.shared.steps_per_epoch == 0 {
            return Vec::new();
        }
        let (_, _, positions) = self.shared.positions(step);
        positions.iter().map(|&p| self.shared.spec.plan.ids[p as usize]).collect()
    }

    /// Batch `step` (absolute, see the module documentation): the one rendered ahead when it is
    /// there, else rendered now on the caller's thread.
    pub fn batch(&self, step: u64) -> Result<Batch> {
        let started = Instant::now();
        let result = self.shared.take(step);
        self.shared.waited_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        lock(&self.shared.ahead).stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.renderer.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn take(&self, step: u64) -> Result<Batch> {
        // Also for batches rendered before the connection closed or the database changed.
        self.check_source()?;
        let mut ahead = lock(&self.ahead);
        if ahead.slots.contains_key(&step) {
            loop {
                match ahead.slots.remove(&step) {
                    Some(Slot::Done(result)) => {
                        ahead.floor = ahead.floor.max(step + 1);
                        drop(ahead);
                        self.changed.notify_all();
                        return result;
                    }
                    Some(Slot::Rendering) => {
                        ahead.slots.insert(step, Slot::Rendering);
                    }
                    // Taken by another caller meanwhile: drawn again below.
                    None => break,
                }
                ahead = self.changed.wait(ahead).unwrap_or_else(|p| p.into_inner());
            }
        } else if step >= ahead.next_to_render {
            // A jump forward (or the first batch): what was rendered ahead is of no use.
            ahead.slots.retain(|_, slot| matches!(slot, Slot::Rendering));
            ahead.next_to_render = step + 1;
            ahead.floor = step + 1;
        }
        drop(ahead);
        self.changed.notify_all();
        self.render(step)
    }

    /// The render-ahead thread: renders the steps after the last one asked for, up to `depth`.
    fn render_ahead(&self) {
        loop {
            let step = {
                let mut ahead = lock(&self.ahead);
                loop {
                    if ahead.stop {
                        return;
                    }
                    if ahead.next_to_render < ahead.floor + self.spec.depth as u64 {
                        break;
                    }
                    ahead = self.changed.wait(ahead).unwrap_or_else(|p| p.into_inner());
                }
                let step = ahead.next_to_render;
                ahead.next_to_render += 1;
                ahead.slots.insert(step, Slot::Rendering);
                step
            };
            let result = self.render(step);
            let mut ahead = lock(&self.ahead);
            if let Some(slot) = ahead.slots.get_mut(&step) {
                *slot = Slot::Done(result);
            }
            drop(ahead);
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doodles_raster::{render_batch, Encoding, Mirrored, Output, RenderOptions};
    use std::sync::atomic::AtomicBool;

    fn texts_spec(n: usize, batch_size: usize, seed: Option<u64>, depth: usize) -> Spec {
        let texts = (0..n).map(|i| format!("[[[0, {}], [0, 255]]]", i % 256)).collect();
        Spec {
            drawings: Drawings::Texts(texts),
            plan: Plan { ids: (1..=n as i64).collect(), batch_size, seed, workers: 1, worker: 0, initial_epoch: 0 },
            options: RenderOptions::new(8, Encoding::Gray, 3.0, false).unwrap(),
            pixels: Pixels::Uint8,
            targets: Targets::None,
            features: None,
            hflip: false,
            threads: 2,
            depth,
            closed: None,
        }
    }

    #[test]
    fn an_ordered_walk_ends_with_a_partial_batch_and_starts_again() {
        let producer = Producer::new(texts_spec(10, 4, None, 2)).unwrap();
        assert_eq!(producer.steps_per_epoch(), 3);
        let sizes: Vec<Vec<i64>> = (0..4).map(|_| producer.next().unwrap().ids).collect();
        assert_eq!(sizes, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10], vec![1, 2, 3, 4]]);
    }

    #[test]
    fn each_epoch_holds_every_id_once_and_the_seed_fixes_the_order() {
        let a = Producer::new(texts_spec(103, 10, Some(7), 3)).unwrap();
        let b = Producer::new(texts_spec(103, 10, Some(7), 0)).unwrap();
        let mut epochs = Vec::new();
        for _ in 0..2 {
            let mut seen = Vec::new();
            for _ in 0..10 {
                let batch = a.next().unwrap();
                assert_eq!(batch.ids, b.next().unwrap().ids);
                seen.extend(batch.ids);
            }
            let mut sorted = seen.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 100);
            epochs.push(seen);
        }
        assert_ne!(epochs[0], epochs[1]);
        // Another seed, another order.
        let c = Producer::new(texts_spec(103, 10, Some(8), 0)).unwrap();
        assert_ne!(c.next().unwrap().ids, epochs[0][..10].to_vec());
    }

    #[test]
    fn batches_asked_out_of_order_or_again_are_the_same() {
        let producer = Producer::new(texts_spec(50, 5, Some(3), 2)).unwrap();
        let first: Vec<Batch> = (0..6).map(|s| producer.batch(s).unwrap()).collect();
        assert!(first.iter().all(|batch| batch.ids == producer.ids(batch.step)));
        for s in [5, 0, 3, 3, 12, 1] {
            let again = producer.batch(s).unwrap();
            if s < 6 {
                assert_eq!(again.ids, first[s as usize].ids);
                match (&again.x, &first[s as usize].x) {
                    (Buffer::U8(a), Buffer::U8(b)) => assert_eq!(a, b),
                    _ => panic!("uint8 expected"),
                }
            } else {
                assert_eq!((again.epoch, again.epoch_step), (2, 2));
            }
        }
    }

    #[test]
    fn threads_pulling_at_once_get_disjoint_batches_covering_the_epoch() {
        let producer = Arc::new(Producer::new(texts_spec(800, 8, Some(1), 2)).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let producer = Arc::clone(&producer);
                std::thread::spawn(move || (0..25).map(|_| producer.next().unwrap().ids).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (1..=800).collect::<Vec<_>>());
    }

    #[test]
    fn workers_shards_are_disjoint_slices_of_one_global_order() {
        let mut shards = Vec::new();
        for worker in 0..2 {
            let mut spec = texts_spec(64, 4, Some(5), 1);
            spec.plan.workers = 2;
            spec.plan.worker = worker;
            let producer = Producer::new(spec).unwrap();
            shards.push((0..8).flat_map(|_| producer.next().unwrap().ids).collect::<Vec<_>>());
        }
        let single = Producer::new({
            let mut spec = texts_spec(64, 8, Some(5), 0);
            spec.plan.workers = 1;
            spec
        })
        .unwrap();
        for step in 0..8 {
            let global = single.next().unwrap().ids;
            assert_eq!(&global[..4], &shards[0][step * 4..step * 4 + 4]);
            assert_eq!(&global[4..], &shards[1][step * 4..step * 4 + 4]);
        }
    }

    #[test]
    fn a_bad_drawing_names_its_id_and_a_closed_source_is_refused() {
        let mut spec = texts_spec(12, 4, None, 1);
        if let Drawings::Texts(texts) = &mut spec.drawings {
            texts[6] = "[[[0, 1], [0]]]".into();
        }
        let closed = Arc::new(AtomicBool::new(false));
        spec.closed = Some(Arc::clone(&closed));
        let producer = Producer::new(spec).unwrap();
        assert!(producer.next().is_ok());
        let err = producer.next().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Drawing);
        assert_eq!(err.drawing_at().map(|at| at.id), Some(7));
        assert!(err.message().contains("id 7"), "{}", err.message());
        closed.store(true, Ordering::SeqCst);
        let err = producer.next().unwrap_err();
        assert!(err.message().contains("closed"), "{}", err.message());
    }

    #[test]
    fn features_follow_their_ids() {
        let mut spec = texts_spec(6, 3, Some(2), 0);
        spec.features = Some(Features {
            numeric: (1..=6).map(|i| i as f32).collect(),
            width: 1,
            categories: vec![0, 1, -1, 1, 0, 2],
            levels: 3,
            stroke_count_at: None,
        });
        let producer = Producer::new(spec).unwrap();
        let batch = producer.next().unwrap();
        let features = batch.features.unwrap();
        let categories = [0, 1, -1, 1, 0, 2];
        for (row, &id) in batch.ids.iter().enumerate() {
            let expected_level = categories[(id - 1) as usize];
            let row = &features[row * 4..row * 4 + 4];
            assert_eq!(row[0], id as f32);
            for level in 0..3 {
                assert_eq!(row[1 + level], if level as i32 == expected_level { 1.0 } else { 0.0 });
            }
        }
    }

    #[test]
    fn the_stroke_count_goes_in_at_its_column_counted_from_each_drawing() {
        let spec = |texts: Vec<String>| {
            let mut spec = texts_spec(6, 3, Some(4), 0);
            spec.drawings = Drawings::Texts(texts);
            spec.features = Some(Features {
                numeric: (1..=6).flat_map(|i| [i as f32, -(i as f32)]).collect(),
                width: 2,
                stroke_count_at: Some(1),
                ..Features::default()
            });
            spec
        };
        // Drawing i has i strokes of one point.
        let producer =
            Producer::new(spec((1..=6).map(|i| format!("[{}]", vec!["[[1], [2]]"; i].join(", "))).collect())).unwrap();
        for _ in 0..2 {
            let batch = producer.next().unwrap();
            let features = batch.features.unwrap();
            for (row, &id) in batch.ids.iter().enumerate() {
                assert_eq!(&features[row * 3..row * 3 + 3], &[id as f32, id as f32, -(id as f32)]);
            }
        }
        let err = Producer::new(spec(vec!["[[[1, 2], [3]]]".to_string(); 6])).unwrap().next().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Drawing);
        assert!(err.message().starts_with("ids[1] (id "), "{}", err.message());
    }

    #[test]
    fn hflip_mirrors_the_drawings_its_seed_and_epoch_pick() {
        let spec = |hflip: bool| {
            let mut spec = texts_spec(200, 50, Some(9), 1);
            // An L: no drawing is its own mirror image.
            spec.drawings =
                Drawings::Texts((0..200).map(|i| format!("[[[0, 200, 200], [0, 0, {}]]]", 55 + i)).collect());
            spec.options = RenderOptions::new(32, Encoding::Order, 3.0, true).unwrap();
            spec.hflip = hflip;
            spec
        };
        let texts: Vec<String> = match &spec(false).drawings {
            Drawings::Texts(texts) => texts.clone(),
            Drawings::Index { .. } => unreachable!("texts"),
        };
        let (plain, flipped, again) = (
            Producer::new(spec(false)).unwrap(),
            Producer::new(spec(true)).unwrap(),
            Producer::new(spec(true)).unwrap(),
        );
        let mut picked = Vec::new();
        for step in 0..8 {
            let (a, b) = (plain.batch(step).unwrap(), flipped.batch(step).unwrap());
            assert_eq!(a.ids, b.ids);
            let flags: Vec<bool> = b.ids.iter().map(|&id| Plan::flipped(9, b.epoch, (id - 1) as u32)).collect();
            // What the renderer gives for those flags, and nothing else.
            let options = spec(true).options;
            let drawings: Vec<Mirrored<&str>> = b
                .ids
                .iter()
                .zip(&flags)
                .map(|(&id, &mirror)| Mirrored { drawing: texts[(id - 1) as usize].as_str(), mirror })
                .collect();
            let mut want = vec![0u8; drawings.len() * options.values_per_drawing()];
            render_batch(&drawings, &options, Output::Uint8(&mut want), 1).unwrap();
            let (Buffer::U8(x), Buffer::U8(plain_x), Buffer::U8(again_x)) = (&b.x, &a.x, &again.batch(step).unwrap().x)
            else {
                panic!("uint8 expected")
            };
            assert_eq!(&x[..], &want[..]);
            assert_eq!(x, again_x);
            let pixels = options.values_per_drawing();
            for (i, &flag) in flags.iter().enumerate() {
                let range = i * pixels..(i + 1) * pixels;
                assert_eq!(x[range.clone()] != plain_x[range], flag, "drawing {i} of step {step}");
            }
            picked.push((b.epoch, b.ids.clone(), flags));
        }
        // Epochs 1 and 2 (4 steps each): about half picked, not the same ones.
        let by_id = |epoch: u64| {
            let mut flags: Vec<(i64, bool)> = picked
                .iter()
                .filter(|(e, _, _)| *e == epoch)
                .flat_map(|(_, ids, flags)| ids.iter().copied().zip(flags.iter().copied()))
                .collect();
            flags.sort_unstable();
            flags
        };
        let (first, second) = (by_id(1), by_id(2));
        assert_eq!(first.len(), 200);
        let count = first.iter().filter(|(_, f)| *f).count();
        assert!((70..=130).contains(&count), "{count} of 200 mirrored");
        assert_ne!(first, second);
        assert!(Producer::new({
            let mut spec = texts_spec(10, 5, None, 0);
            spec.hflip = true;
            spec
        })
        .is_err());
    }
}
