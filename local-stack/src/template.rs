//! Reads `template.yaml`: the table, bucket and queues to create on the
//! emulator, and the HTTP routes with the binary that serves each.
//!
//! CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`) come through
//! serde_yaml as tagged values; only plain values are read here.

use std::path::Path;

use serde_yaml::Value;

/// A DynamoDB key attribute or index key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// Index name.
    pub name: String,
    /// Its keys.
    pub keys: Vec<KeyAttr>,
}

/// The table as the template defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Logical id.
    pub logical_id: String,
    /// (name, type) of every key attribute.
    pub attributes: Vec<(String, String)>,
    /// Primary key.
    pub keys: Vec<KeyAttr>,
    /// Global secondary indexes.
    pub indexes: Vec<IndexSpec>,
    /// The TTL attribute, when enabled.
    pub ttl_attribute: Option<String>,
}

/// A queue, and the queue its dead letters go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Logical id.
    pub logical_id: String,
    /// Logical id of the dead-letter queue, if any.
    pub dead_letter_target: Option<String>,
    /// `maxReceiveCount` of the redrive policy.
    pub max_receive_count: Option<i64>,
    /// Visibility timeout in seconds.
    pub visibility_timeout: Option<i64>,
}

/// An HTTP route and the binary that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The function's logical id.
    pub function: String,
    /// Its binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// `/v1/jobs/{job_id}`.
    pub path: String,
}

/// What the local stack needs of the template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The one table.
    pub table: TableSpec,
    /// Logical ids of S3 buckets.
    pub buckets: Vec<String>,
    pub queues: Vec<QueueSpec>,
    /// Every HTTP route.
    pub routes: Vec<RouteSpec>,
    /// Every function's binary, routed or not.
    pub binaries: Vec<String>,
    /// Binaries run on a schedule (EventBridge `Schedule`/`ScheduleV2` events).
    pub scheduled: Vec<String>,
    /// Binaries triggered by a queue: (binary, queue logical id, batch size).
    pub queue_consumers: Vec<(String, String, i32)>,
    /// Environment variables of the functions (globals and per function).
    pub environment: Vec<(String, EnvValue)>,
    /// Every function's timeout in seconds, by binary (its own `Timeout`, or
    /// the globals', or Lambda's default of 3).
    pub timeouts: std::collections::HashMap<String, u64>,
}

impl Template {
    /// How long `binary` may run before Lambda stops it.
    pub fn timeout_of(&self, binary: &str) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeouts.get(binary).copied().unwrap_or(3))
    }
}

/// An environment variable's value in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `!Ref X`: a resource or a parameter.
    Ref(String),
    /// Anything else (`!Sub`, `!GetAtt`, …).
    Other,
}

fn env_vars(v: Option<&Value>, out: &mut Vec<(String, EnvValue)>) {
    let vars = v.and_then(|v| v.get("Environment")).and_then(|e| e.get("Variables")).and_then(Value::as_mapping);
    for (k, v) in vars.into_iter().flatten() {
        let value = match v {
            Value::Tagged(t) if t.tag == "!Ref" => text(&t.value).map_or(EnvValue::Other, EnvValue::Ref),
            Value::Tagged(_) => EnvValue::Other,
            other => text(other).map_or(EnvValue::Other, EnvValue::Literal),
        };
        if let Some(name) = text(k).filter(|n| !out.iter().any(|(have, _)| have == n)) {
            out.push((name, value));
        }
    }
}

/// A template that does not have the shape we rely on.
#[derive(Debug, thiserror::Error)]
#[error("template.yaml: {0}")]
pub struct TemplateError(String);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn seq<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_sequence).into_iter().flatten()
}

fn key_attrs(v: &Value) -> Vec<KeyAttr> {
    seq(v, "KeySchema").filter_map(|k| Some(KeyAttr { name: text(k.get("AttributeName")?)?, key_type: text(k.get("KeyType")?)? })).collect()
}

fn logical_id_of(v: &Value) -> Option<String> {
    // `!GetAtt X.Arn` or `!Ref X`.
    match v {
        Value::Tagged(t) => text(&t.value).map(|s| s.split('.').next().unwrap_or_default().to_string()),
        _ => None,
    }
}

impl Template {
    /// Reads and interprets the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let raw = std::fs::read_to_string(path).map_err(|e| TemplateError(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&raw)
    }

    /// Interprets template text.
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml::from_str(raw).map_err(|e| TemplateError(e.to_string()))?;
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or_else(|| TemplateError("no Resources".into()))?;
        let (mut tables, mut buckets, mut queues, mut routes, mut binaries) = (vec![], vec![], vec![], vec![], vec![]);
        let mut environment = Vec::new();
        let mut scheduled = Vec::new();
        let mut queue_consumers = Vec::new();
        env_vars(doc.get("Globals").and_then(|g| g.get("Function")), &mut environment);
        let timeout = |v: Option<&Value>| v.and_then(|v| v.get("Timeout")).and_then(text).and_then(|t| t.parse::<u64>().ok());
        let global_timeout = timeout(doc.get("Globals").and_then(|g| g.get("Function"))).unwrap_or(3);
        let mut timeouts = std::collections::HashMap::new();
        for (id, res) in resources {
            let id = text(id).unwrap_or_default();
            let props = res.get("Properties").cloned().unwrap_or(Value::Null);
            match res.get("Type").and_then(text).as_deref() {
                Some("AWS::DynamoDB::Table") => tables.push(TableSpec {
                    logical_id: id,
                    attributes: seq(&props, "AttributeDefinitions")
                        .filter_map(|a| Some((text(a.get("AttributeName")?)?, text(a.get("AttributeType")?)?)))
                        .collect(),
                    keys: key_attrs(&props),
                    indexes: seq(&props, "GlobalSecondaryIndexes")
                        .filter_map(|i| Some(IndexSpec { name: text(i.get("IndexName")?)?, keys: key_attrs(i) }))
                        .collect(),
                    ttl_attribute: props
                        .get("TimeToLiveSpecification")
                        .filter(|t| t.get("Enabled").and_then(text).as_deref() == Some("true"))
                        .and_then(|t| text(t.get("AttributeName")?)),
                }),
                Some("AWS::S3::Bucket") => buckets.push(id),
                Some("AWS::SQS::Queue") => {
                    let redrive = props.get("RedrivePolicy");
                    queues.push(QueueSpec {
                        logical_id: id,
                        dead_letter_target: redrive.and_then(|r| logical_id_of(r.get("deadLetterTargetArn")?)),
                        max_receive_count: redrive.and_then(|r| text(r.get("maxReceiveCount")?)?.parse().ok()),
                        visibility_timeout: props.get("VisibilityTimeout").and_then(text).and_then(|t| t.parse().ok()),
                    });
                }
                Some("AWS::Serverless::Function") => {
                    let binary = res
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(text)
                        .ok_or_else(|| TemplateError(format!("{id} has no Metadata.BuildProperties.Binary")))?;
                    for event in props.get("Events").and_then(Value::as_mapping).into_iter().flat_map(|m| m.values()) {
                        match event.get("Type").and_then(text).as_deref() {
                            Some("HttpApi") => {}
                            Some("Schedule" | "ScheduleV2") => {
                                scheduled.push(binary.clone());
                                continue;
                            }
                            Some("SQS") => {
                                let p = event.get("Properties");
                                let queue = p.and_then(|p| logical_id_of(p.get("Queue")?));
                                let batch = p.and_then(|p| text(p.get("BatchSize")?)?.parse().ok()).unwrap_or(10);
                                let queue = queue.ok_or_else(|| TemplateError(format!("{id}: SQS event without a Queue")))?;
                                queue_consumers.push((binary.clone(), queue, batch));
                                continue;
                            }
                            _ => continue,
                        }
                        let p = event.get("Properties").ok_or_else(|| TemplateError(format!("{id}: HttpApi event without Properties")))?;
                        let (Some(method), Some(path)) = (p.get("Method").and_then(text), p.get("Path").and_then(text)) else {
                            return Err(TemplateError(format!("{id}: HttpApi event needs Method and Path")));
                        };
                        routes.push(RouteSpec { function: id.clone(), binary: binary.clone(), method: method.to_uppercase(), path });
                    }
                    env_vars(Some(&props), &mut environment);
                    timeouts.insert(binary.clone(), timeout(Some(&props)).unwrap_or(global_timeout));
                    binaries.push(binary);
                }
                _ => {}
            }
        }
        let table = match tables.len() {
            1 => tables.remove(0),
            n => return Err(TemplateError(format!("expected one DynamoDB table, found {n}"))),
        };
        Ok(Template { table, buckets, queues, routes, binaries, environment, scheduled, queue_consumers, timeouts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
Globals:
  Function:
    Timeout: 10
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: g, AttributeType: S}
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: G
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DLQ.Arn, maxReceiveCount: 5}
  DLQ:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: get-me}}
    Properties:
      Environment: {Variables: {TABLE_NAME: !Ref Table}}
      Events:
        Api: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /v1/me, Method: get}}
"#;

    #[test]
    fn reads_resources_and_routes() {
        let t = Template::parse(SAMPLE).unwrap();
        assert_eq!(t.table.ttl_attribute.as_deref(), Some("expires_at"));
        assert_eq!(t.table.indexes[0].name, "G");
        let q = t.queues.iter().find(|q| q.logical_id == "Q").unwrap();
        assert_eq!((q.dead_letter_target.as_deref(), q.max_receive_count), (Some("DLQ"), Some(5)));
        assert_eq!(t.environment, vec![("TABLE_NAME".to_string(), EnvValue::Ref("Table".into()))]);
        assert_eq!(t.routes, vec![RouteSpec { function: "Fn".into(), binary: "get-me".into(), method: "GET".into(), path: "/v1/me".into() }]);
        assert_eq!(t.timeout_of("get-me"), std::time::Duration::from_secs(10), "the globals' timeout");
    }

    #[test]
    fn a_function_without_binary_is_an_error() {
        let broken = SAMPLE.replace("BuildProperties: {Binary: get-me}", "BuildProperties: {}");
        assert!(Template::parse(&broken).is_err());
    }
}
