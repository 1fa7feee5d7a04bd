//! How records are keyed. Tokens are keyed by the SHA-256 of their value, never by the
//! value itself, so a leaked table or log line holds nothing a caller can present.
//! Composite keys join escaped parts with `#`, so no identifier can be crafted to collide
//! with another tenant's or another field's key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a token or credential, shown as unpadded base64url (43 characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Parses the base64url form an authorization server may send instead of the token.
    pub fn parse(encoded: &str) -> Result<Self, InvalidTokenHash> {
        if encoded.len() != 43 {
            return Err(InvalidTokenHash);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| InvalidTokenHash)?;
        bytes.try_into().map(Self).map_err(|_| InvalidTokenHash)
    }

    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Compares in constant time, so a response's timing says nothing about how much of a
    /// guessed credential matched.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// A small number derived from the hash, used to spread one hour's expiries over
    /// several index partitions.
    pub fn shard(&self, shards: u8) -> u8 {
        self.0[0] % shards
    }
}

impl std::fmt::Display for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.encoded())
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({})", self.encoded())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a token hash is the unpadded base64url SHA-256 of the token (43 characters)")]
pub struct InvalidTokenHash;

/// A fresh secret: 32 random bytes, base64url, behind a prefix that names what it is (so
/// secret scanners and people can recognise a leaked one).
pub fn generate_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Joins parts into one key, escaping `%` and `#` in each so the result splits back
/// unambiguously.
pub fn compose(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('#');
        }
        for c in part.chars() {
            match c {
                '%' => out.push_str("%25"),
                '#' => out.push_str("%23"),
                c => out.push(c),
            }
        }
    }
    out
}

/// Tenant (service/project) identifiers: 1-128 characters of `A-Z a-z 0-9 . _ -`.
/// Authlete service ids are numbers and Descope project ids are alphanumeric; both fit.
pub fn valid_tenant_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn tenant_pk(tenant: &str) -> String {
    compose(&["tenant", tenant])
}

pub fn credential_pk(hash: &TokenHash) -> String {
    compose(&["credential", &hash.encoded()])
}

pub fn token_pk(tenant: &str, hash: &TokenHash) -> String {
    compose(&["token", tenant, &hash.encoded()])
}

/// The session item: touched by every registration of a token bound to the session, and
/// marked ended by logout (see [`crate::sessions`]).
pub fn session_pk(tenant: &str, session_id: &str) -> String {
    compose(&["session", tenant, session_id])
}

/// The user item: marks when the user was last logged out everywhere (see
/// [`crate::revocation`]).
pub fn user_pk(tenant: &str, user: &str) -> String {
    compose(&["user", tenant, user])
}

/// The user's audience: the clients that held a token of the user, whom a logout-all
/// tells (see [`crate::audiences`]).
pub fn audience_pk(tenant: &str, user: &str) -> String {
    compose(&["audience", tenant, user])
}

/// The clients and sessions that held a token of a device's user (NetIQ's device binding),
/// for the device's revocation to tell.
pub fn device_audience_pk(
    tenant: &str,
    device_id: &str,
    user_store: &str,
    user_dn: &str,
) -> String {
    compose(&["device-audience", tenant, device_id, user_store, user_dn])
}

/// Splits a key [`compose`] made back into its parts; `None` if an escape is broken.
pub fn decompose(key: &str) -> Option<Vec<String>> {
    key.split('#')
        .map(|part| {
            let mut out = String::with_capacity(part.len());
            let mut rest = part;
            while let Some(at) = rest.find('%') {
                out.push_str(&rest[..at]);
                match rest.get(at..at + 3) {
                    Some("%25") => out.push('%'),
                    Some("%23") => out.push('#'),
                    _ => return None,
                }
                rest = &rest[at + 3..];
            }
            out.push_str(rest);
            Some(out)
        })
        .collect()
}

/// The grant item: marks when the grant was last revoked.
pub fn grant_pk(tenant: &str, grant: &str) -> String {
    compose(&["grant", tenant, grant])
}

/// The device item: marks when a device's tokens for one user were last revoked.
pub fn device_user_pk(tenant: &str, device_id: &str, user_store: &str, user_dn: &str) -> String {
    compose(&["device", tenant, device_id, user_store, user_dn])
}

/// How many copies of a tenant's or a client's cutoff are written, atomically. Every
/// lookup of a token of the tenant (or the client) reads one, so a single item would cap
/// the tenant's lookups at one partition's 3,000 read units a second; a lookup reads the
/// copy its token's hash picks, which spreads them over 16 items (48,000 a second).
/// Lowering it is safe; raising it would leave the new copies without the cutoffs already
/// written, so a raise must first copy every cutoff to the new copies.
pub const CUTOFF_COPIES: u8 = 16;

/// One copy of the tenant's cutoff: every token of the tenant issued at or before it is
/// gone (see [`crate::cutoffs`]).
pub fn tenant_cutoff_pk(tenant: &str, copy: u8) -> String {
    compose(&["cutoff", tenant, "tenant", &copy.to_string()])
}

/// One copy of a client's cutoff: every token issued to the client at or before it is gone.
pub fn client_cutoff_pk(tenant: &str, client_id: &str, copy: u8) -> String {
    compose(&["cutoff", tenant, "client", client_id, &copy.to_string()])
}

/// A client and subject's cutoff (a user removing an app's access): every token issued to
/// the client for the subject at or before it is gone. Read by that user's lookups only,
/// so one copy.
pub fn client_subject_cutoff_pk(tenant: &str, client_id: &str, subject: &str) -> String {
    compose(&["cutoff", tenant, "client-subject", client_id, subject])
}

pub fn client_pk(tenant: &str, client_id: &str) -> String {
    compose(&["client", tenant, client_id])
}

/// The housekeeping cursor: where the next sweep of expired records starts.
pub fn housekeeping_pk() -> String {
    compose(&["housekeeping", "cursor"])
}

/// Partition key of the by-session, by-subject, by-grant and by-device indexes, which are
/// all tenant-scoped (by-expiry, for housekeeping, is the one global index).
pub fn tenant_scoped(tenant: &str, value: &str) -> String {
    compose(&[tenant, value])
}

/// Sort key of the by-device index: the user a device's tokens were issued to.
pub fn device_user(user_store: &str, user_dn: &str) -> String {
    compose(&[user_store, user_dn])
}

/// Partition key of the by-expiry index: the hour of expiry and a shard, so housekeeping
/// reads only the hours that have passed and no hour's writes pile onto one partition.
pub fn expiry_bucket(expires_at: i64, shard: u8) -> String {
    format!("{}#{shard}", expires_at.div_euclid(3600))
}

pub const EXPIRY_SHARDS: u8 = 8;

/// How many partitions of the by-tenant index a tenant's tokens are spread over. A purge
/// walks (and its deletes leave) every one in parallel, so one index partition's 1,000
/// writes a second do not cap it: 64 shards let a purge use a table pre-warmed to 40,000
/// writes a second (docs/revoke-by-identity.md). Changing it strands the entries already
/// written under the old count, so it is fixed.
pub const PURGE_SHARDS: u8 = 64;

/// Partition key of the by-tenant index: the tenant and a shard of the token's hash.
pub fn tenant_shard(tenant: &str, shard: u8) -> String {
    compose(&[tenant, &shard.to_string()])
}

/// How many partitions of the by-client index one client's tokens are spread over: 16,000
/// index writes a second for one client's registrations. Fixed, like [`PURGE_SHARDS`].
pub const CLIENT_SHARDS: u8 = 16;

/// Partition key of the by-client index: the tenant, the client and a shard of the
/// token's hash.
pub fn client_shard(tenant: &str, client_id: &str, shard: u8) -> String {
    compose(&[tenant, client_id, &shard.to_string()])
}

/// Sort key of the by-tenant index: the subject's and the client's SHA-256 (fixed length,
/// so any identifier fits DynamoDB's 1,024-byte sort key) and the issue time, zero-padded
/// so that the string order is the time order. A user's tokens are the prefix
/// [`subject_sort_prefix`] of each shard (the most frequent purge: a user logged out
/// everywhere), a client and subject's the prefix [`subject_client_sort_prefix`]; a
/// client's and a tenant's purge reads whole shards and keeps what [`TenantSortKey`]
/// says is theirs.
pub fn subject_client_issued(subject: Option<&str>, client_id: &str, issued_at: i64) -> String {
    format!(
        "{}{:020}",
        subject_client_sort_prefix(subject.unwrap_or(""), client_id),
        issued_at.max(0)
    )
}

/// The by-tenant sort key prefix of every token of a subject (no subject: `""`).
pub fn subject_sort_prefix(subject: &str) -> String {
    format!("{}#", TokenHash::of(subject).encoded())
}

/// The by-tenant sort key prefix of every token of a subject from a client.
pub fn subject_client_sort_prefix(subject: &str, client_id: &str) -> String {
    format!(
        "{}{}#",
        subject_sort_prefix(subject),
        TokenHash::of(client_id).encoded()
    )
}

/// A by-tenant sort key, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantSortKey<'a> {
    pub subject_hash: &'a str,
    pub client_hash: &'a str,
    pub issued_at: i64,
}

impl<'a> TenantSortKey<'a> {
    pub fn parse(sort_key: &'a str) -> Option<Self> {
        let mut parts = sort_key.split('#');
        let key = Self {
            subject_hash: parts.next()?,
            client_hash: parts.next()?,
            issued_at: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(key)
    }

    /// Whether the token is the client's.
    pub fn is_client(&self, client_id: &str) -> bool {
        self.client_hash == TokenHash::of(client_id).encoded()
    }
}

/// A tenant's status list allocator: the list being filled and its next free index
/// (see [`crate::status_lists`]).
pub fn status_allocator_pk(tenant: &str) -> String {
    compose(&["statuslists", tenant])
}

/// How many partitions of the by-status index one list's entries are spread over (by
/// index, so consecutive registrations land on different ones): 16,000 index writes a
/// second for one list. Fixed: the builder reads exactly these.
pub const STATUS_SHARDS: u8 = 16;

/// Partition key of the by-status index: the tenant, the list and the entry's shard.
pub fn status_shard(tenant: &str, list: u64, index: u64) -> String {
    let shard = index % u64::from(STATUS_SHARDS);
    compose(&[tenant, &list.to_string(), &shard.to_string()])
}

/// A tenant's signed Status List Token as last built, with the lease on its next build.
pub fn status_list_pk(tenant: &str, list: u64) -> String {
    compose(&["statuslist", tenant, &list.to_string()])
}

/// A tenant's background purges of users' and client-and-subject pairs' tokens, while
/// they run: what the status list builder judges holders by until the records are gone
/// (see [`crate::purge`]).
pub fn background_purges_pk(tenant: &str) -> String {
    compose(&["purging", tenant])
}

/// A subject as the by-status index carries it: 64 bits of its SHA-256, enough to tell a
/// tenant's users apart for the few background purges running at once, and 8 bytes per
/// holder in the builder's memory. Never 0, which means "no subject".
pub fn status_subject_key(subject: &str) -> u64 {
    let digest = Sha256::digest(subject.as_bytes());
    let key = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    key.max(1)
}

/// A purge job: what it deletes and up to when (see [`crate::purge`]).
pub fn purge_job_pk(tenant: &str, job_id: &str) -> String {
    compose(&["purge", tenant, job_id])
}

/// One shard's progress in a purge job: its cursor and counts.
pub fn purge_shard_pk(tenant: &str, job_id: &str, shard: u8) -> String {
    compose(&["purge", tenant, job_id, &shard.to_string()])
}

/// The by-expiry bucket of an item that is not a token record (a session item or a
/// marker), sharded by its key.
pub fn item_expiry_bucket(pk: &str, expires_at: i64) -> String {
    expiry_bucket(expires_at, TokenHash::of(pk).shard(EXPIRY_SHARDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_base64url() {
        // SHA-256("abc"), a published test vector.
        let h = TokenHash::of("abc");
        assert_eq!(h.encoded(), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(TokenHash::parse(&h.encoded()), Ok(h));
        assert!(h.ct_eq(&TokenHash::of("abc")));
        assert!(!h.ct_eq(&TokenHash::of("abd")));
    }

    #[test]
    fn malformed_hashes_are_refused() {
        assert_eq!(TokenHash::parse("short"), Err(InvalidTokenHash));
        assert_eq!(TokenHash::parse(&"+".repeat(43)), Err(InvalidTokenHash));
        // Non-canonical: 32 bytes leave the last character 2 unused bits, which must be
        // zero (the OpenAPI document's pattern says so too). The next character of the
        // alphabet sets the lowest of them.
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let canonical = TokenHash::of("x").encoded();
        let (head, last) = canonical.split_at(42);
        assert!("AEIMQUYcgkosw048".contains(last), "{canonical}");
        let index = ALPHABET.find(last).unwrap();
        let bent = format!("{head}{}", &ALPHABET[index + 1..index + 2]);
        assert_eq!(TokenHash::parse(&bent), Err(InvalidTokenHash), "{bent}");
    }

    #[test]
    fn composed_keys_decompose_into_their_parts() {
        for parts in [
            vec!["session", "t", "s#1%23"],
            vec!["user", "t-1", "a%b#c"],
            vec!["x", "", "%"],
        ] {
            assert_eq!(
                decompose(&compose(&parts)),
                Some(parts.iter().map(|p| p.to_string()).collect())
            );
        }
        assert_eq!(decompose("user#t#a%2"), None);
        assert_eq!(decompose("user#t#a%41"), None);
    }

    #[test]
    fn composed_keys_cannot_collide_across_parts() {
        assert_ne!(compose(&["a#b", "c"]), compose(&["a", "b#c"]));
        assert_eq!(compose(&["a#b", "c%"]), "a%23b#c%25");
        assert_ne!(tenant_scoped("t1", "x"), tenant_scoped("t1#x", ""));
    }

    #[test]
    fn generated_secrets_are_unique_and_prefixed() {
        let a = generate_secret("sgn_sat_");
        let b = generate_secret("sgn_sat_");
        assert!(a.starts_with("sgn_sat_") && a.len() == 8 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn tenant_sort_keys_order_by_time_within_a_subject_and_client() {
        let early = subject_client_issued(Some("alice"), "web", 99);
        let late = subject_client_issued(Some("alice"), "web", 1_000);
        assert!(early < late);
        assert!(early.starts_with(&subject_client_sort_prefix("alice", "web")));
        assert!(early.starts_with(&subject_sort_prefix("alice")));
        assert!(!early.starts_with(&subject_sort_prefix("alice2")));
        assert!(!subject_client_issued(None, "web", 5).starts_with(&subject_sort_prefix("alice")));
        let parsed = TenantSortKey::parse(&late).unwrap();
        assert_eq!(parsed.issued_at, 1_000);
        assert!(parsed.is_client("web") && !parsed.is_client("web2"));
        assert_eq!(TenantSortKey::parse("a#b"), None);
        assert_eq!(TenantSortKey::parse("a#b#1#2"), None);
        // Any identifier fits the sort key's 1,024 bytes.
        let long = "#".repeat(256);
        assert!(subject_client_issued(Some(&long), &long, i64::MAX).len() < 120);
    }

    #[test]
    fn tenant_ids() {
        assert!(valid_tenant_id("715948317"));
        assert!(valid_tenant_id("P2abc-DEF_1.x"));
        assert!(!valid_tenant_id(""));
        assert!(!valid_tenant_id("a#b"));
        assert!(!valid_tenant_id(&"a".repeat(129)));
    }
}
