//! Showing a plan: human (Terraform's style), JSON (stable, documented in README) and Markdown
//! (for a pull-request comment). Rendering never decides anything.

use owo_colors::OwoColorize;
use serde_json::{Value as Json, json};

use crate::change::FileChange;
use std::collections::HashSet;

use crate::plan::{Action, Change, FieldChange, Plan};
use crate::record::Value;

/// Fields that only say mailcow's side rows are in place: always true on create, so not shown there.
const BOOKKEEPING: [&str; 3] = ["self_alias", "quota_rows", "in_domain_map"];

/// Version of the JSON document; bumped on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "-",
    }
}

fn paint(a: Action, s: &str, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    match a {
        Action::Create => s.green().to_string(),
        Action::Update => s.yellow().to_string(),
        Action::Delete => s.red().to_string(),
    }
}

pub fn summary(plan: &Plan) -> String {
    if plan.is_empty() {
        return "No changes. The live server matches the desired state.".into();
    }
    let files = match plan.files.len() {
        0 => String::new(),
        1 => "; 1 file to change".into(),
        n => format!("; {n} files to change"),
    };
    format!("Plan: {} to create, {} to update, {} to delete{files}.", plan.count(Action::Create), plan.count(Action::Update), plan.count(Action::Delete))
}

/// A file change: its head line, then its unified diff indented, `+`/`-` lines coloured.
fn human_file(f: &FileChange, color: bool) -> String {
    let head = format!("{} file {}  (then: {})", symbol(f.action), f.path, f.then);
    let mut s = format!("  {}\n", paint(f.action, &head, color));
    for line in f.diff().lines() {
        let styled = match line.as_bytes().first() {
            _ if !color => line.to_string(),
            _ if line.starts_with("+++") || line.starts_with("---") => line.bold().to_string(),
            Some(b'+') => line.green().to_string(),
            Some(b'-') => line.red().to_string(),
            Some(b'@') => line.cyan().to_string(),
            _ => line.to_string(),
        };
        s.push_str(&format!("      {styled}\n"));
    }
    s.push('\n');
    s
}

fn unmanaged_line(plan: &Plan) -> Option<String> {
    match plan.unmanaged.len() {
        0 => None,
        1 => Some("1 live object is not declared and is left alone (unmanaged).".into()),
        n => Some(format!("{n} live objects are not declared and are left alone (unmanaged).")),
    }
}

/// The plan for people, handed out in parts of about 64 KB that end with a newline: the plan of
/// a full apply at 100,000 mailboxes is 100s of MB of text.
pub fn human_in_parts(plan: &Plan, color: bool, mut emit: impl FnMut(&str)) {
    let mut s = String::new();
    if !plan.is_empty() {
        s.push_str("mailplane will perform these actions:\n\n");
    }
    for c in &plan.changes {
        let head = format!("{} {} {}", symbol(c.action), c.kind, c.key);
        s.push_str(&format!("  {}\n", paint(c.action, &head, color)));
        let fields = c.field_changes();
        let width = fields.iter().map(|f| f.field.len()).max().unwrap_or(0);
        for f in fields.iter().filter(|f| !(c.action == Action::Create && BOOKKEEPING.contains(&f.field))) {
            let line = match (c.action, &f.old, &f.new) {
                (Action::Update, _, Some(_)) => format!("{:width$}  {}", f.field, update_text(f)),
                (_, _, Some(v)) | (_, Some(v), None) => format!("{:width$}  {}", f.field, v),
                _ => continue,
            };
            s.push_str(&format!("      {line}\n"));
        }
        s.push('\n');
        if s.len() > 64 * 1024 {
            emit(&s);
            s.clear();
        }
    }
    for f in &plan.files {
        s.push_str(&human_file(f, color));
    }
    s.push_str(&summary(plan));
    s.push('\n');
    for p in &plan.problems {
        s.push_str(&format!("Blocked: {p}\n"));
    }
    for w in &plan.warnings {
        s.push_str(&format!("Warning: {w}\n"));
    }
    if let Some(u) = unmanaged_line(plan) {
        s.push_str(&u);
        s.push('\n');
    }
    emit(&s);
}

/// The entries a list change adds and removes, when it is not only a reordering.
fn list_delta(f: &FieldChange) -> Option<(Vec<&String>, Vec<&String>)> {
    let (Some(Value::List(old)), Some(Value::List(new))) = (&f.old, &f.new) else { return None };
    let (was, is): (HashSet<&String>, HashSet<&String>) = (old.iter().collect(), new.iter().collect());
    let added: Vec<&String> = new.iter().filter(|v| !was.contains(v)).collect();
    let removed: Vec<&String> = old.iter().filter(|v| !is.contains(v)).collect();
    (!added.is_empty() || !removed.is_empty()).then_some((added, removed))
}

/// An updated field: `old → new`, or for a list what it gains and loses (a 700-entry list
/// stays readable when one entry changes).
fn update_text(f: &FieldChange) -> String {
    match list_delta(f) {
        Some((added, removed)) => added.iter().map(|v| format!("+ {v:?}")).chain(removed.iter().map(|v| format!("- {v:?}"))).collect::<Vec<_>>().join(", "),
        None => format!("{} → {}", f.old.as_ref().map_or("(none)".into(), Value::to_string), f.new.as_ref().map_or("(none)".into(), Value::to_string)),
    }
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Size(s) => json!(s),
        Value::Text(t) => json!(t),
        Value::List(l) => json!(l),
        Value::Secret(_) => json!("(sensitive)"),
    }
}

fn json_change(c: &Change) -> Json {
    let fields: Vec<Json> = c
        .field_changes()
        .iter()
        .map(|f| {
            let mut o = serde_json::Map::new();
            o.insert("field".into(), json!(f.field));
            if let Some(v) = &f.old {
                o.insert("old".into(), json_value(v));
            }
            if let Some(v) = &f.new {
                o.insert("new".into(), json_value(v));
            }
            if let Some((added, removed)) = list_delta(f) {
                o.insert("added".into(), json!(added));
                o.insert("removed".into(), json!(removed));
            }
            if matches!(f.new.as_ref().or(f.old.as_ref()), Some(Value::Secret(_))) {
                o.insert("sensitive".into(), json!(true));
            }
            Json::Object(o)
        })
        .collect();
    json!({"action": c.action, "kind": c.kind, "key": c.key, "fields": fields})
}

pub fn json(plan: &Plan) -> String {
    let mut doc = json!({
        "format_version": JSON_FORMAT_VERSION,
        "summary": {
            "create": plan.count(Action::Create),
            "update": plan.count(Action::Update),
            "delete": plan.count(Action::Delete),
            "unmanaged": plan.unmanaged.len(),
        },
        "changes": plan.changes.iter().map(json_change).collect::<Vec<_>>(),
        "unmanaged": plan.unmanaged.iter().map(|u| json!({"kind": u.kind, "key": u.key})).collect::<Vec<_>>(),
        "problems": plan.problems,
    });
    // Present only when there are some, so plans without them read as before.
    if !plan.warnings.is_empty() {
        doc["warnings"] = json!(plan.warnings);
    }
    // Present only when service files are managed, so plans without them read as before.
    if !plan.files.is_empty() {
        let files: Vec<Json> = plan.files.iter().map(|f| json!({"action": f.action, "path": f.path, "then": f.then.to_string(), "diff": f.diff()})).collect();
        doc["summary"]["files"] = json!(files.len());
        doc["files"] = json!(files);
    }
    serde_json::to_string_pretty(&doc).expect("JSON") + "\n"
}

pub fn markdown(plan: &Plan) -> String {
    let mut s = String::from("### mailplane plan\n\n");
    s.push_str(&format!("**{}**\n\n", summary(plan)));
    for p in &plan.problems {
        s.push_str(&format!("> :no_entry: Blocked: {p}\n\n"));
    }
    for w in &plan.warnings {
        s.push_str(&format!("> :warning: {w}\n\n"));
    }
    if !plan.is_empty() {
        s.push_str("| | kind | object | changes |\n|---|---|---|---|\n");
        for c in &plan.changes {
            let what = match c.action {
                Action::Update => c.fields.iter().map(|f| format!("`{}`: {}", f.field, update_text(f))).collect::<Vec<_>>().join("<br>"),
                Action::Create => "new".into(),
                Action::Delete => "removed".into(),
            };
            s.push_str(&format!("| {} | {} | `{}` | {} |\n", symbol(c.action), c.kind, c.key, what.replace('|', "\\|")));
        }
        for f in &plan.files {
            s.push_str(&format!("| {} | file | `{}` | then {} |\n", symbol(f.action), f.path, f.then));
        }
        s.push('\n');
        s.push_str("<details><summary>Full plan</summary>\n\n```text\n");
        human_in_parts(plan, false, |part| s.push_str(part));
        s.push_str("```\n</details>\n");
    }
    if let Some(u) = unmanaged_line(plan) {
        s.push_str(&format!("\n_{u}_\n"));
    }
    s
}
