//! Matches a request to a template route: literal segments must be equal,
//! `{name}` segments capture one non-empty segment.

use std::collections::HashMap;

use crate::registry::Dispatch;
use crate::template::RouteSpec;

/// A route with its built handler.
pub struct Entry {
    /// The template's route.
    pub spec: RouteSpec,
    /// Its handler.
    pub dispatch: Dispatch,
    /// Its function's timeout: past it, Lambda stops the invocation.
    pub timeout: std::time::Duration,
}

/// All routes.
pub struct Router {
    entries: Vec<Entry>,
}

/// A matched route and its path parameters.
pub struct Match<'a> {
    pub entry: &'a Entry,
    /// `{name}` → value.
    pub params: HashMap<String, String>,
}

/// Path parameters if `pattern` matches `path`.
pub fn match_path(pattern: &str, path: &str) -> Option<HashMap<String, String>> {
    let (p, s): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    if p.len() != s.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (pat, seg) in p.iter().zip(&s) {
        match pat.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
            Some(name) if !seg.is_empty() => {
                params.insert(name.to_string(), seg.to_string());
            }
            Some(_) => return None,
            None if pat == seg => {}
            None => return None,
        }
    }
    Some(params)
}

impl Router {
    /// A router over `entries`.
    pub fn new(entries: Vec<Entry>) -> Self {
        Router { entries }
    }

    /// The route for `method` and `path`, if any.
    pub fn find(&self, method: &str, path: &str) -> Option<Match<'_>> {
        self.entries.iter().find_map(|entry| {
            if !entry.spec.method.eq_ignore_ascii_case(method) {
                return None;
            }
            match_path(&entry.spec.path, path).map(|params| Match { entry, params })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::match_path;

    #[test]
    fn literal_and_parameter_segments() {
        assert!(match_path("/v1/me", "/v1/me").is_some());
        assert!(match_path("/v1/me", "/v1/me/x").is_none());
        let p = match_path("/v1/jobs/{job_id}", "/v1/jobs/abc").unwrap();
        assert_eq!(p["job_id"], "abc");
        assert!(match_path("/v1/jobs/{job_id}", "/v1/jobs/").is_none());
        assert!(match_path("/v1/jobs/{job_id}", "/v1/jobs").is_none());
    }
}
