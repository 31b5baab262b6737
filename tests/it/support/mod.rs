//! What the integration tests share.
//!
//! * [`controlplane`] — a real etcd + kube-apiserver (and kubectl, helm, promtool), one shared
//!   per test process.
//! * [`emulator`] — the emulator's admin API: request journal, faults, state.
//! * [`harness`] — an in-process emulator per test, with its admin API.
//! * [`controller`] — `brickwarden run` as a child process against the control plane.

pub mod controller;
pub mod controlplane;
pub mod emulator;
pub mod harness;
