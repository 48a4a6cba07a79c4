//! For a worker of a multi-worker training: SIGTERM and Ctrl-C end the process at once while it
//! waits for its peers. The wait runs inside TensorFlow, where R never sees the signal it caught,
//! and TensorFlow's coordination agent installs a SIGTERM handler of its own (its preemption
//! notifier) that only records the signal; Python cannot undo that while the wait holds it.
use crate::errors::guard;
use extendr_api::prelude::*;
use std::time::{Duration, Instant};

/// Resets SIGTERM and SIGINT to their default action (end the process) now and every 100 ms for
/// `seconds`, on a thread of its own.
/// @noRd
#[extendr]
fn workers_default_signals(seconds: f64) -> Robj {
    guard(|| {
        let until = Instant::now() + Duration::from_secs_f64(seconds.clamp(0.0, 86_400.0));
        let reset = || {
            // SAFETY: signal() with SIG_DFL installs no code of ours; it is async-signal-safe.
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::signal(libc::SIGINT, libc::SIG_DFL);
            }
        };
        reset();
        std::thread::Builder::new()
            .name("doodles-signals".into())
            .spawn(move || {
                while Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(100));
                    reset();
                }
            })
            .map_err(|e| crate::errors::RError::internal(format!("cannot start a thread: {e}")))?;
        Ok(true.into())
    })
}

extendr_module! {
    mod workers;
    fn workers_default_signals;
}
