//! The DynamoDB adapter: every store port over one table (its layout is
//! in [`schema`]). Each file implements one port; this module holds what
//! they share: the client, error mapping, paged queries, consistent reads
//! and the conditional-write helpers.

mod accounts;
mod attrs;
mod deletion;
mod exports;
mod job_record;
mod jobs;
mod ledger;
mod pipeline;
mod purchases;
mod rate_limits;
pub mod schema;
mod sessions;
mod transact;
mod transfers;
mod trash;
mod uploads;

pub use attrs::Item;
pub use job_record::job_from;
pub(crate) use schema::{TTL_ATTRIBUTE, profile_key};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::StoreError;

/// All ports over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// The SDK client, for callers that compose their own transactions.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The items of every partition of a sharded index (`index`, keyed by
    /// `key`) whose sort key (`sort`: the due time first) is due by `now`:
    /// one query per partition, in parallel, merged earliest first, at most
    /// `limit`.
    pub(crate) async fn due_in(
        &self,
        index: &str,
        (key, sort): (&str, &str),
        partitions: Vec<String>,
        now: i64,
        limit: usize,
    ) -> Result<Vec<attrs::Item>, StoreError> {
        let reads = partitions.into_iter().map(|partition| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#key = :part AND #sort <= :now")
                .expression_attribute_names("#key", key)
                .expression_attribute_names("#sort", sort)
                .expression_attribute_values(":part", attrs::s(partition))
                .expression_attribute_values(":now", attrs::s(format!("{now:012}~")))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
        });
        let mut due = Vec::new();
        for out in futures_util::future::join_all(reads).await {
            due.extend(out.map_err(store_error)?.items.unwrap_or_default());
        }
        due.sort_by_cached_key(|it| attrs::get_s(it, sort).unwrap_or_default());
        due.truncate(limit);
        Ok(due)
    }

    /// Opens the client's connection to DynamoDB (on AWS: TCP and TLS) with
    /// the cheapest read there is, a key that holds nothing, so the first
    /// request finds it open. A failure only means the request opens it.
    pub async fn open_connection(&self) {
        let key = schema::warm_up_key();
        if let Err(err) = self.client.get_item().table_name(&self.table).set_key(Some(key)).projection_expression("pk").send().await {
            tracing::debug!(error = %err, "the DynamoDB connection was not opened ahead of the first request");
        }
    }
}

/// Maps an SDK error: throttling, timeouts and unreachable endpoints are
/// `Unavailable` (the route answers 503), the rest unexpected.
pub fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    // A single-item write that met an item inside a transaction.
                    | "TransactionConflictException"
                    | "TransactionInProgressException"
            )
        ),
        _ => false,
    };
    if transient { StoreError::Unavailable(err.to_string()) } else { StoreError::other(err) }
}

/// Whether the session item (projection `expires_at`) says the session is alive.
pub(crate) fn session_alive_in(item: Option<&attrs::Item>, now: i64) -> bool {
    item.filter(|it| !it.is_empty()).and_then(|it| attrs::get_n(it, TTL_ATTRIBUTE).ok()).is_some_and(|exp| exp > now)
}

impl DynamoStore {
    /// Runs a single-item conditional update: `true` when it applied,
    /// `false` when its condition failed.
    pub(crate) async fn update_if(&self, update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder) -> Result<bool, StoreError> {
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_dynamodb::operation::update_item::UpdateItemError::is_conditional_check_failed_exception) => {
                Ok(false)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// An `UpdateItem` of the item at `key`.
    pub(crate) fn update(&self, key: attrs::Item) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).set_key(Some(key))
    }

    /// Every item a query matches, page after page.
    pub(crate) async fn query_all(&self, query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder) -> Result<Vec<attrs::Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start).send().await.map_err(store_error)?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// One item by key, read consistently.
    pub(crate) async fn get_consistent(&self, key: attrs::Item) -> Result<Option<attrs::Item>, StoreError> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true).send().await.map_err(store_error)?;
        Ok(out.item.filter(|it| !it.is_empty()))
    }

    /// Two items in one consistent read (`TransactGetItems`): the "one small
    /// read" that confirms a session together with what the route needs.
    pub(crate) async fn get_pair(&self, first: attrs::Item, second: attrs::Item) -> Result<(Option<attrs::Item>, Option<attrs::Item>), StoreError> {
        let get = |key: attrs::Item| {
            aws_sdk_dynamodb::types::Get::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .build()
                .map(|g| aws_sdk_dynamodb::types::TransactGetItem::builder().get(g).build())
                .map_err(StoreError::other)
        };
        let out = self.client.transact_get_items().transact_items(get(first)?).transact_items(get(second)?).send().await.map_err(store_error)?;
        let mut items = out.responses.unwrap_or_default().into_iter().map(|r| r.item.filter(|it| !it.is_empty()));
        Ok((items.next().flatten(), items.next().flatten()))
    }
}

/// A transaction's `Put` of an item that must not exist yet.
pub(crate) fn put_new(table: &str, row: attrs::Item) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(row))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(StoreError::other)?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build())
}
