//! The AWS SDK's endpoint partitions, cut to the one a function runs in.
//!
//! Every AWS service crate (DynamoDB, S3, SQS, Secrets Manager) parses its own
//! copy of the SDK's partition table when its client is built: eight
//! partitions, a list of regions each and eight regular expressions, about
//! 0.42 M instructions per client, half of a three-client function's init.
//! A function runs in one region, so it needs one partition. The SDK reads a
//! partition table from the file `SMITHY_CLIENT_SDK_CUSTOM_PARTITION` names
//! (smithy-rs #3610); at cold start, in a region of the commercial `aws`
//! partition, the function points it at a table holding only that partition.
//!
//! The endpoints do not change: the partition's outputs and region pattern
//! are the SDK's own (its listed regions carry no overrides, only
//! descriptions, so matching by pattern gives the same outputs), and in any
//! other partition (China, GovCloud, the ISO and sovereign clouds) nothing is
//! set and the SDK's full table is used. A test resolves every endpoint our
//! clients use both ways, in every region of the partition.
//!
//! On this project's 2-core benchmark machine the saving (1.1 M of the
//! worker's 2.7 M init instructions) hides in the noise of page faults; on
//! Lambda, where a small function gets a fraction of a vCPU, init's CPU work
//! is what is throttled, so it is kept at the cost of one file read (and,
//! the first time in a sandbox, one write) per cold start.

use std::path::{Path, PathBuf};

/// The variable the SDK reads a custom partition table's path from.
pub const CUSTOM_PARTITION_VARIABLE: &str = "SMITHY_CLIENT_SDK_CUSTOM_PARTITION";

/// The `aws` partition of the SDK's table (version 1.1), without the list of
/// region names and descriptions.
pub const AWS_PARTITION: &str = r#"{"partitions":[{"id":"aws","outputs":{"dnsSuffix":"amazonaws.com","dualStackDnsSuffix":"api.aws","implicitGlobalRegion":"us-east-1","name":"aws","supportsDualStack":true,"supportsFIPS":true},"regionRegex":"^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$","regions":{}}],"version":"1.1"}"#;

/// Whether `region` is one of the `aws` partition's, by the SDK's pattern
/// `^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$` (a GovCloud region, `us-gov-west-1`,
/// has a fourth part and does not match).
pub fn in_aws_partition(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    matches!(parts.as_slice(), [area, name, number]
        if ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(area) && word(name) && digits(number))
}

/// The file the table is written to, in `dir`.
pub fn table_path(dir: &Path) -> PathBuf {
    dir.join("pro-portrait-aws-partition.json")
}

/// Writes the table to `path` unless it holds it already. A new file is
/// written beside it and renamed into place, so a process reading it never
/// sees half of it.
pub fn write_table(path: &Path) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|held| held == AWS_PARTITION.as_bytes()) {
        return Ok(());
    }
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&partial, AWS_PARTITION)?;
    std::fs::rename(&partial, path)
}

/// At cold start, before any client is built and while the process has one
/// thread: in a region of the `aws` partition, and unless the variable is
/// set already, writes the table to the temporary directory and points the
/// SDK at it. If the file cannot be written, the SDK keeps its full table.
pub fn use_own_partition_only() {
    if std::env::var_os(CUSTOM_PARTITION_VARIABLE).is_some() {
        return;
    }
    let Some(region) = crate::config::optional("AWS_REGION") else { return };
    if !in_aws_partition(&region) {
        return;
    }
    let path = table_path(&std::env::temp_dir());
    if write_table(&path).is_ok() {
        // SAFETY: called from `main`'s thread before the runtime (or anything
        // else) starts a thread, so no other thread reads the environment.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(CUSTOM_PARTITION_VARIABLE, path);
        }
    }
}

#[cfg(test)]
#[path = "partitions_tests.rs"]
mod tests;
