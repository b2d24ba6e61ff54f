//! The API's error type: every expected failure a route can answer, in the
//! contract's shape (`{"error": {"code", "message", "request_id"}}`).

use std::fmt;

/// An error a route answers with. Every variant but [`ApiError::Internal`] is an
/// expected outcome with its own status code; `Internal` is the truly unexpected
/// and never shows its cause to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, the content type is wrong, a header is missing.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401: missing, malformed, expired or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 402: the balance does not cover the price.
    #[error("{0}")]
    InsufficientCredits(String),
    /// 404: no such resource for this user.
    #[error("{0}")]
    NotFound(String),
    /// 409: an idempotency key reused with another body.
    #[error("{0}")]
    Conflict(String),
    /// 413: a body or declared upload over its limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a content type we do not accept.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a field out of range or unknown; an unusable upload.
    #[error("{0}")]
    ValidationFailed(String),
    /// 429: too many requests; retry after this many seconds.
    #[error("{message}")]
    RateLimited {
        /// What the person can do about it.
        message: String,
        /// Seconds until a retry can succeed (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// 503: a dependency is down; safe to retry.
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: a provider asked us to wait (or is down).
    #[error("{message}")]
    UnavailableFor {
        /// What the person can do about it.
        message: String,
        /// Seconds until a retry is worth it.
        retry_after_secs: u64,
    },
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

/// A boxed error for causes we only log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    /// Wraps any unexpected error.
    pub fn internal(err: impl Into<BoxError>) -> Self {
        ApiError::Internal(err.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::InsufficientCredits(_) => 402,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::ValidationFailed(_) => 422,
            ApiError::RateLimited { .. } => 429,
            ApiError::Unavailable(_) | ApiError::UnavailableFor { .. } => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// The contract's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InsufficientCredits(_) => "insufficient_credits",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::ValidationFailed(_) => "validation_failed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) | ApiError::UnavailableFor { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The sentence sent to the client. For `Internal` it reveals nothing.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "Something went wrong on our side. Please try again later.".to_string(),
            other => other.to_string(),
        }
    }

    /// The `Retry-After` seconds this error carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_secs, .. } | ApiError::UnavailableFor { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The contract's error body.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.code(),
                "message": self.public_message(),
                "request_id": request_id,
            }
        })
    }
}

/// Shorthand for the 401 every credential failure answers with; the message
/// deliberately does not say which check failed.
pub fn unauthorized() -> ApiError {
    ApiError::Unauthorized("Sign in again: the access token is missing, invalid or expired.".into())
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "a dependency is unavailable");
                ApiError::Unavailable("A service we depend on is unavailable. Please retry shortly.".into())
            }
            StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}

/// What a port (storage, queue, provider) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled or unreachable: safe to retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error(transparent)]
    Other(BoxError),
}

impl StoreError {
    /// Wraps an unexpected error.
    pub fn other(err: impl Into<BoxError>) -> Self {
        StoreError::Other(err.into())
    }
}

/// Displays an error with its sources, for one log line.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_nothing() {
        let err = ApiError::internal("table pro-portrait-prod missing at arn:aws:...");
        let body = err.body("req-1");
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert!(!body.to_string().contains("arn:aws"));
        assert_eq!(err.status(), 500);
    }

    #[test]
    fn rate_limited_is_429() {
        let err = ApiError::RateLimited { message: "slow down".into(), retry_after_secs: 3 };
        assert_eq!((err.status(), err.code()), (429, "rate_limited"));
        assert_eq!(err.body("r")["error"]["message"], "slow down");
    }
}
