//! `.local/stack.env`: where everything listens, as `KEY=value` lines (no
//! quotes; the value is the rest of the line). Written once every service
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
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
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

/// Parses `KEY=value` lines.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}
