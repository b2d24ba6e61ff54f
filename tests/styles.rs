//! `GET /v1/styles` over HTTP: public, and the contract's catalog.

use integration_tests::*;
use serde_json::Value;
use shared::styles::StyleChoice;

#[tokio::test]
async fn the_catalog_is_public_and_complete() {
    let resp = client().get(stack().url("/v1/styles")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    for (field, min) in [("attire", 4), ("background", 4), ("lighting", 3)] {
        let options = body[field].as_array().unwrap();
        assert!(options.len() >= min, "{field}");
        assert!(options.iter().all(|o| o["id"].is_string() && o["label"].is_string() && o.as_object().unwrap().len() == 2));
    }
    let quality: Vec<(String, i64)> =
        body["quality"].as_array().unwrap().iter().map(|q| (q["id"].as_str().unwrap().to_string(), q["credits"].as_i64().unwrap())).collect();
    assert_eq!(quality, vec![("standard".to_string(), 1), ("high".to_string(), 2)]);
    let defaults: StyleChoice = serde_json::from_value(body["defaults"].clone()).unwrap();
    assert_eq!(defaults.quality, "standard");
    assert!(defaults.resolve().is_ok(), "defaults are ids of the catalog");
}
