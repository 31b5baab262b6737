//! brickwarden keeps Databricks workspaces at a declared security posture.
//!
//! Imports run one way (see `DESIGN.md`): [`api`] <- [`controls`] <- [`engine`] <-
//! [`controller`] and [`cli`]. [`clients`] know no policy, [`controls`] and [`engine`] know no
//! Kubernetes client. The emulator is a crate of its own (`brickwarden-emulator`, sharing no code
//! with this one), embedded only by the `emulator` and `demo` commands and used by the tests.

pub mod api;
pub mod cli;
pub mod clients;
pub mod controller;
pub mod controls;
pub mod engine;
pub mod lock;
pub mod metrics;
pub mod telemetry;
