//! The changeset's units: what a plan lists and apply carries out, one object at a time. Pure
//! data, below both the planner that makes them and the kinds that write them.

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub field: Field,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub key: String,
    /// For updates, the fields that differ. Empty for creates and deletes: all their fields
    /// change, and `field_changes` lists them from the record (a full apply at 100,000
    /// mailboxes would otherwise hold every value twice more).
    pub fields: Vec<FieldChange>,
    pub desired: Option<Record>,
    pub live: Option<Record>,
}

impl Change {
    /// Every field this change writes or removes, with old and new values.
    pub fn field_changes(&self) -> std::borrow::Cow<'_, [FieldChange]> {
        let all = |r: &Record, new: bool| -> Vec<FieldChange> {
            r.fields()
                .map(|(field, v)| if new { FieldChange { field, old: None, new: Some(v) } } else { FieldChange { field, old: Some(v), new: None } })
                .collect()
        };
        match (self.action, &self.desired, &self.live) {
            (Action::Create, Some(d), _) => all(d, true).into(),
            (Action::Delete, _, Some(l)) => all(l, false).into(),
            _ => self.fields.as_slice().into(),
        }
    }
}

/// The mail services whose files are managed. In docker mode each is the compose service
/// `<name>-mailcow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Postfix,
    Dovecot,
    Rspamd,
    Sogo,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Postfix => "postfix",
            Service::Dovecot => "dovecot",
            Service::Rspamd => "rspamd",
            Service::Sogo => "sogo",
        }
    }
}

/// What a managed file is, which decides its checker and what makes the service read it
/// (mailcow-facts §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `postfix/extra.cf`: appended to main.cf when the container starts.
    PostfixExtraCf,
    /// `postfix/*.pcre`, `*.cidr`: lookup tables, re-read on `postfix reload`.
    PostfixTable,
    /// `dovecot/extra.conf`: included at the end of dovecot.conf.
    DovecotConf,
    /// `dovecot/global_sieve_before|after`: compiled when dovecot starts.
    Sieve,
    /// `rspamd/local.d/*`, `rspamd/override.d/*`.
    RspamdConf,
    /// `rspamd/custom/*`: map files rspamd re-reads on its own when they change.
    RspamdMap,
}

/// What has to happen after a file changed for the service to use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "service")]
pub enum FollowUp {
    Restart(Service),
    PostfixReload,
    Nothing,
}

impl std::fmt::Display for FollowUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FollowUp::Restart(s) => write!(f, "restart {}", s.name()),
            FollowUp::PostfixReload => f.write_str("postfix reload"),
            FollowUp::Nothing => f.write_str("nothing, rspamd re-reads maps"),
        }
    }
}

impl FileKind {
    pub fn follow_up(self) -> FollowUp {
        match self {
            FileKind::PostfixExtraCf => FollowUp::Restart(Service::Postfix),
            FileKind::PostfixTable => FollowUp::PostfixReload,
            FileKind::DovecotConf | FileKind::Sieve => FollowUp::Restart(Service::Dovecot),
            FileKind::RspamdConf => FollowUp::Restart(Service::Rspamd),
            FileKind::RspamdMap => FollowUp::Nothing,
        }
    }
}

/// One declared service file with its full text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFile {
    /// Relative to the services root, `/`-separated: `postfix/extra.cf`.
    pub path: String,
    pub kind: FileKind,
    pub content: String,
    /// `file:line:column` of the declaration, for messages.
    pub declared_at: String,
    /// Its content is never shown (the Rspamd UI password's hash).
    pub secret: bool,
}

/// A declared file and what is on disk now, as mailplane compares it (`None`: no such file).
pub type ObservedFile = (DesiredFile, Option<String>);

/// The changes that make the files on disk equal the declared ones.
pub fn file_changes(files: &[ObservedFile]) -> Vec<FileChange> {
    files
        .iter()
        .filter(|(file, old)| old.as_deref() != Some(file.content.as_str()))
        .map(|(file, old)| FileChange {
            path: file.path.clone(),
            action: if old.is_some() { Action::Update } else { Action::Create },
            then: file.kind.follow_up(),
            kind: file.kind,
            old: old.clone(),
            new: file.content.clone(),
            declared_at: file.declared_at.clone(),
            secret: file.secret,
        })
        .collect()
}

/// A managed file whose content on disk differs from the declared one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `create` when the file does not exist yet, else `update`.
    pub action: Action,
    pub then: FollowUp,
    #[serde(skip)]
    pub kind: FileKind,
    #[serde(skip)]
    pub old: Option<String>,
    #[serde(skip)]
    pub new: String,
    #[serde(skip)]
    pub declared_at: String,
    #[serde(skip)]
    pub secret: bool,
}

impl FileChange {
    /// A unified diff (3 lines of context, hunk headers), `a/` the file on disk, `b/` the declared text.
    pub fn diff(&self) -> String {
        if self.secret {
            return format!("{}: holds a secret, changes (not shown)\n", self.path);
        }
        let old = self.old.as_deref().unwrap_or("");
        let from = if self.old.is_some() { format!("a/{}", self.path) } else { "/dev/null".to_string() };
        similar::TextDiff::from_lines(old, &self.new).unified_diff().context_radius(3).header(&from, &format!("b/{}", self.path)).to_string()
    }
}
