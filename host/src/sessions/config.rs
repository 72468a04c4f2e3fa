//! The `[ingest]` table: where the session ingest API listens, who may call
//! it, and its limits. See SECURITY.md for why each limit exists.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::tokens::Tokens;

/// The session ingest API's listener and limits (`[ingest]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The address to listen on, such as "0.0.0.0:9443". Any address that is
    /// not loopback needs `tokens_file`.
    pub listen: SocketAddr,
    /// A file of bearer tokens, one a line (blank lines and `#` comments
    /// ignored). Re-read whenever its inode, size, modification or change time
    /// changes, so tokens rotate without a restart; while it is deleted, no
    /// token is accepted. Without it (loopback only) requests need no token.
    #[serde(default)]
    pub tokens_file: Option<PathBuf>,
    /// A PEM certificate chain: with `tls_key`, the listener speaks HTTPS.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Accept an event only from the task's own private IP (HTTP 403 otherwise).
    #[serde(default)]
    pub bind_source_ip: bool,
    /// Connections open at once; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections open at once from one source IP, checked before
    /// `max_connections`, so one address cannot hold every slot.
    #[serde(default = "default_max_connections_per_source")]
    pub max_connections_per_source: usize,
    /// Requests per second allowed from one source IP (an IPv6 peer's /64
    /// counts as one source), sustained; 1 to 1,000,000.
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: u32,
    /// Requests one source IP may send in a burst above the sustained rate; 1 to 1,000,000.
    #[serde(default = "default_rate_burst")]
    pub rate_burst: u32,
    /// Active sessions one task may hold; more starts get HTTP 429.
    #[serde(default = "default_max_sessions_per_task")]
    pub max_sessions_per_task: u32,
    /// Active sessions one service may hold; more starts get HTTP 429.
    #[serde(default = "default_max_sessions_per_service")]
    pub max_sessions_per_service: u32,
    /// The longest `ttl_seconds` a start or heartbeat may ask for. Default
    /// 1 hour rather than 7 days: a session whose application crashed (or a
    /// start nobody ends) pins its task until its deadline, and live
    /// applications heartbeat well within an hour.
    #[serde(default = "default_max_ttl", with = "humantime_serde")]
    pub max_ttl: Duration,
    /// A connection whose request headers are not complete this long after
    /// it opens (or after its previous request) is closed.
    #[serde(default = "default_header_timeout", with = "humantime_serde")]
    pub header_timeout: Duration,
    /// A request not answered within this time gets HTTP 408.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
}

/// The largest `rate_per_second` and `rate_burst`: beyond it the limiter's
/// period rounds to nothing.
pub const MAX_RATE: u32 = 1_000_000;

fn default_max_connections() -> usize {
    512
}
fn default_max_connections_per_source() -> usize {
    16
}
fn default_rate_per_second() -> u32 {
    50
}
fn default_rate_burst() -> u32 {
    100
}
fn default_max_sessions_per_task() -> u32 {
    1_000
}
fn default_max_sessions_per_service() -> u32 {
    100_000
}
fn default_max_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

impl IngestConfig {
    /// Resolves relative file paths against `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.tokens_file, &mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// `max_ttl` in whole seconds (at least 1).
    pub fn max_ttl_seconds(&self) -> u32 {
        u32::try_from(self.max_ttl.as_secs())
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// Checks the table; the error is the field (within `[ingest]`) and what to do.
    pub fn validate(&self, aws: bool) -> Result<(), (String, String)> {
        let bad = |field: &str, message: String| Err((field.to_string(), message));
        let loopback = self.listen.ip().is_loopback();
        match &self.tokens_file {
            None if !loopback => {
                return bad(
                    "tokens_file",
                    format!(
                        "`listen` = {} is reachable from other hosts, so the ingest API needs \
                         bearer tokens: set `tokens_file` to a file with one token a line, \
                         or listen on 127.0.0.1",
                        self.listen
                    ),
                );
            }
            None => {}
            Some(path) => {
                let tokens = Tokens::load(path).map_err(|e| ("tokens_file".to_string(), e))?;
                if tokens.is_empty() && !loopback {
                    return bad(
                        "tokens_file",
                        format!(
                            "{} holds no token, and `listen` = {} is reachable from other hosts: \
                             add at least one token (one a line)",
                            path.display(),
                            self.listen
                        ),
                    );
                }
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return bad(
                    "tls_key",
                    "`tls_cert` is set: set `tls_key` to its PEM private key too".into(),
                );
            }
            (None, Some(_)) => {
                return bad(
                    "tls_cert",
                    "`tls_key` is set: set `tls_cert` to its PEM certificate chain too".into(),
                );
            }
            (Some(cert), Some(key)) => {
                super::server::tls_acceptor(cert, key).map_err(|e| ("tls_cert".to_string(), e))?;
            }
            (None, None) => {}
        }
        for (field, value) in [
            ("max_connections", self.max_connections as u64),
            (
                "max_connections_per_source",
                self.max_connections_per_source as u64,
            ),
            ("rate_per_second", u64::from(self.rate_per_second)),
            ("rate_burst", u64::from(self.rate_burst)),
            (
                "max_sessions_per_task",
                u64::from(self.max_sessions_per_task),
            ),
            (
                "max_sessions_per_service",
                u64::from(self.max_sessions_per_service),
            ),
            ("max_ttl", self.max_ttl.as_secs()),
            ("header_timeout", self.header_timeout.as_secs()),
            ("request_timeout", self.request_timeout.as_secs()),
        ] {
            if value == 0 {
                return bad(field, "expected at least 1 (seconds for durations)".into());
            }
        }
        for (field, value) in [
            ("rate_per_second", self.rate_per_second),
            ("rate_burst", self.rate_burst),
        ] {
            if value > MAX_RATE {
                return bad(
                    field,
                    format!("expected at most {MAX_RATE} (requests from one source IP)"),
                );
            }
        }
        if !aws {
            return bad(
                "listen",
                "the session ingest API stores sessions in DynamoDB, so [ingest] needs \
                 provider.kind = \"aws\"; remove [ingest] for the simulated cluster"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(extra: &str) -> Result<(), (String, String)> {
        let cfg: IngestConfig =
            toml::from_str(&format!("listen = \"127.0.0.1:9443\"\n{extra}")).unwrap();
        cfg.validate(true)
    }

    #[test]
    fn rates_out_of_range_are_refused_naming_the_field() {
        assert_eq!(check(""), Ok(()));
        assert_eq!(
            check("rate_per_second = 1000000\nrate_burst = 1000000"),
            Ok(())
        );
        for (extra, field) in [
            ("rate_per_second = 4294967295", "rate_per_second"),
            ("rate_per_second = 1000001", "rate_per_second"),
            ("rate_burst = 4294967295", "rate_burst"),
            ("rate_per_second = 0", "rate_per_second"),
            (
                "max_connections_per_source = 0",
                "max_connections_per_source",
            ),
        ] {
            assert_eq!(check(extra).unwrap_err().0, field, "{extra}");
        }
    }
}
