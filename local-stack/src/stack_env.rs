//! `.local/stack.env`: where everything listens, as `KEY=value` lines that a
//! shell can source (`. .local/stack.env`): a value with anything but plain
//! characters (a space, say) is single-quoted. Written once every service
//! answers, removed on exit.

use std::path::{Path, PathBuf};

/// The file, removed when dropped.
pub struct StackEnv {
    path: PathBuf,
}

impl StackEnv {
    /// Writes `pairs` to `path` atomically (a reader never sees half a file).
    pub fn write(path: &Path, pairs: &[(String, String)]) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={}\n", quoted(v))).collect();
        let tmp = path.with_extension("env.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        Ok(StackEnv { path: path.to_path_buf() })
    }
}

impl Drop for StackEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A value as a shell reads it back: as it is when it is plain, else in
/// single quotes (a quote inside becomes `'\''`).
fn quoted(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.,:/@%+=".contains(c);
    if !value.is_empty() && value.chars().all(plain) { value.to_string() } else { format!("'{}'", value.replace('\'', "'\\''")) }
}

/// Parses the `KEY=value` lines [`StackEnv::write`] writes.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                Some(inner) => inner.replace("'\\''", "'"),
                None => v.to_string(),
            };
            (k.trim().to_string(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_a_shell_can_source_them() {
        let pairs = [("A", "http://127.0.0.1:80"), ("B", "Bearer rc-local-1"), ("C", "it's"), ("D", "")];
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={}\n", quoted(v))).collect();
        assert!(text.contains("A=http://127.0.0.1:80\n") && text.contains("B='Bearer rc-local-1'\n"), "{text}");
        let back = parse(&text);
        for ((k, v), (k2, v2)) in pairs.iter().zip(&back) {
            assert_eq!((*k, *v), (k2.as_str(), v2.as_str()));
        }
        let script = format!("{text}printf '%s|%s|%s' \"$A\" \"$B\" \"$C\"");
        let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "http://127.0.0.1:80|Bearer rc-local-1|it's");
    }
}
