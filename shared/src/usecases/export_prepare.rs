//! Preparing a data export (the export worker, one message per export):
//! every photo and result the user still has and `account.json`, streamed
//! into one ZIP under the export's prefix (see `export_zip`), then the
//! record marked ready, only if it is still preparing and the account is
//! not being deleted. Each run writes its own object, so a duplicate run
//! never overwrites the one the record names; a run that loses (the export
//! settled or erased meanwhile, the account deleted) deletes what it wrote,
//! and the account's erasure aborts uploads still in progress.

use crate::error::StoreError;
use crate::exports::{ACCOUNT_FILE, AccountDocument, Export, ExportSettings, ExportStatus, JobLine, LedgerLine, PART_BYTES, READ_CHUNK_BYTES, extension_of};
use crate::messages::ExportMessage;
use crate::object_keys::UserObjects;
use crate::ports::{AccountStore, ExportStore, JobStore, LedgerStore, ObjectUploads, PhotoStore};
use crate::time::rfc3339;
use crate::usecases::export_zip::StreamedZip;

/// Jobs read per page.
const JOBS_PAGE: usize = 100;

/// What one run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The ZIP is stored and the export ready.
    Ready {
        /// Files in the ZIP (`account.json` included).
        files: usize,
        /// Parts uploaded.
        parts: usize,
    },
    /// Nothing to do: the export is settled or gone (a duplicate message,
    /// an erased account).
    NothingToDo,
    /// The export settled or went while this run wrote: its ZIP was deleted.
    Discarded,
}

/// The export worker's use case, with what it needs.
#[derive(Debug, Clone)]
pub struct Exporter<S, P> {
    /// The records.
    pub store: S,
    /// The bucket.
    pub photos: P,
    /// The key users' storage prefixes are derived with.
    pub hash_key: Vec<u8>,
    /// Retention and deadlines.
    pub settings: ExportSettings,
    /// The size of the parts sent (at least 5 MiB).
    pub part_bytes: usize,
}

impl<S, P> Exporter<S, P>
where
    S: ExportStore + AccountStore + LedgerStore + JobStore + Sync,
    P: PhotoStore + ObjectUploads + Sync,
{
    /// An exporter sending parts of the default size.
    pub fn new(store: S, photos: P, hash_key: Vec<u8>, settings: ExportSettings) -> Self {
        Exporter { store, photos, hash_key, settings, part_bytes: PART_BYTES }
    }

    /// Prepares the export `msg` names, as run `run_id`. `Err`: retry the
    /// message (nothing of this run is left but parts the abort or the
    /// bucket's lifecycle rule removes).
    pub async fn prepare(&self, msg: &ExportMessage, run_id: &str, now: i64) -> Result<Prepared, StoreError> {
        let Some(export) = self.store.export(&msg.user_id, &msg.export_id).await? else { return Ok(Prepared::NothingToDo) };
        if export.status != ExportStatus::Preparing {
            return Ok(Prepared::NothingToDo);
        }
        if now >= export.deadline_at {
            self.store.settle_export(&export.failed(now, &self.settings)).await?;
            return Ok(Prepared::NothingToDo);
        }
        let key = format!("{}{run_id}.zip", export.prefix);
        let modified = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let mut zip = StreamedZip::start(&self.photos, &key, self.part_bytes, modified).await?;
        let files = match self.write_contents(&mut zip, &export, now).await {
            Ok(Some(files)) => files,
            Ok(None) => {
                zip.abort().await;
                return Ok(Prepared::Discarded);
            }
            Err(err) => {
                zip.abort().await;
                return Err(err);
            }
        };
        // Deleted or settled while we wrote: nothing is completed.
        if !self.still_preparing(&export).await? {
            zip.abort().await;
            return Ok(Prepared::Discarded);
        }
        let parts = zip.finish().await?;
        if self.store.settle_export(&export.ready(&key, crate::time::now(), &self.settings)).await? {
            return Ok(Prepared::Ready { files, parts });
        }
        // Lost to a deletion, the deadline or another run: this object is ours alone.
        self.photos.delete(std::slice::from_ref(&key)).await?;
        Ok(Prepared::Discarded)
    }

    async fn still_preparing(&self, export: &Export) -> Result<bool, StoreError> {
        Ok(self.store.export(&export.user_id, &export.export_id).await?.is_some_and(|e| e.status == ExportStatus::Preparing))
    }

    /// Writes every photo and result, the unused uploads, then
    /// `account.json`; how many files. `None`: the account is being deleted.
    async fn write_contents(&self, zip: &mut StreamedZip<'_, P>, export: &Export, now: i64) -> Result<Option<usize>, StoreError> {
        let user_id = &export.user_id;
        let mut files = 0;
        let mut jobs = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.store.list_jobs(user_id, JOBS_PAGE, after.as_deref()).await?;
            for job in &page {
                let mut line = JobLine::of(job);
                line.photo_file = copy_object(zip, &self.photos, &job.input_key, &format!("jobs/{}/photo", job.job_id)).await?;
                if let Some(result) = &job.result_key {
                    line.result_file = copy_object(zip, &self.photos, result, &format!("jobs/{}/result", job.job_id)).await?;
                }
                files += usize::from(line.photo_file.is_some()) + usize::from(line.result_file.is_some());
                jobs.push(line);
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let objects = UserObjects::new(&self.hash_key, user_id);
        let uploads_prefix = objects.upload("");
        let mut unused_uploads = Vec::new();
        for key in self.photos.list(&uploads_prefix).await? {
            let upload_id = key.trim_start_matches(&uploads_prefix);
            if let Some(name) = copy_object(zip, &self.photos, &key, &format!("uploads/{upload_id}")).await? {
                unused_uploads.push(name);
                files += 1;
            }
        }
        let Some((profile, ledger)) = self.balance_and_ledger(user_id).await? else { return Ok(None) };
        let document = AccountDocument {
            user_id: user_id.clone(),
            created_at: profile.created_at,
            credits: profile.credits,
            exported_at: rfc3339(now),
            ledger: ledger.iter().map(LedgerLine::from).collect(),
            jobs,
            unused_uploads,
        };
        let json = serde_json::to_vec_pretty(&document).map_err(StoreError::other)?;
        zip.begin_entry(ACCOUNT_FILE)?;
        zip.write(&json).await?;
        Ok(Some(files + 1))
    }

    /// The profile and a ledger read with it: read again while a change
    /// came between the two reads (the balance is then the ledger's sum).
    /// `None`: the account is gone or being deleted.
    async fn balance_and_ledger(
        &self,
        user_id: &str,
    ) -> Result<Option<(crate::accounts::ProfileRecord, Vec<crate::credits::ledger::LedgerEntry>)>, StoreError> {
        for _ in 0..3 {
            let Some(profile) = self.store.profile_record(user_id).await?.filter(|p| p.deleting.is_none()) else { return Ok(None) };
            let ledger = self.store.ledger_entries(user_id).await?;
            if ledger.iter().map(|e| e.amount).sum::<i64>() == profile.credits {
                return Ok(Some((profile, ledger)));
            }
        }
        Err(StoreError::Unavailable("the balance kept changing while the export read it".into()))
    }
}

/// Copies the object `key`, if it exists, into the entry `<base>.<ext>`
/// (the extension from its first bytes), a chunk at a time; the entry's
/// name, or `None` when there is no such object. An object that changes or
/// goes while it is read fails the run (it is retried and reads it anew).
async fn copy_object<P>(zip: &mut StreamedZip<'_, P>, photos: &P, key: &str, base: &str) -> Result<Option<String>, StoreError>
where
    P: PhotoStore + ObjectUploads + Sync,
{
    let Some(first) = photos.read_range(key, 0, READ_CHUNK_BYTES).await? else { return Ok(None) };
    let total = first.total_size;
    let name = format!("{base}.{}", extension_of(&first.bytes));
    zip.begin_entry(&name)?;
    let mut offset = first.bytes.len() as u64;
    zip.write(&first.bytes).await?;
    while offset < total {
        let chunk = photos.read_range(key, offset, READ_CHUNK_BYTES).await?;
        let chunk =
            chunk.filter(|c| c.total_size == total && !c.bytes.is_empty()).ok_or_else(|| StoreError::other("an object changed while it was exported"))?;
        offset += chunk.bytes.len() as u64;
        zip.write(&chunk.bytes).await?;
    }
    Ok(Some(name))
}
