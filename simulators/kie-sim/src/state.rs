//! The simulator's shared state: tasks, served files, rules and call counters, and the JSON
//! views of a task (`recordInfo`'s `data` object and the control API's summary).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::body::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::rules::{ErrorAnswer, Rules};

/// A task's `state` as `recordInfo` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Created, not started.
    Waiting,
    /// Input downloaded or being downloaded; the image is being made.
    Generating,
    /// Finished with a result image.
    Success,
    /// Finished with `failCode` and `failMsg`.
    Fail,
}

impl TaskState {
    /// The wire spelling (`waiting`, `generating`, `success`, `fail`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Generating => "generating",
            Self::Success => "success",
            Self::Fail => "fail",
        }
    }
}

/// The final fields of a task, applied all at once.
#[derive(Debug, Clone)]
pub(crate) struct Finish {
    pub state: TaskState,
    pub result_json: Option<String>,
    pub fail_code: Option<String>,
    pub fail_msg: Option<String>,
}

impl Finish {
    /// A failed end with KIE's `failCode` and `failMsg`.
    pub fn fail(code: &str, msg: impl Into<String>) -> Self {
        Self { state: TaskState::Fail, result_json: None, fail_code: Some(code.to_string()), fail_msg: Some(msg.into()) }
    }
}

/// One task created by `createTask`.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub model: String,
    pub prompt: String,
    pub callback_url: Option<String>,
    pub input_urls: Vec<String>,
    /// The `createTask` body as received (`param` in `recordInfo`).
    pub param: String,
    pub state: TaskState,
    pub result_json: Option<String>,
    pub fail_code: Option<String>,
    pub fail_msg: Option<String>,
    pub create_time: u64,
    pub update_time: u64,
    pub complete_time: Option<u64>,
    pub cost_time: Option<u64>,
    /// Scripted `recordInfo` errors not answered yet.
    pub record_errors: VecDeque<ErrorAnswer>,
    /// How long each `recordInfo` answer is held (the rule's `record_delay_ms`).
    pub record_delay: Duration,
    /// The rule that applied at creation.
    pub rule_id: Option<u64>,
    /// HTTP status of each callback POST (0 when no answer came).
    pub callbacks_sent: Vec<u16>,
    /// The downloaded input image, once downloaded.
    pub input: Option<Bytes>,
}

impl Task {
    /// Key of the "same job" counter: the callback URL, or the first input URL without one.
    pub fn attempt_key(callback_url: Option<&str>, input_urls: &[String]) -> String {
        callback_url.map(str::to_string).or_else(|| input_urls.first().cloned()).unwrap_or_default()
    }

    /// Sets `state` and `updateTime`.
    pub fn set_state(&mut self, state: TaskState) {
        self.state = state;
        self.update_time = now_ms();
    }

    /// Applies the final fields, with `completeTime` and `costTime`.
    pub fn finish(&mut self, finish: &Finish) {
        let now = now_ms();
        self.state = finish.state;
        self.result_json = finish.result_json.clone();
        self.fail_code = finish.fail_code.clone();
        self.fail_msg = finish.fail_msg.clone();
        self.update_time = now;
        self.complete_time = Some(now);
        self.cost_time = Some(now.saturating_sub(self.create_time));
    }

    /// `recordInfo`'s (and the callback's) `data` object.
    pub fn record_data(&self) -> Value {
        json!({
            "taskId": self.id,
            "model": self.model,
            "state": self.state.as_str(),
            "param": self.param,
            "resultJson": self.result_json,
            "failCode": self.fail_code,
            "failMsg": self.fail_msg,
            "costTime": self.cost_time,
            "completeTime": self.complete_time,
            "createTime": self.create_time,
            "updateTime": self.update_time,
        })
    }

    /// Whether `needle` is in the task id, an input URL, the callback URL or the prompt.
    pub fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || self.id.contains(needle)
            || self.prompt.contains(needle)
            || self.callback_url.as_deref().is_some_and(|u| u.contains(needle))
            || self.input_urls.iter().any(|u| u.contains(needle))
    }

    /// The control API's view of the task; `create_count` comes from the state's counters.
    pub fn summary(&self, create_count: u64) -> Value {
        json!({
            "task_id": self.id,
            "model": self.model,
            "prompt": self.prompt,
            "callback_url": self.callback_url,
            "input_url": self.input_urls.first(),
            "input_urls": self.input_urls,
            "state": self.state.as_str(),
            "fail_code": self.fail_code,
            "create_count": create_count,
            "callbacks_sent": self.callbacks_sent,
            "input_bytes_len": self.input.as_ref().map(Bytes::len),
            "rule_id": self.rule_id,
            "create_time": self.create_time,
            "complete_time": self.complete_time,
        })
    }
}

/// A file served under `/files/`.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub content_type: String,
    pub bytes: Bytes,
}

/// Everything the simulator remembers.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub tasks: HashMap<String, Task>,
    /// Task ids in creation order.
    pub order: Vec<String>,
    /// Served files by URL path (`/files/<taskId>.png`, `/files/uploads/<id>/<name>`).
    pub files: HashMap<String, StoredFile>,
    pub rules: Rules,
    /// Authenticated `createTask` calls, whatever their answer.
    pub create_calls: u64,
    /// The account's task rate, when one is enforced: (tasks, window in ms).
    pub rate_limit: Option<(usize, u64)>,
    /// When each task accepted inside the current window was created (ms).
    pub recent_creates: std::collections::VecDeque<u64>,
    /// `createTask` calls refused with 429 for going over the rate.
    pub rate_refusals: u64,
    /// Authenticated `recordInfo` calls, whatever their answer.
    pub record_calls: u64,
    /// `createTask` calls (error answers included) per [`Task::attempt_key`].
    pub create_attempts: HashMap<String, u64>,
}

impl State {
    /// The summary of every task matching `needle`, in creation order.
    pub fn summaries(&self, needle: &str) -> Vec<Value> {
        self.order.iter().filter_map(|id| self.tasks.get(id)).filter(|t| t.matches(needle)).map(|t| self.summary(t)).collect()
    }

    /// One task's summary.
    pub fn summary(&self, task: &Task) -> Value {
        let key = Task::attempt_key(task.callback_url.as_deref(), &task.input_urls);
        task.summary(self.create_attempts.get(&key).copied().unwrap_or(0))
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
