//! The run's parameters: the knobs (`SOAK_*` in the environment) and the
//! stack's coordinates and settings (the env file `STACK_ENV_FILE` that the
//! local stack writes).

use std::collections::HashMap;
use std::time::Duration;

/// A configuration problem, said in a sentence.
pub type ConfigError = String;

/// The workload's knobs.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Simulated users acting at once (`SOAK_USERS`).
    pub users: usize,
    /// How long users act before the drain (`SOAK_SECONDS`).
    pub seconds: u64,
    /// The jobs to create in all: users keep creating past `seconds` until
    /// this many exist, for at most `seconds` more (`SOAK_JOBS`).
    pub jobs: usize,
    /// At most this many jobs in flight at once across all users
    /// (`SOAK_IN_FLIGHT`): a user waits, watching its own jobs, for a place.
    pub in_flight: usize,
    /// The seed of every random choice of the workload (`SOAK_SEED`; timing
    /// still differs between runs).
    pub seed: u64,
    /// Whether the seed was given (else it was drawn, and is printed).
    pub seed_given: bool,
    /// The share of users that delete their account mid-flight (`SOAK_DELETE_SHARE`).
    pub delete_share: f64,
    /// The KIE simulator's catch-all rates.
    pub kie_fail_rate: f64,
    /// See [`Knobs::kie_fail_rate`].
    pub kie_no_callback_rate: f64,
    /// See [`Knobs::kie_fail_rate`] (refusals with code 429).
    pub kie_429_rate: f64,
}

fn knob<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| format!("{name}={v} is not a valid value")),
        _ => Ok(default),
    }
}

fn rate(name: &str, default: f64) -> Result<f64, ConfigError> {
    let r = knob(name, default)?;
    if (0.0..=1.0).contains(&r) { Ok(r) } else { Err(format!("{name} must be a probability between 0 and 1")) }
}

impl Knobs {
    /// Reads the knobs from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let given: Option<u64> = match std::env::var("SOAK_SEED") {
            Ok(v) if !v.trim().is_empty() => Some(v.trim().parse().map_err(|_| format!("SOAK_SEED={v} is not a whole number"))?),
            _ => None,
        };
        let knobs = Knobs {
            users: knob("SOAK_USERS", 40)?,
            seconds: knob("SOAK_SECONDS", 180)?,
            jobs: knob("SOAK_JOBS", 300)?,
            in_flight: knob("SOAK_IN_FLIGHT", 12)?,
            seed: given.unwrap_or_else(rand::random),
            seed_given: given.is_some(),
            delete_share: rate("SOAK_DELETE_SHARE", 0.1)?,
            kie_fail_rate: rate("SOAK_KIE_FAIL_RATE", 0.1)?,
            kie_no_callback_rate: rate("SOAK_KIE_NO_CALLBACK_RATE", 0.05)?,
            kie_429_rate: rate("SOAK_KIE_429_RATE", 0.05)?,
        };
        if knobs.users == 0 || knobs.seconds == 0 || knobs.in_flight == 0 {
            return Err("SOAK_USERS, SOAK_SECONDS and SOAK_IN_FLIGHT must be at least 1".into());
        }
        Ok(knobs)
    }

    /// How many users delete their account: the share, rounded, and at
    /// least one when the share is not 0 and there are two users or more
    /// (so a short run still exercises the erasure).
    pub fn deleting_users(&self) -> usize {
        let n = (self.users as f64 * self.delete_share).round() as usize;
        if n == 0 && self.delete_share > 0.0 && self.users >= 2 { 1 } else { n.min(self.users) }
    }
}

/// The running stack: its env file's values.
#[derive(Debug, Clone)]
pub struct Stack {
    vars: HashMap<String, String>,
}

impl Stack {
    /// Reads the env file named by `STACK_ENV_FILE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let path = std::env::var("STACK_ENV_FILE").map_err(|_| "STACK_ENV_FILE is not set: run the soak with bin/soak, which starts its stack".to_string())?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Ok(Stack { vars: local_stack::stack_env::parse(&text).into_iter().collect() })
    }

    /// A value of the env file, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// A value of the env file, required.
    pub fn var(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| format!("{key} is missing from the stack's env file"))
    }

    /// `API_URL` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.get("API_URL").unwrap_or_default())
    }

    /// A numeric setting: from the env file, else from this process's
    /// environment (bin/soak exports what it gave the stack: not every
    /// setting is written to the env file), else `default`.
    pub fn setting(&self, key: &str, default: u64) -> u64 {
        self.get(key).map(String::from).or_else(|| std::env::var(key).ok()).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
    }

    /// `PRODUCT_CREDITS` as (product, credits) pairs.
    pub fn products(&self) -> Vec<(String, i64)> {
        self.get("PRODUCT_CREDITS")
            .unwrap_or("credits_5=5,credits_10=10,credits_20=20,credits_50=50")
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(p, c)| Some((p.trim().to_string(), c.trim().parse().ok()?)))
            .collect()
    }
}

/// The stack settings that bound the run's waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `JOB_DEADLINE_SECONDS`.
    pub job_deadline: u64,
    /// `LOCAL_SCHEDULE_SECONDS`: the reaper's and the sweep's period.
    pub reaper_period: u64,
    /// `DELETION_FINAL_PASS_SECONDS`.
    pub final_pass: u64,
    /// `STALL_SECONDS`.
    pub stall: u64,
    /// `UNUSED_UPLOAD_SECONDS`.
    pub unused_upload: u64,
}

impl Timing {
    /// Reads the settings from the stack (see [`Stack::setting`]).
    pub fn of(stack: &Stack) -> Self {
        Timing {
            job_deadline: stack.setting("JOB_DEADLINE_SECONDS", 780),
            reaper_period: stack.setting("LOCAL_SCHEDULE_SECONDS", 5),
            final_pass: stack.setting("DELETION_FINAL_PASS_SECONDS", 360),
            stall: stack.setting("STALL_SECONDS", 60),
            unused_upload: stack.setting("UNUSED_UPLOAD_SECONDS", 3600),
        }
    }

    /// How long the drain may wait for the last jobs: a job created at the
    /// end of the acting time is failed by the reaper at its deadline, found
    /// within a period (twice, for a run that was cut short), plus a margin
    /// for the emulator's queue.
    pub fn drain_bound(&self) -> Duration {
        Duration::from_secs(self.job_deadline + 2 * self.reaper_period + 60)
    }

    /// How late past its deadline a job may finish: one reaper period, and
    /// the reaper's time budget for the item (25 s, of which 8 s for the
    /// provider's last answer).
    pub fn completion_slack(&self) -> i64 {
        (self.reaper_period + 25) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(users: usize, share: f64) -> Knobs {
        Knobs {
            users,
            seconds: 1,
            jobs: 1,
            in_flight: 1,
            seed: 0,
            seed_given: true,
            delete_share: share,
            kie_fail_rate: 0.0,
            kie_no_callback_rate: 0.0,
            kie_429_rate: 0.0,
        }
    }

    #[test]
    fn a_share_of_users_delete_their_account_and_at_least_one_when_asked() {
        assert_eq!(knobs(40, 0.1).deleting_users(), 4);
        assert_eq!(knobs(8, 0.1).deleting_users(), 1);
        assert_eq!(knobs(8, 0.0).deleting_users(), 0);
        assert_eq!(knobs(1, 0.1).deleting_users(), 0);
        assert_eq!(knobs(3, 1.0).deleting_users(), 3);
    }

    #[test]
    fn products_and_settings_come_from_the_env_file() {
        let stack =
            Stack { vars: [("PRODUCT_CREDITS".to_string(), "credits_5=5, credits_10=10".to_string()), ("JOB_DEADLINE_SECONDS".into(), "120".into())].into() };
        assert_eq!(stack.products(), vec![("credits_5".to_string(), 5), ("credits_10".to_string(), 10)]);
        assert_eq!(stack.setting("JOB_DEADLINE_SECONDS", 780), 120);
        assert_eq!(Timing::of(&stack).drain_bound(), Duration::from_secs(120 + 2 * stack.setting("LOCAL_SCHEDULE_SECONDS", 5) + 60));
    }
}
