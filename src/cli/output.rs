//! Presenting reports: a table for people (coloured on a terminal), JSON for machines.

use std::io::IsTerminal;

use serde::Serialize;

use crate::api::{ControlState, ControlStatus, Summary};
use crate::engine::Report;

/// One workspace's result as `plan -o json` prints it: the same control shape as `status`.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceResult {
    pub namespace: String,
    pub name: String,
    pub host: String,
    pub summary: Summary,
    pub score: String,
    pub compliant: bool,
    pub controls: Vec<ControlStatus>,
    pub planned_actions: Vec<String>,
    /// Destructive changes that wait for `brickwarden.io/approve: <digest>` in the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_approval: Option<PendingApproval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The digest a CI job can post for review, and the actions it releases.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingApproval {
    pub digest: String,
    pub actions: Vec<String>,
}

impl WorkspaceResult {
    pub fn from_report(
        namespace: &str,
        name: &str,
        host: &str,
        report: &Report,
    ) -> WorkspaceResult {
        let summary = report.summary();
        WorkspaceResult {
            namespace: namespace.into(),
            name: name.into(),
            host: host.into(),
            score: summary.score(),
            compliant: !report.drifted(),
            summary,
            controls: report.controls.iter().map(|c| c.to_status()).collect(),
            planned_actions: report.planned_actions.clone(),
            pending_approval: report.pending_approval.as_ref().map(|p| PendingApproval {
                digest: p.digest.clone(),
                actions: p.actions.clone(),
            }),
            error: None,
        }
    }
}

/// Whether to use ANSI colours: only on a terminal, and never when `NO_COLOR` is set.
pub fn colour_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub(crate) fn paint(text: &str, state: ControlState, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match state {
        ControlState::Compliant => "32",
        ControlState::Remediated => "36",
        ControlState::Drifted => "33",
        ControlState::Failed | ControlState::RequiresRecreate => "31",
        ControlState::NotApplicable | ControlState::Excepted => "90",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub(crate) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

/// A fixed-width table of controls: id, state, desired, observed, and the message if any.
pub fn controls_table(controls: &[ControlStatus], colour: bool) -> String {
    let id_width = controls
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(7)
        .clamp(7, 60);
    let mut out = format!(
        "  {:<id_width$}  {:<16}  {:<28}  {:<28}\n",
        "CONTROL", "STATE", "DESIRED", "OBSERVED"
    );
    for c in controls {
        let state = format!("{:<16}", c.state.as_str());
        out.push_str(&format!(
            "  {:<id_width$}  {}  {:<28}  {:<28}\n",
            clip(&c.id, id_width),
            paint(&state, c.state, colour),
            clip(c.desired.as_deref().unwrap_or("-"), 28),
            clip(c.observed.as_deref().unwrap_or("-"), 28),
        ));
        if let Some(message) = &c.message
            && c.state != ControlState::Compliant
        {
            out.push_str(&format!("  {:<id_width$}    ↳ {}\n", "", message));
        }
    }
    out
}

pub fn workspace_heading(result: &WorkspaceResult) -> String {
    let s = &result.summary;
    format!(
        "{}/{} ({})  score {}  compliant {}  drifted {}  remediated {}  failed {}  n/a {}  recreate {}",
        result.namespace,
        result.name,
        result.host,
        result.score,
        s.compliant,
        s.drifted,
        s.remediated,
        s.failed,
        s.not_applicable,
        s.requires_recreate
    )
}
