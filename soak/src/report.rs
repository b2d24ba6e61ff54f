//! The report: one plain-text table, aligned, with the run's parameters, its
//! counts and every check as `ok` or `VIOLATED (n)` with the first
//! offenders.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::checks::Check;
use crate::checks::jobs::Outcomes;
use crate::config::{Knobs, Timing};
use crate::drain::Drained;
use crate::external::{FaultSummary, KieSummary};
use crate::facts::percentile;
use crate::model::{Deleted, Delivery, UserLog};

/// Everything the table shows.
pub struct Summary<'a> {
    pub knobs: &'a Knobs,
    /// The stack's timing settings.
    pub timing: Timing,
    /// The fault layer's rates at start (`AWS_FAULTS`).
    pub aws_faults: String,
    /// The second models of `standard` and `high` (`KIE_FALLBACK_MODEL_*`; empty: none).
    pub fallback_models: [String; 2],
    /// What the users did.
    pub logs: &'a [UserLog],
    /// Seconds the users acted (the last user's end).
    pub acting_secs: f64,
    /// The drain.
    pub drained: &'a Drained,
    /// The jobs' outcomes.
    pub outcomes: &'a Outcomes,
    /// Non-2xx answers by (route, status).
    pub answers: BTreeMap<(String, String), u64>,
    /// The fault layer's counts.
    pub faults: &'a FaultSummary,
    /// Every API try's time in ms, sorted (the client's view).
    pub api_times: &'a [u64],
    /// The KIE simulator's counts.
    pub kie: Option<&'a KieSummary>,
    pub checks: &'a [Check],
    /// Profiles the soak did not knowingly create.
    pub untracked_profiles: usize,
}

/// How many offenders a table cell names.
const FIRST: usize = 3;

struct Table {
    rows: Vec<(String, String, String)>,
    section: String,
}

impl Table {
    fn section(&mut self, name: &str) {
        self.section = name.to_string();
    }

    fn row(&mut self, item: impl Into<String>, value: impl Into<String>) {
        // The section name only on its first row, so sections stand out.
        let section = std::mem::take(&mut self.section);
        self.rows.push((section, item.into(), value.into()));
    }

    fn print(&self) {
        let w0 = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let w1 = self.rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        let rule = "-".repeat(w0 + w1 + 60);
        println!("{rule}");
        for (i, (s, item, value)) in self.rows.iter().enumerate() {
            if !s.is_empty() && i > 0 {
                println!("{rule}");
            }
            println!("{s:<w0$}  {item:<w1$}  {value}");
        }
        println!("{rule}");
    }
}

fn verdict(check: &Check) -> String {
    if check.passed() {
        return check.note.as_ref().map_or("ok".to_string(), |n| format!("ok ({n})"));
    }
    let first: Vec<&str> = check.offenders.iter().take(FIRST).map(String::as_str).collect();
    let more = if check.offenders.len() > FIRST { "; …" } else { "" };
    format!("VIOLATED ({}): {}{more}", check.offenders.len(), first.join("; "))
}

fn count(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn object_counts(v: &Value) -> String {
    v.as_object().map_or_else(|| v.to_string(), |o| o.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "))
}

/// Prints the table.
pub fn print(s: &Summary<'_>) {
    let mut t = Table { rows: Vec::new(), section: String::new() };
    let k = s.knobs;
    let signed_up = s.logs.iter().filter(|l| !l.user_id.is_empty()).count();
    let deleted_accounts = s.logs.iter().filter(|l| l.deleted_account()).count();
    let created: usize = s.logs.iter().map(|l| l.jobs.len()).sum();

    t.section("parameters");
    t.row("users (SOAK_USERS)", format!("{} ({} delete their account mid-flight)", k.users, k.deleting_users()));
    t.row("acting time (SOAK_SECONDS)", format!("{} s; users acted {:.0} s", k.seconds, s.acting_secs));
    let reached = if created >= k.jobs { "reached".to_string() } else { format!("NOT reached: {created} after {:.0} s", s.acting_secs) };
    t.row("jobs wanted (SOAK_JOBS)", format!("{} ({reached})", k.jobs));
    t.row("jobs in flight at most (SOAK_IN_FLIGHT)", k.in_flight.to_string());
    t.row("seed (SOAK_SEED)", format!("{}{}", k.seed, if k.seed_given { "" } else { " (drawn)" }));
    t.row("AWS faults (AWS_FAULTS)", if s.aws_faults.is_empty() { "off".to_string() } else { s.aws_faults.clone() });
    let fallback = |m: &String| if m.is_empty() { "none".to_string() } else { m.clone() };
    t.row("second models (KIE_FALLBACK_MODEL_*)", format!("standard {}, high {}", fallback(&s.fallback_models[0]), fallback(&s.fallback_models[1])));
    t.row("KIE catch-all rule", format!("fail {}, no callback {}, createTask 429 {}", k.kie_fail_rate, k.kie_no_callback_rate, k.kie_429_rate));
    let tm = s.timing;
    t.row(
        "stack timing",
        format!(
            "deadline {} s, reaper every {} s, stall {} s, unused upload {} s, last pass {} s",
            tm.job_deadline, tm.reaper_period, tm.stall, tm.unused_upload, tm.final_pass
        ),
    );

    t.section("counts");
    t.row("users signed up / accounts deleted", format!("{signed_up} / {deleted_accounts} (+{} profile(s) from lost sign-up answers)", s.untracked_profiles));
    let rate = if s.acting_secs > 0.0 { created as f64 / s.acting_secs } else { 0.0 };
    let high = s.logs.iter().flat_map(|l| &l.jobs).filter(|j| j.quality == "high").count();
    let derived = s.logs.iter().flat_map(|l| &l.jobs).filter(|j| j.source_job_id.is_some()).count();
    t.row(
        "jobs created",
        format!(
            "{created} ({rate:.2} per second over {:.0} s; {} standard, {high} high; {derived} from an earlier job's photo)",
            s.acting_secs,
            created - high
        ),
    );
    let o = s.outcomes;
    let failed: usize = o.failed.values().sum();
    let by_code: Vec<String> = ["content_rejected", "invalid_image", "provider_failed", "timed_out"]
        .iter()
        .map(|c| format!("{c} {}", o.failed.get(*c).copied().unwrap_or(0)))
        .chain(
            o.failed
                .iter()
                .filter(|(c, _)| !["content_rejected", "invalid_image", "provider_failed", "timed_out"].contains(&c.as_str()))
                .map(|(c, n)| format!("{c} {n}")),
        )
        .collect();
    t.row("  succeeded", o.succeeded.to_string());
    t.row("  failed", format!("{failed}: {}", by_code.join(", ")));
    t.row("  switched to the second model", format!("{} ({} succeeded on it)", o.switched, o.switched_succeeded));
    let del = |why: Deleted| s.logs.iter().filter(|l| !l.deleted_account()).flat_map(|l| &l.jobs).filter(|j| j.deleted == Some(why)).count();
    t.row("  deleted by their user", format!("{} (sent: {} while running, {} finished)", o.deleted, del(Deleted::WhileActive), del(Deleted::Finished)));
    t.row("  gone with their account", o.with_account.to_string());
    if o.other > 0 {
        t.row("  other (see the checks)", o.other.to_string());
    }
    let (p50, p95, max) = (percentile(&o.latencies, 0.5), percentile(&o.latencies, 0.95), o.latencies.last());
    let secs = |v: Option<i64>| v.map_or("-".to_string(), |v| format!("{v} s"));
    t.row("creation -> final (records)", format!("p50 {}, p95 {}, max {} (n = {})", secs(p50), secs(p95), secs(max.copied()), o.latencies.len()));
    let purchases: Vec<_> = s.logs.iter().flat_map(|l| &l.purchases).collect();
    let by = |d: Delivery| purchases.iter().filter(|p| p.delivery == d).count();
    t.row(
        "purchases",
        format!(
            "{} (webhook x2 {}, late out of order {}, sync {}); refunded {}",
            purchases.len(),
            by(Delivery::Webhook),
            by(Delivery::Late),
            by(Delivery::Sync),
            purchases.iter().filter(|p| p.refunded).count()
        ),
    );
    let ms = |p: f64| s.api_times.get(((s.api_times.len().max(1) - 1) as f64 * p).round() as usize).map_or("-".to_string(), |v| format!("{v} ms"));
    t.row("API answer time (each try)", format!("p50 {}, p95 {}, max {} (n = {})", ms(0.5), ms(0.95), ms(1.0), s.api_times.len()));
    t.row("drain", format!("jobs {:.0} s, account deletions {:.0} s", s.drained.jobs_secs, s.drained.deletions_secs));
    let notes: usize = s.logs.iter().map(|l| l.notes.len()).sum();
    t.row("client gave up (after retries)", notes.to_string());

    t.section("API non-2xx");
    if s.answers.is_empty() {
        t.row("(none)", "");
    }
    let mut by_route: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((route, status), n) in &s.answers {
        by_route.entry(route).or_default().push(format!("{status} x{n}"));
    }
    for (route, statuses) in by_route {
        t.row(route, statuses.join(", "));
    }

    t.section("injected");
    t.row("AWS fault layer", format!("{} requests; {}", s.faults.requests, count(&s.faults.injected)));
    let busiest: Vec<String> = s.faults.busiest.iter().take(6).map(|(op, n)| format!("{op} {n}")).collect();
    t.row("  busiest AWS calls", busiest.join(", "));
    match s.kie {
        Some(kie) => {
            t.row("KIE simulator /sim/stats", object_counts(&kie.stats));
            let states: BTreeMap<String, u64> = kie.states.iter().map(|(k, v)| (k.clone(), *v as u64)).collect();
            t.row("KIE tasks", format!("{}; no callback {}; createTask refused {}", count(&states), kie.no_callback, kie.create_refused));
        }
        None => t.row("KIE", "not the simulator (KIE_BASE_URL given)"),
    }

    t.section("checks");
    for check in s.checks {
        t.row(check.name.clone(), verdict(check));
    }
    t.print();
}
