//! KIE's answers, parsed tolerantly (`msg` or `message`, `failCode` as string
//! or number, nulls anywhere), and what they mean for a job.

use serde::Deserialize;
use serde_json::Value;

use crate::provider::{FailReason, TaskState};

/// The envelope every KIE answer has.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// KIE's own code (200 = ok), independent of the HTTP status.
    pub code: Option<i64>,
    /// The message (`msg`, or `message` in some documented examples).
    #[serde(alias = "message")]
    pub msg: Option<String>,
    /// The payload.
    #[serde(default)]
    pub data: Value,
}

/// Reads `recordInfo`'s (or a callback's) `data`. Any unknown state is an
/// error, never "still pending".
pub fn task_state(data: &Value) -> Result<TaskState, String> {
    let text = |key: &str| match data.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    match data.get("state").and_then(Value::as_str) {
        Some("waiting" | "queuing" | "generating") => Ok(TaskState::Pending),
        Some("success") => {
            let urls = data
                .get("resultJson")
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| v.get("resultUrls").cloned())
                .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .unwrap_or_default();
            if urls.is_empty() {
                return Err("success without result links".into());
            }
            Ok(TaskState::Success(urls))
        }
        Some("fail") => {
            // `failMsg` may quote the prompt: it is not kept.
            let code = text("failCode");
            Ok(TaskState::Fail { reason: fail_reason(&code), code })
        }
        other => Err(format!("unknown task state {other:?}")),
    }
}

/// What a KIE failure code means for the job.
pub fn fail_reason(fail_code: &str) -> FailReason {
    match fail_code.trim() {
        "422" => FailReason::Rejected,
        "400" | "413" | "415" => FailReason::UnusableImage,
        _ => FailReason::Provider,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_are_read_tolerantly() {
        let ok = json!({"state": "success", "resultJson": "{\"resultUrls\":[\"https://x/1.png\"]}", "failCode": null});
        assert_eq!(task_state(&ok).unwrap(), TaskState::Success(vec!["https://x/1.png".into()]));
        let fail = json!({"state": "fail", "failCode": 422, "failMsg": "prohibited"});
        assert_eq!(task_state(&fail).unwrap(), TaskState::Fail { reason: FailReason::Rejected, code: "422".into() });
        assert_eq!(task_state(&json!({"state": "queuing"})).unwrap(), TaskState::Pending);
        assert!(task_state(&json!({"state": "failed"})).is_err(), "`failed` is not a KIE state");
        assert!(task_state(&json!({"state": "success", "resultJson": null})).is_err());
        let env: Envelope = serde_json::from_value(json!({"code": 200, "message": "ok", "data": {}, "extra": 1})).unwrap();
        assert_eq!(env.msg.as_deref(), Some("ok"));
    }

    #[test]
    fn failure_codes_map_to_the_contract() {
        assert_eq!(fail_reason("422"), FailReason::Rejected);
        assert_eq!(fail_reason("400"), FailReason::UnusableImage);
        assert_eq!(fail_reason("501"), FailReason::Provider);
        assert_eq!(fail_reason(""), FailReason::Provider);
    }
}
