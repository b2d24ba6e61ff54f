//! Uploads: `POST /v1/uploads` records an upload behind a live session and
//! hands out a presigned `PUT` that signs its type and length; [`inspect`]
//! is the server-side check of what was stored: its first bytes (ranged
//! GETs: 256 KiB first, more only while large metadata hides the
//! dimensions), judged by the bytes, not the declared type.

use std::time::Duration;

use crate::app::App;
use crate::auth::access_token::Claims;
use crate::error::{ApiError, StoreError, unauthorized};
use crate::jobs::new_job_id;
use crate::object_keys::UserObjects;
use crate::ports::{ActionLimiter, PhotoStore, SessionStore, UploadStore};
use crate::rate_limit::Admission;
use crate::storage::PresignedPut;
use crate::uploads::{FIRST_READ_BYTES, HeaderCheck, MAX_HEADER_BYTES, NewUpload, UPLOAD_LINK_SECONDS, check_header};
use crate::usecases::sessions::require_live;

/// A recorded upload and its link.
#[derive(Debug, Clone)]
pub struct IssuedUpload {
    /// The upload's id.
    pub upload_id: String,
    /// The presigned `PUT`.
    pub put: PresignedPut,
    /// When the link expires (Unix seconds).
    pub expires_at: i64,
}

/// Records an upload of `content_type` and `length` for the caller and
/// presigns its `PUT`; 401 when the session is gone,
/// 429 past the caller's uploads per hour.
pub async fn create_upload<S, P, G, D>(app: &App<S, P, G, D>, claims: &Claims, content_type: &str, length: u64, now: i64) -> Result<IssuedUpload, ApiError>
where
    S: UploadStore + SessionStore + ActionLimiter,
    P: PhotoStore,
{
    let (store, photos, settings, hash_key) = (&app.store, &app.photos, &app.settings, &app.secrets.ip_hash_key);
    // The counter lives in the caller's records: only behind a live session.
    require_live(store, claims.clone(), now).await?;
    if let Admission::Limited { retry_after_secs } = store.admit_user_action(&claims.sub, "create_upload", now, settings.uploads_per_hour, 3600).await? {
        return Err(ApiError::RateLimited {
            message: format!("At most {} photo uploads an hour; try again later.", settings.uploads_per_hour),
            retry_after_secs,
        });
    }
    let unused_upload_seconds = settings.unused_upload_seconds;
    let upload_id = new_job_id();
    let key = UserObjects::new(hash_key, &claims.sub).upload(&upload_id);
    let new = NewUpload {
        user_id: &claims.sub,
        session_id: &claims.sid,
        upload_id: &upload_id,
        s3_key: &key,
        content_type,
        content_length: length,
        now,
        use_by: now + unused_upload_seconds,
    };
    if !store.create_upload(&new).await? {
        return Err(unauthorized());
    }
    let put = photos.presign_put(&key, content_type, length, Duration::from_secs(UPLOAD_LINK_SECONDS)).await?;
    Ok(IssuedUpload { upload_id, put, expires_at: now + UPLOAD_LINK_SECONDS as i64 })
}

/// `None` when the object does not exist; otherwise the verdict.
pub async fn inspect<P: PhotoStore>(photos: &P, key: &str) -> Result<Option<HeaderCheck>, StoreError> {
    let Some(first) = photos.read_range(key, 0, FIRST_READ_BYTES).await? else { return Ok(None) };
    let total = first.total_size;
    let mut bytes = first.bytes;
    loop {
        let complete = bytes.len() as u64 >= total;
        match check_header(&bytes, total, complete) {
            HeaderCheck::NeedMore if (bytes.len() as u64) < MAX_HEADER_BYTES.min(total) => {
                let start = bytes.len() as u64;
                let len = (start * 2).min(MAX_HEADER_BYTES) - start;
                match photos.read_range(key, start, len).await? {
                    Some(more) if !more.bytes.is_empty() => bytes.extend(more.bytes),
                    _ => return Ok(Some(check_header(&bytes, total, true))),
                }
            }
            HeaderCheck::NeedMore => {
                return Ok(Some(HeaderCheck::Unusable("The photo's dimensions could not be found in its first 4 MiB.".into())));
            }
            verdict => return Ok(Some(verdict)),
        }
    }
}
