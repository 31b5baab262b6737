//! brickwarden's integration tests, one test binary (`cargo test --test it`): one module per
//! area, with the harnesses they share in [`support`]. Run one area by its module path, e.g.
//! `cargo test --test it controller_e2e::`, or one test by its name.
//!
//! The control-plane tests (`controlplane_smoke`, `deploy`, `controller_e2e`, `monitoring`'s
//! promtool runs) share one etcd + kube-apiserver per test process
//! ([`support::controlplane::ControlPlane::shared`]) and are run with `--test-threads=2`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

mod account_e2e;
mod account_engine;
mod argocd;
mod cli;
mod clients;
mod controller_e2e;
mod controlplane_smoke;
mod crash;
mod crds;
mod deploy;
mod emulator_api;
mod emulator_sdk;
mod engine_emulator;
mod families;
mod faults;
mod fleet;
mod fleet_bench;
mod governance_e2e;
mod monitoring;
mod tls;
