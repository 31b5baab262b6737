//! The request journal behind `GET /_emulator/requests`: method, path, status and timing of
//! every non-admin request, in order. Bodies and headers (hence tokens and secrets) are never
//! recorded; query parameters that could carry credentials are redacted.

use std::collections::VecDeque;

use serde::Serialize;

/// Entries kept before the oldest are dropped, unless configured otherwise
/// (`--journal-capacity`).
pub const CAPACITY: usize = 10_000;

const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "token",
    "access_token",
    "refresh_token",
    "code",
    "password",
    "string_value",
    "bytes_value",
];

/// One served request.
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    /// Position in the journal, starting at 1 (survives clearing).
    pub seq: u64,
    /// RFC 3339 time the request arrived.
    pub timestamp: String,
    /// `ws-N` for workspace requests, `account` for the account API (`/accounts`), `arm`,
    /// `aad`, or `null` for unknown paths.
    pub workspace: Option<String>,
    pub method: String,
    /// Path relative to the service base: `/api/2.0/...` for workspaces, `/subscriptions/...`
    /// for ARM, `/{tenant}/oauth2/v2.0/token` for Entra ID.
    pub path: String,
    /// The path as requested, with the `/ws/{name}`, `/arm` or `/aad` prefix.
    pub full_path: String,
    /// The query string, credentials redacted.
    pub query: Option<String>,
    pub status: u16,
    pub duration_ms: u64,
    /// The authenticated principal (user name or application id), when known.
    pub principal: Option<String>,
    /// Whether an injected fault (status, body, reset or latency) applied.
    pub fault: bool,
    /// For a fault applied after the handler: the status the handler answered (its write
    /// committed) before the fault replaced the answer; `status` is what the client got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handled_status: Option<u16>,
    /// The connection was reset instead of answered (`status` is then 0).
    pub reset: bool,
}

/// Redacts query parameters that could carry credentials.
pub fn redact_query(query: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if SENSITIVE_QUERY_KEYS.contains(&k.as_ref()) {
                "REDACTED".into()
            } else {
                v
            };
            (k, v)
        })
        .fold(
            url::form_urlencoded::Serializer::new(String::new()),
            |mut s, (k, v)| {
                s.append_pair(&k, &v);
                s
            },
        )
        .finish()
}

#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    capacity: usize,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl Journal {
    /// A journal keeping the last `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            next_seq: 0,
            capacity: capacity.max(1),
        }
    }

    /// Records `entry`, assigning its `seq`.
    pub fn push(&mut self, mut entry: JournalEntry) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> impl Iterator<Item = &JournalEntry> {
        self.entries.iter()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> JournalEntry {
        JournalEntry {
            seq: 0,
            timestamp: String::new(),
            workspace: Some("ws-1".into()),
            method: "GET".into(),
            path: "/api/2.0/token/list".into(),
            full_path: "/ws/ws-1/api/2.0/token/list".into(),
            query: None,
            status: 200,
            duration_ms: 1,
            principal: None,
            fault: false,
            handled_status: None,
            reset: false,
        }
    }

    #[test]
    fn sequence_survives_clear_and_capacity_is_bounded() {
        let mut j = Journal::default();
        j.push(entry());
        j.push(entry());
        j.clear();
        j.push(entry());
        assert_eq!(j.entries().next().unwrap().seq, 3);
        for _ in 0..CAPACITY + 5 {
            j.push(entry());
        }
        assert_eq!(j.entries().count(), CAPACITY);
    }

    #[test]
    fn redacts_credentials_in_queries() {
        let q = redact_query("keys=a,b&client_secret=s3cr3t&api-version=2026-01-01");
        assert!(!q.contains("s3cr3t"));
        assert!(q.contains("client_secret=REDACTED"));
        assert!(q.contains("api-version=2026-01-01"));
    }
}
