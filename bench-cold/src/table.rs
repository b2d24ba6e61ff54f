//! The benchmark's table: one row per function, with the empty function as
//! the unit of `init ×hello`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::run::RunResult;

/// The empty function's name in the table.
pub(crate) const HELLO: &str = "hello-lambda";

/// One function's runs.
pub(crate) struct Row {
    pub name: String,
    /// What it carries (`links` of the bootstrap).
    pub links: String,
    pub bootstrap_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
    pub runs: Vec<RunResult>,
    /// The empty function's inits, each run right after one of this function's: the unit of
    /// its `init ×hello`, taken in the same minutes as its own runs.
    pub beside: Vec<Duration>,
    pub failure: Option<String>,
}

/// The median (the lower middle of an even count).
fn median<T: Ord + Copy>(v: &[T]) -> Option<T> {
    percentile(v, 50)
}

/// The `p`th percentile, nearest rank.
fn percentile<T: Ord + Copy>(v: &[T], p: usize) -> Option<T> {
    let mut v = v.to_vec();
    v.sort_unstable();
    let rank = (v.len() * p).div_ceil(100).max(1);
    v.get(rank - 1).copied()
}

/// Milliseconds, two decimals below 10 ms, one above.
pub(crate) fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) if d.as_secs_f64() < 0.01 => format!("{:.2}", d.as_secs_f64() * 1e3),
        Some(d) => format!("{:.1}", d.as_secs_f64() * 1e3),
        None => "–".into(),
    }
}

/// Megabytes (10^6 bytes).
fn mb(bytes: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)]
    bytes.map_or_else(|| "–".into(), |b| format!("{:.2}", b as f64 / 1e6))
}

/// `201` when every answer was 201, else each answer with its count, most first.
fn tally<'a>(answers: impl Iterator<Item = &'a String>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    if counts.len() <= 1 {
        return counts.keys().next().map_or_else(|| "–".into(), |a| (*a).to_string());
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts.iter().map(|(a, n)| format!("{a}×{n}")).collect::<Vec<_>>().join(" ")
}

impl Row {
    fn init_best(&self) -> Option<Duration> {
        self.runs.iter().map(|r| r.init).min()
    }

    /// The unit of `init ×hello`: the best of the empty function's runs beside this function's,
    /// or, without any (the empty function's own row), the best of all of its runs.
    fn unit(&self, hello_best: Option<Duration>) -> Option<Duration> {
        self.beside.iter().copied().min().or(hello_best)
    }

    fn cells(&self, hello_best: Option<Duration>) -> Vec<String> {
        let inits: Vec<_> = self.runs.iter().map(|r| r.init).collect();
        let firsts: Vec<_> = self.runs.iter().map(|r| r.first).collect();
        let warm: Vec<_> = self.runs.iter().flat_map(|r| r.warm.iter().copied()).collect();
        let rss: Vec<u64> = self.runs.iter().filter_map(|r| r.peak_rss_kib).collect();
        let faults: Vec<u64> = self.runs.iter().filter_map(|r| r.init_faults).collect();
        let unit = self.unit(hello_best);
        let ratio = match (self.init_best(), unit) {
            (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
            _ => "–".into(),
        };
        #[allow(clippy::cast_precision_loss)]
        let rss = median(&rss).map_or_else(|| "–".into(), |kib| format!("{:.1}", kib as f64 / 1024.0));
        let answers = if self.runs.is_empty() {
            "–".into()
        } else {
            let first = tally(self.runs.iter().filter_map(|r| r.answers.first()));
            let warm = tally(self.runs.iter().flat_map(|r| r.answers.iter().skip(1)));
            format!("{first}; {warm}")
        };
        let conns = |phase: fn(&RunResult) -> usize| median(&self.runs.iter().map(phase).collect::<Vec<_>>()).map_or_else(|| "–".into(), |n| n.to_string());
        let mut cells = vec![
            self.name.clone(),
            self.links.clone(),
            mb(self.bootstrap_bytes),
            mb(self.zip_bytes),
            ms(self.init_best()),
            ms(median(&inits)),
            ms(unit),
            ratio,
            median(&faults).map_or_else(|| "–".into(), |n| n.to_string()),
            ms(median(&firsts)),
            ms(percentile(&warm, 50)),
            ms(percentile(&warm, 99)),
            rss,
            format!("{}; {}; {}", conns(|r| r.connections[0]), conns(|r| r.connections[1]), conns(|r| r.connections[2])),
            answers,
        ];
        if let Some(failure) = &self.failure {
            let last = cells.len() - 1;
            cells[last] = format!("FAILED after {} run(s): {}", self.runs.len(), failure.replace('|', "/").replace('\n', " "));
        }
        cells
    }
}

const HEADER: [&str; 15] = [
    "function",
    "links",
    "bootstrap MB",
    "zip MB",
    "init best ms",
    "init median ms",
    "hello beside ms",
    "init ×hello",
    "init faults",
    "1st invoke ms",
    "warm p50 ms",
    "warm p99 ms",
    "peak RSS MiB",
    "AWS conns (init; 1st; warm)",
    "answers (1st; warm)",
];

/// The table, in Markdown, numbers right-aligned.
pub(crate) fn render(rows: &[Row]) -> String {
    let hello_best = rows.iter().find(|r| r.name == HELLO).and_then(Row::init_best);
    let table: Vec<Vec<String>> = std::iter::once(HEADER.iter().map(|h| (*h).to_string()).collect()).chain(rows.iter().map(|r| r.cells(hello_best))).collect();
    let widths: Vec<usize> = (0..HEADER.len()).map(|c| table.iter().map(|row| row[c].chars().count()).max().unwrap_or(0)).collect();
    let line = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c] - cell.chars().count();
                // Names and answers to the left, numbers to the right.
                if c <= 1 || c == HEADER.len() - 1 { format!("{cell}{}", " ".repeat(pad)) } else { format!("{}{cell}", " ".repeat(pad)) }
            })
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&table[0]);
    // Markdown's alignment row: `---:` right-aligns a column.
    let rule: Vec<String> =
        widths.iter().enumerate().map(|(c, w)| if c <= 1 || c == HEADER.len() - 1 { "-".repeat(w + 2) } else { format!("{}:", "-".repeat(w + 1)) }).collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in &table[1..] {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Bytes;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v = millis(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&v), Some(Duration::from_millis(3)));
        assert_eq!(percentile(&v, 99), Some(Duration::from_millis(5)));
        assert_eq!(median(&millis(&[1, 2, 3, 4])), Some(Duration::from_millis(2)));
        assert_eq!(percentile(&(1..=100).collect::<Vec<u64>>(), 99), Some(99));
        assert_eq!(median::<u64>(&[]), None);
    }

    #[test]
    fn answers_are_tallied() {
        let same = ["201".to_string(), "201".to_string()];
        assert_eq!(tally(same.iter()), "201");
        let mixed = ["401".to_string(), "202".to_string(), "401".to_string()];
        assert_eq!(tally(mixed.iter()), "401×2 202×1");
        assert_eq!(tally(std::iter::empty()), "–");
    }

    #[test]
    fn the_table_is_markdown_with_the_empty_function_as_the_unit() {
        let run = |init_ms| RunResult {
            init: Duration::from_millis(init_ms),
            init_faults: Some(211),
            first: Duration::from_millis(3),
            warm: millis(&[1, 1, 2]),
            peak_rss_kib: Some(10_240),
            first_answer: Bytes::new(),
            answers: vec!["200".into(); 4],
            phases: [std::time::Instant::now(); 4],
            connections: [1, 0, 0],
        };
        let row = |name: &str, init_ms| Row {
            name: name.into(),
            links: "S3".into(),
            bootstrap_bytes: Some(2_500_000),
            zip_bytes: None,
            runs: vec![run(init_ms)],
            beside: Vec::new(),
            failure: None,
        };
        // Beside its own runs the empty function took 2.5 ms at best: the unit of get-me's
        // ratio is that, not the 2 ms of its own row.
        let paired = Row { beside: millis(&[3, 4]).into_iter().map(|d| d - Duration::from_micros(500)).collect(), ..row("create-job", 5) };
        let table = render(&[row(HELLO, 2), row("get-me", 5), paired]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("|---") && lines[1].contains(":|"), "{}", lines[1]);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
        let cells = |line: &str| line.split('|').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let column = |name: &str| HEADER.iter().position(|h| *h == name).unwrap();
        let (get_me, hello, paired) = (cells(lines[3]), cells(lines[2]), cells(lines[4]));
        assert_eq!(get_me[column("bootstrap MB")], "2.50");
        assert_eq!(get_me[column("peak RSS MiB")], "10.0");
        assert_eq!(get_me[column("answers (1st; warm)")], "200; 200");
        assert_eq!(get_me[column("AWS conns (init; 1st; warm)")], "1; 0; 0");
        assert_eq!(get_me[column("init faults")], "211");
        let unit_and_ratio = |row: &[String]| (row[column("init best ms")].clone(), row[column("hello beside ms")].clone(), row[column("init ×hello")].clone());
        assert_eq!(unit_and_ratio(&hello), ("2.00".into(), "2.00".into(), "1.00".into()));
        assert_eq!(unit_and_ratio(&get_me), ("5.00".into(), "2.00".into(), "2.50".into()), "no runs beside: the empty function's best");
        assert_eq!(unit_and_ratio(&paired), ("5.00".into(), "2.50".into(), "2.00".into()));
    }
}
