//! After a violation: what the stack's log (`STACK_LOG_FILE`, JSON lines)
//! says about the first offending ids, so the report points at the cause.

use std::collections::BTreeSet;

use crate::checks::Check;

/// Lines shown per id.
const LINES_PER_ID: usize = 6;
/// Ids looked up per failing check.
const IDS_PER_CHECK: usize = 3;

/// The ids an offender line names: every 32-hex-digit token (job, user and
/// upload ids, in keys too), and a leading transaction id.
fn ids_of(offender: &str) -> Vec<String> {
    let hex = |t: &&str| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit());
    let mut ids: Vec<String> = offender.split(|c: char| !c.is_ascii_alphanumeric()).filter(hex).map(String::from).collect();
    let head = offender.split(':').next().unwrap_or_default().trim();
    if head.starts_with("GPA.") {
        ids.push(head.to_string());
    }
    ids.dedup();
    ids
}

/// Prints, for the first offenders of each failed check, the log lines
/// naming them (warnings and errors first, then the last others).
pub fn print_for(checks: &[Check]) {
    let Ok(path) = std::env::var("STACK_LOG_FILE") else { return };
    let ids: BTreeSet<String> = checks.iter().filter(|c| !c.passed()).flat_map(|c| c.offenders.iter().take(IDS_PER_CHECK)).flat_map(|o| ids_of(o)).collect();
    if ids.is_empty() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("(cannot read the stack log {path})");
        return;
    };
    println!("\nthe stack log ({path}) on the first offenders:");
    for id in ids {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(id.as_str())).collect();
        let mut picked: Vec<&str> = lines.iter().filter(|l| l.contains("\"WARN\"") || l.contains("\"ERROR\"")).copied().collect();
        picked.truncate(LINES_PER_ID);
        let rest = LINES_PER_ID.saturating_sub(picked.len());
        let others: Vec<&str> = lines.iter().filter(|l| !picked.contains(l)).copied().collect();
        picked.extend(others.iter().skip(others.len().saturating_sub(rest)));
        println!("  {id}: {} line(s) mention it", lines.len());
        for line in picked {
            let shown: String = line.chars().take(400).collect();
            println!("    {shown}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_taken_from_keys_and_explanations() {
        let user = "ef02cf5b9a96446a9190b5ef88254041";
        let upload = "01a23516212e772a8e9aad7043ac49df";
        let job = "01a2351622807694abb0cdce9271ed51";
        let line = format!("users/{user}/uploads/{upload}: no record owns it (job {job}: deleted)");
        assert_eq!(ids_of(&line), vec![user.to_string(), upload.to_string(), job.to_string()]);
        assert_eq!(ids_of("GPA.1234-5678-9012-34567: granted twice"), vec!["GPA.1234-5678-9012-34567".to_string()]);
    }
}
