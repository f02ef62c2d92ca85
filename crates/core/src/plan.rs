//! `plan`: a pure function (desired, live) → ordered changeset. No I/O.

use foldhash::{HashMap, HashMapExt, HashSet};

pub use crate::change::{Action, Change, FieldChange};
use crate::kinds::Desired;
use crate::live::{LiveData, Owned};
use crate::model::Kind;
use crate::record::{Field, Record, Value, decode};
use crate::settings::PruneMode;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Live objects no file declares; left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Why this plan cannot be applied (e.g. a domain limit mailcow would enforce). Empty when it can.
    pub problems: Vec<String>,
    /// What should be fixed but does not block the plan (a shipped default password).
    pub warnings: Vec<String>,
    /// Service configuration files whose content on disk differs from the declared one.
    pub files: Vec<crate::change::FileChange>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmanaged {
    pub kind: Kind,
    pub key: String,
}

/// The safety rules a plan is made under.
#[derive(Clone, Debug)]
pub struct Policy {
    pub prune: HashMap<Kind, PruneMode>,
    /// Objects mailplane created or adopted; only these are ever pruned.
    pub owned: Owned,
    /// Live objects whose key matches one of these globs are left out entirely.
    pub ignore: Vec<String>,
    /// `--allow-delete` values: kinds (`mailbox`) or keys (`alice@example.org`) whose deletion is consented to.
    pub allow_delete: Vec<String>,
    /// Refuse when more than this share (in %) of a kind's managed objects would change.
    pub max_change_percent: u32,
    /// `--force`: skip the change threshold and the empty-set guard.
    pub force: bool,
    /// What mailcow.conf says, read before planning (from `mailcow_dir`, or the environment of
    /// php-fpm's container), or why it could not be read; None when nothing was to be read.
    pub mailcow_conf: Option<Result<String, String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            prune: HashMap::new(),
            owned: Owned::default(),
            ignore: Vec::new(),
            allow_delete: Vec::new(),
            max_change_percent: 30,
            force: false,
            mailcow_conf: None,
        }
    }
}

/// Thresholds apply from this many managed objects of a kind.
const THRESHOLD_MIN: usize = 10;

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// At most this many changes are listed one by one: a 100,000-object apply would not fit a
/// TEXT column, and the history is for reading, not replaying.
const LISTED: usize = 500;

impl Plan {
    /// The journal's account of a plan: counts, and the changes listed one by one (up to LISTED).
    pub fn summary(&self) -> serde_json::Value {
        let action = |a: Action| serde_json::to_value(a).unwrap().as_str().unwrap_or("").to_string();
        let files = self.files.iter().map(|f| format!("{} file {}", action(f.action), f.path));
        let changes: Vec<String> = self.changes.iter().map(|c| format!("{} {} {}", action(c.action), c.kind, c.key)).chain(files).take(LISTED).collect();
        serde_json::json!({
            "create": self.count(Action::Create),
            "update": self.count(Action::Update),
            "delete": self.count(Action::Delete),
            "changes": changes,
            "not_listed": (self.changes.len() + self.files.len()).saturating_sub(LISTED),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.files.is_empty()
    }
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

/// Deletes come first, children before parents; then creates and updates, parents before
/// children. An address moving from an alias to a mailbox is freed before it is taken.
/// `files`: the declared service files with what is on disk (read by the caller: that is I/O).
/// Every check of the plan is made here; the secrets (in `desired`, never in its records) are
/// looked at only to say whether a password meets the policy.
pub fn plan(desired_state: &Desired, live: &[Record], rows: &LiveData, files: &[crate::change::ObservedFile], policy: &Policy) -> Plan {
    let desired = desired_state.records.as_slice();
    let all_live = live;
    let ignored = |r: &Record| policy.ignore.iter().any(|g| glob_match(g, &r.key));
    let live: Vec<&Record> = live.iter().filter(|r| !ignored(r)).collect();
    let live_by_key: HashMap<(Kind, &str), &Record> = live.iter().map(|r| ((r.kind, r.key.as_str()), *r)).collect();
    let desired_keys: HashSet<(Kind, &str)> = desired.iter().map(|r| (r.kind, r.key.as_str())).collect();
    let diff = |part: &[Record]| -> Vec<Change> {
        part.iter()
            .filter_map(|d| match live_by_key.get(&(d.kind, d.key.as_str())) {
                None if (crate::kinds::spec(d.kind).vacant)(d) => None,
                None => Some(Change { action: Action::Create, kind: d.kind, key: d.key.clone(), fields: Vec::new(), desired: Some(d.clone()), live: None }),
                Some(l) => update(d, l),
            })
            .collect()
    };
    // Records compare independently: at 100,000s of them, on all cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut changes: Vec<Change> = if threads == 1 || desired.len() < 10_000 {
        diff(desired)
    } else {
        std::thread::scope(|scope| {
            let parts: Vec<_> = desired.chunks(desired.len().div_ceil(threads)).map(|part| scope.spawn(move || diff(part))).collect();
            parts.into_iter().flat_map(|h| h.join().expect("plan thread panicked")).collect()
        })
    };
    let mut unmanaged = Vec::new();
    for l in &live {
        if desired_keys.contains(&(l.kind, l.key.as_str())) {
            continue;
        }
        let owned = policy.owned.contains(l.kind, &l.key) && !crate::kinds::protected(l);
        let mode = if owned { policy.prune.get(&l.kind).copied().unwrap_or_default() } else { PruneMode::Off };
        match (mode, crate::kinds::disabled(l)) {
            (PruneMode::Delete, _) => {
                changes.push(Change { action: Action::Delete, kind: l.kind, key: l.key.clone(), fields: Vec::new(), desired: None, live: Some((*l).clone()) })
            }
            (PruneMode::Disable, Some(off)) => changes.extend(update(&off, l)),
            _ => unmanaged.push(Unmanaged { kind: l.kind, key: l.key.clone() }),
        }
    }
    changes.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    unmanaged.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    let mut problems = safety(&changes, desired, &desired_keys, &live, policy);
    problems.extend(unlisted_removals(&changes, desired, all_live));
    problems.extend(shared_keys(&changes, all_live));
    if let Some(Err(e)) = &policy.mailcow_conf {
        problems.push(e.clone());
    }
    let mailcow_conf = policy.mailcow_conf.as_ref().and_then(|c| c.as_deref().ok());
    let facts = crate::kinds::Facts { desired, live: all_live, changes: &changes, rows, secrets: desired_state, mailcow_conf };
    let mut warnings = Vec::new();
    for k in &crate::kinds::KINDS {
        problems.extend((k.check)(&facts));
        warnings.extend((k.warn)(&facts));
    }
    Plan { changes, unmanaged, problems, warnings, files: crate::change::file_changes(files) }
}

/// mailcow does not keep every kind unique by the key mailplane names it by (two app passwords
/// of one name, two sync jobs of one host and user): a change to such a key would write every
/// row that has it, so it is refused until all but one are renamed or deleted in mailcow.
fn shared_keys(changes: &[Change], live: &[Record]) -> Vec<String> {
    let touched: HashSet<(Kind, &str)> = changes.iter().map(|c| (c.kind, c.key.as_str())).collect();
    let mut count: HashMap<(Kind, &str), usize> = HashMap::new();
    for r in live.iter().filter(|r| touched.contains(&(r.kind, r.key.as_str()))) {
        *count.entry((r.kind, r.key.as_str())).or_default() += 1;
    }
    let mut shared: Vec<_> = count.into_iter().filter(|(_, n)| *n > 1).collect();
    shared.sort();
    shared
        .into_iter()
        .map(|((kind, key), n)| format!("{n} live {} are `{key}`: mailplane cannot tell them apart; rename or delete all but one in mailcow", kind.plural()))
        .collect()
}

fn update(desired: &Record, live: &Record) -> Option<Change> {
    let fields = diff_fields(desired, live);
    (!fields.is_empty()).then(|| Change {
        action: Action::Update,
        kind: desired.kind,
        key: desired.key.clone(),
        fields,
        desired: Some(desired.clone()),
        live: Some(live.clone()),
    })
}

/// Consent for destroying mail, the change threshold and the empty-set guard.
fn safety(changes: &[Change], desired: &[Record], desired_keys: &HashSet<(Kind, &str)>, live: &[&Record], policy: &Policy) -> Vec<String> {
    let mut problems = Vec::new();
    for c in changes.iter().filter(|c| c.action == Action::Delete && crate::kinds::spec(c.kind).destroys_mail) {
        if !policy.allow_delete.iter().any(|a| a == c.kind.name() || *a == c.key) {
            problems.push(format!(
                "deleting {} {} destroys its mail: pass --allow-delete={} (or --allow-delete={}), or set `prune: {{{}: disable}}`",
                c.kind, c.key, c.key, c.kind, c.kind
            ));
        }
    }
    if policy.force {
        return problems;
    }
    for kind in Kind::ALL {
        let managed = live.iter().filter(|r| r.kind == kind && policy.owned.contains(kind, &r.key)).count();
        let changing = changes.iter().filter(|c| c.kind == kind && c.action != Action::Create).count();
        // Removed: deleted, or disabled by pruning (an update of something no longer declared).
        let removing = changes
            .iter()
            .filter(|c| c.kind == kind && (c.action == Action::Delete || (c.action == Action::Update && !desired_keys.contains(&(c.kind, c.key.as_str())))))
            .count();
        if managed >= THRESHOLD_MIN && changing * 100 > managed * policy.max_change_percent as usize {
            problems.push(format!(
                "{changing} of {managed} managed {} would change, more than {}%: check the plan, then pass --force",
                kind.plural(),
                policy.max_change_percent
            ));
        }
        if managed > 0 && removing > 0 && !desired.iter().any(|d| d.kind == kind) {
            problems.push(format!(
                "no {} are declared any more, and all {managed} managed ones would be removed: if that is really meant, pass --force",
                kind.plural()
            ));
        }
    }
    problems
}

/// Objects a change would take with it or break that the plan does not list (ignored ones
/// included). mailcow refuses some of these (`is_alias`, `domain_not_empty`) and quietly cleans up
/// after others (the aliases, BCC maps and send-as rights naming a deleted mailbox or alias, the
/// aliases of a deleted alias domain, the domains of a deleted relay host); the plan is blocked
/// instead, naming them, so that nothing it leaves alone moves and apply needs no cleanup.
fn unlisted_removals(changes: &[Change], desired: &[Record], live: &[Record]) -> Vec<String> {
    let relevant = |c: &Change| match c.action {
        Action::Create => matches!(c.kind, Kind::Mailbox | Kind::Alias | Kind::Domain),
        Action::Delete => matches!(c.kind, Kind::Domain | Kind::Mailbox | Kind::Alias | Kind::AliasDomain | Kind::RelayHost),
        Action::Update => c.kind == Kind::Transport,
    } || c.kind == Kind::Transport && c.action == Action::Create;
    if !changes.iter().any(relevant) {
        return Vec::new();
    }
    let listed: HashMap<(Kind, &str), &Change> = changes.iter().map(|c| ((c.kind, c.key.as_str()), c)).collect();
    let declared: HashMap<(Kind, &str), &Record> = desired.iter().map(|r| ((r.kind, r.key.as_str()), r)).collect();
    let deleted = |kind: Kind, key: &str| listed.get(&(kind, key)).is_some_and(|c| c.action == Action::Delete);
    let after = |r| after_apply(r, &listed, &declared);
    let live_of = |kind: Kind| live.iter().filter(move |r| r.kind == kind);
    let mut problems = Vec::new();
    let mut block = |what: String, left: Vec<String>, way_out: &str| {
        const SHOWN: usize = 10;
        if left.is_empty() {
            return;
        }
        let more = if left.len() > SHOWN { format!(" and {} more", left.len() - SHOWN) } else { String::new() };
        let shown = left.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        problems.push(format!("{what} ({shown}{more}); {way_out}"));
    };

    let live_alias: HashMap<&str, &Record> = live_of(Kind::Alias).map(|r| (r.key.as_str(), r)).collect();
    let live_mailbox: HashSet<&str> = live_of(Kind::Mailbox).map(|r| r.key.as_str()).collect();
    // mailcow's domain add deletes the external send-as rights for the domain's addresses (they
    // are local now); a declared mailbox cannot keep one (validation), others would lose theirs
    // behind the plan. Indexed by domain once: a plan may create many domains.
    let mut external_senders: HashMap<String, Vec<String>> = HashMap::new();
    if changes.iter().any(|c| c.kind == Kind::Domain && c.action == Action::Create) {
        for m in live_of(Kind::Mailbox).filter(|m| !declared.contains_key(&(Kind::Mailbox, m.key.as_str())) && !deleted(Kind::Mailbox, &m.key)) {
            for a in m.list("external_sender_acl") {
                let domain = crate::model::names::domain_of(&a).to_ascii_lowercase();
                external_senders.entry(domain).or_default().push(format!("mailbox {} may send as {a}", m.key));
            }
        }
    }
    for c in changes.iter().filter(|c| c.action == Action::Create) {
        match c.kind {
            Kind::Mailbox => {
                if let Some(a) = live_alias.get(c.key.as_str()).filter(|a| !deleted(Kind::Alias, &a.key)) {
                    block(
                        format!("mailbox {} cannot be created over an alias that is not declared", c.key),
                        vec![format!("alias {} to {}", a.key, a.text("goto"))],
                        "the mailbox would replace it: remove the alias in mailcow first, or declare it, apply, and then remove it with `prune: {alias: delete}`",
                    );
                }
            }
            Kind::Domain => block(
                format!("domain {} cannot be created while mailboxes that are not declared may send as its addresses as external senders", c.key),
                external_senders.remove(c.key.to_ascii_lowercase().as_str()).unwrap_or_default(),
                "mailcow's domain add would take those rights away behind the plan: declare those mailboxes (without them), or remove the rights in mailcow",
            ),
            Kind::Alias if live_mailbox.contains(c.key.as_str()) && !deleted(Kind::Mailbox, &c.key) => block(
                format!("alias {} cannot be created: the address is a mailbox on the server that this plan does not delete", c.key),
                vec![format!("mailbox {}", c.key)],
                "an address is a mailbox or an alias, not both: delete the mailbox first (`prune: {mailbox: delete}` and --allow-delete), or choose another address",
            ),
            _ => {}
        }
    }

    if changes.iter().any(|c| c.kind == Kind::Transport && c.action != Action::Delete) {
        // Postfix finds a next hop's credentials by the next hop alone, so mailcow keeps one set
        // per next hop by rewriting every transport to it; mailplane writes only the transports
        // it lists, so the plan must already agree on that set.
        let live_transport: HashMap<&str, &Record> = live_of(Kind::Transport).map(|r| (r.key.as_str(), r)).collect();
        let password = |r: &Record| match r.get("password").or_else(|| live_transport.get(r.key.as_str()).and_then(|l| l.get("password"))) {
            Some(Value::Secret(t)) => t.token,
            _ => String::new(),
        };
        let mut hops: std::collections::BTreeMap<&str, Vec<(&Record, String)>> = Default::default();
        let created = changes.iter().filter(|c| c.kind == Kind::Transport && c.action == Action::Create).filter_map(|c| c.desired.as_ref());
        // Postfix reads only transports with a username.
        for r in live_of(Kind::Transport).filter_map(after).chain(created).filter(|r| !r.text("username").is_empty()) {
            hops.entry(r.text("nexthop")).or_default().push((r, password(r)));
        }
        for (hop, transports) in hops {
            let differ = transports.iter().any(|(r, p)| r.text("username") != transports[0].0.text("username") || *p != transports[0].1);
            let touched = transports.iter().any(|(r, _)| listed.contains_key(&(Kind::Transport, r.key.as_str())));
            if differ && touched {
                block(
                    format!("transports to {hop} would have different credentials"),
                    transports
                        .iter()
                        .map(|(r, _)| {
                            format!("transport {}{}", r.key, if declared.contains_key(&(Kind::Transport, r.key.as_str())) { "" } else { " (not declared)" })
                        })
                        .collect(),
                    "Postfix uses one username and password per next hop and mailcow would rewrite them all behind the plan: give them the same username and password (declare those that are not declared), or change them in mailcow",
                );
            }
        }
    }

    // Who may send as an address, for deletes of mailboxes and aliases.
    let mut send_as: HashMap<String, Vec<&Record>> = HashMap::new();
    let mut forwards_to: HashMap<String, Vec<&Record>> = HashMap::new();
    if changes.iter().any(|c| c.action == Action::Delete && matches!(c.kind, Kind::Mailbox | Kind::Alias)) {
        for m in live_of(Kind::Mailbox) {
            for a in m.list("sender_acl") {
                send_as.entry(a).or_default().push(m);
            }
        }
        for a in live_of(Kind::Alias) {
            for g in a.text("goto").split(',') {
                forwards_to.entry(g.to_string()).or_default().push(a);
            }
        }
    }
    // What a mailbox delete takes along (its spam policy, app passwords, …), by mailbox: looked
    // up per deleted mailbox, not scanned (1,000 deletes on a large server).
    let mut taken_along: HashMap<&str, Vec<&Record>> = HashMap::new();
    if changes.iter().any(|c| c.action == Action::Delete && c.kind == Kind::Mailbox) {
        for r in live {
            if let Some(m) = (crate::kinds::spec(r.kind).mailbox_of)(r) {
                taken_along.entry(m).or_default().push(r);
            }
        }
    }
    // Send-as rights of mailboxes that are not declared: a declared mailbox's own list says
    // whether a right to a deleted address stays.
    let senders = |address: &str| -> Vec<String> {
        send_as
            .get(address)
            .into_iter()
            .flatten()
            .filter(|m| m.key != address && !declared.contains_key(&(Kind::Mailbox, m.key.as_str())))
            .filter(|m| after(m).is_some_and(|m| m.list("sender_acl").iter().any(|a| a == address)))
            .map(|m| format!("mailbox {} may send as it", m.key))
            .collect()
    };
    for c in changes.iter().filter(|c| c.action == Action::Delete) {
        let key = c.key.as_str();
        match c.kind {
            Kind::Mailbox => {
                let mut left: Vec<String> = forwards_to
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter(|a| a.key != key)
                    .filter(|a| after(a).is_some_and(|a| a.flag("active") && a.text("goto").split(',').any(|g| g == key)))
                    .map(|a| {
                        format!("alias {} forwards to it{}", a.key, if declared.contains_key(&(Kind::Alias, a.key.as_str())) { "" } else { " (not declared)" })
                    })
                    .collect();
                left.extend(
                    live_of(Kind::BccMap)
                        .filter(|b| b.key.split(' ').next() == Some(key) && !deleted(Kind::BccMap, &b.key))
                        .map(|b| format!("BCC map {}", b.key)),
                );
                left.extend(senders(key));
                left.extend(
                    taken_along
                        .get(key)
                        .into_iter()
                        .flatten()
                        .filter(|r| !deleted(r.kind, &r.key))
                        .map(|r| format!("{} {} (mailcow's delete takes it along)", r.kind, r.key)),
                );
                block(
                    format!("mailbox {key} cannot be deleted while objects that stay name it"),
                    left,
                    "mailcow's delete would change them behind the plan: take the address out of them or remove them in the desired state (declare those that are not declared), or change them in mailcow",
                );
            }
            Kind::Alias => block(
                format!("alias {key} cannot be deleted while mailboxes that are not declared may send as it"),
                senders(key),
                "mailcow's delete would take that right away behind the plan: declare those mailboxes (with or without the right), or change them in mailcow",
            ),
            Kind::AliasDomain => {
                let mut left: Vec<String> = live_of(Kind::Alias)
                    .filter(|a| crate::model::names::domain_of(&a.key) == key && !deleted(Kind::Alias, &a.key))
                    .map(|a| format!("alias {}", a.key))
                    .collect();
                left.extend(
                    live_of(Kind::BccMap)
                        .filter(|b| b.key.split(' ').next().is_some_and(|d| d.trim_start_matches('@') == key) && !deleted(Kind::BccMap, &b.key))
                        .map(|b| format!("BCC map {}", b.key)),
                );
                block(
                    format!("alias domain {key} cannot be deleted while it holds objects the plan does not delete"),
                    left,
                    "mailcow's delete would take them along: delete them first (declare their removal with `prune`), or remove them in mailcow",
                );
            }
            Kind::Domain => {
                let belongs = |r: &Record| (crate::kinds::spec(r.kind).domain_of)(r) == Some(key);
                block(
                    format!("domain {key} cannot be deleted while it holds objects the plan does not delete"),
                    live.iter().filter(|r| belongs(r) && !deleted(r.kind, &r.key)).map(|r| format!("{} {}", r.kind, r.key)).collect(),
                    "delete them first (declare their removal with `prune`), or remove them in mailcow",
                );
            }
            Kind::RelayHost => block(
                format!("relay host {key} cannot be deleted while domains that stay use it"),
                live_of(Kind::Domain).filter(|d| after(d).is_some_and(|d| d.text("relay_host") == key)).map(|d| format!("domain {}", d.key)).collect(),
                "mailcow's delete would switch them to direct delivery behind the plan: declare them with another relay host, or change them in mailcow",
            ),
            _ => {}
        }
    }
    problems
}

/// What a live object is after the apply: None when it is deleted.
fn after_apply<'a>(r: &'a Record, listed: &HashMap<(Kind, &str), &'a Change>, declared: &HashMap<(Kind, &str), &'a Record>) -> Option<&'a Record> {
    match listed.get(&(r.kind, r.key.as_str())) {
        Some(c) => c.desired.as_ref(),
        None => Some(declared.get(&(r.kind, r.key.as_str())).copied().unwrap_or(r)),
    }
}

fn order_key(c: &Change) -> (u8, i16, &str) {
    let rank = c.kind as i16;
    match c.action {
        Action::Delete => (0, -rank, &c.key),
        _ => (1, rank, &c.key),
    }
}

fn diff_fields(desired: &Record, live: &Record) -> Vec<FieldChange> {
    if desired.same_fields(live) {
        return Vec::new();
    }
    // Equal bytes are equal values; only differing fields are decoded.
    let change = |field: Field, d: &[u8], l: Option<&[u8]>| -> Option<FieldChange> {
        if l == Some(d) {
            return None;
        }
        let (new, old) = (decode(d), l.map(decode));
        match &old {
            Some(old) if new.satisfies(old) => None,
            _ => Some(FieldChange { field, old, new: Some(new) }),
        }
    };
    // Both sides list the same fields in the same order (record.rs): then a diff is a zip.
    if desired.same_names(live) {
        return desired.encoded().zip(live.encoded()).filter_map(|((f, d), (_, l))| change(f, d, Some(l))).collect();
    }
    let live_fields: HashMap<&str, &[u8]> = live.encoded().collect();
    desired.encoded().filter_map(|(f, d)| change(f, d, live_fields.get(f).copied())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The planner over records alone (no secrets).
    pub(super) fn plan(desired: &[Record], live: &[Record], rows: &LiveData, files: &[crate::change::ObservedFile], policy: &Policy) -> Plan {
        super::plan(&Desired { records: desired.to_vec(), ..Desired::default() }, live, rows, files, policy)
    }

    fn rec(kind: Kind, key: &str, active: bool) -> Record {
        Record::new(kind, key).with("active", Value::Bool(active))
    }

    #[test]
    fn creates_parents_first_and_deletes_children_first() {
        // Room for its mailbox: every plan checks the domain limits.
        let desired = vec![rec(Kind::Mailbox, "a@x.org", true), rec(Kind::Domain, "x.org", true).with("max_mailboxes", Value::Int(1))];
        let live = vec![rec(Kind::Alias, "old@x.org", true), rec(Kind::Domain, "gone.org", true), rec(Kind::Mailbox, "b@gone.org", true)];
        let owned = live.iter().map(|r| (r.kind, r.key.clone())).collect();
        let prune = [Kind::Alias, Kind::Domain, Kind::Mailbox].into_iter().map(|k| (k, PruneMode::Delete)).collect();
        let policy = Policy { prune, owned, allow_delete: vec!["mailbox".into(), "gone.org".into()], force: true, ..Policy::default() };
        let p = plan(&desired, &live, &LiveData::default(), &[], &policy);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
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
    fn a_change_to_a_key_two_live_objects_share_is_refused() {
        let desired = vec![rec(Kind::AppPassword, "a@x.org Phone", false)];
        let live = vec![rec(Kind::AppPassword, "a@x.org Phone", true), rec(Kind::AppPassword, "a@x.org Phone", true)];
        let p = plan(&desired, &live, &LiveData::default(), &[], &Policy::default());
        assert_eq!(p.problems, ["2 live app passwords are `a@x.org Phone`: mailplane cannot tell them apart; rename or delete all but one in mailcow"]);
        // Left as they are, they are no problem.
        let p = plan(&live[..1], &live, &LiveData::default(), &[], &Policy::default());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn updates_list_only_changed_fields_and_undeclared_objects_are_unmanaged() {
        let desired = vec![Record::new(Kind::Domain, "x.org").with("active", Value::Bool(true)).with("gal", Value::Bool(false))];
        let live =
            vec![Record::new(Kind::Domain, "x.org").with("active", Value::Bool(true)).with("gal", Value::Bool(true)), rec(Kind::Domain, "other.org", true)];
        let p = plan(&desired, &live, &LiveData::default(), &[], &Policy::default());
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].fields, vec![FieldChange { field: "gal", old: Some(Value::Bool(true)), new: Some(Value::Bool(false)) }]);
        assert_eq!(p.unmanaged, vec![Unmanaged { kind: Kind::Domain, key: "other.org".into() }]);
        assert!(plan(&live[..1], &live[..1], &LiveData::default(), &[], &Policy::default()).is_empty());
    }

    #[test]
    fn create_only_secrets_never_show_as_updates() {
        use crate::record::SecretToken;
        let d = Record::new(Kind::Mailbox, "a@x.org").with("password", Value::Secret(Box::new(SecretToken { token: "pending".into(), create_only: true })));
        let l = Record::new(Kind::Mailbox, "a@x.org").with("password", Value::Secret(Box::new(SecretToken { token: "abc".into(), create_only: false })));
        assert!(plan(&[d], &[l], &LiveData::default(), &[], &Policy::default()).is_empty());
    }
}

#[cfg(test)]
mod policy_tests {
    use super::tests::plan;
    use super::*;

    fn mailbox(key: &str) -> Record {
        Record::new(Kind::Mailbox, key).with("state", Value::text("active"))
    }

    fn policy(mode: PruneMode, live: &[Record]) -> Policy {
        Policy { prune: [(Kind::Mailbox, mode)].into_iter().collect(), owned: live.iter().map(|r| (r.kind, r.key.clone())).collect(), ..Policy::default() }
    }

    #[test]
    fn only_owned_objects_are_pruned_and_deleting_mail_needs_consent() {
        let live = vec![mailbox("a@x.org"), mailbox("b@x.org")];
        let mut p = policy(PruneMode::Delete, &live[..1]);
        let plan1 = plan(&[], &live, &LiveData::default(), &[], &p);
        assert_eq!(plan1.changes.len(), 1, "b@x.org is not owned: unmanaged");
        assert_eq!(plan1.unmanaged.len(), 1);
        assert!(plan1.problems.iter().any(|m| m.contains("--allow-delete=a@x.org")), "{:?}", plan1.problems);
        p.allow_delete = vec!["a@x.org".into()];
        p.force = true;
        assert!(plan(&[], &live, &LiveData::default(), &[], &p).problems.is_empty());
    }

    #[test]
    fn disable_deactivates_instead_of_deleting() {
        let live = vec![mailbox("a@x.org")];
        let p = plan(&[], &live, &LiveData::default(), &[], &policy(PruneMode::Disable, &live));
        assert_eq!(p.changes[0].action, Action::Update);
        assert_eq!(p.changes[0].fields[0].new, Some(Value::text("inactive")));
    }

    #[test]
    fn thresholds_and_the_empty_set_guard() {
        let live: Vec<Record> = (0..20).map(|i| mailbox(&format!("u{i}@x.org"))).collect();
        let mut desired = live.clone();
        for d in desired.iter_mut().take(7) {
            d.set("state", Value::text("no-login"));
        }
        let p = plan(&desired, &live, &LiveData::default(), &[], &policy(PruneMode::Off, &live));
        assert!(p.problems[0].starts_with("7 of 20 managed mailboxes would change, more than 30%"), "{:?}", p.problems);
        let p = plan(&[], &live, &LiveData::default(), &[], &Policy { allow_delete: vec!["mailbox".into()], ..policy(PruneMode::Delete, &live) });
        assert!(p.problems.iter().any(|m| m.contains("no mailboxes are declared any more")), "{:?}", p.problems);
    }

    #[test]
    fn ignored_objects_are_left_out() {
        let live = vec![mailbox("a@legacy.org"), mailbox("b@x.org")];
        let p = plan(&[], &live, &LiveData::default(), &[], &Policy { ignore: vec!["*@legacy.org".into()], ..Policy::default() });
        assert_eq!(p.unmanaged.len(), 1);
        assert!(glob_match("*@legacy.*", "a@legacy.org") && !glob_match("a?c", "ac") && glob_match("a*", "a"));
    }
}
