//! Time helpers: Unix seconds in, RFC 3339 UTC out.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Unix seconds as RFC 3339 UTC with a `Z` (`2026-11-26T12:00:00Z`).
pub fn rfc3339(unix_secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix_secs, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_in_utc_with_z() {
        assert_eq!(super::rfc3339(1_795_694_400), "2026-11-26T12:00:00Z");
    }
}
