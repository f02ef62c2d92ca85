//! Checking an OpenID Connect provider over HTTP the way mailcow uses it: Keycloak (endpoints
//! built from `server_url` + `realm`, the admin REST API for user import and sync) or a generic
//! provider (three configured URLs). Used by `mailplane idp test`.
//!
//! Every step is run and reported, so that one run shows everything that is wrong. The client
//! secret and any token stay in memory: no message contains them.

use std::time::Duration;

use serde_json::Value;

use crate::model::{KeycloakProvider, OidcProvider};

/// What the provider declaration does not say: how long to wait, how many users to show.
pub struct Settings {
    pub timeout: Duration,
    pub sample: usize,
    /// The resolved client secret; None when the declaration leaves it as it is on the server.
    pub client_secret: Option<String>,
}

/// One check: what was checked, at which URL, and what came of it.
#[derive(Debug)]
pub struct Step {
    pub what: &'static str,
    pub url: String,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    Ok(String),
    /// Not a failure, but worth knowing (something could not be checked).
    Note(String),
    Failed(Problem),
}

/// A user from Keycloak's admin API, as mailcow's sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub email: Option<String>,
    /// `attributes.mailcow_template[0]`, which selects the mailbox template.
    pub template_attribute: Option<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
    /// The first page of users from the admin API, when it was listed.
    pub users: Vec<User>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.outcome, Outcome::Failed(_)))
    }
    fn push(&mut self, what: &'static str, url: &str, outcome: Outcome) {
        self.steps.push(Step { what, url: url.to_string(), outcome });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("timed out after {0} s")]
    Timeout(u64),
    #[error("HTTP {status}, expected {expected}")]
    Status { status: u16, expected: &'static str },
    #[error("the answer is not a JSON {0}")]
    NotJson(&'static str),
    #[error("realm `{0}` not found (HTTP 404); check realm and server_url")]
    NoRealm(String),
    #[error("wrong issuer: the provider says `{found}`, mailcow expects `{expected}`; check server_url and realm")]
    WrongIssuer { expected: String, found: String },
    #[error("mailcow uses this URL, but the discovery document announces {0}")]
    Mismatch(String),
    #[error("invalid client credentials for client `{0}`; check client_id and client_secret")]
    InvalidClient(String),
    #[error("the token endpoint refused the request: {0}")]
    Refused(String),
    #[error("client `{client_id}` may not list users (HTTP {status}); its service account needs the realm-management role view-users")]
    NoUserAccess { client_id: String, status: u16 },
    #[error("{0}")]
    Other(String),
}

/// URLs are compared without trailing slashes: `…/realms/x/` and `…/realms/x` are one issuer.
fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

struct Http {
    client: reqwest::Client,
    secs: u64,
}

impl Http {
    fn new(timeout: Duration, ignore_ssl_errors: bool) -> Result<Http, Problem> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect (e.g. the authorize endpoint sending to a login page) is an answer too.
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(ignore_ssl_errors)
            .build()
            .map_err(|e| Problem::Other(e.to_string()))?;
        Ok(Http { client, secs: timeout.as_secs() })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, String), Problem> {
        let resp = req.send().await.map_err(|e| self.plain(&e))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| self.plain(&e))?;
        Ok((status, body))
    }

    /// reqwest's errors nest the cause several levels deep; say it in a few words.
    fn plain(&self, e: &reqwest::Error) -> Problem {
        if e.is_timeout() {
            return Problem::Timeout(self.secs);
        }
        let mut source: Option<&dyn std::error::Error> = Some(e);
        let mut innermost = e.to_string();
        while let Some(s) = source {
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return Problem::Tls(tls.to_string());
            }
            innermost = s.to_string();
            source = s.source();
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return Problem::Connect("connection refused".into()),
                    std::io::ErrorKind::TimedOut => return Problem::Timeout(self.secs),
                    // An io::Error's source() skips the error it wraps, where rustls's error is.
                    _ => source = io.get_ref().map(|inner| inner as &dyn std::error::Error),
                }
            }
        }
        if e.is_connect() { Problem::Connect(innermost) } else { Problem::Other(innermost) }
    }

    async fn get_json(&self, url: &str) -> Result<(u16, Option<Value>), Problem> {
        let (status, body) = self.send(self.client.get(url).header("Accept", "application/json")).await?;
        Ok((status, serde_json::from_str(&body).ok()))
    }
}

/// Outcome of asking the token endpoint for a client_credentials token.
enum Token {
    Issued(String),
    /// The server answered with an OAuth error that is not about the credentials.
    NotIssued(String),
}

async fn client_credentials(http: &Http, url: &str, client_id: &str, secret: &str) -> Result<Token, Problem> {
    // client_secret_post, as mailcow's OAuth client sends them.
    let form = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)];
    let (status, body) = http.send(http.client.post(url).form(&form)).await?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_string);
    if let Some(token) = field("access_token").filter(|_| status == 200) {
        return Ok(Token::Issued(token));
    }
    match (status, field("error").as_deref()) {
        (_, Some("invalid_client")) | (401, _) => Err(Problem::InvalidClient(client_id.to_string())),
        (s, _) if s >= 500 => Err(Problem::Status { status: s, expected: "200 with a token" }),
        (_, Some(code)) => Ok(Token::NotIssued(match field("error_description") {
            Some(d) => format!("{code}: {d}"),
            None => code.to_string(),
        })),
        (s, None) => Err(Problem::Status { status: s, expected: "200 with a token" }),
    }
}

/// The token step; returns the token when one was issued.
async fn token_step(http: &Http, report: &mut Report, url: &str, client_id: &str, secret: Option<&str>) -> Option<String> {
    let Some(secret) = secret else {
        report.push("token", url, Outcome::Note("no client_secret declared: the credentials were not checked".into()));
        return None;
    };
    match client_credentials(http, url, client_id, secret).await {
        Ok(Token::Issued(t)) => {
            report.push("token", url, Outcome::Ok(format!("client `{client_id}` got an access token (client_credentials)")));
            Some(t)
        }
        Ok(Token::NotIssued(why)) => {
            let msg = format!("client `{client_id}` was not refused as invalid, but got no client_credentials token ({why})");
            report.push("token", url, Outcome::Note(msg));
            None
        }
        Err(p) => {
            report.push("token", url, Outcome::Failed(p));
            None
        }
    }
}

/// An endpoint that must answer at all (no 5xx); `expect_401` for userinfo without a token.
async fn endpoint_step(http: &Http, report: &mut Report, what: &'static str, url: &str, announced: Option<&str>, expect_401: bool) {
    let answer = http.send(http.client.get(url)).await;
    let outcome = match (answer, announced) {
        (Err(p), _) => Outcome::Failed(p),
        (Ok((s, _)), _) if s >= 500 => Outcome::Failed(Problem::Status { status: s, expected: "an answer below 500" }),
        (Ok(_), Some(a)) if !same(a, url) => Outcome::Failed(Problem::Mismatch(a.to_string())),
        (Ok((s, _)), announced) => {
            let matches = if announced.is_some() { "; matches the discovery document" } else { "" };
            match (expect_401, s) {
                (true, 401) => Outcome::Ok(format!("HTTP 401 without a token, as expected{matches}")),
                (true, s) => Outcome::Note(format!("HTTP {s} without a token (401 expected){matches}")),
                (false, s) => Outcome::Ok(format!("HTTP {s}{matches}")),
            }
        }
    };
    report.push(what, url, outcome);
}

fn announced<'a>(doc: Option<&'a Value>, key: &str) -> Option<&'a str> {
    doc.and_then(|d| d.get(key)).and_then(Value::as_str)
}

/// The HTTP client, or the report of why there is none.
fn client(s: &Settings, ignore_ssl_errors: Option<bool>) -> Result<Http, Report> {
    Http::new(s.timeout, ignore_ssl_errors.unwrap_or(false)).map_err(|e| {
        let mut report = Report::default();
        report.push("client", "", Outcome::Failed(e));
        report
    })
}

/// Keycloak: discovery of the realm, the three endpoints mailcow builds from server_url and
/// realm, the client's credentials, and (for import/sync) the admin API's user list.
pub async fn check_keycloak(p: &KeycloakProvider, s: &Settings) -> Report {
    let mut report = Report::default();
    let http = match client(s, p.ignore_ssl_errors) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let server = p.server_url.trim_end_matches('/');
    let issuer = format!("{server}/realms/{}", p.realm.value);
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    // Without the realm's discovery document the other URLs are no better: stop there.
    let doc = match http.get_json(&discovery).await {
        Err(e) => Err(e),
        Ok((404, _)) => Err(Problem::NoRealm(p.realm.value.clone())),
        Ok((200, Some(doc))) if doc.is_object() => Ok(doc),
        Ok((200, _)) => Err(Problem::NotJson("object")),
        Ok((status, _)) => Err(Problem::Status { status, expected: "200" }),
    };
    let doc = match doc {
        Ok(d) => d,
        Err(e) => {
            report.push("discovery", &discovery, Outcome::Failed(e));
            return report;
        }
    };
    let found = announced(Some(&doc), "issuer").unwrap_or("(none)");
    let outcome = if same(found, &issuer) {
        Outcome::Ok(format!("issuer {found}"))
    } else {
        Outcome::Failed(Problem::WrongIssuer { expected: issuer.clone(), found: found.to_string() })
    };
    report.push("discovery", &discovery, outcome);

    let base = format!("{issuer}/protocol/openid-connect");
    let doc = Some(&doc);
    endpoint_step(&http, &mut report, "authorize", &format!("{base}/auth"), announced(doc, "authorization_endpoint"), false).await;
    let token_url = format!("{base}/token");
    let token = token_step(&http, &mut report, &token_url, &p.client_id, s.client_secret.as_deref()).await;
    if let Some(a) = announced(doc, "token_endpoint").filter(|a| !same(a, &token_url)) {
        report.push("token", &token_url, Outcome::Failed(Problem::Mismatch(a.to_string())));
    }
    endpoint_step(&http, &mut report, "userinfo", &format!("{base}/userinfo"), announced(doc, "userinfo_endpoint"), true).await;

    let users_url = format!("{server}/admin/realms/{}/users?first=0&max={}", p.realm.value, s.sample);
    if !(p.import_users.unwrap_or(false) || p.periodic_sync.unwrap_or(false)) {
        report.push("users", &users_url, Outcome::Note("import_users and periodic_sync are off: mailcow does not use the admin API".into()));
        return report;
    }
    let Some(token) = token else {
        // Without a secret, or after a failed token step, this says nothing new; but a client
        // that authenticates and still gets no token cannot run mailcow's import and sync.
        let token_failed = report.steps.iter().any(|st| st.what == "token" && matches!(st.outcome, Outcome::Failed(_)));
        let outcome = if s.client_secret.is_none() || token_failed {
            Outcome::Note("not checked: no access token".into())
        } else {
            Outcome::Failed(Problem::Other(
                "no client_credentials token, but mailcow's user import and sync need one: enable service accounts for the client".into(),
            ))
        };
        report.push("users", &users_url, outcome);
        return report;
    };
    let answer = http.send(http.client.get(&users_url).bearer_auth(&token).header("Accept", "application/json")).await;
    let outcome = match answer {
        Err(e) => Outcome::Failed(e),
        Ok((200, body)) => match serde_json::from_str::<Vec<Value>>(&body) {
            Ok(list) => {
                report.users = list.iter().map(user).collect();
                Outcome::Ok(format!("client `{}` can list users: {} on the first page (max {})", p.client_id.value, list.len(), s.sample))
            }
            Err(_) => Outcome::Failed(Problem::NotJson("list of users")),
        },
        Ok((404, _)) => Outcome::Note("HTTP 404: this server offers no Keycloak admin API, so mailcow's user import and sync would fail".into()),
        Ok((status @ (401 | 403), _)) => Outcome::Failed(Problem::NoUserAccess { client_id: p.client_id.value.clone(), status }),
        Ok((status, _)) => Outcome::Failed(Problem::Status { status, expected: "200" }),
    };
    report.push("users", &users_url, outcome);
    report
}

fn user(v: &Value) -> User {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    User {
        username: text("username").unwrap_or_default(),
        email: text("email"),
        template_attribute: v.pointer("/attributes/mailcow_template/0").and_then(Value::as_str).map(str::to_string),
    }
}

/// Where a discovery document may be: the authorize URL's parent paths, longest first, down
/// to its origin (a path issuer such as `…/realms/x` or `…/application/o/x` comes first).
fn discovery_candidates(authorize_url: &str) -> Vec<String> {
    let Some((scheme, rest)) = authorize_url.split_once("://") else { return Vec::new() };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut out = Vec::new();
    while parts.pop().is_some() {
        let prefix: String = parts.iter().map(|p| format!("/{p}")).collect();
        out.push(format!("{scheme}://{host}{prefix}/.well-known/openid-configuration"));
    }
    out
}

/// Generic OIDC: the three configured URLs answer, the credentials are accepted, and where a
/// discovery document is found, it announces the same endpoints.
pub async fn check_generic(p: &OidcProvider, s: &Settings) -> Report {
    let mut report = Report::default();
    let http = match client(s, p.ignore_ssl_errors) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let mut doc = None;
    let candidates = discovery_candidates(&p.authorize_url);
    for url in &candidates {
        let answer = http.get_json(url).await;
        // All candidates share the host: one that does not answer will not answer the next.
        if answer.is_err() {
            break;
        }
        if let Ok((200, Some(d))) = answer
            && d.get("issuer").is_some_and(Value::is_string)
        {
            let issuer = announced(Some(&d), "issuer").unwrap_or_default().to_string();
            report.push("discovery", url, Outcome::Ok(format!("issuer {issuer}")));
            doc = Some(d);
            break;
        }
    }
    if doc.is_none() {
        let origin = candidates.last().cloned().unwrap_or_else(|| p.authorize_url.value.clone());
        report.push("discovery", &origin, Outcome::Note("no discovery document above the authorize URL: endpoints not compared".into()));
    }
    let doc = doc.as_ref();
    endpoint_step(&http, &mut report, "authorize", &p.authorize_url, announced(doc, "authorization_endpoint"), false).await;
    token_step(&http, &mut report, &p.token_url, &p.client_id, s.client_secret.as_deref()).await;
    if let Some(a) = announced(doc, "token_endpoint").filter(|a| !same(a, &p.token_url)) {
        report.push("token", &p.token_url, Outcome::Failed(Problem::Mismatch(a.to_string())));
    }
    endpoint_step(&http, &mut report, "userinfo", &p.userinfo_url, announced(doc, "userinfo_endpoint"), true).await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_is_looked_for_above_the_authorize_url() {
        assert_eq!(
            discovery_candidates("https://id.example.org/realms/x/protocol/openid-connect/auth?x=1"),
            [
                "https://id.example.org/realms/x/protocol/openid-connect/.well-known/openid-configuration",
                "https://id.example.org/realms/x/protocol/.well-known/openid-configuration",
                "https://id.example.org/realms/x/.well-known/openid-configuration",
                "https://id.example.org/realms/.well-known/openid-configuration",
                "https://id.example.org/.well-known/openid-configuration",
            ]
        );
        assert_eq!(discovery_candidates("https://id.example.org/authorize"), ["https://id.example.org/.well-known/openid-configuration"]);
        assert!(discovery_candidates("not a url").is_empty());
    }

    #[test]
    fn keycloak_users_are_read_like_mailcow_sync_reads_them() {
        let v = serde_json::json!({"username": "alice", "email": "alice@example.org", "attributes": {"mailcow_template": ["staff", "x"]}});
        let u = user(&v);
        assert_eq!((u.username.as_str(), u.email.as_deref(), u.template_attribute.as_deref()), ("alice", Some("alice@example.org"), Some("staff")));
        assert_eq!(user(&serde_json::json!({"username": "bob"})).template_attribute, None);
    }

    #[test]
    fn trailing_slashes_do_not_matter() {
        assert!(same("https://k/realms/x/", "https://k/realms/x"));
        assert!(!same("https://k/realms/x", "https://k/realms/y"));
    }
}
