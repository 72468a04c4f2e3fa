//! Maps AWS SDK errors to [`ProviderError`]: throttling, 5xx, timeouts and
//! dropped connections are transient; access errors are access denied;
//! not-found style errors are not found; the rest is permanent. Every message
//! names the API call and the resource it was about.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::providers::ProviderError;

/// The four kinds of [`ProviderError`], before a message is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Transient,
    NotFound,
    AccessDenied,
    Permanent,
}

impl Kind {
    /// Builds the error of this kind.
    pub(crate) fn error(self, service: &'static str, message: String) -> ProviderError {
        match self {
            Kind::Transient => ProviderError::Transient { service, message },
            Kind::NotFound => ProviderError::NotFound { service, message },
            Kind::AccessDenied => ProviderError::AccessDenied { service, message },
            Kind::Permanent => ProviderError::Permanent { service, message },
        }
    }
}

/// Error codes AWS uses for throttling across ECS, ELBv2, CloudWatch and
/// DynamoDB (most come with HTTP 400). The call metrics count them apart.
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
];

/// Error codes AWS uses for server-side trouble; with throttling, the
/// transient errors a step retries.
const SERVER_TROUBLE_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "ServerException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Error codes that mean the caller's identity may not do this.
const ACCESS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "NotAuthorized",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Error codes that name a missing resource without saying "NotFound".
const NOT_FOUND_CODES: &[&str] = &["ServiceNotActiveException", "MISSING"];

/// Classifies an AWS error by its code, HTTP status and message.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>, message: &str) -> Kind {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) || SERVER_TROUBLE_CODES.contains(&code) {
            return Kind::Transient;
        }
        if ACCESS_CODES.contains(&code) {
            return Kind::AccessDenied;
        }
        if NOT_FOUND_CODES.contains(&code)
            || code.ends_with("NotFound")
            || code.ends_with("NotFoundException")
        {
            return Kind::NotFound;
        }
        // ECS answers a missing permission with a ClientException.
        if code == "ClientException" && message.contains("not authorized") {
            return Kind::AccessDenied;
        }
    }
    match status {
        Some(429) => Kind::Transient,
        Some(s) if s >= 500 => Kind::Transient,
        Some(401 | 403) => Kind::AccessDenied,
        Some(404) => Kind::NotFound,
        _ => Kind::Permanent,
    }
}

/// Converts an SDK error from `call` on `resource` into a [`ProviderError`].
pub(crate) fn from_sdk<E>(
    service: &'static str,
    call: &str,
    resource: &str,
    err: SdkError<E, HttpResponse>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, detail) = match &err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code();
            let message = e.message().unwrap_or("");
            let status = ctx.raw().status().as_u16();
            let detail = match code {
                Some(code) => format!("{code}: {message} (HTTP {status})"),
                None => format!("HTTP {status}: {}", DisplayErrorContext(e)),
            };
            (classify(code, Some(status), message), detail)
        }
        SdkError::TimeoutError(_) => (Kind::Transient, "timed out".to_string()),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_user() {
                Kind::Permanent
            } else {
                Kind::Transient
            };
            (
                kind,
                format!("request not sent: {}", DisplayErrorContext(&err)),
            )
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let kind = classify(None, Some(status), "");
            // A response we could not read is worth another try unless it was a plain client error.
            let kind = if kind == Kind::Permanent {
                Kind::Transient
            } else {
                kind
            };
            (
                kind,
                format!(
                    "unreadable response (HTTP {status}): {}",
                    DisplayErrorContext(&err)
                ),
            )
        }
        SdkError::ConstructionFailure(_) => (
            Kind::Permanent,
            format!("request not built: {}", DisplayErrorContext(&err)),
        ),
        _ => (Kind::Permanent, DisplayErrorContext(&err).to_string()),
    };
    kind.error(service, format!("{call} on {resource}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert_eq!(
            classify(Some("ThrottlingException"), Some(400), ""),
            Kind::Transient
        );
        assert_eq!(
            classify(
                Some("ProvisionedThroughputExceededException"),
                Some(400),
                ""
            ),
            Kind::Transient
        );
        assert_eq!(
            classify(Some("ServerException"), Some(500), ""),
            Kind::Transient
        );
        assert_eq!(classify(None, Some(503), ""), Kind::Transient);
        assert_eq!(classify(None, Some(429), ""), Kind::Transient);
    }

    #[test]
    fn access_errors_are_access_denied() {
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(400), ""),
            Kind::AccessDenied
        );
        assert_eq!(
            classify(Some("AccessDenied"), Some(403), ""),
            Kind::AccessDenied
        );
        assert_eq!(
            classify(
                Some("ClientException"),
                Some(400),
                "User: x is not authorized to perform: ecs:ListTasks"
            ),
            Kind::AccessDenied
        );
        assert_eq!(classify(None, Some(403), ""), Kind::AccessDenied);
    }

    #[test]
    fn missing_resources_are_not_found() {
        assert_eq!(
            classify(Some("ClusterNotFoundException"), Some(400), ""),
            Kind::NotFound
        );
        assert_eq!(
            classify(Some("TargetGroupNotFound"), Some(400), ""),
            Kind::NotFound
        );
        assert_eq!(
            classify(Some("ResourceNotFoundException"), Some(400), ""),
            Kind::NotFound
        );
        assert_eq!(
            classify(Some("ServiceNotActiveException"), Some(400), ""),
            Kind::NotFound
        );
    }

    #[test]
    fn other_client_errors_are_permanent() {
        assert_eq!(
            classify(Some("InvalidParameterException"), Some(400), ""),
            Kind::Permanent
        );
        assert_eq!(
            classify(Some("ClientException"), Some(400), "bad input"),
            Kind::Permanent
        );
        assert_eq!(classify(None, Some(400), ""), Kind::Permanent);
    }

    #[test]
    fn kinds_build_matching_errors() {
        let e = Kind::Transient.error("ECS", "x".into());
        assert!(e.is_retryable());
        let e = Kind::NotFound.error("ECS", "x".into());
        assert!(matches!(e, ProviderError::NotFound { .. }));
        assert!(!e.is_retryable());
    }
}
