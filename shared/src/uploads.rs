//! Upload rules: which photos we accept, checked first as declared (before a
//! URL is issued) and then by the bytes actually stored (before any charge).

use serde::Deserialize;

use crate::error::ApiError;

/// How long an upload link lives: the contract asks only that it be valid
/// when the phone starts its PUT, which it does right away, so a link that
/// outlives its use cannot put photos anywhere for long. An account's
/// erasure makes a last pass after it, for a photo sent through a link
/// issued before the deletion.
pub const UPLOAD_LINK_SECONDS: u64 = 30;
/// The contract's upload limit: 10 MiB.
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// The shortest side a usable photo has, in pixels.
pub const MIN_SHORT_SIDE: usize = 256;
/// How much of an object the first header read fetches.
pub const FIRST_READ_BYTES: u64 = 256 * 1024;
/// How far the header read may go when large metadata comes first.
pub const MAX_HEADER_BYTES: u64 = 4 * 1024 * 1024;
/// Content types we accept.
pub const ACCEPTED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

/// `POST /v1/uploads` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The declared content type.
    pub content_type: String,
    /// The declared length in bytes.
    pub content_length: i64,
}

impl UploadRequest {
    /// Checks the declaration in the contract's order: 415, then 413, then 422.
    /// Returns the normalised content type and the length.
    pub fn validate(&self) -> Result<(&'static str, u64), ApiError> {
        let declared = self.content_type.trim().to_ascii_lowercase();
        let content_type = ACCEPTED_TYPES
            .iter()
            .find(|t| **t == declared)
            .ok_or_else(|| ApiError::UnsupportedMediaType("Upload a JPEG, PNG or WebP photo (image/jpeg, image/png or image/webp).".into()))?;
        if self.content_length > MAX_UPLOAD_BYTES as i64 {
            return Err(ApiError::PayloadTooLarge("The photo is over 10 MiB; upload a smaller one.".into()));
        }
        if self.content_length < 1 {
            return Err(ApiError::ValidationFailed("content_length must be from 1 to 10485760 bytes.".into()));
        }
        Ok((content_type, self.content_length as u64))
    }
}

/// An accepted photo format, recognised by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
}

/// What the first bytes of a stored upload say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A usable photo.
    Usable {
        /// Its format.
        format: PhotoFormat,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// The dimensions are further in: read more.
    NeedMore,
    /// Not a usable photo; the reason is for the person.
    Unusable(String),
}

/// Checks a stored object from its first bytes (`prefix`) and its total size.
/// `complete` says `prefix` is the whole object.
pub fn check_header(prefix: &[u8], total_size: u64, complete: bool) -> HeaderCheck {
    if total_size > MAX_UPLOAD_BYTES {
        return HeaderCheck::Unusable("The photo is over 10 MiB.".into());
    }
    let format = match imagesize::image_type(prefix) {
        Ok(imagesize::ImageType::Jpeg) => PhotoFormat::Jpeg,
        Ok(imagesize::ImageType::Png) => PhotoFormat::Png,
        Ok(imagesize::ImageType::Webp) => PhotoFormat::Webp,
        _ if prefix.len() < 32 && !complete => return HeaderCheck::NeedMore,
        _ => return HeaderCheck::Unusable("The upload is not a JPEG, PNG or WebP image.".into()),
    };
    match imagesize::blob_size(prefix) {
        Ok(size) if size.width.min(size.height) >= MIN_SHORT_SIDE => HeaderCheck::Usable { format, width: size.width, height: size.height },
        Ok(size) => {
            HeaderCheck::Unusable(format!("The photo is {}×{} pixels; use one at least {MIN_SHORT_SIDE} pixels on its short side.", size.width, size.height))
        }
        Err(imagesize::ImageError::IoError(_)) if !complete => HeaderCheck::NeedMore,
        Err(_) => HeaderCheck::Unusable("The photo is damaged or truncated.".into()),
    }
}

/// An upload to record, with its link.
#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    /// The owner.
    pub user_id: &'a str,
    /// The owner's session, which must be alive.
    pub session_id: &'a str,
    /// The upload.
    pub upload_id: &'a str,
    /// Its object.
    pub s3_key: &'a str,
    /// The declared type.
    pub content_type: &'a str,
    /// The declared length.
    pub content_length: u64,
    /// Unix seconds.
    pub now: i64,
    /// When a job must have used it (Unix seconds).
    pub use_by: i64,
}

/// An upload that was never used by a job and is past its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueUpload {
    /// The owner.
    pub user_id: String,
    /// The upload.
    pub upload_id: String,
    /// Its object.
    pub s3_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(t: &str, n: i64) -> UploadRequest {
        UploadRequest { content_type: t.into(), content_length: n }
    }

    #[test]
    fn declarations_fail_in_the_contract_order() {
        assert_eq!(req("image/jpeg", 183_422).validate().unwrap(), ("image/jpeg", 183_422));
        assert_eq!(req("Image/PNG", 1).validate().unwrap().0, "image/png");
        assert_eq!(req("image/gif", 0).validate().unwrap_err().status(), 415, "415 before 422");
        assert_eq!(req("image/gif", 20 << 20).validate().unwrap_err().status(), 415, "415 before 413");
        assert_eq!(req("image/webp", 10_485_761).validate().unwrap_err().status(), 413);
        assert!(req("image/webp", 10_485_760).validate().is_ok());
        assert_eq!(req("image/webp", 0).validate().unwrap_err().status(), 422);
        assert_eq!(req("image/webp", -5).validate().unwrap_err().status(), 422);
    }

    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        v.extend(width.to_be_bytes());
        v.extend(height.to_be_bytes());
        v.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn header_checks() {
        assert!(matches!(check_header(&png_header(512, 300), 1000, false), HeaderCheck::Usable { format: PhotoFormat::Png, width: 512, height: 300 }));
        assert!(matches!(check_header(&png_header(100, 100), 1000, false), HeaderCheck::Unusable(_)));
        assert!(matches!(check_header(b"This is a text file, not a photo.", 33, true), HeaderCheck::Unusable(_)));
        assert!(matches!(check_header(&png_header(512, 512), MAX_UPLOAD_BYTES + 1, false), HeaderCheck::Unusable(_)));
        // A JPEG whose frame header is not in the bytes read yet.
        let jpeg_start = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xF0, 0, 0, 0, 0];
        assert_eq!(check_header(&jpeg_start, 500_000, false), HeaderCheck::NeedMore);
        assert!(matches!(check_header(&jpeg_start, 10, true), HeaderCheck::Unusable(_)));
    }
}
