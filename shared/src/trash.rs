//! Trash: the objects a deleted record leaves behind, listed in the same
//! transaction that deletes the record, so a deletion cut short is finished
//! by a retry or the sweep.

/// Objects waiting to be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trash {
    /// Their owner.
    pub user_id: String,
    /// What they belonged to (a job id).
    pub name: String,
    /// The object keys.
    pub keys: Vec<String>,
}
