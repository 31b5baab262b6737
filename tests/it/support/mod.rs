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
