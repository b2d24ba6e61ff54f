//! Settings, read once from environment variables at cold start. Every variable
//! is listed, with its default, in the README's settings table.

use std::env;
use std::str::FromStr;

/// A setting that is missing or malformed: the function refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The settings every route shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// The photo bucket (`BUCKET_NAME`).
    pub bucket_name: String,
    /// The generation queue (`QUEUE_URL`).
    pub queue_url: String,
    /// The account deletion queue (`DELETION_QUEUE_URL`).
    pub deletion_queue_url: String,
    /// The data export queue (`EXPORT_QUEUE_URL`).
    pub export_queue_url: String,
    /// Seconds an upload may wait for its job before the sweep deletes it
    /// (`UNUSED_UPLOAD_SECONDS`).
    pub unused_upload_seconds: i64,
    /// Seconds a job may take before the reaper fails and refunds it
    /// (`JOB_DEADLINE_SECONDS`).
    pub job_deadline_seconds: i64,
    /// Access token lifetime in seconds (`ACCESS_TOKEN_SECONDS`, at most 900).
    pub access_token_seconds: i64,
    /// How long an already-used refresh token still answers (`REFRESH_GRACE_SECONDS`).
    pub refresh_grace_seconds: i64,
    /// Sliding inactivity window of a session (`SESSION_IDLE_DAYS`).
    pub session_idle_days: i64,
    /// Sign-ups allowed per source IP per sliding hour (`SIGNUP_LIMIT_PER_HOUR`).
    pub signup_limit_per_hour: u32,
    /// Credits a new user starts with (`FREE_CREDITS`).
    pub free_credits: i64,
    /// Days after which a job, its photo and its result expire
    /// (`RESULT_RETENTION_DAYS`; 0: never).
    pub result_retention_days: i64,
    /// Seconds past its expected next step after which the reaper sends a
    /// job's step again (`STALL_SECONDS`).
    pub stall_seconds: i64,
    /// Upload links one user may get per sliding hour (`UPLOADS_PER_HOUR`).
    pub uploads_per_hour: u32,
    /// Jobs one user may create per sliding hour (`JOBS_PER_HOUR`), beside
    /// the limit of 3 active at once.
    pub jobs_per_hour: u32,
    /// The provider spend allowed per UTC day, in millionths of a US dollar
    /// (`DAILY_SPEND_LIMIT_USD`, in dollars; 0: no ceiling). Past it, new
    /// jobs are refused; running jobs finish.
    pub daily_spend_limit_micro_usd: i64,
}

/// The contract caps access tokens at 15 minutes.
pub const MAX_ACCESS_TOKEN_SECONDS: i64 = 900;

impl Settings {
    /// Reads the settings from the environment, with the documented defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings {
            table_name: required("TABLE_NAME")?,
            bucket_name: required("BUCKET_NAME")?,
            queue_url: required("QUEUE_URL")?,
            deletion_queue_url: required("DELETION_QUEUE_URL")?,
            export_queue_url: required("EXPORT_QUEUE_URL")?,
            unused_upload_seconds: parsed("UNUSED_UPLOAD_SECONDS", 3600)?,
            job_deadline_seconds: parsed("JOB_DEADLINE_SECONDS", 780)?,
            access_token_seconds: parsed("ACCESS_TOKEN_SECONDS", MAX_ACCESS_TOKEN_SECONDS)?,
            refresh_grace_seconds: parsed("REFRESH_GRACE_SECONDS", 10)?,
            session_idle_days: parsed("SESSION_IDLE_DAYS", 180)?,
            signup_limit_per_hour: parsed("SIGNUP_LIMIT_PER_HOUR", 30)?,
            free_credits: parsed("FREE_CREDITS", 0)?,
            result_retention_days: parsed("RESULT_RETENTION_DAYS", 0)?,
            stall_seconds: parsed("STALL_SECONDS", 60)?,
            uploads_per_hour: parsed("UPLOADS_PER_HOUR", 60)?,
            jobs_per_hour: parsed("JOBS_PER_HOUR", 30)?,
            daily_spend_limit_micro_usd: dollars("DAILY_SPEND_LIMIT_USD", 50.0)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let check = |ok: bool, name: &'static str, problem: &str| {
            if ok { Ok(()) } else { Err(ConfigError { name, problem: problem.into() }) }
        };
        check(
            (1..=MAX_ACCESS_TOKEN_SECONDS).contains(&self.access_token_seconds),
            "ACCESS_TOKEN_SECONDS",
            "must be 1 to 900 (the contract caps access tokens at 15 minutes)",
        )?;
        check(self.refresh_grace_seconds >= 0, "REFRESH_GRACE_SECONDS", "must not be negative")?;
        check(self.session_idle_days >= 1, "SESSION_IDLE_DAYS", "must be at least 1")?;
        check(self.free_credits >= 0, "FREE_CREDITS", "must not be negative")?;
        check((0..=3650).contains(&self.result_retention_days), "RESULT_RETENTION_DAYS", "must be 0 (off) to 3650")?;
        check(
            (1..=840).contains(&self.job_deadline_seconds),
            "JOB_DEADLINE_SECONDS",
            "must be 1 to 840, leaving the reaper's interval inside the contract's 15 minutes",
        )?;
        check((1..=600).contains(&self.stall_seconds), "STALL_SECONDS", "must be 1 to 600")?;
        check((1..=1000).contains(&self.uploads_per_hour), "UPLOADS_PER_HOUR", "must be 1 to 1000")?;
        check((1..=1000).contains(&self.jobs_per_hour), "JOBS_PER_HOUR", "must be 1 to 1000")?;
        check(
            (1..=23 * 3600).contains(&self.unused_upload_seconds),
            "UNUSED_UPLOAD_SECONDS",
            "must be 1 to 82800 (unused uploads are deleted within 24 hours)",
        )?;
        Ok(())
    }

    /// The sliding inactivity window in seconds.
    pub fn session_idle_seconds(&self) -> i64 {
        self.session_idle_days * 86_400
    }
}

/// A required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError { name, problem: "is required".into() }),
    }
}

/// An optional variable: `None` when unset or empty.
pub fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An amount of US dollars (`12.5`), in millionths, or `default` when unset.
fn dollars(name: &'static str, default: f64) -> Result<i64, ConfigError> {
    let usd: f64 = parsed(name, default)?;
    if !(0.0..=1_000_000.0).contains(&usd) {
        return Err(ConfigError { name, problem: "must be 0 (no ceiling) to 1000000 US dollars".into() });
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok((usd * 1_000_000.0).round() as i64)
}

/// A variable parsed as `T`, or `default` when unset.
pub fn parsed<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError { name, problem: format!("`{raw}` is not a valid value") }),
    }
}
