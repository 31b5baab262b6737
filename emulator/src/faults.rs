//! Fault injection behind `POST /_emulator/faults`: the next `count` requests matching a
//! service (`ws-N`, `arm`, `aad`), a method and a path prefix get
//!
//! * a status (429/503 with `Retry-After` and the service's error envelope), added latency, or
//!   both;
//! * a raw `body` with its `content_type` (an HTML sign-in page with status 200, truncated
//!   JSON, a gateway's `{"error_code": 403, "message": "Invalid access token."}`);
//! * a `reset`: the connection is closed (RST) without an HTTP answer;
//! * any of these `after_handler`: the request is served first (a write commits), then the
//!   answer is replaced by the fault, as when a response is lost on the way back;
//! * or, for an ARM PUT/PATCH, an `operation_error`: the request is accepted as usual and its
//!   long-running operation ends `Failed` with that error.
//!
//! The token endpoints are services like the others: `aad` for Entra ID
//! (`/{tenant}/oauth2/v2.0/token`), `ws-N` with the path `/oidc/v1/token` for Databricks OAuth,
//! `account` with the path `/oidc/accounts/{id}/v1/token` for account OAuth.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A fault as `POST /_emulator/faults` takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `ws-N`, `account` (the account API), `arm` or `aad`; absent: any.
    pub workspace: Option<String>,
    /// Matched against the service-relative path (`/api/2.0/...`) and the full path; absent or
    /// empty: any.
    pub path_prefix: Option<String>,
    /// HTTP method; absent: any.
    pub method: Option<String>,
    /// Status to answer with; 0 or absent: latency only.
    pub status: Option<u16>,
    /// How many matching requests to affect (default 1).
    pub count: Option<u32>,
    /// `Retry-After` seconds (default 1 for 429 and 503).
    pub retry_after_seconds: Option<u64>,
    /// Delay before answering.
    pub latency_ms: Option<u64>,
    /// ARM only: accept the PUT/PATCH, then end its long-running operation `Failed` with this
    /// error (status 0 or absent).
    pub operation_error: Option<OperationError>,
    /// Answer with this raw body instead of the service's error envelope (status 200 unless
    /// `status` says otherwise).
    pub body: Option<String>,
    /// `Content-Type` of `body` (default `text/html; charset=utf-8`).
    pub content_type: Option<String>,
    /// Serve the request first (a write commits), then answer with the fault instead.
    #[serde(default)]
    pub after_handler: bool,
    /// Close the connection with a TCP reset instead of answering.
    #[serde(default)]
    pub reset: bool,
}

/// The error an ARM long-running operation ends with (`{"code", "message"}`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperationError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// An active fault.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    pub workspace: Option<String>,
    pub path_prefix: String,
    pub method: Option<String>,
    pub status: u16,
    pub remaining: u32,
    pub retry_after_seconds: Option<u64>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_error: Option<OperationError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub after_handler: bool,
    pub reset: bool,
}

impl Fault {
    /// Whether the fault replaces the answer (as opposed to latency or an operation error).
    pub fn answers(&self) -> bool {
        self.status != 0 || self.body.is_some() || self.reset
    }
}

/// The active faults, indexed by the service they name so that a request only looks at the
/// faults of its own workspace plus those naming none: thousands of per-workspace faults cost
/// each request nothing more.
#[derive(Debug, Default)]
pub struct Faults {
    by_service: HashMap<String, Vec<Fault>>,
    any_service: Vec<Fault>,
    next_id: u64,
}

fn matches(fault: &Fault, method: &str, path: &str, full_path: &str) -> bool {
    fault
        .method
        .as_deref()
        .is_none_or(|m| m.eq_ignore_ascii_case(method))
        && (path.starts_with(&fault.path_prefix) || full_path.starts_with(&fault.path_prefix))
}

/// Consumes one use of `list[idx]`, dropping it when used up.
fn consume(list: &mut Vec<Fault>, idx: usize) -> Fault {
    let fault = &mut list[idx];
    fault.remaining -= 1;
    if fault.remaining == 0 {
        list.remove(idx)
    } else {
        fault.clone()
    }
}

impl Faults {
    /// Validates and registers a fault.
    pub fn add(&mut self, spec: FaultSpec) -> Result<Fault, String> {
        let status = spec.status.unwrap_or(0);
        if status != 0 && !(100..=599).contains(&status) {
            return Err(format!(
                "status {status} is not an HTTP status (use 0 for latency only)"
            ));
        }
        let latency_ms = spec.latency_ms.unwrap_or(0);
        let answers = status != 0 || spec.body.is_some() || spec.reset;
        if !answers && latency_ms == 0 && spec.operation_error.is_none() {
            return Err(
                "a fault needs a status, a body, a reset, a latency_ms or an operation_error"
                    .into(),
            );
        }
        if answers && spec.operation_error.is_some() {
            return Err(
                "operation_error answers the request normally: leave status, body and reset out"
                    .into(),
            );
        }
        if spec.reset && (status != 0 || spec.body.is_some()) {
            return Err("a reset answers nothing: leave status and body out".into());
        }
        if spec.content_type.is_some() && spec.body.is_none() {
            return Err("content_type goes with a body".into());
        }
        if spec.after_handler && !answers {
            return Err(
                "after_handler replaces the answer: give a status, a body or a reset".into(),
            );
        }
        // A raw body alone is a 200 (an HTML sign-in page answered by a proxy).
        let status = if status == 0 && spec.body.is_some() {
            200
        } else {
            status
        };
        let count = spec.count.unwrap_or(1);
        if count == 0 {
            return Err("count must be at least 1".into());
        }
        let retry_after_seconds = spec
            .retry_after_seconds
            .or_else(|| matches!(status, 429 | 503).then_some(1));
        self.next_id += 1;
        let fault = Fault {
            id: self.next_id,
            workspace: spec.workspace.filter(|w| !w.is_empty()),
            path_prefix: spec.path_prefix.unwrap_or_default(),
            method: spec.method.map(|m| m.to_ascii_uppercase()),
            status,
            remaining: count,
            retry_after_seconds,
            latency_ms,
            operation_error: spec.operation_error.map(|mut e| {
                if e.message.is_empty() {
                    e.message = "The operation failed (injected by the emulator).".into();
                }
                e
            }),
            content_type: spec.body.as_ref().map(|_| {
                spec.content_type
                    .unwrap_or_else(|| "text/html; charset=utf-8".to_string())
            }),
            body: spec.body,
            after_handler: spec.after_handler,
            reset: spec.reset,
        };
        match &fault.workspace {
            Some(service) => self
                .by_service
                .entry(service.clone())
                .or_default()
                .push(fault.clone()),
            None => self.any_service.push(fault.clone()),
        }
        Ok(fault)
    }

    /// Consumes one use of the first fault (in the order they were added) matching the
    /// request.
    pub fn take(
        &mut self,
        service: &str,
        method: &str,
        path: &str,
        full_path: &str,
    ) -> Option<Fault> {
        let own = self.by_service.get(service).and_then(|list| {
            list.iter()
                .position(|f| matches(f, method, path, full_path))
                .map(|i| (i, list[i].id))
        });
        let any = self
            .any_service
            .iter()
            .position(|f| matches(f, method, path, full_path))
            .map(|i| (i, self.any_service[i].id));
        match (own, any) {
            (Some((i, own_id)), any) if any.is_none_or(|(_, any_id)| own_id < any_id) => {
                let list = self.by_service.get_mut(service)?;
                let taken = consume(list, i);
                if list.is_empty() {
                    self.by_service.remove(service);
                }
                Some(taken)
            }
            (_, Some((i, _))) => Some(consume(&mut self.any_service, i)),
            _ => None,
        }
    }

    /// The active faults, in the order they were added.
    pub fn list(&self) -> Vec<Fault> {
        let mut all: Vec<Fault> = self
            .by_service
            .values()
            .flatten()
            .chain(&self.any_service)
            .cloned()
            .collect();
        all.sort_by_key(|f| f.id);
        all
    }

    pub fn clear(&mut self) {
        self.by_service.clear();
        self.any_service.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let mut f = Faults::default();
        f.add(FaultSpec {
            workspace: Some("ws-1".into()),
            path_prefix: Some("/api/2.0/ip-access-lists".into()),
            status: Some(429),
            count: Some(2),
            ..Default::default()
        })
        .unwrap();
        assert!(
            f.take(
                "ws-2",
                "GET",
                "/api/2.0/ip-access-lists",
                "/ws/ws-2/api/2.0/ip-access-lists"
            )
            .is_none()
        );
        assert!(
            f.take(
                "ws-1",
                "GET",
                "/api/2.0/token/list",
                "/ws/ws-1/api/2.0/token/list"
            )
            .is_none()
        );
        let hit = f
            .take(
                "ws-1",
                "GET",
                "/api/2.0/ip-access-lists",
                "/ws/ws-1/api/2.0/ip-access-lists",
            )
            .unwrap();
        assert_eq!(hit.status, 429);
        assert_eq!(hit.retry_after_seconds, Some(1));
        assert!(
            f.take("ws-1", "POST", "/api/2.0/ip-access-lists/x", "")
                .is_some()
        );
        assert!(
            f.take("ws-1", "GET", "/api/2.0/ip-access-lists", "")
                .is_none()
        );
        assert!(f.list().is_empty());
    }

    #[test]
    fn the_first_added_of_own_and_any_service_faults_applies() {
        let mut f = Faults::default();
        let any = |f: &mut Faults, status| {
            f.add(FaultSpec {
                status: Some(status),
                ..Default::default()
            })
            .unwrap()
        };
        let own = |f: &mut Faults, status| {
            f.add(FaultSpec {
                workspace: Some("ws-7".into()),
                status: Some(status),
                ..Default::default()
            })
            .unwrap()
        };
        any(&mut f, 500);
        own(&mut f, 503);
        any(&mut f, 502);
        let order: Vec<u16> = (0..3)
            .map(|_| f.take("ws-7", "GET", "/x", "/ws/ws-7/x").unwrap().status)
            .collect();
        assert_eq!(order, [500, 503, 502]);
        assert!(f.take("ws-7", "GET", "/x", "").is_none());
        // Many per-workspace faults: each request sees its own.
        for i in 0..5000 {
            f.add(FaultSpec {
                workspace: Some(format!("ws-{i}")),
                latency_ms: Some(50),
                count: Some(u32::MAX),
                ..Default::default()
            })
            .unwrap();
        }
        assert_eq!(f.list().len(), 5000);
        assert_eq!(f.take("ws-4999", "GET", "/x", "").unwrap().latency_ms, 50);
        assert_eq!(f.list()[4999].remaining, u32::MAX - 1);
        f.clear();
        assert!(f.list().is_empty());
    }

    #[test]
    fn validation() {
        let mut f = Faults::default();
        assert!(f.add(FaultSpec::default()).is_err());
        assert!(
            f.add(FaultSpec {
                status: Some(42),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            f.add(FaultSpec {
                status: Some(503),
                count: Some(0),
                ..Default::default()
            })
            .is_err()
        );
        let lat = f
            .add(FaultSpec {
                latency_ms: Some(10),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(lat.status, 0);
        assert_eq!(lat.retry_after_seconds, None);
        let m = f
            .add(FaultSpec {
                status: Some(500),
                method: Some("patch".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(m.method.as_deref(), Some("PATCH"));
    }

    #[test]
    fn body_reset_and_after_handler() {
        let mut f = Faults::default();
        let html = f
            .add(FaultSpec {
                body: Some("<html>sign in</html>".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(html.status, 200);
        assert_eq!(
            html.content_type.as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert!(html.answers());
        let json = f
            .add(FaultSpec {
                status: Some(403),
                body: Some(r#"{"error_code": 403"#.into()),
                content_type: Some("application/json".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(json.status, 403);
        let reset = f
            .add(FaultSpec {
                reset: true,
                after_handler: true,
                ..Default::default()
            })
            .unwrap();
        assert!(reset.answers() && reset.after_handler && reset.status == 0);
        for bad in [
            FaultSpec {
                reset: true,
                status: Some(503),
                ..Default::default()
            },
            FaultSpec {
                reset: true,
                body: Some("x".into()),
                ..Default::default()
            },
            FaultSpec {
                after_handler: true,
                latency_ms: Some(5),
                ..Default::default()
            },
            FaultSpec {
                content_type: Some("text/html".into()),
                status: Some(200),
                ..Default::default()
            },
            FaultSpec {
                body: Some("x".into()),
                operation_error: Some(OperationError::default()),
                ..Default::default()
            },
        ] {
            assert!(f.add(bad.clone()).is_err(), "{bad:?}");
        }
        let listed = serde_json::to_value(f.list()).unwrap();
        assert_eq!(listed[2]["reset"], true);
        assert!(listed[2].get("body").is_none());
    }
}
