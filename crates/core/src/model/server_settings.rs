//! Server-wide settings mailcow keeps in Redis: the quarantine, the mails it sends about full
//! mailboxes and password resets, the look of its web UI and its API's CORS headers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Located;

/// The quarantine: what Rspamd holds back instead of rejecting, and the digest users get
/// (mailcow's `Q_*` keys). Unset fields are mailcow's defaults, which keep it disabled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    /// Messages kept per mailbox; 0 (default) disables the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_size: Option<Located<u32>>,
    /// Largest message kept, in MiB; 0 (default) disables the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Located<u32>>,
    /// Messages scoring above this are rejected instead of kept (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<Located<f64>>,
    /// Days a message is kept, 1 or more (default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Located<u32>>,
    /// Domains whose mail is never quarantined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_domains: Vec<Located<String>>,
    /// How a released message reaches the user: `raw` (default) or `attachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_format: Option<ReleaseFormat>,
    /// The digest's sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Located<String>>,
    /// An address that gets a copy of every digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bcc: Option<Located<String>>,
    /// Send every digest here instead of to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Located<String>>,
    /// The digest's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// The digest's HTML template (default: mailcow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseFormat {
    #[default]
    Raw,
    Attachment,
}

/// The mail Dovecot sends when a mailbox is nearly full (mailcow's `QW_SENDER`, `QW_SUBJ`,
/// `QW_HTML`; who gets a copy is each domain's `quota_warning_bcc`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaWarningMail {
    /// Its sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Located<String>>,
    /// Its subject, with `{{percent}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// Its HTML template, with `{{username}}` and `{{percent}}` (default: mailcow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}

/// The mail with a password-reset link (mailcow's `PW_RESET_*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetMail {
    /// Its sender address (default: none, then mailcow's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Located<String>>,
    /// The plain-text template, with `{{username}}`, `{{link}}` and `{{token_lifetime}}`
    /// (mailcow's own when both templates are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Located<String>>,
    /// The HTML template, with the same placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Located<String>>,
}

/// The look of mailcow's web UI (`customize('edit', …)`): its names and texts, the announcement,
/// the app links, the IP check and the login page. Unset fields are mailcow's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ui {
    /// The logo (`MAIN_LOGO`): a PNG, JPEG, GIF or SVG file in the directory (`{file: path}`),
    /// or SVG text inline; `""` takes it away (mailcow's own logo again). Unset: left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Located<super::services::Content>>,
    /// The logo in dark mode (`MAIN_LOGO_DARK`), as `logo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_dark: Option<Located<super::services::Content>>,
    /// The browser tab's title (default: `<hostname> - mail UI`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Located<String>>,
    /// The name over the login form (default: like `title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_name: Option<Located<String>>,
    /// The name of the apps menu (default: Apps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps_name: Option<Located<String>>,
    /// Shown below the login form (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<Located<String>>,
    /// The footer of every page (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<Located<String>>,
    /// A notice over every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<Located<String>>,
    /// How it looks: `info`, `warning` or `danger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement_type: Option<AnnouncementType>,
    /// Show it (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement_active: Option<bool>,
    /// The apps menu, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_links: Vec<AppLink>,
    /// Let users check their IP address with an outside service (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_check: Option<bool>,
    /// Hide the login page's quick link for users (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_user_quicklink: Option<bool>,
    /// … for domain administrators (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_domainadmin_quicklink: Option<bool>,
    /// … for administrators (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_admin_quicklink: Option<bool>,
    /// Log users in only through the identity provider (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_sso: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnnouncementType {
    Info,
    Warning,
    Danger,
}

/// One entry of the apps menu.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppLink {
    pub name: Located<String>,
    pub link: Located<String>,
    /// The link for a logged-in user, with `%u` for their address (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_link: Option<Located<String>>,
    /// Keep it out of the menu (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide: Option<bool>,
}

/// The CORS headers of mailcow's API (`CORS_SETTINGS`): which web pages may call it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// `scheme://host[:port]` origins, or `*` for any.
    pub allowed_origins: Vec<Located<String>>,
    /// Default: all four.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_methods: Option<Vec<CorsMethod>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CorsMethod {
    Get,
    Post,
    Put,
    Delete,
}

impl CorsMethod {
    pub const ALL: [CorsMethod; 4] = [CorsMethod::Get, CorsMethod::Post, CorsMethod::Put, CorsMethod::Delete];
    pub fn name(self) -> &'static str {
        match self {
            CorsMethod::Get => "GET",
            CorsMethod::Post => "POST",
            CorsMethod::Put => "PUT",
            CorsMethod::Delete => "DELETE",
        }
    }
}
