//! DKIM keys of domains and alias domains, kept in Redis like mailcow: DKIM_SELECTORS[domain],
//! DKIM_PUB_KEYS[domain] (the public key's base64 DER, no PEM lines) and
//! DKIM_PRIV_KEYS["selector.domain"] (PKCS#8 PEM; a supplied key as given, PKCS#1 too). A key is generated when a domain is created;
//! an existing key is never replaced unless the declared selector changes (rotation) or a
//! different key is supplied. Private keys exist only inside apply: never in records or plans.

use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::export::{Export, loc};
use super::{Desired, KindSpec, Output, Resolver, SecretSource, WriteCtx, WriteError, token};
use crate::change::{Action, Change};
use crate::live::LiveData;
use crate::model::dkim_key::{public_b64, public_key};
use crate::model::names::normalize_domain;
use crate::model::{Kind, Secret};
use crate::record::{Record, SecretToken, Value};

pub const DKIM_KEY: KindSpec = KindSpec {
    kind: Kind::DkimKey,
    warn: super::no_check,
    queries: &[],
    hashes: &["DKIM_SELECTORS", "DKIM_PUB_KEYS"],
    strings: &[],
    // A domain's key comes with the domain: not counted as an object of its own.
    count: |_| 0,
    desired,
    live,
    write,
    export,
    disabled: super::never_off,
    protected: &[],
    destroys_mail: false,
    check: super::no_check,
    validate: super::no_rules,
    domain_of: super::no_domain,
    mailbox_of: super::no_mailbox,
    vacant: super::never_vacant,
};

fn record(domain: &str, selector: &str, bits: u32, key: Value) -> Record {
    Record::new(Kind::DkimKey, domain).with("selector", Value::text(selector)).with("key_size", Value::Int(i64::from(bits))).with("key", key)
}

/// A key to generate: its size matters only when it is made, so it never counts as a change.
fn generated(bits: u32) -> Value {
    Value::Secret(Box::new(SecretToken { token: format!("generate {bits}"), create_only: true }))
}

/// A DKIM key that a domain or an alias domain declares (or gets by default).
pub struct Declared {
    pub domain: String,
    pub selector: String,
    pub bits: u32,
    /// `dkim_private_key`.
    pub supplied: Option<Secret>,
    /// Whether selector or size were declared (by the domain or its template): if not, the
    /// domain keeps whatever key it has (see `keep_live_keys`).
    pub explicit: bool,
}

/// Every declared DKIM key: each domain's (selector and size from the domain or its template),
/// then those of its alias domains that ask for one.
pub fn declared(r: &Resolver) -> Vec<Declared> {
    let mut out = Vec::new();
    for doc in &r.docs {
        for d in &doc.domains {
            let Ok(name) = normalize_domain(&d.name) else { continue };
            let template = d.template.as_ref().map_or("Default", |t| t.as_str());
            let t = r.docs.iter().flat_map(|doc| doc.domain_templates.iter()).find(|x| x.name.value == template);
            // Declared by the domain or its template; mailcow's defaults fill in the rest.
            let own = [Some(d.settings()), t.map(|t| t.settings())];
            let explicit = d.dkim_private_key.is_some() || own.iter().flatten().any(|s| s.dkim_selector.is_some() || s.dkim_key_size.is_some());
            let s = d.settings().effective(t.map(|t| t.settings()).as_ref());
            let (selector, bits) = (s.dkim_selector.map_or_else(|| "dkim".into(), |x| x.value), s.dkim_key_size.map_or(2048, |x| x.value));
            let supplied = d.dkim_private_key.as_ref().map(|k| k.value.clone());
            out.push(Declared { domain: name, selector, bits, supplied, explicit });
            for ad in d.alias_domains.iter().filter(|a| a.dkim_selector.is_some()) {
                let Ok(adn) = normalize_domain(&ad.name) else { continue };
                let selector = ad.dkim_selector.as_ref().map_or_else(|| "dkim".into(), |x| x.value.clone());
                out.push(Declared { domain: adn, selector, bits: ad.dkim_key_size.as_ref().map_or(2048, |x| x.value), supplied: None, explicit: true });
            }
        }
    }
    out
}

fn desired(r: &mut Resolver, out: &mut Desired) {
    for d in declared(r) {
        let (key, bits) = match &d.supplied {
            Some(k) => supplied(r, out, &d.domain, k).unwrap_or((token(""), d.bits)),
            None => (generated(d.bits), d.bits),
        };
        if !d.explicit {
            out.dkim_defaulted.insert(d.domain.clone());
        }
        out.records.push(record(&d.domain, &d.selector, bits, key));
    }
}

/// A domain that declares nothing about DKIM keeps the key it has, whatever its selector and
/// size (a server adopted with selector `s2024` and 1024 bits): only a declared selector or
/// size that differs rotates the key, since a new key breaks signing until DNS follows.
pub fn keep_live_keys(desired: &mut Desired, live: &[Record]) {
    if desired.dkim_defaulted.is_empty() {
        return;
    }
    let live: std::collections::HashMap<&str, &Record> = live.iter().filter(|r| r.kind == Kind::DkimKey).map(|r| (r.key.as_str(), r)).collect();
    let defaulted = std::mem::take(&mut desired.dkim_defaulted);
    for r in desired.records.iter_mut().filter(|r| r.kind == Kind::DkimKey && defaulted.contains(&r.key)) {
        if let Some(l) = live.get(r.key.as_str()) {
            r.set("selector", Value::text(l.text("selector")));
            r.set("key_size", Value::Int(l.int("key_size")));
        }
    }
    desired.dkim_defaulted = defaulted;
}

/// A supplied private key: compared by its public half, so the same key is no change; its size
/// is the key's own, which is what the server shows afterwards.
fn supplied(r: &mut Resolver, out: &mut Desired, domain: &str, secret: &Secret) -> Option<(Value, u32)> {
    let secret = secret.clone();
    match r.revealed.get(&secret).map_err(|e| e.to_string()).and_then(|pem| public_key(&pem)) {
        Ok((public, bits)) => {
            out.secrets.insert((Kind::DkimKey, domain.to_string(), "key"), SecretSource::Clear(secret));
            Some((token(&public), bits))
        }
        Err(e) => {
            r.secret_errors.push(format!("dkim_key `{domain}`: {e}"));
            None
        }
    }
}

fn live(l: &LiveData, out: &mut Vec<Record>) {
    let Some(selectors) = l.kv.get("DKIM_SELECTORS") else { return };
    let public = l.kv.get("DKIM_PUB_KEYS");
    for (domain, selector) in selectors {
        let key = public.and_then(|p| p.get(domain)).map(String::as_str).unwrap_or("");
        out.push(record(domain, selector, key_bits(key), token(key)));
    }
    out.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
}

/// The modulus size of a stored public key (0 when unreadable).
fn key_bits(public_b64: &str) -> u32 {
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    base64::engine::general_purpose::STANDARD
        .decode(public_b64)
        .ok()
        .and_then(|der| rsa::PublicKey::from_public_key_der(&der).ok())
        .map_or(0, |k| k.n().bit_width())
}

/// rand 0.9's thread RNG seen through rsa's rand_core 0.10 traits.
struct Rng(rand::rngs::ThreadRng);
impl rsa::rand_core::TryRng for Rng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(rand::RngCore::next_u32(&mut self.0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(rand::RngCore::next_u64(&mut self.0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand::RngCore::fill_bytes(&mut self.0, dst);
        Ok(())
    }
}
impl rsa::rand_core::TryCryptoRng for Rng {}

fn generate(bits: u32) -> Result<String, WriteError> {
    let key = rsa::PrivateKey::new(&mut Rng(rand::rng()), bits as usize).map_err(|e| WriteError::Dkim(e.to_string()))?;
    Ok(key.to_pkcs8_pem(LineEnding::LF).map_err(|e| WriteError::Dkim(e.to_string()))?.trim().to_string())
}

/// Generates keys on all cores: ~50-150 ms each, so 1,000 new domains would otherwise take
/// minutes. Apply runs this beside the database transaction (keys only go to Redis).
pub fn generate_all(sizes: &[u32]) -> Vec<Result<String, WriteError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = sizes.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = sizes
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|bits| {
                            let key = generate(*bits);
                            crate::failpoint::failpoint("DKIM key made");
                            key
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("key generation thread panicked")).collect()
    })
}

/// The Redis writes for a domain's key: mailcow's DKIM_SELECTORS, DKIM_PUB_KEYS, DKIM_PRIV_KEYS.
pub fn store(domain: &str, selector: &str, private: &str, out: &mut Output) -> Result<(), WriteError> {
    let public = public_b64(private).map_err(WriteError::Dkim)?;
    out.effects.remove(&super::Effect::Hdel { key: "DKIM_PRIV_KEYS", field: format!("{selector}.{domain}") });
    out.hset("DKIM_SELECTORS", domain, selector);
    out.hset("DKIM_PUB_KEYS", domain, &public);
    out.hset("DKIM_PRIV_KEYS", &format!("{selector}.{domain}"), private);
    Ok(())
}

fn write(c: &Change, ctx: &mut WriteCtx, out: &mut Output) -> Result<(), WriteError> {
    let d = c.key.as_str();
    let old_selector = c.live.as_ref().map(|l| l.text("selector").to_string());
    if let Some(old) = &old_selector {
        out.hdel("DKIM_PRIV_KEYS", &format!("{old}.{d}"));
    }
    match (&c.desired, c.action) {
        (Some(r), Action::Create | Action::Update) => {
            let supplied = ctx.secret(Kind::DkimKey, d, "key")?;
            let selector = r.text("selector");
            if supplied.is_empty() {
                // Generated while the transaction runs, stored with `store` after it.
                out.effects.remove(&super::Effect::Hdel { key: "DKIM_PRIV_KEYS", field: format!("{selector}.{d}") });
                out.effects.insert(super::Effect::DkimGenerate { domain: d.to_string(), selector: selector.to_string(), bits: r.int("key_size") as u32 });
            } else {
                store(d, selector, supplied.trim(), out)?;
            }
        }
        _ => {
            out.hdel("DKIM_SELECTORS", d);
            out.hdel("DKIM_PUB_KEYS", d);
        }
    }
    Ok(())
}

/// A key under another selector or size than mailcow's default is written out, so that the
/// export says what the server has (a domain that declares nothing keeps its key anyway).
fn export(x: &mut Export, r: &Record) {
    let (selector, bits) = (r.text("selector"), r.int("key_size") as u32);
    let size = (bits != 0 && bits != 2048).then_some(bits);
    if let Some(d) = x.domains.get_mut(&r.key) {
        d.dkim_selector = (selector != "dkim").then(|| loc(selector.to_string()));
        d.dkim_key_size = size.map(loc);
    } else if let Some(ad) = x.domains.values_mut().flat_map(|d| d.alias_domains.iter_mut()).find(|a| a.name.value == r.key) {
        ad.dkim_selector = Some(loc(selector.to_string()));
        ad.dkim_key_size = size.map(loc);
    }
}
