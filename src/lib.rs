//! brickwarden keeps Databricks workspaces at a declared security posture.
//!
//! Imports run one way (see `DESIGN.md`): [`api`] <- [`controls`] <- [`engine`] <-
//! [`controller`] and [`cli`]. [`clients`] know no policy, [`controls`] and [`engine`] know no
//! Kubernetes client, and [`emulator`] is used only by the `emulator`/`demo` commands and tests.

pub mod api;
pub mod cli;
pub mod clients;
pub mod controller;
pub mod controls;
pub mod emulator;
pub mod engine;
pub mod metrics;
pub mod telemetry;
