//! Check 6: data exports. After the drain every export record is `ready`
//! or `failed` (none stuck `preparing`), a ready one's ZIP exists, and every
//! export a remaining user was answered 202 for has its record. Deleted
//! accounts' exports are part of check 4 ("deleted accounts leave nothing").

use std::collections::HashSet;

use super::Check;
use crate::facts::Facts;
use crate::model::UserLog;
use crate::storage::attr;

/// Runs check 6.
pub fn check(facts: &Facts, logs: &[UserLog]) -> Check {
    let mut check = Check::new("6 every data export is ready or failed, none stuck");
    let exports: Vec<_> = facts.items.iter().filter(|it| attr(it, "entity") == Some("export")).collect();
    let mut ready = 0;
    for export in &exports {
        let id = attr(export, "export_id").unwrap_or_default();
        match attr(export, "status") {
            Some("ready") => {
                ready += 1;
                match attr(export, "object_key") {
                    Some(key) if facts.objects.contains(key) => {}
                    key => check.fail(format!("{id}: ready, its ZIP {key:?} is missing")),
                }
            }
            Some("failed") => {}
            other => check.fail(format!("{id}: still {other:?} after the drain")),
        }
    }
    let stored: HashSet<&str> = exports.iter().filter_map(|it| attr(it, "export_id")).collect();
    for log in logs.iter().filter(|l| !l.deleted_account()) {
        for id in log.exports.iter().filter(|id| !stored.contains(id.as_str())) {
            check.fail(format!("{id}: answered 202 to user {}, no record", log.user_id));
        }
    }
    check.with_note(format!("{} export(s), {ready} ready", exports.len()))
}
