//! `mailplane dns [DIR]`: the DNS records every declared domain needs (mailcow's "DNS
//! diagnostics"); with `--check`, what DNS answers for each and whether it is right.
//!
//! Lookups use hickory-resolver: pure Rust, async on the tokio runtime the project already has,
//! reads /etc/resolv.conf, answers every type needed here (TXT, SRV, TLSA), and can be pointed
//! at one `IP:PORT` over UDP and TCP — libc's resolver can do none of the last three.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

use super::target::{TargetArgs, connect, runtime};
use crate::dns::{self, DkimKey, Domain, MtaStsId, RType, Row};
use crate::model::names::normalize_domain;
use crate::printer::{ExitStatus, Printer};
use crate::settings::SettingsFile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The desired-state directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Only this domain (or alias domain); the server's own records are always listed.
    #[arg(long)]
    pub domain: Option<String>,
    /// `table`, `json`, or `bind` (a zone-file fragment).
    #[arg(long, value_enum, default_value_t)]
    pub format: DnsFormat,
    /// Look every record up and compare; exit 2 when a required one is missing or wrong.
    #[arg(long)]
    pub check: bool,
    /// Ask this DNS server (UDP and TCP) instead of the system's resolvers; implies --check.
    #[arg(long, value_name = "IP:PORT")]
    pub resolver: Option<SocketAddr>,
    /// The mail server's name; default `mailcow_hostname` from mailplane.yaml.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Where the DKIM keys are read from (as for plan): `sqlite://path` or `mysql://…`.
    #[arg(long, env = "MAILPLANE_DATABASE_URL")]
    pub target: Option<String>,
    /// mailcow's Redis (DKIM_SELECTORS, DKIM_PUB_KEYS), required with a mysql target.
    #[arg(long, env = "MAILPLANE_REDIS_URL")]
    pub redis: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DnsFormat {
    #[default]
    Table,
    Json,
    Bind,
}

#[derive(Debug, thiserror::Error)]
enum DnsError {
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
    /// Its diagnostics are printed where they were found.
    #[error("the desired state has errors")]
    Invalid,
    #[error("the mail server's name is not set: add `mailcow_hostname: mail.example.org` to {} or give --hostname", .0.display())]
    NoHostname(PathBuf),
    #[error("mail server name `{0}`: {1}")]
    Hostname(String, String),
    #[error("`{domain}` is not a domain or alias domain declared in {}", .dir.display())]
    NotDeclared { domain: String, dir: PathBuf },
    #[error("dkim_private_key of `{0}`: {1}")]
    DkimKey(String, String),
    #[error(transparent)]
    Target(#[from] super::target::TargetError),
    #[error("reading the server: {0}")]
    Read(String),
    /// The resolver or a lookup.
    #[error("{0}")]
    Lookup(String),
}

pub fn run(args: Args, printer: Printer) -> ExitStatus {
    match dns_command(args, printer) {
        Ok(status) => status,
        Err(DnsError::Invalid) => ExitStatus::Error,
        Err(DnsError::Target(e)) => {
            e.report(printer);
            e.exit_status()
        }
        Err(e) => {
            printer.err(&format!("error: {e}"));
            ExitStatus::Error
        }
    }
}

fn dns_command(args: Args, printer: Printer) -> Result<ExitStatus, DnsError> {
    let loaded = crate::kinds::load_dir(&args.dir)?;
    super::validate::report_diagnostics(&loaded, printer);
    if loaded.has_errors() {
        return Err(DnsError::Invalid);
    }
    let settings = loaded.settings.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
    let hostname =
        args.hostname.clone().or(settings.mailcow_hostname.clone()).ok_or_else(|| DnsError::NoHostname(args.dir.join(crate::load::SETTINGS_FILE)))?;
    let hostname = normalize_domain(&hostname).map_err(|e| DnsError::Hostname(hostname.clone(), e.to_string()))?;

    // (name, alias domain, the domain whose MTA-STS policy it publishes, whether that is declared active)
    let mut names: Vec<(String, bool, String, Option<bool>)> = Vec::new();
    for d in loaded.documents.iter().flat_map(|(_, doc)| &doc.domains) {
        let Ok(domain) = normalize_domain(&d.name) else { continue };
        let sts = d.mta_sts.as_ref().map(|p| p.active.unwrap_or(true));
        names.push((domain.clone(), false, domain.clone(), sts));
        names.extend(d.alias_domains.iter().filter_map(|a| normalize_domain(&a.name).ok()).map(|n| (n, true, domain.clone(), sts)));
    }
    if let Some(only) = &args.domain {
        let only = normalize_domain(only).map_err(|e| DnsError::Hostname(only.clone(), e.to_string()))?;
        names.retain(|(n, ..)| *n == only);
        if names.is_empty() {
            return Err(DnsError::NotDeclared { domain: only, dir: args.dir.clone() });
        }
    }

    let rt = runtime();
    let Live { dkim: live, mta_sts } = rt.block_on(live_state(&args, &settings, printer))?;
    let declared = crate::kinds::dkim::declared(&crate::kinds::Resolver::new(&loaded, &Default::default()));
    let mut rows: Vec<Row> = dns::host_records(&hostname).into_iter().map(Row::unchecked).collect();
    for (name, alias, policy_of, declared_sts) in names {
        let decl = declared.iter().find(|d| d.domain == name);
        // The key the server signs with; else a supplied one; else apply has yet to make it.
        let dkim = match (live.get(&name), decl) {
            (Some((selector, public)), decl) => {
                Some(DkimKey::Key { selector: selector.clone().or(decl.map(|d| d.selector.clone())).unwrap_or_else(|| "dkim".into()), public: public.clone() })
            }
            (None, Some(d)) => Some(match &d.supplied {
                Some(secret) => {
                    let pem = secret.reveal(&loaded.root).map_err(|e| DnsError::DkimKey(name.clone(), e.to_string()))?;
                    let public = crate::model::dkim_key::public_b64(&pem).map_err(|e| DnsError::DkimKey(name.clone(), e.to_string()))?;
                    DkimKey::Key { selector: d.selector.clone(), public }
                }
                None => DkimKey::Pending { selector: d.selector.clone() },
            }),
            (None, None) => None,
        };
        // A declared active policy: the server's id, or one apply will set; an undeclared one
        // the server publishes is listed as it is.
        let mta_sts = match (declared_sts, mta_sts.get(&policy_of)) {
            (Some(false), _) => None,
            (Some(true), live) => Some(live.cloned().unwrap_or(MtaStsId::Pending)),
            (None, live) => live.cloned(),
        };
        let domain = Domain { name, alias, dkim, mta_sts };
        rows.extend(dns::domain_records(&hostname, &domain).into_iter().map(Row::unchecked));
    }

    let checked = args.check || args.resolver.is_some();
    if checked {
        let _guard = rt.enter();
        let lookups = Lookups { rt: &rt, resolver: resolver(args.resolver).map_err(DnsError::Lookup)? };
        check(&mut rows, &hostname, &lookups).map_err(DnsError::Lookup)?;
    }
    printer.out(&match args.format {
        DnsFormat::Table => dns::table(&rows, checked, printer.color_stdout()),
        DnsFormat::Json => format!("{:#}", dns::json(&hostname, checked, &rows)),
        DnsFormat::Bind => dns::bind(&rows),
    });
    let failed = rows.iter().filter(|r| r.failed()).count();
    if checked && failed > 0 {
        printer.err(&format!("{failed} required record(s) missing or wrong"));
        return Ok(ExitStatus::Changes);
    }
    Ok(ExitStatus::Success)
}

/// What `dns` reads from the server.
struct Live {
    /// Per domain, the live DKIM selector (if any) and public key.
    dkim: HashMap<String, (Option<String>, String)>,
    /// Per domain, its active MTA-STS policy.
    mta_sts: HashMap<String, MtaStsId>,
}

/// `dns` never creates a database: a SQLite target that does not exist yet has no keys.
async fn live_state(args: &Args, settings: &SettingsFile, printer: Printer) -> Result<Live, DnsError> {
    let targs = TargetArgs {
        dir: args.dir.clone(),
        target: args.target.clone(),
        redis: args.redis.clone(),
        memcached: None,
        allow_delete: Vec::new(),
        force: false,
        refresh_forwarding_hosts: false,
        lock_timeout: 0,
        mailcow_dir: None,
    };
    let (db, kv, _) = connect(&targs, settings, printer).await?;
    let read = |e: &dyn std::fmt::Display| DnsError::Read(e.to_string());
    let selectors = kv.hgetall("DKIM_SELECTORS").await.map_err(|e| read(&e))?;
    let public = kv.hgetall("DKIM_PUB_KEYS").await.map_err(|e| read(&e))?;
    let policies = match db.query("SELECT domain, version, id FROM mta_sts WHERE active = 1", &[]).await {
        Ok(rows) => rows,
        // An embedded file from before mailplane managed MTA-STS has none.
        Err(e) if db.read_only() && e.to_string().contains("no such table") => Vec::new(),
        Err(e) => return Err(read(&e)),
    };
    db.close().await;
    let text = |c: &Option<String>| c.clone().unwrap_or_default();
    // mailcow shows the stored `stsv1` as `STSv1`, the only version there is.
    let version = |v: String| if v.eq_ignore_ascii_case("stsv1") { "STSv1".to_string() } else { v };
    Ok(Live {
        dkim: public.into_iter().filter(|(_, p)| !p.is_empty()).map(|(d, p)| (d.clone(), (selectors.get(&d).cloned(), p))).collect(),
        mta_sts: policies.iter().filter_map(|r| Some((text(r.first()?), MtaStsId::Live { version: version(text(r.get(1)?)), id: text(r.get(2)?) }))).collect(),
    })
}

/// The environment variable naming the DNS server (`IP:PORT`) that plans ask about forwarding
/// host names; the system's resolver otherwise.
pub const RESOLVER_ENV: &str = "MAILPLANE_DNS_RESOLVER";

/// Resolves the declared forwarding host names that need it (`kinds::fwdhost::resolve_names`),
/// blocking: call it off the async runtime.
/// The start of the error when a forwarding host's name cannot be looked up.
pub const UNRESOLVED_FORWARDING: &str = "cannot resolve forwarding hosts";

pub fn resolve_forwarding_hosts(desired: &mut crate::kinds::Desired, live: &[crate::record::Record], refresh: bool) -> Result<(), Vec<String>> {
    let server = match std::env::var(RESOLVER_ENV) {
        Ok(s) => Some(s.parse::<SocketAddr>().map_err(|_| vec![format!("{RESOLVER_ENV}=`{s}` is not an IP:PORT")])?),
        Err(_) => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| vec![e.to_string()])?;
    let dns = Lookups { rt: &rt, resolver: resolver(server).map_err(|e| vec![e])? };
    // After one failed lookup DNS is taken to be down: each further one would wait as long.
    let mut down: Option<String> = None;
    crate::kinds::fwdhost::resolve_names(desired, live, refresh, |name| {
        let mut failed = down.clone();
        let found = crate::dns::forwarding_addresses(name, &mut |n, t| match &failed {
            Some(_) => Vec::new(),
            None => dns.get(n, t).unwrap_or_else(|e| {
                failed = Some(e);
                Vec::new()
            }),
        });
        down.clone_from(&failed);
        match failed {
            Some(e) => Err(e),
            None => Ok(found),
        }
    })
}

fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
    let mut builder = match server {
        Some(addr) => {
            let conn = |mut c: ConnectionConfig| {
                c.port = addr.port();
                c
            };
            let ns = NameServerConfig::new(addr.ip(), true, vec![conn(ConnectionConfig::udp()), conn(ConnectionConfig::tcp())]);
            Resolver::builder_with_config(ResolverConfig::from_parts(None, vec![], vec![ns]), TokioRuntimeProvider::default())
        }
        None => TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?,
    };
    let opts = builder.options_mut();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    builder.build().map_err(|e| format!("cannot set up the DNS resolver: {e}"))
}

struct Lookups<'a> {
    rt: &'a tokio::runtime::Runtime,
    resolver: TokioResolver,
}

impl Lookups<'_> {
    /// The values of one name and type, as `dns` compares them; no records is an empty list.
    fn get(&self, name: &str, t: RType) -> Result<Vec<String>, String> {
        let rtype = match t {
            RType::A => RecordType::A,
            RType::AAAA => RecordType::AAAA,
            RType::CNAME => RecordType::CNAME,
            RType::MX => RecordType::MX,
            RType::TXT => RecordType::TXT,
            RType::SRV => RecordType::SRV,
            RType::TLSA => RecordType::TLSA,
        };
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.rt.block_on(self.resolver.lookup(fqdn.as_str(), rtype)) {
            Ok(found) => Ok(found.answers().iter().filter(|r| r.record_type() == rtype).map(|r| text(&r.data)).collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(format!("DNS lookup of {name} {}: {e}", t.as_str())),
        }
    }
}

/// Record data as text: TXT strings joined (as DKIM and SPF read them), names without the final dot.
fn text(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}

fn check(rows: &mut [Row], hostname: &str, dns: &Lookups) -> Result<(), String> {
    let mut host_ips: Vec<IpAddr> = Vec::new();
    for t in [RType::A, RType::AAAA] {
        host_ips.extend(dns.get(hostname, t)?.iter().filter_map(|a| a.parse::<IpAddr>().ok()));
    }
    for row in rows {
        let e = &row.expected;
        let mut found = dns.get(&e.name, e.rtype)?;
        if e.rtype == RType::CNAME && found.is_empty() {
            // As in mailcow, an A record with the server's address does instead of the CNAME.
            let a = dns.get(&e.name, RType::A)?;
            if a.iter().any(|x| x.parse().is_ok_and(|ip| host_ips.contains(&ip))) {
                found = vec![hostname.to_string()];
            } else {
                found = a;
            }
        }
        let found = dns::relevant(e, found);
        let mut lookup = |n: &str, t: RType| dns.get(n, t).unwrap_or_default();
        row.status = Some(dns::judge(e, &found, &host_ips, &mut lookup));
        row.found = Some(found);
    }
    Ok(())
}
