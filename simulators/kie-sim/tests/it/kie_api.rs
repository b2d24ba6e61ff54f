//! KIE's endpoints as a client sees them: create, poll, result download, auth, validation,
//! download failures and the file upload service.

use serde_json::{Value, json};

use crate::support::{Fixture, KEY, Sim, create_body};

#[tokio::test]
async fn create_poll_and_download_a_real_result() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 150).await;
    let body = create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/kie?job=happy&token=t")), "Corporate headshot");
    let (status, answer) = sim.create(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["msg"], "success");
    let id = answer["data"]["taskId"].as_str().expect("taskId").to_string();
    assert!(id.starts_with("task_sim_"), "{id}");

    let (_, early) = sim.record(&id).await;
    assert!(["waiting", "generating"].contains(&early["data"]["state"].as_str().unwrap_or_default()), "{early}");
    assert_eq!(early["data"]["resultJson"], Value::Null);

    let data = sim.wait_final(&id).await;
    assert_eq!(data["state"], "success", "{data}");
    assert_eq!(data["taskId"], id);
    assert_eq!(data["model"], "google/nano-banana-edit");
    assert_eq!(serde_json::from_str::<Value>(data["param"].as_str().expect("param string")).expect("param json"), body);
    assert_eq!(data["failCode"], Value::Null);
    assert!(data["costTime"].as_u64().expect("costTime") >= 100, "{data}");
    for field in ["completeTime", "createTime", "updateTime"] {
        assert!(data[field].as_u64().is_some(), "{field} in {data}");
    }
    let result: Value = serde_json::from_str(data["resultJson"].as_str().expect("resultJson is a string")).expect("json");
    let url = result["resultUrls"][0].as_str().expect("result url");
    assert_eq!(url, format!("{}/files/{id}.png", sim.base));

    // The temp file host needs no key.
    let resp = sim.client.get(url).send().await.expect("result");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let img = image::load_from_memory(&resp.bytes().await.expect("bytes")).expect("result decodes");
    assert_eq!((img.width(), img.height()), (512, 384));

    // What KIE downloaded is exactly what we served.
    let resp = sim.client.get(format!("{}/sim/tasks/{id}/input", sim.base)).send().await.expect("input");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), fx.photo.as_slice());
    let (_, tasks) = sim.get("/sim/tasks?match=job=happy").await;
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks[0]["input_bytes_len"], fx.photo.len());
    assert_eq!(tasks[0]["input_url"], fx.url("/photo.png"));
    assert_eq!(tasks[0]["state"], "success");
    assert_eq!(tasks[0]["create_count"], 1);

    let callbacks = fx.wait_callbacks(1).await;
    assert_eq!(callbacks[0].path_and_query, "/cb/kie?job=happy&token=t");
    assert_eq!(callbacks[0].body["code"], 200);
    assert_eq!(callbacks[0].body["data"]["state"], "success");
    assert_eq!(callbacks[0].body["data"]["taskId"], id);
    assert!(callbacks[0].headers.get("x-webhook-signature").is_none());
    assert_eq!(sim.task(&id).await["callbacks_sent"], json!([200]));
}

#[tokio::test]
async fn nano_banana_pro_takes_image_input() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    let body = json!({"model": "nano-banana-pro",
                      "input": {"prompt": "headshot", "image_input": [fx.url("/photo.png")], "resolution": "1K"}});
    let id = sim.create_ok(&body).await;
    let data = sim.wait_final(&id).await;
    assert_eq!((data["state"].as_str(), data["model"].as_str()), (Some("success"), Some("nano-banana-pro")));
}

#[tokio::test]
async fn requests_without_the_key_get_401() {
    let sim = Sim::start(None, 0).await;
    let routes =
        [("POST", "/api/v1/jobs/createTask"), ("GET", "/api/v1/jobs/recordInfo?taskId=x"), ("GET", "/api/v1/chat/credit"), ("POST", "/api/file-stream-upload")];
    for (method, path) in routes {
        for key in [None, Some("wrong-key")] {
            let mut req = sim.client.request(method.parse().expect("method"), format!("{}{path}", sim.base));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            let resp = req.body("{}").send().await.expect("send");
            assert_eq!(resp.status(), 401, "{method} {path}");
            let body: Value = resp.json().await.expect("json");
            assert_eq!((body["code"].as_i64(), &body["data"]), (Some(401), &Value::Null), "{body}");
            assert!(body["msg"].is_string());
        }
    }
    let resp = sim.client.get(format!("{}/api/v1/chat/credit", sim.base)).bearer_auth(KEY).send().await.expect("credit");
    assert_eq!(resp.json::<Value>().await.expect("json"), json!({"code": 200, "msg": "success", "data": 100}));
    assert_eq!(sim.get("/sim/stats").await.1, json!({"create_calls": 0, "record_calls": 0, "tasks": 0, "rate_refusals": 0}));
}

#[tokio::test]
async fn bad_requests_get_envelope_errors_under_http_200() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    let raw = sim.client.post(format!("{}/api/v1/jobs/createTask", sim.base)).bearer_auth(KEY).body("{not json");
    let resp = raw.send().await.expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.expect("json")["code"], 400);

    let photo = fx.url("/photo.png");
    for body in [
        json!({"model": "google/nano-banana-edit", "input": {"prompt": "p"}}),
        json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": []}}),
        json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": "not a list"}}),
        json!({"model": "no-such-model", "input": {"prompt": "p", "image_urls": [photo]}}),
        json!({"model": "google/nano-banana-edit", "input": {"image_urls": [photo]}}),
    ] {
        let (status, answer) = sim.create(&body).await;
        assert_eq!((status, answer["code"].as_i64(), &answer["data"]), (200, Some(422), &Value::Null), "{body}");
    }
    assert_eq!(sim.record("task_sim_unknown").await, (200, json!({"code": 404, "msg": "task not found", "data": null})));
    assert_eq!(sim.record("").await.1["code"], 400);
    assert_eq!(sim.get("/api/v1/nothing").await.0, 404);
    assert_eq!(sim.get("/files/nothing.png").await.0, 404);
    let (_, stats) = sim.get("/sim/stats").await;
    assert_eq!(stats, json!({"create_calls": 6, "record_calls": 2, "tasks": 0, "rate_refusals": 0}));
}

#[tokio::test]
async fn unreachable_or_non_image_inputs_fail_the_task() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    let missing = sim.create_ok(&create_body(&fx.url("/missing.png"), Some(&fx.url("/cb/a")), "p")).await;
    let text = sim.create_ok(&create_body(&fx.url("/text"), None, "p")).await;
    let data = sim.wait_final(&missing).await;
    assert_eq!((data["state"].as_str(), data["failCode"].as_str()), (Some("fail"), Some("422")), "{data}");
    assert!(data["failMsg"].as_str().is_some_and(|m| m.contains("404")), "{data}");
    assert_eq!(data["resultJson"], Value::Null);
    let data = sim.wait_final(&text).await;
    assert_eq!((data["state"].as_str(), data["failCode"].as_str()), (Some("fail"), Some("400")), "{data}");
    let callbacks = fx.wait_callbacks(1).await;
    assert_eq!(callbacks[0].body["code"], 501);
    assert_eq!(callbacks[0].body["data"]["state"], "fail");
}

/// A multipart body built by hand (the client side; the simulator parses with `multer`).
fn multipart(boundary: &str, file: &[u8], upload_path: &str, file_name: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in [("uploadPath", upload_path), ("fileName", file_name)] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes());
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n").bytes());
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    body
}

#[tokio::test]
async fn uploaded_files_are_served_and_usable_as_inputs() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    let boundary = "----kie-sim-test-boundary";
    let upload = |body: Vec<u8>| {
        sim.client
            .post(format!("{}/api/file-stream-upload", sim.base))
            .bearer_auth(KEY)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
    };
    let resp = upload(multipart(boundary, &fx.photo, "images/user-uploads", "my photo.png")).await.expect("upload");
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!((answer["success"].as_bool(), answer["code"].as_i64()), (Some(true), Some(200)), "{answer}");
    assert_eq!(answer["data"]["fileName"], "my photo.png");
    let url = answer["data"]["downloadUrl"].as_str().expect("downloadUrl").to_string();
    assert!(url.starts_with(&format!("{}/files/uploads/", sim.base)), "{url}");
    assert!(url.ends_with("/my%20photo.png"), "{url}");
    let resp = sim.client.get(&url).send().await.expect("download");
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), fx.photo.as_slice());

    let id = sim.create_ok(&create_body(&url, None, "from an upload")).await;
    assert_eq!(sim.wait_final(&id).await["state"], "success");

    let resp = upload(b"--x\r\nnot multipart".to_vec()).await.expect("bad upload");
    let answer: Value = resp.json().await.expect("json");
    assert_eq!((answer["success"].as_bool(), answer["code"].as_i64()), (Some(false), Some(400)), "{answer}");
    let no_file = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"uploadPath\"\r\n\r\nx\r\n--{boundary}--\r\n");
    let answer: Value = upload(no_file.into_bytes()).await.expect("no file").json().await.expect("json");
    assert_eq!(answer["code"], 400, "{answer}");
}

#[tokio::test]
async fn over_the_accounts_task_rate_create_task_answers_429_and_counts_it() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 50).await;
    sim.sim.limit_rate(2, std::time::Duration::from_secs(10));
    let body = create_body(&fx.url("/photo.png"), None, "Corporate headshot");
    for _ in 0..2 {
        assert_eq!(sim.create(&body).await.0, 200);
    }
    let (status, answer) = sim.create(&body).await;
    assert_eq!((status, answer["code"].as_i64()), (200, Some(429)), "a business error under HTTP 200: {answer}");
    let stats = sim.get("/sim/stats").await.1;
    assert_eq!((stats["create_calls"].as_u64(), stats["rate_refusals"].as_u64(), stats["tasks"].as_u64()), (Some(3), Some(1), Some(2)));
}
