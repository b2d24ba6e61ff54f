//! Scripted behaviours through `/sim/rules`: failures, error answers, stalls, and the counters
//! tests use to assert how many tasks a job created.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Fixture, Sim, create_body};

#[tokio::test]
async fn a_fail_rule_ends_the_task_with_422() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 20).await;
    let msg = "Invalid prompt: prompt contains prohibited content";
    sim.rule(json!({"match": "forbidden", "behaviour": {"outcome": "fail", "fail_code": "422", "fail_msg": msg}})).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/x")), "something forbidden")).await;
    let other = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "a fine prompt")).await;
    let data = sim.wait_final(&id).await;
    assert_eq!(data["state"], "fail");
    assert_eq!(data["failCode"], "422");
    assert_eq!(data["failMsg"], msg);
    assert_eq!(data["resultJson"], Value::Null);
    assert_eq!(sim.wait_final(&other).await["state"], "success");
    let callbacks = fx.wait_callbacks(1).await;
    assert_eq!((callbacks[0].body["code"].as_i64(), callbacks[0].body["msg"].as_str()), (Some(501), Some(msg)));
    assert_eq!(callbacks[0].body["data"]["failCode"], "422");
}

#[tokio::test]
async fn create_errors_answer_in_order_then_one_task_is_created() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    let rule = json!({"match": "job=j-429", "behaviour": {"create_errors": [
        {"http_status": 200, "code": 429}, {"http_status": 500, "code": 500}]}});
    let rule_id = sim.rule(rule).await;
    let body = create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/kie?job=j-429&token=s")), "p");

    let (status, answer) = sim.create(&body).await;
    assert_eq!((status, answer["code"].as_i64(), &answer["data"]), (200, Some(429), &Value::Null), "{answer}");
    assert!(answer["msg"].is_string());
    let (status, answer) = sim.create(&body).await;
    assert_eq!((status, answer["code"].as_i64()), (500, Some(500)), "{answer}");
    assert_eq!(sim.get("/sim/tasks?match=j-429").await.1, json!([]));
    let id = sim.create_ok(&body).await;
    assert_eq!(sim.wait_final(&id).await["state"], "success");

    let (_, tasks) = sim.get("/sim/tasks?match=j-429").await;
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks[0]["create_count"], 3);
    assert_eq!(tasks[0]["rule_id"], rule_id);
    let (_, rules) = sim.get("/sim/rules").await;
    assert_eq!((rules[0]["create_calls"].as_u64(), rules[0]["tasks_created"].as_u64()), (Some(3), Some(1)), "{rules}");
    assert_eq!(rules[0]["create_errors_left"], 0);
    assert_eq!(sim.get("/sim/stats").await.1["create_calls"], 3);
    assert_eq!(sim.get("/sim/stats").await.1["tasks"], 1);
}

#[tokio::test]
async fn record_errors_answer_before_the_real_record() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "", "behaviour": {"record_errors": [
        {"code": 404}, {"http_status": 503, "code": 500, "msg": "upstream down"}]}}))
        .await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "p")).await;
    assert_eq!(sim.record(&id).await, (200, json!({"code": 404, "msg": "task not found", "data": null})));
    assert_eq!(sim.record(&id).await, (503, json!({"code": 500, "msg": "upstream down", "data": null})));
    assert_eq!(sim.wait_final(&id).await["state"], "success");
}

#[tokio::test]
async fn a_stalled_task_stays_generating_without_callback() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 20).await;
    sim.rule(json!({"match": "stuck", "behaviour": {"stall": true}})).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png?stuck"), Some(&fx.url("/cb/s")), "p")).await;
    // Once the input is in, the task would normally finish within its 20 ms delay.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.task(&id).await["input_bytes_len"] != fx.photo.len() {
        assert!(tokio::time::Instant::now() < deadline, "input never downloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, answer) = sim.record(&id).await;
    assert_eq!(answer["data"]["state"], "generating", "{answer}");
    assert!(fx.callbacks().is_empty());
}

#[tokio::test]
async fn a_rule_for_one_model_fails_its_tasks_and_not_another_models() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "", "model": "google/nano-banana-edit", "behaviour": {"outcome": "fail", "fail_code": 500}})).await;
    let failing = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "p")).await;
    let mut other = create_body(&fx.url("/photo.png"), None, "p");
    other["model"] = json!("seedream/4.5-edit");
    other["input"]["quality"] = json!("high");
    let working = sim.create_ok(&other).await;
    assert_eq!(sim.wait_final(&failing).await["failCode"], "500");
    let done = sim.wait_final(&working).await;
    assert_eq!((done["state"].as_str(), done["model"].as_str()), (Some("success"), Some("seedream/4.5-edit")));
    assert_eq!(sim.task(&working).await["model"], "seedream/4.5-edit", "the control API tells which model a task used");
    let (_, rules) = sim.get("/sim/rules").await;
    assert_eq!((rules[0]["model"].as_str(), rules[0]["tasks_created"].as_u64()), (Some("google/nano-banana-edit"), Some(1)));
    let resp = sim.client.post(format!("{}/sim/rules", sim.base)).json(&json!({"match": "", "model": "dall-e", "behaviour": {}})).send().await.expect("post");
    assert_eq!(resp.status(), 400, "an unknown model is refused");
}

#[tokio::test]
async fn fail_rate_and_rule_precedence() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "", "behaviour": {"fail_rate": 1.0}})).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "p")).await;
    let data = sim.wait_final(&id).await;
    assert_eq!((data["state"].as_str(), data["failCode"].as_str()), (Some("fail"), Some("500")));

    // The newest matching rule wins over the default.
    let lucky = kie_sim::RuleSpec {
        pattern: "lucky".into(),
        behaviour: kie_sim::Behaviour { outcome: Some(kie_sim::Outcome::Success), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(sim.sim.add_rule(lucky), Ok(2));
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "lucky prompt")).await;
    assert_eq!(sim.wait_final(&id).await["state"], "success");

    // Clearing the rules restores the defaults.
    let resp = sim.client.delete(format!("{}/sim/rules", sim.base)).send().await.expect("delete");
    assert_eq!(resp.json::<Value>().await.expect("json"), json!({"cleared": 2}));
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), None, "p")).await;
    assert_eq!(sim.wait_final(&id).await["state"], "success");
    assert_eq!(sim.get("/sim/rules").await.1, json!([]));
}

#[tokio::test]
async fn bad_rules_and_unknown_control_routes_are_rejected() {
    let sim = Sim::start(None, 0).await;
    for bad in [
        "{not json",
        r#"{"match": "x", "behaviour": {"outcome": "maybe"}}"#,
        r#"{"match": "x", "behaviour": {"fail_rate": 7}}"#,
        r#"{"match": "x", "behaviour": {"stal": true}}"#,
        r#"{"behaviour": {}}"#,
        r#"{"match": "x", "behaviour": {"no_callback_rate": 1.5}}"#,
        r#"{"match": "x", "behaviour": {"create_error_rate": -0.5}}"#,
        r#"{"match": "x", "behaviour": {"create_error_code": 455}}"#,
        r#"{"match": "x", "behaviour": {"record_delay_ms": -1}}"#,
    ] {
        let resp = sim.client.post(format!("{}/sim/rules", sim.base)).body(bad).send().await.expect("post");
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(resp.json::<Value>().await.expect("json")["error"].is_string());
    }
    assert_eq!(sim.get("/sim/nothing").await.0, 404);
    assert_eq!(sim.get("/sim/tasks/task_sim_nope").await.0, 404);
    assert_eq!(sim.get("/sim/tasks/task_sim_nope/input").await.0, 404);
}

#[tokio::test]
async fn record_delay_holds_record_info_while_other_tasks_answer_at_once() {
    const HOLD: Duration = Duration::from_millis(500);
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "hangs", "behaviour": {
        "record_delay_ms": HOLD.as_millis() as u64, "record_errors": [{"code": 455}]}}))
        .await;
    let slow = sim.create_ok(&create_body(&fx.url("/text"), None, "provider hangs")).await;
    let fast = sim.create_ok(&create_body(&fx.url("/text"), None, "p")).await;

    let started = tokio::time::Instant::now();
    let timed = |id: String| {
        let sim = &sim;
        async move {
            let answer = sim.record(&id).await;
            (answer, started.elapsed())
        }
    };
    let other_requests = async {
        // Sent once the slow call is being held: neither the API nor the control API waits.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (fast_answer, fast_at) = timed(fast.clone()).await;
        let (stats_status, _) = sim.get("/sim/stats").await;
        (fast_answer, fast_at, stats_status, started.elapsed())
    };
    let ((slow_answer, slow_at), (fast_answer, fast_at, stats_status, stats_at)) = tokio::join!(timed(slow.clone()), other_requests);

    // The scripted error comes after the hold too.
    assert!(slow_at >= HOLD, "answered after {slow_at:?}");
    assert_eq!(slow_answer, (200, json!({"code": 455, "msg": "Service under maintenance", "data": null})));
    assert_eq!(fast_answer.0, 200);
    assert_eq!(fast_answer.1["data"]["taskId"], fast.as_str());
    assert_eq!(stats_status, 200);
    assert!(fast_at < HOLD && stats_at < HOLD, "other requests waited: recordInfo {fast_at:?}, stats {stats_at:?}");
    // Every call for the held task waits, the real record included.
    let again = tokio::time::Instant::now();
    let (_, answer) = sim.record(&slow).await;
    assert!(again.elapsed() >= HOLD, "{:?}", again.elapsed());
    assert_eq!(answer["data"]["taskId"], slow.as_str());
    assert_eq!(sim.get("/sim/stats").await.1["record_calls"], 3);
}

#[tokio::test]
async fn no_callback_rate_one_sends_nothing_and_zero_sends_the_callback() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "silent", "behaviour": {"callback": "twice", "no_callback_rate": 1.0}})).await;
    sim.rule(json!({"match": "loud", "behaviour": {"no_callback_rate": 0.0}})).await;
    let silent = sim.create_ok(&create_body(&fx.url("/text"), Some(&fx.url("/cb/silent")), "p")).await;
    let loud = sim.create_ok(&create_body(&fx.url("/text"), Some(&fx.url("/cb/loud")), "p")).await;
    assert_eq!(sim.wait_final(&silent).await["state"], "fail");
    let callbacks = fx.wait_callbacks(1).await;
    assert_eq!(callbacks[0].body["data"]["taskId"], loud.as_str());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fx.callbacks().len(), 1);
    assert_eq!(sim.task(&silent).await["callbacks_sent"], json!([]));
}

#[tokio::test]
async fn create_error_rate_refuses_with_its_code_and_creates_no_task() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    // A soak-style catch-all, overridden by the more specific rules added after it.
    let busy = sim.rule(json!({"match": "", "behaviour": {"create_error_rate": 1.0}})).await;
    let maint = sim
        .rule(json!({"match": "maint", "behaviour": {
            "create_errors": [{"http_status": 500, "code": 500}],
            "create_error_rate": 1.0, "create_error_code": 455}}))
        .await;
    let fine = sim.rule(json!({"match": "fine", "behaviour": {"create_error_rate": 0.0}})).await;

    for _ in 0..2 {
        let (status, answer) = sim.create(&create_body(&fx.url("/text"), None, "p")).await;
        assert_eq!((status, answer["code"].as_i64(), &answer["data"]), (200, Some(429), &Value::Null), "{answer}");
    }
    let maint_body = create_body(&fx.url("/text?maint"), None, "p");
    assert_eq!(sim.create(&maint_body).await.0, 500);
    for _ in 0..2 {
        let (status, answer) = sim.create(&maint_body).await;
        assert_eq!((status, answer["code"].as_i64(), answer["msg"].as_str()), (200, Some(455), Some("Service under maintenance")), "{answer}");
    }
    for _ in 0..5 {
        sim.create_ok(&create_body(&fx.url("/text?fine"), None, "p")).await;
    }

    let (_, tasks) = sim.get("/sim/tasks").await;
    let tasks = tasks.as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 5, "{tasks:?}");
    assert!(tasks.iter().all(|t| t["rule_id"] == fine));
    let (_, rules) = sim.get("/sim/rules").await;
    let counters = |id: u64| {
        let rule = rules.as_array().and_then(|r| r.iter().find(|r| r["id"] == id)).expect("rule");
        (rule["create_calls"].as_u64(), rule["tasks_created"].as_u64(), rule["create_refused"].as_u64())
    };
    assert_eq!(counters(busy), (Some(2), Some(0), Some(2)));
    assert_eq!(counters(maint), (Some(3), Some(0), Some(3)));
    assert_eq!(counters(fine), (Some(5), Some(5), Some(0)));
    let (_, stats) = sim.get("/sim/stats").await;
    assert_eq!((stats["create_calls"].as_u64(), stats["tasks"].as_u64()), (Some(10), Some(5)));
}
