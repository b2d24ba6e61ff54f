//! The contract's error shape and status codes for bad input, over HTTP.

use integration_tests::*;
use local_stack::template::Template;
use serde_json::json;

fn template() -> Template {
    Template::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap()
}

const PUBLIC_GETS: &[&str] = &["/v1/styles"];

#[tokio::test]
async fn unknown_fields_are_422() {
    let c = client();
    let resp = c.post(stack().url("/v1/auth/anonymous")).json(&json!({"email": "a@b.c"})).send().await.unwrap();
    assert_error(resp, 422, "validation_failed").await;
    let s = sign_up(&c).await;
    let resp = c.post(stack().url("/v1/auth/refresh")).json(&json!({"refresh_token": s.refresh_token(), "device": "x"})).send().await.unwrap();
    assert_error(resp, 422, "validation_failed").await;
    // Rejected before anything happened: the token is still good.
    assert_eq!(refresh_raw(&c, s.refresh_token()).await.status(), 200);
}

#[tokio::test]
async fn missing_or_mistyped_fields_are_422() {
    let c = client();
    for body in [json!({}), json!({"refresh_token": 42}), json!([])] {
        let resp = c.post(stack().url("/v1/auth/refresh")).json(&body).send().await.unwrap();
        assert_error(resp, 422, "validation_failed").await;
    }
}

#[tokio::test]
async fn non_json_and_wrong_content_type_are_400() {
    let c = client();
    for path in ["/v1/auth/anonymous", "/v1/auth/refresh"] {
        let not_json = c.post(stack().url(path)).header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_error(not_json, 400, "invalid_request").await;
        let empty = c.post(stack().url(path)).header("content-type", "application/json").send().await.unwrap();
        assert_error(empty, 400, "invalid_request").await;
        let form = c.post(stack().url(path)).header("content-type", "application/x-www-form-urlencoded").body("a=b").send().await.unwrap();
        assert_error(form, 400, "invalid_request").await;
    }
}

/// Every route the template serves answers bad input in the contract's
/// shape: a POST with a body that is not JSON is 400 (400 comes before 401),
/// a bearer route without a token is 401.
#[tokio::test]
async fn every_route_answers_the_contract_error_shape() {
    let c = client();
    let t = template();
    assert!(!t.routes.is_empty());
    for route in &t.routes {
        let path = route.path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        let url = stack().url(&path);
        match route.method.as_str() {
            "POST" => {
                let resp = c.post(&url).header("content-type", "application/json").body("not json").send().await.unwrap();
                assert_error(resp, 400, "invalid_request").await;
            }
            _ if PUBLIC_GETS.contains(&route.path.as_str()) => {}
            method => {
                let resp = c.request(method.parse().unwrap(), &url).send().await.unwrap();
                assert_error(resp, 401, "unauthorized").await;
            }
        }
    }
}
