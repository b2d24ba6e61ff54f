//! The table: per route, the statuses seen, the AWS calls of one request
//! (every run's list is kept; runs that differ are shown apart), and the
//! median wall time of `respond` over the runs.

use std::fmt::Write as _;
use std::time::Duration;

use crate::counter::SESSION_CHECK;
use crate::harness::Outcome;

/// Every run of one route (or one check below the route level).
#[derive(Debug, Clone)]
pub struct Row {
    /// What was run, e.g. `POST /v1/jobs`.
    pub name: String,
    statuses: Vec<u16>,
    calls: Vec<Vec<String>>,
    times: Vec<Duration>,
}

impl Row {
    /// An empty row.
    pub fn new(name: impl Into<String>) -> Self {
        Row { name: name.into(), statuses: vec![], calls: vec![], times: vec![] }
    }

    /// Adds a run of a route.
    pub fn add(&mut self, out: &Outcome) {
        self.add_run(Some(out.status), out.calls.clone(), out.elapsed);
    }

    /// Adds a run; `status` is `None` for a check that is not an HTTP request.
    pub fn add_run(&mut self, status: Option<u16>, calls: Vec<String>, elapsed: Duration) {
        self.statuses.extend(status);
        self.calls.push(calls);
        self.times.push(elapsed);
    }

    /// The number of runs.
    pub fn runs(&self) -> usize {
        self.times.len()
    }

    /// The median time, in milliseconds.
    pub fn median_ms(&self) -> f64 {
        let mut t: Vec<f64> = self.times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        t.sort_by(f64::total_cmp);
        match t.len() {
            0 => 0.0,
            n if n % 2 == 1 => t[n / 2],
            n => (t[n / 2 - 1] + t[n / 2]) / 2.0,
        }
    }

    /// The distinct call lists (by their grouped form) and how many runs made each.
    pub fn variants(&self) -> Vec<(Vec<(String, usize)>, usize)> {
        let mut out: Vec<(Vec<(String, usize)>, usize)> = Vec::new();
        for calls in &self.calls {
            let grouped = group(calls);
            match out.iter_mut().find(|(g, _)| *g == grouped) {
                Some((_, n)) => *n += 1,
                None => out.push((grouped, 1)),
            }
        }
        out
    }

    /// `201` or, when runs differed, `201×19 429×1`.
    fn status_text(&self) -> String {
        let mut seen: Vec<(u16, usize)> = Vec::new();
        for s in &self.statuses {
            match seen.iter_mut().find(|(v, _)| v == s) {
                Some((_, n)) => *n += 1,
                None => seen.push((*s, 1)),
            }
        }
        match seen.as_slice() {
            [] => "-".into(),
            [(s, _)] => s.to_string(),
            many => many.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" "),
        }
    }
}

/// `["a", "b", "a"]` → `[("a", 2), ("b", 1)]`, in order of first appearance.
pub fn group(calls: &[String]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in calls {
        match out.iter_mut().find(|(name, _)| name == c) {
            Some((_, n)) => *n += 1,
            None => out.push((c.clone(), 1)),
        }
    }
    out
}

fn list_text(grouped: &[(String, usize)]) -> String {
    if grouped.is_empty() {
        return "(none)".into();
    }
    grouped.iter().map(|(c, n)| format!("{c} × {n}")).collect::<Vec<_>>().join(", ")
}

/// The table, one line per distinct call list of each row.
pub fn render(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>6}  {:>5}  {:>7}  {:>10}  {:>4}  AWS calls (service.Operation × n)",
        "route", "status", "calls", "session", "median ms", "runs"
    );
    let _ = writeln!(out, "{}", "-".repeat(width + 48 + 34));
    for row in rows {
        let variants = row.variants();
        for (i, (grouped, runs_with_it)) in variants.iter().enumerate() {
            let total: usize = grouped.iter().map(|(_, n)| n).sum();
            let session: usize = grouped.iter().filter(|(c, _)| c.ends_with(SESSION_CHECK)).map(|(_, n)| n).sum();
            let mut list = list_text(grouped);
            if variants.len() > 1 {
                let _ = write!(list, "   (in {runs_with_it} of {} runs)", row.runs());
            }
            if i == 0 {
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>6}  {:>5}  {:>7}  {:>10.2}  {:>4}  {list}",
                    row.name,
                    row.status_text(),
                    total,
                    session,
                    row.median_ms(),
                    row.runs()
                );
            } else {
                let _ = writeln!(out, "{:<width$}  {:>6}  {:>5}  {:>7}  {:>10}  {:>4}  {list}", "", "", total, session, "", "");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn median_of_odd_and_even_runs() {
        let mut r = Row::new("x");
        for t in [5, 1, 3] {
            r.add_run(Some(200), vec![], ms(t));
        }
        assert_eq!(r.median_ms(), 3.0);
        r.add_run(Some(200), vec![], ms(10));
        assert_eq!(r.median_ms(), 4.0);
    }

    #[test]
    fn calls_are_grouped_and_differing_runs_shown_apart() {
        let mut r = Row::new("POST /v1/jobs");
        let a = vec!["S3.GetObject".to_string(), "SQS.SendMessage".into(), "S3.GetObject".into()];
        r.add_run(Some(202), a.clone(), ms(1));
        r.add_run(Some(202), a, ms(1));
        r.add_run(Some(429), vec!["S3.GetObject".into()], ms(1));
        assert_eq!(r.variants()[0], (vec![("S3.GetObject".into(), 2), ("SQS.SendMessage".into(), 1)], 2));
        let text = render(&[r]);
        assert!(text.contains("202×2 429×1"), "{text}");
        assert!(text.contains("S3.GetObject × 2, SQS.SendMessage × 1   (in 2 of 3 runs)"), "{text}");
    }
}
