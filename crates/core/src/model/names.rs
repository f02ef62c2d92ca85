//! Name rules mailcow applies: domains (lowercase, IDN → ASCII), local parts, addresses.

/// Lowercases, converts an IDN to its ASCII form, and checks mailcow's domain syntax.
pub fn normalize_domain(input: &str) -> Result<String, String> {
    let lower = input.trim().to_lowercase();
    if lower.is_empty() {
        return Err("a domain name cannot be empty".into());
    }
    // Plain ASCII names (nearly all of them) are their own ASCII form; IDNA is slow at 100,000s of calls.
    let plain = lower.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') && !lower.contains("xn--");
    let ascii = if plain { lower } else { idna::domain_to_ascii(&lower).map_err(|_| format!("`{input}` is not a valid domain name"))? };
    check_domain_syntax(&ascii).map_err(|why| format!("`{input}` is not a valid domain name: {why}"))?;
    Ok(ascii)
}

/// mailcow's rule: labels of letters, digits and inner hyphens; ≤ 63 per label, ≤ 253 in all.
fn check_domain_syntax(d: &str) -> Result<(), &'static str> {
    if !d.contains('.') && d.len() <= 253 {
        return Err("it needs at least two labels, e.g. `example.org`");
    }
    check_host_labels(d)
}

/// A host name as DNS allows it: like a domain, but a single label (`relay`) will do.
pub fn check_host_labels(d: &str) -> Result<(), &'static str> {
    if d.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in d.split('.') {
        if label.is_empty() {
            return Err("it has an empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("only letters, digits and hyphens are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label cannot start or end with a hyphen");
        }
    }
    Ok(())
}

/// The characters an unquoted e-mail local part may hold (RFC 5322 dot-atom), as PHP's FILTER_VALIDATE_EMAIL.
pub fn check_local_part(lp: &str) -> Result<(), String> {
    if lp.is_empty() {
        return Err("the local part is empty".into());
    }
    if lp.len() > 64 {
        return Err(format!("the local part `{lp}` is longer than 64 characters"));
    }
    if lp.starts_with('.') || lp.ends_with('.') || lp.contains("..") {
        return Err(format!("the local part `{lp}` has a leading, trailing or doubled dot"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    if let Some(bad) = lp.chars().find(|c| !ok(*c)) {
        return Err(format!("the local part `{lp}` contains `{bad}`, which an address cannot hold unquoted"));
    }
    Ok(())
}

/// mailcow's address columns (`alias.address`, `mailbox.username`, the map columns) are VARCHAR(255).
pub const ADDRESS_LIMIT: usize = 255;

/// Splits and normalises `local@domain`: the domain as [`normalize_domain`], the local part kept as written.
pub fn normalize_address(input: &str) -> Result<(String, String), String> {
    let input = input.trim();
    let (local, domain) = input.rsplit_once('@').ok_or_else(|| format!("`{input}` is not an e-mail address"))?;
    check_local_part(local)?;
    let domain = normalize_domain(domain).map_err(|e| format!("in `{input}`: {e}"))?;
    check_address_length(local, &domain)?;
    Ok((local.to_string(), domain))
}

/// `local@domain`, or `@domain` (a catch-all alias, a send-as domain), in the form mailcow
/// stores: what kinds key and compare by once validation has accepted the text.
pub fn normalize_address_or_domain(input: &str) -> Result<String, String> {
    let input = input.trim();
    match input.strip_prefix('@') {
        Some(d) => normalize_domain(d).map(|d| format!("@{d}")),
        None => normalize_address(input).map(|(l, d)| address(&l, &d)),
    }
}

/// The stored address `local@domain` must fit mailcow's VARCHAR(255) columns.
pub fn check_address_length(local: &str, domain: &str) -> Result<(), String> {
    let len = local.len() + 1 + domain.len();
    if len > ADDRESS_LIMIT {
        return Err(format!("`{local}@{domain}` is {len} characters long; mailcow stores at most {ADDRESS_LIMIT}"));
    }
    Ok(())
}

/// A Postfix next hop as mailcow writes it into its transport maps: `host`, `host:port`,
/// `[host]` or `[host]:port`, where host is a host name or an IP address (IPv6 only in brackets,
/// or bare without a port) and port is 1..65535.
pub fn check_nexthop(input: &str) -> Result<(), String> {
    let hop = input.trim();
    let bad = |why: &str| Err(format!("`{}` is not a next hop: {why}", printable(hop)));
    if hop.is_empty() {
        return bad("it is empty");
    }
    if hop.chars().any(|c| c.is_control() || c.is_whitespace() || c == ',') {
        return bad("it contains a space, a comma or a control character");
    }
    if hop.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let (host, port, bracketed) = match hop.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, p)) => (h, p, true),
            None => return bad("the `[` is not closed"),
        },
        None => match hop.rsplit_once(':') {
            Some((h, _)) => (h, &hop[h.len()..], false),
            None => (hop, "", false),
        },
    };
    if !port.is_empty() {
        let ok = port.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()).is_some_and(|p| p >= 1);
        if !ok {
            return bad("the port must be a number from 1 to 65535, written `[host]:port`");
        }
    }
    let ip = host.parse::<std::net::IpAddr>();
    if ip.as_ref().is_ok_and(|ip| ip.is_ipv6()) && !bracketed {
        return bad("an IPv6 address with a port must be in brackets, e.g. `[2001:db8::1]:25`");
    }
    if ip.is_err() {
        check_host_labels(&host.to_ascii_lowercase()).or_else(bad)?;
    }
    Ok(())
}

/// Text as it can be shown in one line of a message: control characters escaped, the rest as written.
pub fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

pub fn address(local: &str, domain: &str) -> String {
    format!("{local}@{domain}")
}

/// The domain part of an address or `@domain`.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or(address)
}

/// Whether `host` is an IP address or a CIDR network (not a host name): mailcow's `valid_network`.
pub fn is_network(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let Some((ip, bits)) = host.split_once('/') else { return false };
    // PHP's `^\d+$`, then intval.
    let Some(bits) = bits.bytes().all(|c| c.is_ascii_digit()).then(|| bits.parse::<u32>().ok()).flatten() else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_and_punycoded() {
        assert_eq!(normalize_domain(" Example.ORG ").unwrap(), "example.org");
        assert_eq!(normalize_domain("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert!(normalize_domain("exa_mple.org").is_err());
        // The ASCII fast path and IDNA agree; punycode labels still go through IDNA.
        for d in ["mx-1.example.org", "ab--cd.example", "xn--bcher-kva.example"] {
            assert_eq!(normalize_domain(d).unwrap(), idna::domain_to_ascii(d).unwrap());
        }
        assert!(normalize_domain("xn--zz.example").is_err());
        assert!(normalize_domain("-a.org").is_err());
        assert!(normalize_domain("localhost").is_err());
    }

    #[test]
    fn addresses_keep_their_local_part() {
        assert_eq!(normalize_address("Info@Example.org").unwrap(), ("Info".into(), "example.org".into()));
        assert!(normalize_address("a..b@example.org").is_err());
        assert!(normalize_address("a b@example.org").is_err());
        assert!(normalize_address("nobody").is_err());
        let long = format!("{}@{}.example", "a".repeat(64), ["b".repeat(63), "c".repeat(63), "d".repeat(63)].join("."));
        assert!(normalize_address(&long).unwrap_err().contains("at most 255"));
    }

    #[test]
    fn next_hops_are_checked_like_postfix_reads_them() {
        for ok in ["[smtp.example.com]:587", "smtp.example.com", "relay", "relay:25", "[192.0.2.1]", "192.0.2.1", "2001:db8::1", "[2001:db8::1]:25"] {
            assert_eq!(check_nexthop(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "[a.example]:99999",
            "[a.example]:0",
            "a.example:x",
            "'; DROP TABLE transports; --",
            "a.example\nrelay_domains = *",
            "[a.example",
            "a b",
            "a,b",
            "a_b.example",
        ] {
            assert!(check_nexthop(bad).is_err(), "{bad}");
        }
    }
}
