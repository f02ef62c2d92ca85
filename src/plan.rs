//! `plan`: a pure function (desired, live) → ordered changeset. No I/O.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::Kind;
use crate::record::{Field, Record, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: Field,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub key: String,
    /// For updates, only the fields that differ; for creates and deletes, all fields.
    pub fields: Vec<FieldChange>,
    #[serde(skip)]
    pub desired: Option<Record>,
    #[serde(skip)]
    pub live: Option<Record>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Live objects no file declares; left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Why this plan cannot be applied (e.g. a domain limit mailcow would enforce). Empty when it can.
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    pub kind: Kind,
    pub key: String,
}

/// What may happen to live objects that are not declared.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Kinds whose undeclared live objects are deleted.
    pub prune: HashSet<Kind>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

/// Deletes come first, children before parents; then creates and updates, parents before
/// children. An address moving from an alias to a mailbox is freed before it is taken.
pub fn plan(desired: &[Record], live: &[Record], policy: &Policy) -> Plan {
    let live_by_key: HashMap<(Kind, &str), &Record> = live.iter().map(|r| ((r.kind, r.key.as_str()), r)).collect();
    let desired_keys: HashSet<(Kind, &str)> = desired.iter().map(|r| (r.kind, r.key.as_str())).collect();
    let mut changes = Vec::new();
    for d in desired {
        match live_by_key.get(&(d.kind, d.key.as_str())) {
            None => changes.push(Change {
                action: Action::Create,
                kind: d.kind,
                key: d.key.clone(),
                fields: d.fields.iter().map(|(f, v)| FieldChange { field: f, old: None, new: Some(v.clone()) }).collect(),
                desired: Some(d.clone()),
                live: None,
            }),
            Some(l) => {
                let fields = diff_fields(d, l);
                if !fields.is_empty() {
                    changes.push(Change {
                        action: Action::Update,
                        kind: d.kind,
                        key: d.key.clone(),
                        fields,
                        desired: Some(d.clone()),
                        live: Some((*l).clone()),
                    });
                }
            }
        }
    }
    let mut unmanaged = Vec::new();
    for l in live {
        if desired_keys.contains(&(l.kind, l.key.as_str())) {
            continue;
        }
        if policy.prune.contains(&l.kind) && !crate::kinds::protected(l) {
            changes.push(Change {
                action: Action::Delete,
                kind: l.kind,
                key: l.key.clone(),
                fields: l.fields.iter().map(|(f, v)| FieldChange { field: f, old: Some(v.clone()), new: None }).collect(),
                desired: None,
                live: Some(l.clone()),
            });
        } else {
            unmanaged.push(Unmanaged { kind: l.kind, key: l.key.clone() });
        }
    }
    changes.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    unmanaged.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    Plan { changes, unmanaged, problems: Vec::new() }
}

fn order_key(c: &Change) -> (u8, i16, &str) {
    let rank = c.kind as i16;
    match c.action {
        Action::Delete => (0, -rank, &c.key),
        _ => (1, rank, &c.key),
    }
}

fn diff_fields(desired: &Record, live: &Record) -> Vec<FieldChange> {
    let live_fields: HashMap<&str, &Value> = live.fields.iter().map(|(f, v)| (*f, v)).collect();
    desired
        .fields
        .iter()
        .filter_map(|(f, d)| {
            let l = live_fields.get(f).copied();
            match l {
                Some(l) if d.satisfies(l) => None,
                _ => Some(FieldChange { field: f, old: l.cloned(), new: Some(d.clone()) }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: Kind, key: &str, active: bool) -> Record {
        Record::new(kind, key).with("active", Value::Bool(active))
    }

    #[test]
    fn creates_parents_first_and_deletes_children_first() {
        let desired = vec![rec(Kind::Mailbox, "a@x.org", true), rec(Kind::Domain, "x.org", true)];
        let live = vec![rec(Kind::Alias, "old@x.org", true), rec(Kind::Domain, "gone.org", true), rec(Kind::Mailbox, "b@gone.org", true)];
        let policy = Policy { prune: [Kind::Alias, Kind::Domain, Kind::Mailbox].into_iter().collect() };
        let p = plan(&desired, &live, &policy);
        let order: Vec<_> = p.changes.iter().map(|c| (c.action, c.key.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (Action::Delete, "old@x.org"),
                (Action::Delete, "b@gone.org"),
                (Action::Delete, "gone.org"),
                (Action::Create, "x.org"),
                (Action::Create, "a@x.org"),
            ]
        );
    }

    #[test]
    fn updates_list_only_changed_fields_and_undeclared_objects_are_unmanaged() {
        let desired = vec![Record::new(Kind::Domain, "x.org").with("active", Value::Bool(true)).with("gal", Value::Bool(false))];
        let live = vec![
            Record::new(Kind::Domain, "x.org").with("active", Value::Bool(true)).with("gal", Value::Bool(true)),
            rec(Kind::Domain, "other.org", true),
        ];
        let p = plan(&desired, &live, &Policy::default());
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].fields, vec![FieldChange { field: "gal", old: Some(Value::Bool(true)), new: Some(Value::Bool(false)) }]);
        assert_eq!(p.unmanaged, vec![Unmanaged { kind: Kind::Domain, key: "other.org".into() }]);
        assert!(plan(&live[..1], &live[..1], &Policy::default()).is_empty());
    }

    #[test]
    fn create_only_secrets_never_show_as_updates() {
        use crate::record::SecretToken;
        let d = Record::new(Kind::Mailbox, "a@x.org").with("password", Value::Secret(SecretToken { token: "pending".into(), create_only: true }));
        let l = Record::new(Kind::Mailbox, "a@x.org").with("password", Value::Secret(SecretToken { token: "abc".into(), create_only: false }));
        assert!(plan(&[d], &[l], &Policy::default()).is_empty());
    }
}
