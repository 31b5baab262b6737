//! The harness of the tests that drive brickwarden against an in-process emulator: each test
//! starts its own emulator on a free loopback port, so journals and injected faults never leak
//! between tests.

use std::ops::Deref;

use brickwarden_emulator::{Emulator, EmulatorConfig};

use super::emulator::Admin;

/// An in-process emulator and a client of its admin API; the admin calls (`h.journal()`,
/// `h.fault(..)`, `h.state(..)`, ...) are available on the harness itself.
pub struct Harness {
    pub emulator: Emulator,
    pub admin: Admin,
}

/// A harness whose emulator has the default configuration (PAT `dapi-emulator`, client secret
/// `emulator-secret`, workspaces `ws-1`..`ws-3`).
pub async fn start() -> Harness {
    start_with(EmulatorConfig::default()).await
}

/// A harness whose emulator has `config`.
pub async fn start_with(config: EmulatorConfig) -> Harness {
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts");
    let admin = Admin::new(&emulator.base_url());
    Harness { emulator, admin }
}

impl Harness {
    /// Stops the emulator and waits for it.
    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

impl Deref for Harness {
    type Target = Admin;

    fn deref(&self) -> &Admin {
        &self.admin
    }
}
