//! Data export records, in the user's partition and in `GSI1` under
//! `EXPORTS_DUE` by the time the sweep must look at them. Creating one is one
//! transaction: the session is alive, the account is not being deleted, the
//! user's last export is an hour old (its time moves to now), and the record.
//! Every later write is conditional on the record being as read.

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use super::attrs::{Item, get_n, get_s, item, n, opt_s, s};
use super::schema::{EXPORTS_DUE, GSI1, TTL_ATTRIBUTE, export_due_sk, export_key, export_limit_key, profile_key, session_key, user_pk};
use super::{DynamoStore, session_alive_in, store_error};
use crate::error::StoreError;
use crate::exports::{Export, ExportStatus};
use crate::ports::{CreateExportOutcome, ExportStore};

/// Days a record outlives its time before DynamoDB's TTL removes it: a
/// backstop should the sweep stop running (it deletes the ZIP, not the TTL).
const TTL_MARGIN_SECS: i64 = 7 * 86_400;

fn export_item(e: &Export) -> Item {
    let mut it = export_key(&e.user_id, &e.export_id);
    it.extend(item([
        ("entity", s("export")),
        ("user_id", s(e.user_id.as_str())),
        ("export_id", s(e.export_id.as_str())),
        ("status", s(e.status.as_str())),
        ("created_at", n(e.created_at)),
        ("object_prefix", s(e.prefix.as_str())),
        ("deadline_at", n(e.deadline_at)),
        ("delete_at", n(e.delete_at)),
        ("due_at", n(e.due_at)),
        ("gsi1pk", s(EXPORTS_DUE)),
        ("gsi1sk", s(export_due_sk(e.due_at, &e.user_id, &e.export_id))),
        (TTL_ATTRIBUTE, n(e.delete_at + TTL_MARGIN_SECS)),
    ]));
    if let Some(at) = e.ready_at {
        it.insert("ready_at".into(), n(at));
    }
    if let Some(key) = &e.object_key {
        it.insert("object_key".into(), s(key.as_str()));
    }
    it
}

fn export_from(it: &Item) -> Result<Export, StoreError> {
    let status = get_s(it, "status")?;
    Ok(Export {
        export_id: get_s(it, "export_id")?,
        user_id: get_s(it, "user_id")?,
        status: ExportStatus::parse(&status).ok_or_else(|| StoreError::other(format!("unknown export status `{status}`")))?,
        created_at: get_n(it, "created_at")?,
        ready_at: it.contains_key("ready_at").then(|| get_n(it, "ready_at")).transpose()?,
        prefix: get_s(it, "object_prefix")?,
        object_key: opt_s(it, "object_key"),
        deadline_at: get_n(it, "deadline_at")?,
        delete_at: get_n(it, "delete_at")?,
        due_at: get_n(it, "due_at")?,
    })
}

impl DynamoStore {
    /// The check that the user's account exists and is not being deleted.
    fn account_not_deleting(&self, user_id: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .build()
            .map_err(StoreError::other)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

impl ExportStore for DynamoStore {
    async fn create_export(&self, e: &Export, session_id: &str, interval_secs: i64) -> Result<CreateExportOutcome, StoreError> {
        let now = e.created_at;
        let session = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(session_key(&e.user_id, session_id)))
            .condition_expression("#exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        // The limit's item: the last export's time, moved only when an hour old.
        let limit = Update::builder()
            .table_name(&self.table)
            .set_key(Some(export_limit_key(&e.user_id)))
            .update_expression("SET last_created_at = :now, entity = :entity, #exp = :ttl")
            .condition_expression("attribute_not_exists(last_created_at) OR last_created_at <= :cutoff")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":cutoff", n(now - interval_secs))
            .expression_attribute_values(":entity", s("export_limit"))
            .expression_attribute_values(":ttl", n(now + interval_secs))
            .build()
            .map_err(StoreError::other)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(export_item(e)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        let writes = vec![
            TransactWriteItem::builder().condition_check(session).build(),
            self.account_not_deleting(&e.user_id)?,
            TransactWriteItem::builder().update(limit).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(writes).await? {
            Ok(()) => Ok(CreateExportOutcome::Created),
            Err(refused) if refused.failed_at(0) || refused.failed_at(1) => Ok(CreateExportOutcome::SessionGone),
            Err(refused) if refused.failed_at(2) => {
                let last = self.get_consistent(export_limit_key(&e.user_id)).await?;
                let last_created_at = last.as_ref().map(|it| get_n(it, "last_created_at")).transpose()?.unwrap_or(now);
                Ok(CreateExportOutcome::Limited { last_created_at })
            }
            Err(_) => Err(StoreError::other("a new export's id collided")),
        }
    }

    async fn export_with_live_session(&self, user_id: &str, session_id: &str, export_id: &str, now: i64) -> Result<Option<Option<Export>>, StoreError> {
        let (session, export) = self.get_pair(session_key(user_id, session_id), export_key(user_id, export_id)).await?;
        if !session_alive_in(session.as_ref(), now) {
            return Ok(None);
        }
        Ok(Some(export.as_ref().map(export_from).transpose()?.filter(|e| !e.is_expired(now))))
    }

    async fn export(&self, user_id: &str, export_id: &str) -> Result<Option<Export>, StoreError> {
        self.get_consistent(export_key(user_id, export_id)).await?.as_ref().map(export_from).transpose()
    }

    async fn settle_export(&self, next: &Export) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(export_key(&next.user_id, &next.export_id)))
            .condition_expression("#status = :preparing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":preparing", s(ExportStatus::Preparing.as_str()))
            .expression_attribute_values(":status", s(next.status.as_str()))
            .expression_attribute_values(":delete_at", n(next.delete_at))
            .expression_attribute_values(":due_at", n(next.due_at))
            .expression_attribute_values(":sk", s(export_due_sk(next.due_at, &next.user_id, &next.export_id)))
            .expression_attribute_values(":ttl", n(next.delete_at + TTL_MARGIN_SECS));
        let mut set = "SET #status = :status, delete_at = :delete_at, due_at = :due_at, gsi1sk = :sk, #exp = :ttl".to_string();
        if let (Some(at), Some(key)) = (next.ready_at, &next.object_key) {
            set.push_str(", ready_at = :ready_at, object_key = :key");
            update = update.expression_attribute_values(":ready_at", n(at)).expression_attribute_values(":key", s(key.as_str()));
        }
        let update = update.update_expression(set).build().map_err(StoreError::other)?;
        self.transact_if(vec![TransactWriteItem::builder().update(update).build(), self.account_not_deleting(&next.user_id)?]).await
    }

    async fn renew_export_watch(&self, e: &Export, due_at: i64) -> Result<bool, StoreError> {
        let update = self
            .update(export_key(&e.user_id, &e.export_id))
            .update_expression("SET due_at = :due_at, gsi1sk = :sk")
            .condition_expression("#status = :status AND due_at = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(e.status.as_str()))
            .expression_attribute_values(":seen", n(e.due_at))
            .expression_attribute_values(":due_at", n(due_at))
            .expression_attribute_values(":sk", s(export_due_sk(due_at, &e.user_id, &e.export_id)));
        self.update_if(update).await
    }

    async fn due_exports(&self, now: i64, limit: usize) -> Result<Vec<Export>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :due AND gsi1sk <= :now")
            .expression_attribute_values(":due", s(EXPORTS_DUE))
            .expression_attribute_values(":now", s(format!("{now:012}~")))
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        out.items().iter().map(export_from).collect()
    }

    async fn delete_export_record(&self, e: &Export) -> Result<bool, StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(export_key(&e.user_id, &e.export_id)))
            .condition_expression("#status = :status AND due_at = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(e.status.as_str()))
            .expression_attribute_values(":seen", n(e.due_at));
        match delete.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err.as_service_error().is_some_and(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(err) => Err(store_error(err)),
        }
    }

    async fn exports_of(&self, user_id: &str) -> Result<Vec<Export>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :export)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":export", s("EXPORT#"))
            .scan_index_forward(false)
            .consistent_read(true);
        self.query_all(query).await?.iter().map(export_from).collect()
    }
}
