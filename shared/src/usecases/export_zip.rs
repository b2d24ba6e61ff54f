//! A ZIP written as a stream straight into a multipart upload: the `zip`
//! crate writes each entry with a data descriptor (no seeking back), into a
//! buffer that is sent as a part whenever it holds `part_bytes`; the last
//! part may be smaller. However many photos go in, the worker holds at most
//! one part plus one read chunk. Entries are stored, not compressed: photos
//! are compressed already.

use std::io::Write;
use std::sync::{Arc, Mutex};

use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use crate::error::StoreError;
use crate::exports::{EXPORT_TAG, MIN_PART_BYTES};
use crate::ports::ObjectUploads;

/// The bytes the ZIP writer has written and no part has taken yet.
#[derive(Debug, Clone, Default)]
struct PartBuffer(Arc<Mutex<Vec<u8>>>);

impl PartBuffer {
    fn len(&self) -> std::io::Result<usize> {
        Ok(self.0.lock().map_err(|_| std::io::Error::other("part buffer poisoned"))?.len())
    }

    fn take(&self) -> std::io::Result<Vec<u8>> {
        Ok(std::mem::take(&mut *self.0.lock().map_err(|_| std::io::Error::other("part buffer poisoned"))?))
    }
}

impl Write for PartBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("part buffer poisoned"))?.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn zip_error(err: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("writing the export's ZIP: {err}"))
}

/// A ZIP being written into the object `key` of an upload in progress.
pub struct StreamedZip<'a, P> {
    uploads: &'a P,
    key: String,
    upload_id: String,
    buffer: PartBuffer,
    /// `None` once finished.
    zip: Option<ZipWriter<StreamWriter<PartBuffer>>>,
    parts: Vec<(i32, String)>,
    part_bytes: usize,
    options: SimpleFileOptions,
    /// The most bytes the buffer held before a part took them (for the tests).
    pub peak_buffer: usize,
}

impl<'a, P: ObjectUploads + Sync> StreamedZip<'a, P> {
    /// Starts the upload of `key` (tagged as an export), sending parts of
    /// `part_bytes` (at least S3's 5 MiB) stamped with `modified` (UTC).
    pub async fn start(uploads: &'a P, key: &str, part_bytes: usize, modified: chrono::DateTime<chrono::Utc>) -> Result<Self, StoreError> {
        let part_bytes = part_bytes.max(MIN_PART_BYTES);
        let upload_id = uploads.start_upload(key, "application/zip", EXPORT_TAG).await?;
        let buffer = PartBuffer::default();
        let mut options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).unix_permissions(0o644);
        use chrono::{Datelike, Timelike};
        let stamp = u16::try_from(modified.year()).ok().and_then(|year| {
            let b = |v: u32| u8::try_from(v).ok();
            zip::DateTime::from_date_and_time(year, b(modified.month())?, b(modified.day())?, b(modified.hour())?, b(modified.minute())?, b(modified.second())?)
                .ok()
        });
        if let Some(stamp) = stamp {
            options = options.last_modified_time(stamp);
        }
        Ok(StreamedZip {
            uploads,
            key: key.into(),
            upload_id,
            zip: Some(ZipWriter::new_stream(buffer.clone())),
            buffer,
            parts: Vec::new(),
            part_bytes,
            options,
            peak_buffer: 0,
        })
    }

    /// Starts the entry `name`; what [`StreamedZip::write`] writes next goes in it.
    pub fn begin_entry(&mut self, name: &str) -> Result<(), StoreError> {
        let options = self.options;
        self.writer()?.start_file(name, options).map_err(zip_error)
    }

    /// Appends `bytes` to the current entry, sending a part when one is full.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.writer()?.write_all(bytes).map_err(zip_error)?;
        self.send_parts(false).await
    }

    fn writer(&mut self) -> Result<&mut ZipWriter<StreamWriter<PartBuffer>>, StoreError> {
        self.zip.as_mut().ok_or_else(|| zip_error("the ZIP is finished"))
    }

    async fn send_parts(&mut self, last: bool) -> Result<(), StoreError> {
        let held = self.buffer.len().map_err(zip_error)?;
        self.peak_buffer = self.peak_buffer.max(held);
        if held < self.part_bytes && !(last && held > 0) {
            return Ok(());
        }
        let part = self.buffer.take().map_err(zip_error)?;
        let number = i32::try_from(self.parts.len() + 1).map_err(zip_error)?;
        let etag = self.uploads.upload_part(&self.key, &self.upload_id, number, part).await?;
        self.parts.push((number, etag));
        Ok(())
    }

    /// Writes the central directory, sends the last part and completes the
    /// upload: the object appears; how many parts it took. On failure the
    /// upload is aborted.
    pub async fn finish(mut self) -> Result<usize, StoreError> {
        let zip = self.zip.take();
        let done = async {
            zip.ok_or_else(|| zip_error("the ZIP is finished"))?.finish().map_err(zip_error)?;
            self.send_parts(true).await?;
            self.uploads.complete_upload(&self.key, &self.upload_id, &self.parts).await
        }
        .await;
        if let Err(err) = done {
            self.abort().await;
            return Err(err);
        }
        Ok(self.parts.len())
    }

    /// Discards the upload and its parts (an error is only logged: the
    /// bucket's lifecycle rule aborts what is left after a day).
    pub async fn abort(&self) {
        if let Err(err) = self.uploads.abort_upload(&self.key, &self.upload_id).await {
            tracing::warn!(error = %err, "an export's upload could not be aborted; the lifecycle rule removes it");
        }
    }
}
