//! A sliding-window log: the timestamps of recent hits, kept only for the
//! window, so the limit holds over any hour, not per clock hour.

/// The outcome of asking for one more hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Allowed and recorded.
    Admitted,
    /// Over the limit; a hit will be allowed again in this many seconds.
    Limited {
        /// Seconds until the oldest hit leaves the window.
        retry_after_secs: u64,
    },
}

/// Given the stored hits, keeps those inside the window and either admits a
/// new hit at `now` (returning the new log) or says when to retry.
pub fn slide(hits: &[i64], now: i64, limit: u32, window_secs: i64) -> Result<Vec<i64>, u64> {
    if limit == 0 {
        return Err(window_secs.max(1) as u64);
    }
    let mut recent: Vec<i64> = hits.iter().copied().filter(|&t| t > now - window_secs).collect();
    recent.sort_unstable();
    if recent.len() >= limit as usize {
        // The hit that must leave the window before one more fits.
        let oldest_blocking = recent[recent.len() - limit as usize];
        let wait = (oldest_blocking + window_secs - now).max(1);
        return Err(wait as u64);
    }
    recent.push(now);
    Ok(recent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_says_when() {
        let mut log = Vec::new();
        for t in 0..3 {
            log = slide(&log, 100 + t, 3, 3600).unwrap();
        }
        assert_eq!(slide(&log, 200, 3, 3600), Err(3500));
    }

    #[test]
    fn old_hits_leave_the_window() {
        let log = vec![0, 10, 20];
        assert_eq!(slide(&log, 3_601, 3, 3600).unwrap(), vec![10, 20, 3_601]);
    }

    #[test]
    fn zero_limit_never_admits() {
        assert!(slide(&[], 5, 0, 60).is_err());
    }
}
