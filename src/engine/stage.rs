//! One family's part of a pass, its types erased so that the engine holds every family of a
//! resource in one list. Nothing here decides anything: each method forwards to the [`Family`].

use futures::future::BoxFuture;

use crate::api::{ControlState, Mode};
use crate::clients::ApiError;
use crate::controls::{
    Blocked, ControlResult, Effect, Fact, Family, Finding, Pass, Planned, Reason, Step,
};

/// What a rule over several families decides for one control.
#[derive(Debug, Clone, PartialEq)]
pub enum Overrule {
    /// A fact makes the control moot: NotApplicable, with this reason.
    Moot(&'static str),
    /// An unexpired exception holds the control: Excepted, with this message.
    Excepted(String),
}

/// A planned change as the engine orders, guards and reports it. The change itself stays typed
/// in its family's stage, at `stage`/`index`.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub stage: usize,
    pub index: usize,
    /// The ids of the controls the change fixes.
    pub controls: Vec<String>,
    pub step: Step,
    pub mode: Mode,
    pub effects: Vec<Effect>,
    /// A one-line, secret-free description, as shown in `status.plannedActions` and events.
    pub description: String,
    /// What the change does for each of its controls (a batched change names only that part).
    pub per_control: Vec<String>,
}

impl Action {
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// What this action does for `control`.
    pub fn describe_for(&self, control: &str) -> &str {
        self.controls
            .iter()
            .position(|c| c == control)
            .and_then(|i| self.per_control.get(i))
            .unwrap_or(&self.description)
    }

    pub fn touches_access(&self) -> bool {
        self.effects.iter().any(Effect::touches_access)
    }
}

/// A family's pass over one resource, whatever the family.
pub trait Stage<A>: Send + Sync {
    fn observe<'a>(&'a mut self, apis: &'a A) -> BoxFuture<'a, ()>;
    /// Evaluates the last observation again; the previous findings are replaced.
    fn evaluate(&mut self, pass: &Pass);
    fn facts(&self) -> Vec<Fact>;
    /// Overrules the findings of the controls `rule` names (moot: NotApplicable; held by an
    /// exception: Excepted), keeping their values except when moot.
    fn overrule(&mut self, rule: &dyn Fn(&str) -> Option<Overrule>);
    fn results(&self) -> Vec<ControlResult>;
    /// Plans the drifted findings; `stage` is this stage's position, for the actions' address.
    fn plan(&mut self, stage: usize, pass: &Pass) -> Vec<Action>;
    fn guard(&self, index: usize) -> Option<Blocked>;
    /// Splits the change at `index` so that `effect` is carried by a part of its own.
    fn split(&mut self, stage: usize, index: usize, effect: &Effect) -> Option<[Action; 2]>;
    fn execute<'a>(&'a self, index: usize, apis: &'a A) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// The stage of family `F`.
pub struct FamilyStage<F: Family> {
    desired: F::Desired,
    observed: Option<F::Observed>,
    findings: Vec<Finding<F::Control, F::Value>>,
    planned: Vec<Planned<F::Control, F::Change>>,
}

/// The stage of `F` for this policy, or `None` when the policy manages nothing of `F`.
pub fn start<F>(policy: &F::Policy, pass: &Pass) -> Option<Box<dyn Stage<F::Apis>>>
where
    F: Family,
    F::Apis: Send,
{
    let desired = F::desired(policy, pass)?;
    Some(Box::new(FamilyStage::<F> {
        desired,
        observed: None,
        findings: Vec::new(),
        planned: Vec::new(),
    }))
}

impl<F: Family> FamilyStage<F> {
    fn action(&self, stage: usize, index: usize) -> Action {
        let planned = &self.planned[index];
        Action {
            stage,
            index,
            controls: planned.controls.iter().map(F::control_id).collect(),
            step: planned.step,
            mode: planned.mode,
            effects: F::effects(&planned.change),
            description: F::describe(&planned.change),
            per_control: planned
                .controls
                .iter()
                .map(|c| F::describe_for(&planned.change, c))
                .collect(),
        }
    }
}

impl<F> Stage<F::Apis> for FamilyStage<F>
where
    F: Family,
    F::Apis: Send,
{
    fn observe<'a>(&'a mut self, apis: &'a F::Apis) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let observed = F::observe(&self.desired, apis).await;
            self.observed = Some(observed);
        })
    }

    fn evaluate(&mut self, pass: &Pass) {
        self.findings = match &self.observed {
            Some(observed) => F::evaluate(&self.desired, observed, pass),
            None => Vec::new(),
        };
    }

    fn facts(&self) -> Vec<Fact> {
        match &self.observed {
            Some(observed) => F::facts(&self.desired, observed),
            None => Vec::new(),
        }
    }

    fn overrule(&mut self, rule: &dyn Fn(&str) -> Option<Overrule>) {
        for finding in &mut self.findings {
            match rule(&F::control_id(&finding.control)) {
                None => {}
                Some(Overrule::Moot(why)) => {
                    let references = finding.references;
                    *finding = Finding::not_applicable(finding.control.clone(), why)
                        .with_references(references);
                }
                Some(Overrule::Excepted(why)) => {
                    finding.excepted_from = Some(finding.state);
                    finding.state = ControlState::Excepted;
                    finding.reason = Some(Reason::Excepted);
                    finding.note = Some(why);
                }
            }
        }
    }

    fn results(&self) -> Vec<ControlResult> {
        crate::controls::render::<F>(&self.findings)
    }

    fn plan(&mut self, stage: usize, pass: &Pass) -> Vec<Action> {
        let Some(observed) = &self.observed else {
            return Vec::new();
        };
        let drifted: Vec<_> = self.findings.iter().filter(|f| f.is_drifted()).collect();
        self.planned = F::plan(&self.desired, observed, &drifted, pass);
        (0..self.planned.len())
            .map(|index| self.action(stage, index))
            .collect()
    }

    fn guard(&self, index: usize) -> Option<Blocked> {
        F::guard(&self.desired, &self.planned[index].change)
    }

    fn split(&mut self, stage: usize, index: usize, effect: &Effect) -> Option<[Action; 2]> {
        let planned = &self.planned[index];
        let [(rest_controls, rest), (part_controls, part)] = F::split_off(&planned.change, effect)?;
        let (step, mode) = (planned.step, planned.mode);
        let mut push = |controls, change| {
            self.planned.push(Planned {
                controls,
                step,
                mode,
                change,
            });
            self.planned.len() - 1
        };
        let rest = push(rest_controls, rest);
        let part = push(part_controls, part);
        Some([self.action(stage, rest), self.action(stage, part)])
    }

    fn execute<'a>(
        &'a self,
        index: usize,
        apis: &'a F::Apis,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(F::execute(&self.planned[index].change, apis))
    }
}
