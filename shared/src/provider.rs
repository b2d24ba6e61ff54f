//! The image provider as the pipeline sees it: what a task asks for, the
//! states a task goes through, and what a failed call means for the job.
//! KIE is the implementation (`adapters::kie`); the pipeline knows only this.

use crate::config::ConfigError;
use crate::jobs::JobError;

/// What a failed call to the provider means for the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Rate-limited, unavailable, or a network error: try again later, with backoff.
    #[error("the provider is unavailable ({0})")]
    Retryable(String),
    /// The content was refused (content moderation).
    #[error("the provider rejected the content: {0}")]
    Rejected(String),
    /// Our account or key is at fault: operators must act.
    #[error("provider account problem (code {code}): {message}")]
    Operator {
        /// The provider's code.
        code: i64,
        /// The provider's message.
        message: String,
    },
    /// Anything else (a bad request, an unknown task, a malformed answer): do not retry.
    #[error("the provider refused (code {code}): {message}")]
    Fatal {
        /// The provider's code (0 when there was none).
        code: i64,
        /// The provider's message.
        message: String,
    },
}

impl ProviderError {
    /// Whether another model might do better: the provider could not or
    /// would not run the task (unavailable past the retries, a refusal, a
    /// task it lost). Moderation and our account's problems follow the job
    /// to any model, so they never do.
    pub fn allows_fallback(&self) -> bool {
        matches!(self, ProviderError::Retryable(_) | ProviderError::Fatal { .. })
    }
}

/// One generation task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// The provider's model that runs it (the quality's primary, or its fallback).
    pub model: String,
    /// The style's quality id.
    pub quality: String,
    /// The quality's resolution (`1K`, `2K`).
    pub resolution: String,
    pub prompt: String,
    /// Where the provider fetches the photo.
    pub image_url: String,
    /// Where the provider calls back when the task ends.
    pub callback_url: String,
}

/// Why the provider failed a task, as far as the job is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Content moderation refused the photo or the prompt.
    Rejected,
    /// The photo could not be used.
    UnusableImage,
    /// Anything else on the provider's side.
    Provider,
}

impl FailReason {
    /// The contract's job error for this reason (the provider's own text
    /// may quote the prompt: it is never stored).
    pub fn job_error(self) -> JobError {
        let (code, message) = match self {
            FailReason::Rejected => ("content_rejected", "The photo or style was rejected by content moderation; the credits were refunded."),
            FailReason::UnusableImage => ("invalid_image", "The photo could not be used; the credits were refunded."),
            FailReason::Provider => ("provider_failed", "The headshot could not be generated; the credits were refunded."),
        };
        JobError { code: code.into(), message: message.into() }
    }

    /// Whether another model might do better: only a failure on the
    /// provider's side (moderation and an unusable photo would follow the
    /// job to any model).
    pub fn allows_fallback(self) -> bool {
        self == FailReason::Provider
    }
}

/// A task's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting, queued or generating.
    Pending,
    /// Done, with at least one result link.
    Success(Vec<String>),
    /// Failed.
    Fail {
        /// Why, for the job.
        reason: FailReason,
        /// The provider's own failure code, for the logs.
        code: String,
    },
}

/// The models of one quality: the one every job starts on, and the one a
/// job switches to, at most once, when the first fails on the provider's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityModels {
    /// The model every job of the quality starts on.
    pub primary: String,
    /// The second model, tried before a refund (`None`: no second try).
    pub fallback: Option<String>,
}

/// Which provider models each quality uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// `standard`: `KIE_MODEL_STANDARD` (default `google/nano-banana-edit`),
    /// `KIE_FALLBACK_MODEL_STANDARD` (default none).
    pub standard: QualityModels,
    /// `high`: `KIE_MODEL_HIGH` (default `nano-banana-pro`, at 2K),
    /// `KIE_FALLBACK_MODEL_HIGH` (default none).
    pub high: QualityModels,
}

impl Default for ModelChoice {
    /// `google/nano-banana-edit` for `standard`, `nano-banana-pro` for `high`, no fallbacks.
    fn default() -> Self {
        let only = |primary: &str| QualityModels { primary: primary.into(), fallback: None };
        ModelChoice { standard: only("google/nano-banana-edit"), high: only("nano-banana-pro") }
    }
}

impl ModelChoice {
    /// Reads the models from the environment; each must be one of `known`
    /// (the provider's models whose request shape we have), and a fallback
    /// must differ from its primary.
    pub fn from_env(known: &[&str]) -> Result<Self, ConfigError> {
        Self::from_settings(crate::config::optional, known)
    }

    /// [`ModelChoice::from_env`] over `setting`, which gives a variable's
    /// value (`None` when unset or empty).
    pub fn from_settings(setting: impl Fn(&'static str) -> Option<String>, known: &[&str]) -> Result<Self, ConfigError> {
        let model = |name: &'static str, default: Option<&str>| match setting(name).map(|m| m.trim().to_string()).or(default.map(str::to_string)) {
            Some(m) if !known.contains(&m.as_str()) => {
                Err(ConfigError { name, problem: format!("`{m}` is not a model this service can call (one of: {})", known.join(", ")) })
            }
            other => Ok(other),
        };
        let quality = |primary: &'static str, default: &str, fallback: &'static str| {
            let primary_model = model(primary, Some(default))?.unwrap_or_else(|| default.to_string());
            let fallback_model = model(fallback, None)?;
            if fallback_model.as_deref() == Some(primary_model.as_str()) {
                return Err(ConfigError { name: fallback, problem: format!("must differ from {primary} (`{primary_model}`), or be empty for no fallback") });
            }
            Ok(QualityModels { primary: primary_model, fallback: fallback_model })
        };
        Ok(ModelChoice {
            standard: quality("KIE_MODEL_STANDARD", "google/nano-banana-edit", "KIE_FALLBACK_MODEL_STANDARD")?,
            high: quality("KIE_MODEL_HIGH", "nano-banana-pro", "KIE_FALLBACK_MODEL_HIGH")?,
        })
    }

    /// The models of a quality id.
    pub fn for_quality(&self, quality: &str) -> &QualityModels {
        if quality == "high" { &self.high } else { &self.standard }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["google/nano-banana-edit", "nano-banana-pro", "seedream/4.5-edit"];

    fn choice(vars: &[(&str, &str)]) -> Result<ModelChoice, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ModelChoice::from_settings(|name| vars.iter().find(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.clone()), KNOWN)
    }

    #[test]
    fn models_default_to_no_fallback_and_fallbacks_are_per_quality() {
        assert_eq!(choice(&[]).unwrap(), ModelChoice::default());
        let both = choice(&[("KIE_FALLBACK_MODEL_HIGH", "seedream/4.5-edit"), ("KIE_FALLBACK_MODEL_STANDARD", "")]).unwrap();
        assert_eq!(both.for_quality("high").fallback.as_deref(), Some("seedream/4.5-edit"));
        assert_eq!(both.for_quality("high").primary, "nano-banana-pro");
        assert_eq!(both.for_quality("standard").fallback, None, "empty is off");
    }

    #[test]
    fn unknown_models_and_a_fallback_equal_to_its_primary_are_refused_by_name() {
        let err = choice(&[("KIE_FALLBACK_MODEL_STANDARD", "dall-e")]).unwrap_err();
        assert_eq!(err.name, "KIE_FALLBACK_MODEL_STANDARD");
        assert!(err.to_string().contains("dall-e") && err.to_string().contains("seedream/4.5-edit"), "{err}");
        assert_eq!(choice(&[("KIE_MODEL_HIGH", "nano-banana")]).unwrap_err().name, "KIE_MODEL_HIGH");
        let same = choice(&[("KIE_MODEL_STANDARD", "seedream/4.5-edit"), ("KIE_FALLBACK_MODEL_STANDARD", "seedream/4.5-edit")]).unwrap_err();
        assert_eq!(same.name, "KIE_FALLBACK_MODEL_STANDARD");
    }

    #[test]
    fn only_provider_side_failures_allow_a_fallback() {
        assert!(FailReason::Provider.allows_fallback());
        assert!(!FailReason::Rejected.allows_fallback() && !FailReason::UnusableImage.allows_fallback());
        assert!(ProviderError::Retryable("503".into()).allows_fallback());
        assert!(ProviderError::Fatal { code: 505, message: String::new() }.allows_fallback());
        assert!(!ProviderError::Rejected("moderation".into()).allows_fallback());
        assert!(!ProviderError::Operator { code: 402, message: String::new() }.allows_fallback());
    }
}
