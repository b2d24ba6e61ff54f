//! The server-side check of a stored upload: read its first bytes (ranged
//! GETs: 256 KiB first, more only while large metadata hides the
//! dimensions) and judge it by its bytes, not its declared type.

use crate::adapters::s3::PhotoStorage;
use crate::error::StoreError;
use crate::uploads::{FIRST_READ_BYTES, HeaderCheck, MAX_HEADER_BYTES, check_header};

/// `None` when the object does not exist; otherwise the verdict.
pub async fn inspect(photos: &PhotoStorage, key: &str) -> Result<Option<HeaderCheck>, StoreError> {
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
