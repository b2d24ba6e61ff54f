//! Unit tests of the rules: matching (newest first, by substring and model), plans, refusals
//! and validation.

use super::*;

fn spec(body: Value) -> RuleSpec {
    serde_json::from_value(body).expect("valid rule")
}

#[test]
fn newest_matching_rule_wins_and_empty_match_is_a_default() {
    let mut rules = Rules::default();
    let default = rules.add(spec(json!({"match": "", "behaviour": {"delay_ms": 5}})));
    let job = rules.add(spec(json!({"match": "job=42", "behaviour": {"outcome": "fail", "fail_code": 422}})));
    assert_eq!(rules.find_mut(&["https://cb/?job=42&token=x"], "nano-banana-pro").map(|r| r.id), Some(job));
    assert_eq!(rules.find_mut(&["https://cb/?job=7"], "nano-banana-pro").map(|r| r.id), Some(default));
    let r = rules.find_mut(&["job=42"], "nano-banana-pro").expect("rule");
    assert_eq!(r.spec.behaviour.fail_code.as_deref(), Some("422"));
    assert_eq!(rules.clear(), 2);
    assert!(rules.find_mut(&["anything"], "nano-banana-pro").is_none());
}

#[test]
fn a_rule_naming_a_model_applies_to_that_model_only() {
    let mut rules = Rules::default();
    let every = rules.add(spec(json!({"match": "user-1", "behaviour": {"delay_ms": 5}})));
    let pro = rules.add(spec(json!({"match": "user-1", "model": "nano-banana-pro", "behaviour": {"outcome": "fail", "fail_code": 500}})));
    assert_eq!(rules.find_mut(&["https://s3/user-1/photo"], "nano-banana-pro").map(|r| r.id), Some(pro));
    assert_eq!(rules.find_mut(&["https://s3/user-1/photo"], "seedream/4.5-edit").map(|r| r.id), Some(every), "another model: the next rule");
    assert!(rules.find_mut(&["https://s3/user-2/photo"], "nano-banana-pro").is_none(), "the pattern still has to match");
    assert_eq!(rules.iter().next().map(|r| r.view()["model"].clone()), Some(json!("nano-banana-pro")));
    assert_eq!(rules.iter().nth(1).map(|r| r.view()["model"].clone()), Some(Value::Null));
    assert!(spec(json!({"match": "", "model": "dall-e", "behaviour": {}})).validate().unwrap_err().contains("dall-e"), "an unknown model is refused");
    assert!(serde_json::from_value::<RuleSpec>(json!({"match": "", "model": 3, "behaviour": {}})).is_err());
}

#[test]
fn plan_defaults_and_failures() {
    let plan = Behaviour::default().plan(Duration::from_millis(7));
    assert!(plan.failure.is_none());
    assert_eq!(plan.delay, Duration::from_millis(7));
    assert_eq!(plan.callback, CallbackMode::Normal);
    let always = Behaviour { fail_rate: Some(1.0), ..Behaviour::default() }.plan(Duration::ZERO);
    assert_eq!(always.failure.map(|f| f.0).as_deref(), Some("500"));
    let never = Behaviour { fail_rate: Some(0.0), ..Behaviour::default() }.plan(Duration::ZERO);
    assert!(never.failure.is_none());
}

#[test]
fn no_callback_rate_overrides_the_callback_mode_and_record_delay_is_planned() {
    let silent = spec(json!({"match": "", "behaviour": {
        "callback": "twice", "no_callback_rate": 1.0, "record_delay_ms": 250}}));
    let plan = silent.behaviour.plan(Duration::ZERO);
    assert_eq!(plan.callback, CallbackMode::None);
    assert_eq!(plan.record_delay, Duration::from_millis(250));
    let loud = spec(json!({"match": "", "behaviour": {"callback": "twice", "no_callback_rate": 0.0}}));
    for _ in 0..100 {
        assert_eq!(loud.behaviour.plan(Duration::ZERO).callback, CallbackMode::Twice);
    }
    assert_eq!(Behaviour::default().plan(Duration::ZERO).record_delay, Duration::ZERO);
}

#[test]
fn create_error_rate_refuses_after_the_scripted_errors_and_counts_refusals() {
    let mut rules = Rules::default();
    rules.add(spec(json!({"match": "", "behaviour": {
        "create_errors": [{"http_status": 500, "code": 500}],
        "create_error_rate": 1.0, "create_error_code": 455}})));
    let rule = rules.find_mut(&["x"], "nano-banana-pro").expect("rule");
    let first = rule.on_create_call().expect("scripted refusal");
    assert_eq!((first.http_status, first.code), (500, 500));
    for _ in 0..3 {
        let drawn = rule.on_create_call().expect("drawn refusal");
        assert_eq!((drawn.http_status, drawn.code), (200, 455));
        assert_eq!(drawn.message(), "Service under maintenance");
    }
    assert_eq!((rule.create_calls, rule.tasks_created, rule.create_refused), (4, 0, 4));
    let view = rule.view();
    assert_eq!(view["create_refused"], 4);
    assert_eq!(view["behaviour"]["create_error_code"], 455);

    rules.add(spec(json!({"match": "", "behaviour": {"create_error_rate": 1.0}})));
    let rule = rules.find_mut(&["x"], "nano-banana-pro").expect("rule");
    assert_eq!(rule.on_create_call().map(|a| a.code), Some(429));

    rules.add(spec(json!({"match": "", "behaviour": {"create_error_rate": 0.0}})));
    let rule = rules.find_mut(&["x"], "nano-banana-pro").expect("rule");
    for _ in 0..100 {
        assert!(rule.on_create_call().is_none());
    }
    assert_eq!((rule.create_calls, rule.tasks_created, rule.create_refused), (100, 100, 0));
}

#[test]
fn rates_outside_0_to_1_and_a_lone_create_error_code_are_rejected() {
    for field in ["fail_rate", "no_callback_rate", "create_error_rate"] {
        for bad in [-0.01, 1.01, 7.0] {
            let err = spec(json!({"match": "", "behaviour": {field: bad}})).validate().expect_err("rate out of range");
            assert!(err.starts_with(field), "{err}");
        }
        for good in [0.0, 0.5, 1.0] {
            let rule = spec(json!({"match": "", "behaviour": {field: good}}));
            assert_eq!(rule.validate(), Ok(()));
        }
    }
    let lone_code = spec(json!({"match": "", "behaviour": {"create_error_code": 455}}));
    assert!(lone_code.validate().is_err());
    let soak = spec(json!({"match": "", "behaviour": {
        "fail_rate": 0.1, "no_callback_rate": 0.05, "create_error_rate": 0.05,
        "create_error_code": 500, "record_delay_ms": 3000}}));
    assert_eq!(soak.validate(), Ok(()));
    for bad in [json!({"record_delay_ms": -1}), json!({"record_delay_ms": "1s"}), json!({"create_error_code": "429"}), json!({"no_callback_rate": "half"})] {
        assert!(serde_json::from_value::<RuleSpec>(json!({"match": "", "behaviour": bad})).is_err(), "{bad}");
    }
}

#[test]
fn unknown_fields_and_bad_values_are_rejected() {
    assert!(serde_json::from_value::<RuleSpec>(json!({"match": "", "behaviour": {"outcom": "fail"}})).is_err());
    assert!(serde_json::from_value::<RuleSpec>(json!({"match": "", "behaviour": {"callback": "thrice"}})).is_err());
    assert!(spec(json!({"match": "", "behaviour": {"fail_rate": 2.0}})).validate().is_err());
    let bad_status = spec(json!({"match": "", "behaviour": {"create_errors": [{"http_status": 42, "code": 1}]}}));
    assert!(bad_status.validate().is_err());
    let ok = spec(json!({"match": "x", "behavior": {"create_errors": [{"code": 429}]}}));
    assert_eq!(ok.behaviour.create_errors[0].http_status, 200);
    assert!(ok.validate().is_ok());
}
