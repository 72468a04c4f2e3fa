//! The S3 call of the host: GetObject, bounded in size and time and
//! conditional on the ETag last seen (`autoscaler policy publish`'s upload
//! is in [`super::publish`]). The client comes from the same SDK configuration as the AWS
//! provider (the default credential chain, the region, `AWS_ENDPOINT_URL`),
//! with path-style addressing whenever a custom endpoint is set (a local
//! S3-compatible server has no per-bucket host names).
//!
//! Everything an answer carries is hostile until checked: a body is read only
//! up to the limit (checked first against `Content-Length`, then while
//! reading), every call has an attempt and an overall timeout, and error text
//! from the server is escaped before it can reach a terminal.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::S3Url;
use crate::escape::escape;
use crate::providers::aws::{AwsConfig, AwsProvider};

/// The limit on one GetObject or PutObject, body included: a 50 MB policy
/// still arrives over a slow link, a hung connection does not hold a poll.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The limit on one HTTP attempt to start answering.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest config file read from S3.
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;

/// An S3 object's content and ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The content.
    pub bytes: Vec<u8>,
    /// Its ETag, as S3 sent it (quotes included).
    pub etag: Option<String>,
}

/// What a conditional GetObject found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The object still has the ETag asked about (HTTP 304).
    Unchanged,
    /// The object, new or changed.
    Changed(Object),
}

/// Why an S3 call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum S3Error {
    /// No such bucket or key.
    #[error(
        "{url} does not exist (no such bucket or key); upload it with `autoscaler policy publish FILE {url}` or fix the location"
    )]
    NotFound {
        /// The location.
        url: S3Url,
    },
    /// Access denied.
    #[error(
        "access to {url} was denied ({message}); grant the host's role s3:GetObject (and s3:ListBucket, for a clear \"not found\") on it, see deploy/iam-policy.json"
    )]
    Denied {
        /// The location.
        url: S3Url,
        /// What S3 said (escaped).
        message: String,
    },
    /// The object is over the size limit.
    #[error("{url} is {size} bytes, over the limit of {limit} bytes{hint}")]
    TooLarge {
        /// The location.
        url: S3Url,
        /// Its size, as far as known.
        size: u64,
        /// The limit.
        limit: u64,
        /// Which setting sets the limit.
        hint: &'static str,
        /// The object's ETag, so the same object is not fetched again.
        etag: Option<String>,
    },
    /// The SDK could not be configured (no region).
    #[error("cannot set up the S3 client: {message}")]
    Setup {
        /// What is missing.
        message: String,
    },
    /// S3 could not be reached, timed out, or answered with an error.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The location.
        url: S3Url,
        /// What went wrong (escaped).
        message: String,
    },
}

impl S3Error {
    /// Whether the call says nothing about the object (S3 unreachable, a
    /// timeout, a server error): then the last good content stays.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, S3Error::Unreachable { .. })
    }
}

/// An S3 client for policies and configs.
#[derive(Debug, Clone)]
pub struct S3Store {
    pub(super) client: Client,
}

impl S3Store {
    /// A client from the default chain with `aws`'s region and endpoint
    /// taking precedence, as the AWS provider builds its own.
    pub async fn connect(aws: &AwsConfig) -> Result<S3Store, S3Error> {
        let sdk = AwsProvider::load_sdk_config(aws)
            .await
            .map_err(|e| S3Error::Setup {
                message: e.to_string(),
            })?;
        Ok(S3Store::from_sdk_config(&sdk))
    }

    /// A client from an explicit SDK configuration (tests point it at a
    /// local server), with this module's timeouts and path-style addressing
    /// whenever the configuration names an endpoint.
    pub fn from_sdk_config(sdk: &SdkConfig) -> S3Store {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(CALL_TIMEOUT)
            .build();
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(timeouts)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        S3Store {
            client: Client::from_conf(conf),
        }
    }

    /// GetObject of `url`, at most `limit` bytes (`hint` names the setting
    /// behind the limit); with `etag`, conditional on it (`If-None-Match`).
    pub async fn get(
        &self,
        url: &S3Url,
        limit: u64,
        hint: &'static str,
        etag: Option<&str>,
    ) -> Result<Fetched, S3Error> {
        match tokio::time::timeout(CALL_TIMEOUT, self.get_inner(url, limit, hint, etag)).await {
            Ok(r) => r,
            Err(_) => Err(S3Error::Unreachable {
                url: url.clone(),
                message: format!("no complete answer within {} s", CALL_TIMEOUT.as_secs()),
            }),
        }
    }

    async fn get_inner(
        &self,
        url: &S3Url,
        limit: u64,
        hint: &'static str,
        etag: Option<&str>,
    ) -> Result<Fetched, S3Error> {
        let answer = self
            .client
            .get_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .set_if_none_match(etag.map(str::to_string))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                if status(&e) == Some(304) {
                    return Ok(Fetched::Unchanged);
                }
                return Err(classify(url, &e));
            }
        };
        let etag = out.e_tag().map(str::to_string);
        let too_large = |size| S3Error::TooLarge {
            url: url.clone(),
            size,
            limit,
            hint,
            etag: etag.clone(),
        };
        let declared = out.content_length().unwrap_or(0).max(0) as u64;
        if declared > limit {
            return Err(too_large(declared));
        }
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(declared as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| S3Error::Unreachable {
                url: url.clone(),
                message: format!("reading the body failed: {}", escape(&e.to_string())),
            })?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(too_large((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Changed(Object { bytes, etag }))
    }
}

pub(super) fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

pub(super) fn classify<E>(url: &S3Url, e: &SdkError<E, HttpResponse>) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = || escape(&DisplayErrorContext(e).to_string()).into_owned();
    let code = match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    };
    match (status(e), code) {
        (Some(404), _) | (_, Some("NoSuchKey" | "NoSuchBucket")) => {
            S3Error::NotFound { url: url.clone() }
        }
        (Some(403), _) | (_, Some("AccessDenied")) => S3Error::Denied {
            url: url.clone(),
            message: message(),
        },
        _ => S3Error::Unreachable {
            url: url.clone(),
            message: message(),
        },
    }
}
