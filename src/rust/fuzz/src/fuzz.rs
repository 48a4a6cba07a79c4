//! The loop: mutate an input of the pool, run it under `catch_unwind`, keep it when it shows a
//! new kind of outcome or panics (shrunk first), with a watchdog thread for inputs that take too
//! long and the resident memory sampled to show that it does not grow.
use crate::mutate::Mutator;
use crate::sample::sample;
use crate::targets::Target;
use std::collections::HashSet;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An input slower than this is reported (and kept) as a hang.
const SLOW: Duration = Duration::from_secs(1);
/// An input still running after this stops the process: it would never end.
const HUNG: Duration = Duration::from_secs(60);
/// Runs a shrinking may spend on one input.
const SHRINK_RUNS: usize = 300;

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub target: String,
    pub execs: u64,
    pub seconds: f64,
    /// Resident memory (bytes) after the seeds ran, at its highest, and at the end.
    pub rss_start: u64,
    pub rss_peak: u64,
    pub rss_end: u64,
    /// Kinds of outcome seen, and inputs kept for a new one.
    pub kinds: usize,
    pub kept: usize,
    /// Inputs that panicked, and that took longer than [`SLOW`].
    pub panics: usize,
    pub slow: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        write!(
            f,
            "{}: {} execs in {:.0} s ({:.0}/s), RSS {:.1} MB after the seeds, peak {:.1} MB, end {:.1} MB; \
             {} kinds of outcome, {} inputs kept, {} panics, {} slow",
            self.target,
            self.execs,
            self.seconds,
            self.execs as f64 / self.seconds.max(1e-9),
            mb(self.rss_start),
            mb(self.rss_peak),
            mb(self.rss_end),
            self.kinds,
            self.kept,
            self.panics,
            self.slow
        )
    }
}

impl Report {
    /// Brings the figures up to now, for a run started at `start`.
    fn update(&mut self, start: Instant, kinds: usize, slow: &AtomicU64) {
        self.seconds = start.elapsed().as_secs_f64();
        self.rss_end = rss();
        self.kinds = kinds;
        self.slow = slow.load(Ordering::Relaxed) as usize;
    }
}

/// Resident memory of this process in bytes (0 where /proc is missing).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|line| line.strip_prefix("VmRSS:")).and_then(|v| v.trim().strip_suffix("kB"));
    kb.and_then(|kb| kb.trim().parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Where the last panic happened: the hook runs on the panicking thread (maybe a checker
/// thread), the payload comes back to `catch_unwind` without it.
static PANIC_AT: Mutex<String> = Mutex::new(String::new());

/// Panics are expected here and reported with their input: the hook only notes where.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            *PANIC_AT.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }))
    });
}

/// Runs `input`: its kinds of outcome, sorted, or the panic's message and place.
fn execute(target: &dyn Target, input: &[u8]) -> Result<Vec<String>, String> {
    let mut kinds = Vec::new();
    match catch_unwind(AssertUnwindSafe(|| target.run(input, &mut kinds))) {
        Ok(()) => {
            kinds.sort();
            kinds.dedup();
            Ok(kinds)
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = PANIC_AT.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Err(format!("panic at {at}: {message}"))
        }
    }
}

/// Where it panicked: what a shrunk input must keep, and what a new panic must differ in to be
/// kept.
fn panic_place(panic: &str) -> &str {
    panic.split(": ").next().unwrap_or(panic)
}

/// Removes ranges of `input` (halves first, then smaller) as long as `keeps` holds for it.
fn shrink(input: Vec<u8>, keeps: &mut impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let mut input = input;
    let mut runs = 0;
    let mut size = input.len() / 2;
    while size > 0 && runs < SHRINK_RUNS {
        let mut at = 0;
        while at + size <= input.len() && runs < SHRINK_RUNS {
            let candidate = [&input[..at], &input[at + size..]].concat();
            runs += 1;
            if keeps(&candidate) {
                input = candidate;
            } else {
                at += size;
            }
        }
        size /= 2;
    }
    input
}

/// A name for an input in its corpus folder: a hash of its bytes (FNV-1a).
fn file_name(prefix: &str, input: &[u8]) -> String {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    format!("{prefix}{hash:016x}")
}

fn save(dir: &Path, prefix: &str, input: &[u8]) {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join(file_name(prefix, input)), input))
        .unwrap_or_else(|e| eprintln!("cannot save an input in {}: {e}", dir.display()));
}

/// The files of a corpus folder, in name order (none if it does not exist).
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs every file of `dir` through `target`: the panics, with their file.
pub fn replay(target: &dyn Target, dir: &Path) -> Vec<String> {
    quiet_panics();
    corpus_files(dir)
        .iter()
        .filter_map(|path| {
            let input = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            execute(target, &input).err().map(|panic| format!("{}: {panic}", path.display()))
        })
        .collect()
}

/// Times the input being run; its thread reports, and keeps, one that takes longer than
/// [`SLOW`], and ends the process after [`HUNG`].
struct Watchdog {
    /// When the input being run started (milliseconds since `epoch`, plus 1; 0 between inputs).
    started: AtomicU64,
    input: Mutex<Vec<u8>>,
    slow: AtomicU64,
    stop: AtomicBool,
    epoch: Instant,
}

impl Watchdog {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn watch(&self, dir: &Path) {
        let mut reported = 0;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let started = self.started.load(Ordering::Relaxed);
            if started == 0 {
                continue;
            }
            let took = Duration::from_millis(self.now() - started);
            if took > SLOW && reported != started {
                reported = started;
                self.slow.fetch_add(1, Ordering::Relaxed);
                let input = self.input.lock().unwrap_or_else(|e| e.into_inner()).clone();
                save(dir, "slow-", &input);
                eprintln!("slow input (over {SLOW:?}) kept as {}", file_name("slow-", &input));
            }
            if took > HUNG {
                eprintln!("an input has run for over {HUNG:?}: stopping");
                std::process::abort();
            }
        }
    }
}

/// Fuzzes `target` for `seconds`, keeping finds in `corpus/<name>/` under `corpus`; a progress
/// line goes to stderr every 30 seconds.
pub fn fuzz(target: &dyn Target, seconds: f64, seed: u64, corpus: &Path) -> Report {
    quiet_panics();
    let dir = corpus.join(target.name());
    let mut report = Report { target: target.name().to_string(), ..Report::default() };
    let watchdog = Arc::new(Watchdog {
        started: AtomicU64::new(0),
        input: Mutex::new(Vec::new()),
        slow: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        epoch: Instant::now(),
    });
    let watcher = {
        let (watchdog, dir) = (Arc::clone(&watchdog), dir.clone());
        std::thread::spawn(move || watchdog.watch(&dir))
    };
    let run = |input: &[u8]| {
        let mut current = watchdog.input.lock().unwrap_or_else(|e| e.into_inner());
        current.clear();
        current.extend_from_slice(input);
        drop(current);
        watchdog.started.store(watchdog.now(), Ordering::Relaxed);
        let outcome = execute(target, input);
        watchdog.started.store(0, Ordering::Relaxed);
        outcome
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    // A panic at a new place is shrunk to an input that panics there, and kept; every panic is
    // counted.
    let mut panic_places: HashSet<String> = HashSet::new();
    let mut keep_panic = |input: Vec<u8>, panic: &str| {
        let place = panic_place(panic);
        if !panic_places.insert(place.to_string()) {
            return;
        }
        let input = shrink(input, &mut |candidate| run(candidate).err().is_some_and(|p| panic_place(&p) == place));
        save(&dir, "panic-", &input);
        eprintln!("{}: {panic}", file_name("panic-", &input));
    };
    // The seeds and the corpus run first: their kinds of outcome are not new.
    let kept = corpus_files(&dir).into_iter().filter_map(|p| std::fs::read(p).ok());
    let known = target.seeds(sample()).into_iter().chain(kept);
    for input in known {
        match run(&input) {
            Ok(kinds) => seen.extend(kinds),
            Err(panic) => {
                report.panics += 1;
                keep_panic(input.clone(), &panic);
            }
        }
        if input.len() <= target.max_len() {
            pool.push(input);
        }
    }
    report.rss_start = rss();
    report.rss_peak = report.rss_start;
    let mut mutator = Mutator::new(seed, target.tokens(), target.max_len());
    let start = Instant::now();
    let mut last_progress = start;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..64 {
            let base = &pool[mutator.rng.below(pool.len())];
            let other = &pool[mutator.rng.below(pool.len())];
            let input = mutator.mutate(base, other);
            report.execs += 1;
            match run(&input) {
                Err(panic) => {
                    report.panics += 1;
                    keep_panic(input, &panic);
                }
                Ok(kinds) => {
                    let Some(new) = kinds.into_iter().find(|k| !seen.contains(k)) else {
                        continue;
                    };
                    let input = shrink(input, &mut |candidate| run(candidate).is_ok_and(|kinds| kinds.contains(&new)));
                    seen.extend(run(&input).unwrap_or_default());
                    save(&dir, "", &input);
                    eprintln!("kept {} for {new}", file_name("", &input));
                    report.kept += 1;
                    pool.push(input);
                }
            }
        }
        report.rss_peak = report.rss_peak.max(rss());
        if last_progress.elapsed() > Duration::from_secs(30) {
            last_progress = Instant::now();
            report.update(start, seen.len(), &watchdog.slow);
            eprintln!("{report}");
        }
    }
    watchdog.stop.store(true, Ordering::Relaxed);
    watcher.join().ok();
    report.update(start, seen.len(), &watchdog.slow);
    report
}
