//! The outbound address policy: where the server may connect when the address came from a
//! person or an admin (a Jira or Confluence site URL, a self-hosted base URL).
//!
//! - `https` only; plain `http` only to loopback when loopback is allowed (`--dev`, tests) or to
//!   an origin an admin allow-listed with its scheme;
//! - the addresses a name resolves to are checked, every one of them: no loopback, private,
//!   link-local, shared (CGNAT), multicast, broadcast, reserved or unspecified address, IPv4 or
//!   IPv6, IPv4-mapped and NAT64 forms included;
//! - the connection uses the addresses that were checked (every outbound HTTP client is built
//!   by [`OutboundPolicy::client_builder`], which resolves through [`OutboundPolicy::resolver`]
//!   and takes no proxy from the environment, where a proxy would resolve the name itself), so
//!   a name that changes its answer between the check and the connection (DNS rebinding)
//!   cannot reach a refused address;
//! - admins allow hosts of their private network (self-hosted Sentry, an MCP server) by name.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Where outbound calls may go. The default refuses every private and loopback address.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Loopback addresses (and `http` to them) are allowed: `--dev` and tests only.
    pub allow_loopback: bool,
    /// Hosts an admin allowed inside the private network: `jira.corp.internal` (https, any
    /// port) or an origin `http://jira.corp.internal:8080` (that scheme and port only).
    pub allowed_hosts: Vec<String>,
}

/// The origin an allow-list entry names, if it is one (`scheme://host[:port][/…]`).
fn allowed_origin(entry: &str) -> Option<url::Origin> {
    let entry = entry.trim();
    entry
        .contains("://")
        .then(|| Url::parse(entry).ok())
        .flatten()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(|url| url.origin())
}

/// Refuses an allow-list entry that looks like an origin and is not one (it would allow
/// nothing, silently).
pub fn check_allowed_entry(entry: &str) -> Result<(), Refused> {
    if entry.contains("://") && !allowed_origin(entry).is_some_and(|o| o.is_tuple()) {
        return Err(Refused(format!(
            "`{}` is neither a host name nor an http(s) origin",
            entry.trim()
        )));
    }
    Ok(())
}

/// How long a name's lookup may take, waiting for a turn included: a name server that never
/// answers holds no request longer (the system's lookup goes on in its blocking thread until
/// it gives up itself).
const LOOKUP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// At most this many lookups in the system's resolver at once, each in a blocking thread of
/// the runtime's pool (which password hashing shares): slow names asked for as fast as the API
/// allows do not fill it.
static LOOKUPS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);

const PUBLIC_ONLY: &str = "credentials are only sent to public addresses (an admin can allow a \
     host of the private network)";

/// Why an address is refused: the rule, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl OutboundPolicy {
    /// Whether `url` may be called, before any connection: its scheme, and its host when the
    /// host is an address. Names are checked when they resolve ([`OutboundPolicy::check`]).
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let host = url
            .host_str()
            .ok_or_else(|| Refused("the URL has no host".into()))?;
        if self.allowed(url) {
            return Ok(());
        }
        // A name allowed only as one origin is called at that origin alone: the resolver, which
        // sees names and not ports, lets its private addresses through, so any other origin is
        // refused here, before any connection. (An address is checked below as it is.)
        let name = matches!(url.host(), Some(url::Host::Domain(_)));
        if name && !self.allowed_bare_name(host) && self.allowed_name(host) {
            return Err(Refused(format!(
                "`{host}` is allowed only at the origin an admin named; {} is not it",
                url.origin().ascii_serialization()
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        let loopback = ip.is_some_and(|ip| ip.is_loopback()) || host == "localhost";
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback && loopback => {}
            "http" => {
                return Err(Refused(format!(
                    "only https:// addresses are called; `{host}` was given with http://"
                )))
            }
            other => return Err(Refused(format!("`{other}:` addresses are not called"))),
        }
        match ip {
            Some(ip) => self.check_ip(ip),
            None => Ok(()),
        }
    }

    /// [`OutboundPolicy::check_url`], then the addresses the host's name resolves to.
    pub async fn check(&self, url: &Url) -> Result<(), Refused> {
        self.check_url(url)?;
        if self.allowed(url) {
            return Ok(());
        }
        match url.host() {
            Some(url::Host::Domain(name)) => self.resolve(name).await.map(drop),
            _ => Ok(()),
        }
    }

    /// Whether an admin allowed this URL's host (or origin: compared as origins, so
    /// `https://jira.corp:443/path` names `https://jira.corp`).
    fn allowed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        self.allowed_hosts
            .iter()
            .any(|entry| match allowed_origin(entry) {
                Some(origin) => origin == url.origin(),
                None => {
                    url.scheme() == "https"
                        && entry
                            .trim()
                            .trim_end_matches('/')
                            .eq_ignore_ascii_case(host)
                }
            })
    }

    /// Whether an admin allowed this name as a bare name (https, any port).
    fn allowed_bare_name(&self, name: &str) -> bool {
        self.allowed_hosts.iter().any(|entry| {
            let entry = entry.trim().trim_end_matches('/').to_ascii_lowercase();
            !entry.contains("://") && entry == name.to_ascii_lowercase()
        })
    }

    /// Whether an admin allowed this name, bare or in an origin: its addresses are not checked.
    fn allowed_name(&self, name: &str) -> bool {
        self.allowed_hosts
            .iter()
            .filter_map(|entry| match allowed_origin(entry) {
                Some(url::Origin::Tuple(_, host, _)) => Some(host.to_string()),
                Some(url::Origin::Opaque(_)) => None,
                None => Some(entry.trim().trim_end_matches('/').to_ascii_lowercase()),
            })
            .any(|host| host == name.to_ascii_lowercase())
    }

    /// The rule an address breaks, if it breaks one.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        match self.rule_broken(ip) {
            Some(why) => Err(Refused(format!("{ip} is {why}; {PUBLIC_ONLY}"))),
            None => Ok(()),
        }
    }

    fn rule_broken(&self, ip: IpAddr) -> Option<&'static str> {
        let why = match ip {
            IpAddr::V4(v4) => v4_rule(v4),
            IpAddr::V6(v6) => v6_rule(v6),
        };
        match why {
            Some("a loopback address") if self.allow_loopback => None,
            why => why,
        }
    }

    /// Resolves `name` and checks every address; all or nothing. A name that cannot be resolved
    /// (in time) and one that resolves to a refused address get the same words: which names of
    /// the private network exist, and what they are, is not told one refusal at a time. A name
    /// an admin allowed is told as it is (they chose it).
    async fn resolve(&self, name: &str) -> Result<Vec<SocketAddr>, Refused> {
        let allowed = self.allowed_name(name);
        let refused = |unresolved: bool| {
            Refused(if allowed && unresolved {
                format!("`{name}` could not be resolved")
            } else {
                format!(
                    "`{name}` could not be resolved, or not to public addresses only; \
                     {PUBLIC_ONLY}"
                )
            })
        };
        let lookup = async {
            let _turn = LOOKUPS.acquire().await;
            tokio::net::lookup_host((name, 0)).await
        };
        let addrs: Vec<SocketAddr> = match tokio::time::timeout(LOOKUP_WAIT, lookup).await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                tracing::info!(name, error = %e, "outbound name not resolved");
                return Err(refused(true));
            }
            Err(_) => {
                tracing::info!(name, "outbound name not resolved in time");
                return Err(refused(true));
            }
        };
        if !allowed {
            for addr in &addrs {
                if let Some(why) = self.rule_broken(addr.ip()) {
                    tracing::debug!(name, address = %addr.ip(), why, "outbound name refused");
                    return Err(refused(false));
                }
            }
        }
        Ok(addrs)
    }

    /// A resolver for the HTTP client that connects only to checked addresses.
    pub fn resolver(&self) -> Arc<CheckedResolver> {
        Arc::new(CheckedResolver(self.clone()))
    }

    /// The start of every outbound HTTP client: names resolved through [`Self::resolver`], and
    /// no proxy from the environment (`HTTPS_PROXY`, `ALL_PROXY`): a proxy resolves the name
    /// itself, where no address is checked.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(self.resolver())
            .no_proxy()
    }
}

/// Resolves names for the HTTP client, refusing any whose addresses the policy refuses.
#[derive(Debug)]
pub struct CheckedResolver(OutboundPolicy);

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn v4_rule(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        "a multicast, broadcast or reserved address"
    } else if (a == 192 && b == 0 && c == 0) || (a == 198 && (18..20).contains(&b)) {
        "a reserved address"
    } else if ip.is_documentation() {
        "a documentation address"
    } else {
        return None;
    })
}

fn v6_rule(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_rule(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return v4_rule(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    Some(if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_unspecified() {
        "an unspecified address"
    } else if ip.is_unique_local()
        // Site-local (fec0::/10, deprecated) and the local-use NAT64 prefix (64:ff9b:1::/48).
        || segments[0] & 0xffc0 == 0xfec0
        || segments[..3] == [0x64, 0xff9b, 1]
    {
        "a private address"
    } else if ip.is_unicast_link_local() {
        "a link-local address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if segments[0] == 0 {
        // ::/8 but the above: IPv4-compatible and other reserved forms.
        "a reserved address"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> OutboundPolicy {
        OutboundPolicy::default()
    }

    fn refused(policy: &OutboundPolicy, url: &str) -> bool {
        policy.check_url(&Url::parse(url).expect(url)).is_err()
    }

    #[test]
    fn private_loopback_and_odd_spellings_of_them_are_refused() {
        let p = strict();
        for url in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://example.com@127.0.0.1/",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[fec0::1]/",
            "https://[64:ff9b:1::a00:1]/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "http://jira.example.com/",
            "ftp://jira.example.com/",
        ] {
            assert!(refused(&p, url), "{url} was allowed");
        }
        for url in [
            "https://jira.example.com/",
            "https://93.184.216.34/",
            "https://[2606:4700::1111]/",
        ] {
            assert!(!refused(&p, url), "{url} was refused");
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_asked_and_allow_listed_hosts_pass() {
        let dev = OutboundPolicy {
            allow_loopback: true,
            ..Default::default()
        };
        assert!(!refused(&dev, "http://127.0.0.1:8080/"));
        assert!(!refused(&dev, "http://localhost:8080/"));
        assert!(refused(&dev, "http://10.0.0.1/"));
        assert!(refused(&dev, "http://jira.example.com/"));
        let admin = OutboundPolicy {
            allow_loopback: false,
            allowed_hosts: vec!["jira.corp.internal".into(), "http://10.1.2.3:8080".into()],
        };
        assert!(!refused(&admin, "https://jira.corp.internal/"));
        assert!(refused(&admin, "http://jira.corp.internal/"));
        assert!(!refused(&admin, "http://10.1.2.3:8080/"));
        assert!(refused(&admin, "http://10.1.2.3:8081/"));
        assert!(refused(&admin, "https://10.1.2.4/"));
        // A name allowed as one origin: that origin only, not its other ports over https
        // (whose private addresses the resolver would let through).
        let origin = OutboundPolicy {
            allow_loopback: false,
            allowed_hosts: vec!["http://jira.corp.internal:8080".into()],
        };
        assert!(!refused(&origin, "http://jira.corp.internal:8080/rest"));
        assert!(refused(&origin, "https://jira.corp.internal:6379/"));
        assert!(refused(&origin, "https://jira.corp.internal/"));
        // Origins compare as origins: a default port written out, a path, a case.
        let spelled = OutboundPolicy {
            allow_loopback: false,
            allowed_hosts: vec![
                "https://Jira.Corp.Internal:443".into(),
                "https://sentry.corp.internal/sentry/".into(),
            ],
        };
        assert!(!refused(&spelled, "https://jira.corp.internal/rest/api"));
        assert!(!refused(&spelled, "https://sentry.corp.internal/api/0/"));
        assert!(refused(&spelled, "https://jira.corp.internal:8443/"));
        assert!(check_allowed_entry("https://jira.corp.internal:443").is_ok());
        assert!(check_allowed_entry("jira.corp.internal").is_ok());
        assert!(check_allowed_entry("https://").is_err());
        assert!(check_allowed_entry("ftp:/x://y").is_err());
    }

    #[tokio::test]
    async fn a_name_is_checked_by_what_it_resolves_to() {
        let p = strict();
        let err = p
            .check(&Url::parse("https://localhost:9/").expect("url"))
            .await
            .expect_err("localhost resolves to loopback");
        assert!(
            err.0
                .contains("could not be resolved, or not to public addresses only"),
            "{err}"
        );
        // Never the address, nor which rule it broke, nor whether the name exists: the names
        // of the private network are not mapped one refusal at a time.
        assert!(
            !err.0.contains("127.0.0.1") && !err.0.contains("::1") && !err.0.contains("loopback"),
            "{err}"
        );
        let unknown = p
            .check(&Url::parse("https://no-such-name.invalid/").expect("url"))
            .await
            .expect_err("no such name");
        assert_eq!(
            unknown.0.replace("no-such-name.invalid", "localhost"),
            err.0,
            "a name that does not exist reads as one that resolves to a refused address"
        );
        let allowed = OutboundPolicy {
            allowed_hosts: vec!["localhost".into(), "no-such-name.invalid".into()],
            ..Default::default()
        };
        assert!(allowed
            .check(&Url::parse("https://localhost:9/").expect("url"))
            .await
            .is_ok());
        // A name an admin allowed is told as it is when it is connected to: they chose it.
        let unresolved = allowed
            .resolve("no-such-name.invalid")
            .await
            .expect_err("no such name");
        assert_eq!(unresolved.0, "`no-such-name.invalid` could not be resolved");
    }
}
