//! Policies and config kept in S3: `s3://bucket/key` locations wherever the
//! config names a policy (`policy`, `shadows`, `fallback`) and for the config
//! itself (`autoscaler run --config s3://...`).
//!
//! - [`S3Url`]: parsing and resolving `s3://` locations (relative paths in a
//!   config read from S3 resolve against its prefix);
//! - [`s3`]: the bounded, timed-out GetObject (conditional on the ETag)
//!   the host uses; [`publish`]: the PutObject of `policy publish`;
//! - [`poll`]: one task per policy object that asks S3 every `policy_poll`
//!   whether it changed, hands a changed object to the daemon's reload path,
//!   and tells `/readyz` when S3 cannot be reached.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod poll;
pub mod publish;
pub mod s3;

/// The scheme prefix of an S3 location.
pub const SCHEME: &str = "s3://";

/// An S3 object location, `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct S3Url {
    /// The bucket name.
    pub bucket: String,
    /// The object key (never empty, no leading `/`).
    pub key: String,
}

impl S3Url {
    /// Parses `text` when it starts with `s3://`: none for anything else (a
    /// local path), an error naming what is wrong for a malformed location.
    pub fn parse(text: &str) -> Option<Result<S3Url, String>> {
        let rest = text.strip_prefix(SCHEME)?;
        Some(S3Url::parse_rest(text, rest))
    }

    fn parse_rest(text: &str, rest: &str) -> Result<S3Url, String> {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|why| format!("{text:?}: {why}"))?;
        if key.is_empty() {
            return Err(format!(
                "{text:?} names no object: write s3://{bucket}/path/to/object"
            ));
        }
        if key.len() > 1024 {
            return Err(format!(
                "{text:?}: the object key is {} bytes long, over S3's limit of 1024",
                key.len()
            ));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// [`S3Url::parse`] of a path, as the config holds locations.
    pub fn from_path(path: &Path) -> Option<Result<S3Url, String>> {
        S3Url::parse(path.to_str()?)
    }

    /// Whether `path` is an `s3://` location (well-formed or not).
    pub fn is_s3(path: &Path) -> bool {
        path.to_str().is_some_and(|p| p.starts_with(SCHEME))
    }

    /// `relative` resolved against this object's folder (its key up to the
    /// last `/`), with `.` and `..` segments applied. Fails when `..` climbs
    /// above the bucket.
    pub fn join(&self, relative: &str) -> Result<S3Url, String> {
        let mut parts: Vec<&str> = self.key.split('/').collect();
        parts.pop(); // The object's own name.
        for seg in relative.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(format!(
                            "{relative:?} climbs above the top of bucket {} (from {self})",
                            self.bucket
                        ));
                    }
                }
                s => parts.push(s),
            }
        }
        let key = parts.join("/");
        S3Url::parse_rest(
            &format!("{SCHEME}{}/{key}", self.bucket),
            &format!("{}/{key}", self.bucket),
        )
    }

    /// The location as a path, the way the config holds it.
    pub fn to_path(&self) -> PathBuf {
        PathBuf::from(self.to_string())
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.bucket, self.key)
    }
}

/// S3's rules for a bucket name: 3 to 63 lowercase letters, digits, dots and
/// hyphens, starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends(bucket.bytes().next())
        || !ends(bucket.bytes().last())
    {
        return Err(format!(
            "{bucket:?} is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_parse_and_local_paths_are_not_theirs() {
        let u = S3Url::parse("s3://my-bucket/policies/live.wasm")
            .unwrap()
            .unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.key.as_str()),
            ("my-bucket", "policies/live.wasm")
        );
        assert_eq!(u.to_string(), "s3://my-bucket/policies/live.wasm");
        assert!(S3Url::parse("/etc/autoscaler/p.wasm").is_none());
        assert!(S3Url::parse("policy.wasm").is_none());
        let err = S3Url::parse("s3://my-bucket").unwrap().unwrap_err();
        assert!(err.contains("names no object"), "{err}");
        let err = S3Url::parse("s3://My_Bucket/x").unwrap().unwrap_err();
        assert!(err.contains("not a valid bucket name"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_the_object_folder() {
        let cfg = S3Url::parse("s3://b-1/prod/autoscaler.toml")
            .unwrap()
            .unwrap();
        assert_eq!(
            cfg.join("live.wasm").unwrap().to_string(),
            "s3://b-1/prod/live.wasm"
        );
        assert_eq!(
            cfg.join("./policies/../p/x.wasm").unwrap().to_string(),
            "s3://b-1/prod/p/x.wasm"
        );
        assert_eq!(
            cfg.join("../top.wasm").unwrap().to_string(),
            "s3://b-1/top.wasm"
        );
        let err = cfg.join("../../x.wasm").unwrap_err();
        assert!(err.contains("climbs above"), "{err}");
    }
}
