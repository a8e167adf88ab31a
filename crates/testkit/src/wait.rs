//! Waiting and skipping, the two ways a test may not simply run straight through.
//!
//! [`wait_until`] replaces sleep-then-assert: it polls an observable state until it holds
//! or a deadline passes, and then fails naming what it waited for. [`skip`] is how a test
//! that cannot run here (not root, a program missing) says so: a `SKIPPED:` line on
//! stderr, and a failure instead when `BUZON_REQUIRE_ALL=1` (CI), so nothing is ever
//! skipped silently where everything is expected to run.

use std::time::{Duration, Instant};

/// Polls `condition` until it returns true; panics naming `what` when `timeout` passes
/// first. The interval grows from 5 ms to 100 ms, so a fast condition is seen at once and
/// a slow one does not burn a core of a busy machine.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(timeout, what, || condition().then_some(()));
}

/// Polls `probe` until it returns `Some`, and returns that value; panics naming `what`
/// when `timeout` passes first.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, what: &str, probe: impl FnMut() -> Option<T>) -> T {
    match poll(timeout, probe) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// The polling under [`wait_for`], for the few callers where the deadline passing is not
/// a failure (cleanup: stop a process, then kill it if it has not gone): `None` then.
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if started.elapsed() >= timeout {
            // One last look: the deadline may have passed while the machine was busy.
            return probe();
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// True when every test must really run (`BUZON_REQUIRE_ALL=1`, set by `.ci/run`).
pub fn require_all() -> bool {
    std::env::var("BUZON_REQUIRE_ALL").as_deref() == Ok("1")
}

/// Reports that the calling test cannot run here and why: prints `SKIPPED: <test>:
/// <reason>` to stderr, and panics when `BUZON_REQUIRE_ALL=1`. The caller returns right
/// after (the Rust test harness has no "skipped" status: the line is what shows it).
#[track_caller]
pub fn skip(reason: &str) {
    if let Err(failure) = skip_report(require_all(), reason) {
        panic!("{failure}");
    }
}

/// The line [`skip`] prints, or (when everything must run) the failure it panics with.
fn skip_report(require_all: bool, reason: &str) -> Result<(), String> {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if require_all {
        return Err(format!(
            "{test} cannot run here, but BUZON_REQUIRE_ALL=1 requires every test to run: {reason}"
        ));
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing
    // tests, and a skip must show in a normal run.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
    Ok(())
}

/// A test-process-wide lock for tests that change or need state shared by the whole
/// process (fixed ports, the open-file limit as a budget): hold the guard for the test.
/// A test that panicked while holding it does not poison it for the others.
pub fn exclusive(lock: &'static std::sync::Mutex<()>) -> std::sync::MutexGuard<'static, ()> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_fails_when_every_test_must_run_and_names_test_and_reason() {
        let failure = skip_report(true, "strace is not installed").unwrap_err();
        assert!(
            failure.contains("a_skip_fails_when_every_test_must_run")
                && failure.contains("BUZON_REQUIRE_ALL=1")
                && failure.contains("strace is not installed"),
            "{failure}"
        );
        assert_eq!(skip_report(false, "strace is not installed"), Ok(()));
    }

    #[test]
    fn wait_for_returns_the_value_and_fails_naming_what_it_waited_for() {
        let mut n = 0;
        let got = wait_for(Duration::from_secs(5), "n to reach 3", || {
            n += 1;
            (n >= 3).then_some(n)
        });
        assert_eq!(got, 3);
        assert_eq!(poll(Duration::from_millis(30), || None::<()>), None);
        let failure = std::panic::catch_unwind(|| {
            wait_until(
                Duration::from_millis(30),
                "a condition that never holds",
                || false,
            )
        })
        .unwrap_err();
        let text = failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            text.contains("waiting for a condition that never holds"),
            "{text}"
        );
    }
}
