//! The cut partition table resolves every endpoint our clients use as the
//! SDK's full table does. The SDK reads the table once per process, so the
//! endpoints under the cut table are resolved in a child process (this test
//! binary, running the ignored test below) and compared with this process's.

use super::*;
use futures_util::FutureExt;
use std::path::Path;

/// The `aws` partition's regions as the SDK lists them, and one it does not list yet.
const REGIONS: [&str; 35] = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-9",
];

/// A region of another partition: its endpoint must differ under the cut
/// table, which shows the child really used it.
const CHINA: &str = "cn-north-1";

fn line(service: &str, case: String, resolved: Option<Result<impl std::fmt::Debug, impl std::fmt::Debug>>) -> String {
    format!("{service} {case} => {resolved:?}")
}

/// Every endpoint our clients can ask for in `region`: each service with and
/// without FIPS and dual-stack, DynamoDB with and without account-based
/// endpoints, S3 for a bucket by host and by path.
fn endpoints(region: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (fips, dual) in [(false, false), (true, false), (false, true), (true, true)] {
        let flags = format!("{region} fips={fips} dual={dual}");
        for mode in ["disabled", "preferred"] {
            let params = aws_sdk_dynamodb::config::endpoint::Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual)
                .account_id("123456789012")
                .account_id_endpoint_mode(mode)
                .build()
                .expect("dynamodb params");
            let resolver = aws_sdk_dynamodb::config::endpoint::DefaultResolver::new();
            out.push(line(
                "dynamodb",
                format!("{flags} account={mode}"),
                aws_sdk_dynamodb::config::endpoint::ResolveEndpoint::resolve_endpoint(&resolver, &params).now_or_never(),
            ));
        }
        for path_style in [false, true] {
            let params = aws_sdk_s3::config::endpoint::Params::builder()
                .region(region)
                .bucket("pro-portrait-photos-123456789012")
                .use_fips(fips)
                .use_dual_stack(dual)
                .force_path_style(path_style)
                .accelerate(false)
                .use_global_endpoint(false)
                .build()
                .expect("s3 params");
            let resolver = aws_sdk_s3::config::endpoint::DefaultResolver::new();
            out.push(line(
                "s3",
                format!("{flags} path={path_style}"),
                aws_sdk_s3::config::endpoint::ResolveEndpoint::resolve_endpoint(&resolver, &params).now_or_never(),
            ));
        }
        let params = aws_sdk_sqs::config::endpoint::Params::builder().region(region).use_fips(fips).use_dual_stack(dual).build().expect("sqs params");
        let resolver = aws_sdk_sqs::config::endpoint::DefaultResolver::new();
        out.push(line("sqs", flags.clone(), aws_sdk_sqs::config::endpoint::ResolveEndpoint::resolve_endpoint(&resolver, &params).now_or_never()));
        let params =
            aws_sdk_secretsmanager::config::endpoint::Params::builder().region(region).use_fips(fips).use_dual_stack(dual).build().expect("secrets params");
        let resolver = aws_sdk_secretsmanager::config::endpoint::DefaultResolver::new();
        out.push(line("secretsmanager", flags, aws_sdk_secretsmanager::config::endpoint::ResolveEndpoint::resolve_endpoint(&resolver, &params).now_or_never()));
    }
    out
}

fn all_endpoints() -> Vec<String> {
    REGIONS.iter().flat_map(|r| endpoints(r)).collect()
}

/// Run by [`the_cut_table_resolves_every_endpoint_as_the_full_one`] in a
/// child process whose SDK reads the cut table.
#[test]
#[ignore = "run by the_cut_table_resolves_every_endpoint_as_the_full_one in a child process"]
fn child_prints_endpoints() {
    assert!(std::env::var_os(CUSTOM_PARTITION_VARIABLE).is_some(), "the child runs with the cut table");
    for l in all_endpoints().into_iter().chain(endpoints(CHINA)) {
        println!("ENDPOINT {l:?}"); // quoted: one line each, whatever the endpoint's text holds
    }
}

#[test]
fn the_cut_table_resolves_every_endpoint_as_the_full_one() {
    assert!(std::env::var_os(CUSTOM_PARTITION_VARIABLE).is_none(), "this process uses the SDK's full table");
    let dir = std::env::temp_dir().join(format!("partitions-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = table_path(&dir);
    write_table(&path).unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["adapters::partitions::tests::child_prints_endpoints", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CUSTOM_PARTITION_VARIABLE, &path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(child.status.success(), "{}", String::from_utf8_lossy(&child.stderr));
    let stdout = String::from_utf8_lossy(&child.stdout);
    let mut cut: Vec<&str> = stdout.lines().filter_map(|l| l.split_once("ENDPOINT ").map(|(_, e)| e)).collect();
    let china_cut = cut.split_off(cut.len() - endpoints(CHINA).len());

    let full: Vec<String> = all_endpoints().iter().map(|l| format!("{l:?}")).collect();
    assert_eq!(cut.len(), full.len());
    for (c, f) in cut.iter().zip(&full) {
        assert_eq!(c, f);
    }
    assert!(full.iter().any(|l| l.contains("https://dynamodb.eu-west-1.amazonaws.com")), "{full:?}");
    // In China the cut table knows no partition: only where it is never used is it right.
    let china_full: Vec<String> = endpoints(CHINA).iter().map(|l| format!("{l:?}")).collect();
    assert!(china_full.iter().any(|l| l.contains("amazonaws.com.cn")));
    assert!(china_cut.iter().zip(&china_full).any(|(c, f)| c != f));
}

/// Run by [`a_cold_start_points_the_sdk_at_the_table_only_in_the_aws_partition`]
/// in a child process: does what a cold start does and prints the variable.
#[test]
#[ignore = "run by a_cold_start_points_the_sdk_at_the_table_only_in_the_aws_partition in a child process"]
fn child_starts_cold() {
    use_own_partition_only();
    match std::env::var(CUSTOM_PARTITION_VARIABLE) {
        Ok(path) => println!("\nVARIABLE={path}"),
        Err(_) => println!("\nVARIABLE unset"),
    }
}

/// The variable after a cold start in `region` with `preset` already set
/// and `tmp` as the temporary directory.
fn after_cold_start(region: Option<&str>, preset: Option<&str>, tmp: &Path) -> Option<String> {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["adapters::partitions::tests::child_starts_cold", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("TMPDIR", tmp)
        .env_remove("AWS_REGION")
        .env_remove(CUSTOM_PARTITION_VARIABLE);
    if let Some(region) = region {
        child.env("AWS_REGION", region);
    }
    if let Some(preset) = preset {
        child.env(CUSTOM_PARTITION_VARIABLE, preset);
    }
    let out = child.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("VARIABLE")).expect("the child prints the variable");
    line.strip_prefix("VARIABLE=").map(str::to_string)
}

#[test]
fn a_cold_start_points_the_sdk_at_the_table_only_in_the_aws_partition() {
    let tmp = std::env::temp_dir().join(format!("partitions-cold-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let table = table_path(&tmp);

    assert_eq!(after_cold_start(Some("cn-north-1"), None, &tmp), None, "China keeps the full table");
    assert_eq!(after_cold_start(Some("us-gov-west-1"), None, &tmp), None, "GovCloud keeps the full table");
    assert_eq!(after_cold_start(None, None, &tmp), None, "no region, no change");
    assert!(!table.exists(), "nothing is written outside the aws partition");

    assert_eq!(
        after_cold_start(Some("eu-west-1"), Some("/opt/own-partitions.json"), &tmp).as_deref(),
        Some("/opt/own-partitions.json"),
        "a table set by the operator is kept"
    );
    assert!(!table.exists());

    assert_eq!(after_cold_start(Some("eu-west-1"), None, &tmp), Some(table.display().to_string()));
    assert_eq!(std::fs::read_to_string(&table).unwrap(), AWS_PARTITION);

    let unwritable = tmp.join("missing-directory");
    assert_eq!(after_cold_start(Some("eu-west-1"), None, &unwritable), None, "a table that cannot be written is not named");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn only_the_aws_partitions_regions_use_the_cut_table() {
    for region in REGIONS {
        assert!(in_aws_partition(region), "{region}");
    }
    for region in [
        "cn-north-1",
        "us-gov-west-1",
        "us-iso-east-1",
        "us-isob-east-1",
        "eu-isoe-west-1",
        "eusc-de-east-1",
        "aws-global",
        "us-east",
        "us-east-1a",
        "",
        "local",
    ] {
        assert!(!in_aws_partition(region), "{region}");
    }
}

#[test]
fn the_table_file_is_written_once_and_kept() {
    let dir = std::env::temp_dir().join(format!("partitions-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = table_path(&dir);
    std::fs::write(&path, "{\"partitions\":[").unwrap();
    write_table(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), AWS_PARTITION, "a partial file is replaced");
    let written = std::fs::metadata(&path).unwrap().modified().unwrap();
    write_table(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), written, "a complete file is kept");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no partial file is left");
    std::fs::remove_dir_all(&dir).unwrap();
}
