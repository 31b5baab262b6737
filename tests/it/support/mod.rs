//! What the integration tests share.
//!
//! * [`controlplane`] — a real etcd + kube-apiserver (and kubectl, helm, promtool), one shared
//!   per test process.
//! * [`emulator`] — the emulator's admin API: request journal, faults, state.
//! * [`harness`] — an in-process emulator per test, with its admin API.
//! * [`controller`] — `brickwarden run` as a child process against the control plane.
//! * [`kube`] — kubectl helpers: apply, workspaces and their conditions, Lease holders.

pub mod controller;
pub mod controlplane;
pub mod emulator;
pub mod harness;
pub mod kube;

use std::process::Output;
use std::time::{Duration, Instant};

/// Polls `f` every 250ms until it returns `Some`, or fails after `timeout` with `what` and `diag()`.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    diag: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", diag());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What a process wrote: its stdout, then its stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
