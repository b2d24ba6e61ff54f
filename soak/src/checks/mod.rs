//! The checks after the drain, each a named verdict with its offenders:
//! jobs and their credits (`jobs.rs`), purchases (`purchases.rs`), storage
//! (`storage.rs`), the dead-letter queues (`dead_letters.rs`) and data
//! exports (`exports.rs`).

/// Check 5.
pub mod dead_letters;
/// Check 6.
pub mod exports;
/// Checks 1 and 2.
pub mod jobs;
/// Check 3.
pub mod purchases;
/// Check 4.
pub mod storage;

/// One check's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is checked, as the table shows it.
    pub name: String,
    /// Each violation: the offending id first, then what is wrong.
    pub offenders: Vec<String>,
    /// Said after `ok` (what passing means here, or what was explained).
    pub note: Option<String>,
}

impl Check {
    /// A check with no violation yet.
    pub fn new(name: impl Into<String>) -> Self {
        Check { name: name.into(), offenders: Vec::new(), note: None }
    }

    /// Records a violation.
    pub fn fail(&mut self, what: String) {
        self.offenders.push(what);
    }

    /// With a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Whether nothing was violated.
    pub fn passed(&self) -> bool {
        self.offenders.is_empty()
    }
}
