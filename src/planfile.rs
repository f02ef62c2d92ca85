//! Saved plans (`plan --out FILE`, `apply FILE`): what was planned, against which desired state
//! and which live rows. `apply FILE` re-reads both and refuses when anything moved. The file
//! holds no secret in clear: secret fields are digests, as in the JSON plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::Plan;
use crate::record::Record;

pub const FORMAT: &str = "mailplane-plan";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanFile {
    pub format: String,
    pub mailplane_version: String,
    pub created: String,
    /// The desired-state directory (absolute).
    pub dir: PathBuf,
    /// The target, without its password.
    pub target: String,
    pub desired_digest: String,
    /// `kind key` → digest of the live object the change was planned against (`absent` for creates).
    pub live_digests: BTreeMap<String, String>,
    /// SHA-256 of the plan as `plan --format json` writes it: what `apply` compares.
    #[serde(default)]
    pub plan_digest: String,
    /// The consent given when the plan was made (`--allow-delete`, `--force`): reviewing and
    /// applying the saved plan is applying exactly that, as Terraform's saved plans are.
    #[serde(default)]
    pub consent: Consent,
    /// The plan as `plan --format json` shows it, for people; `read` skips it (at 100,000
    /// mailboxes it is 100s of MB once parsed).
    #[serde(skip_deserializing)]
    pub plan: serde_json::Value,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Consent {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_delete: Vec<String>,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {0}: {1}")]
    Read(PathBuf, String),
    #[error("{0} is not a mailplane plan file")]
    NotAPlan(PathBuf),
    #[error("the plan was made against {planned}, not {now}")]
    OtherTarget { planned: String, now: String },
    #[error("the plan is stale: {0}\nrun `mailplane plan --out` again and review the new plan")]
    Stale(String),
}

/// Feeds a record's kind, key, field names and encoded values (self-delimiting) to `h`.
fn hash_record(h: &mut Sha256, r: &Record) {
    let text = |h: &mut Sha256, t: &str| {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    };
    text(h, r.kind.name());
    text(h, &r.key);
    h.update((r.field_count() as u64).to_le_bytes());
    for (field, bytes) in r.encoded() {
        text(h, field);
        h.update(bytes);
    }
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over every desired record, fed record by record: at 100,000 mailboxes, serialising
/// them to JSON first cost a second per plan and per apply.
pub fn desired_digest(desired: &[Record]) -> String {
    let mut h = Sha256::new();
    desired.iter().for_each(|r| hash_record(&mut h, r));
    hex(h)
}

fn live_digests(plan: &Plan) -> BTreeMap<String, String> {
    plan.changes
        .iter()
        .map(|c| {
            (
                format!("{} {}", c.kind, c.key),
                c.live.as_ref().map_or_else(
                    || "absent".to_string(),
                    |r| {
                        let mut h = Sha256::new();
                        hash_record(&mut h, r);
                        hex(h)
                    },
                ),
            )
        })
        .collect()
}

pub fn make(plan: &Plan, desired: &[Record], dir: &Path, target: &str, consent: Consent) -> PlanFile {
    PlanFile {
        format: FORMAT.into(),
        mailplane_version: env!("CARGO_PKG_VERSION").into(),
        created: crate::store::db::now_utc(),
        dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        target: target.into(),
        desired_digest: desired_digest(desired),
        live_digests: live_digests(plan),
        plan_digest: plan_digest(plan),
        consent,
        plan: serde_json::from_str(&crate::render::json(plan)).expect("JSON"),
    }
}

fn plan_digest(plan: &Plan) -> String {
    let mut h = Sha256::new();
    h.update(crate::render::json(plan).as_bytes());
    hex(h)
}

pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanFileError::Read(path.into(), e.to_string()))?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|_| PlanFileError::NotAPlan(path.into()))?;
    if file.format != FORMAT {
        return Err(PlanFileError::NotAPlan(path.into()));
    }
    Ok(file)
}

/// The saved plan is still exactly what would be applied now.
pub fn check(saved: &PlanFile, now: &Plan, desired: &[Record], target: &str) -> Result<(), PlanFileError> {
    if saved.target != target {
        return Err(PlanFileError::OtherTarget { planned: saved.target.clone(), now: target.into() });
    }
    if saved.desired_digest != desired_digest(desired) {
        return Err(PlanFileError::Stale(format!("the files in {} changed since the plan was made", saved.dir.display())));
    }
    let current = live_digests(now);
    let moved: Vec<&String> = saved.live_digests.iter().filter(|(k, v)| current.get(*k) != Some(v)).map(|(k, _)| k).collect();
    if !moved.is_empty() {
        let list: Vec<&str> = moved.iter().take(10).map(|s| s.as_str()).collect();
        return Err(PlanFileError::Stale(format!("these objects changed on the server since the plan was made: {}", list.join(", "))));
    }
    if saved.plan_digest.is_empty() {
        return Err(PlanFileError::Stale(format!("it was made by mailplane {}, which did not record a digest of the plan", saved.mailplane_version)));
    }
    if saved.plan_digest != plan_digest(now) {
        return Err(PlanFileError::Stale("the server now needs a different set of changes".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::record::{SecretToken, Value};

    #[test]
    fn the_desired_digest_sees_every_field_and_where_text_ends() {
        let rec = |name: &str, quota: u64, token: &str| {
            Record::new(Kind::Mailbox, "a@x.org")
                .with("name", Value::text(name))
                .with("quota", Value::Size(quota))
                .with("password", Value::Secret(Box::new(SecretToken { token: token.into(), create_only: false })))
        };
        let base = desired_digest(&[rec("ab", 1, "t")]);
        assert_eq!(base, desired_digest(&[rec("ab", 1, "t")]));
        for other in [rec("ab", 2, "t"), rec("ab", 1, "u"), rec("a", 1, "t")] {
            assert_ne!(base, desired_digest(&[other]));
        }
        let split = |a: &str, b: &str| Record::new(Kind::Alias, "x").with("p", Value::text(a)).with("q", Value::text(b));
        assert_ne!(desired_digest(&[split("ab", "c")]), desired_digest(&[split("a", "bc")]));
    }
}
