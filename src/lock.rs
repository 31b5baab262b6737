//! The one way brickwarden takes a `std::sync::Mutex`.
//!
//! Its mutexes guard caches and bookkeeping (client connections, failure counts, reported
//! metric series) whose data stays valid when a holder panics mid-update: the worst case is a
//! stale cache entry. So a poisoned lock is taken over, never turned into a second panic.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
