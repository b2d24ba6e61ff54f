//! Plain mapping between DynamoDB attribute values and Rust values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A list of strings.
pub fn str_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| s(v.as_str())).collect())
}

/// A list of numbers.
pub fn num_list(values: &[i64]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| n(*v)).collect())
}

fn malformed(name: &str) -> StoreError {
    StoreError::other(format!("stored item has a missing or malformed `{name}`"))
}

/// A required string attribute.
pub fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| malformed(name))
}

/// An optional string attribute.
pub fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A required number attribute.
pub fn get_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| malformed(name))
}

/// A list of strings (empty when absent).
pub fn get_str_list(item: &Item, name: &str) -> Vec<String> {
    item.get(name).and_then(|v| v.as_l().ok()).map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect()).unwrap_or_default()
}

/// A list of numbers (empty when absent).
pub fn get_num_list(item: &Item, name: &str) -> Vec<i64> {
    item.get(name).and_then(|v| v.as_l().ok()).map(|l| l.iter().filter_map(|v| v.as_n().ok()?.parse().ok()).collect()).unwrap_or_default()
}

/// Builds an item from pairs.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// An optional number attribute (0 when absent).
pub fn n_or_zero(item: &Item, name: &str) -> Result<i64, StoreError> {
    if item.contains_key(name) { get_n(item, name) } else { Ok(0) }
}

/// A string set (empty when absent).
pub fn get_str_set(item: &Item, name: &str) -> Vec<String> {
    item.get(name).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
}

/// A string set; DynamoDB has no empty sets, so callers never pass one.
pub fn str_set(values: &[String]) -> AttributeValue {
    AttributeValue::Ss(values.to_vec())
}
