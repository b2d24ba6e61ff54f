//! The photo bucket: presigned links (the app's only way in or out), ranged
//! reads for header checks, server-side copies, deletes, and the multipart
//! uploads data exports are written with. Where each
//! object lives is the domain's rule (`object_keys`).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};

use super::dynamo::store_error;
use super::lazy::{FromSdk, Lazy};
use crate::error::StoreError;
use crate::ports::{ObjectUploads, PhotoStore};
use crate::storage::{ObjectPrefix, PresignedPut};

/// The photo bucket.
#[derive(Debug, Clone)]
pub struct PhotoStorage {
    client: Lazy<Client>,
    bucket: String,
}

impl FromSdk for Client {
    fn from_sdk(sdk: &SdkConfig) -> Self {
        Client::from_conf(PhotoStorage::config(sdk).build())
    }
}

impl PhotoStorage {
    /// A client for `bucket`. Checksums only when an operation requires them:
    /// otherwise recent SDKs sign checksum headers into presigned uploads that
    /// a plain HTTP client would then have to send. Path-style addressing when
    /// an endpoint override points at the local emulator.
    /// The client is built when first used, or by [`PhotoStorage::ready`].
    pub fn new(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        PhotoStorage { client: Lazy::new(sdk), bucket: bucket.into() }
    }

    /// Builds the client now (at cold start, for a function that uses it).
    pub fn ready(&self) {
        self.client.get();
    }

    /// The client configuration [`PhotoStorage::new`] builds (see there), for
    /// callers that add to it (the benchmark adds an interceptor). Photos and
    /// results are up to 30 MB: 8/5 of the call limit (8 s by default).
    pub fn config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::from(sdk)
            .timeout_config(super::call_timeouts(super::call_timeout() * 8 / 5))
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .force_path_style(sdk.endpoint_url().is_some())
    }

    /// Storage over a ready client for `bucket` (build its configuration with
    /// [`PhotoStorage::config`]).
    pub fn from_client(client: Client, bucket: impl Into<String>) -> Self {
        PhotoStorage { client: Lazy::built(client), bucket: bucket.into() }
    }
}

impl PhotoStore for PhotoStorage {
    /// A `PUT` link for `key` that signs the content type and length.
    async fn presign_put(&self, key: &str, content_type: &str, length: u64, ttl: Duration) -> Result<PresignedPut, StoreError> {
        let presigned = self
            .client
            .get()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length as i64)
            .presigned(PresigningConfig::expires_in(ttl).map_err(StoreError::other)?)
            .await
            .map_err(StoreError::other)?;
        let headers = presigned.headers().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        Ok(PresignedPut { url: presigned.uri().to_string(), headers })
    }

    /// A `GET` link for `key`.
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, StoreError> {
        let presigned = self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(ttl).map_err(StoreError::other)?)
            .await
            .map_err(StoreError::other)?;
        Ok(presigned.uri().to_string())
    }

    /// Bytes `start..start+len` of `key` (a ranged GET) and the object's size;
    /// `None` when there is no such object.
    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Option<ObjectPrefix>, StoreError> {
        let result = self.client.get().get_object().bucket(&self.bucket).key(key).range(format!("bytes={start}-{}", start + len - 1)).send().await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key) => return Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
            Err(e) => return Err(store_error(e)),
        };
        // `bytes 0-262143/183422` → 183422; without a range answer the body is the whole object.
        let ranged_total = out.content_range().and_then(|r| r.rsplit('/').next()).and_then(|t| t.parse().ok());
        let whole = out.content_length().map(|l| l as u64);
        let bytes = out.body.collect().await.map_err(StoreError::other)?.into_bytes().to_vec();
        let total_size = ranged_total.or(whole).unwrap_or(bytes.len() as u64);
        Ok(Some(ObjectPrefix { bytes, total_size }))
    }

    /// The whole object, or `None` when it does not exist.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.client.get().get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(StoreError::other)?.into_bytes().to_vec())),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Stores `bytes` at `key`.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.client.get().put_object().bucket(&self.bucket).key(key).content_type(content_type).body(bytes.into()).send().await.map_err(store_error)?;
        Ok(())
    }

    /// Copies `from` to `to` inside the bucket (no bytes through the
    /// function). `false` when there is no object `from`.
    async fn copy(&self, from: &str, to: &str) -> Result<bool, StoreError> {
        let source = format!("{}/{}", self.bucket, form_urlencoded::byte_serialize(from.as_bytes()).collect::<String>().replace("%2F", "/"));
        match self.client.get().copy_object().bucket(&self.bucket).key(to).copy_source(source).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Every key under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out =
                self.client.get().list_objects_v2().bucket(&self.bucket).prefix(prefix).set_continuation_token(token).send().await.map_err(store_error)?;
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(String::from)));
            token = out.next_continuation_token().map(String::from);
            if token.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Deletes every object under `prefix`; how many there were.
    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let keys = self.list(prefix).await?;
        // DeleteObjects takes at most 1000 keys.
        for chunk in keys.chunks(1000) {
            self.delete(chunk).await?;
        }
        Ok(keys.len())
    }

    /// Deletes `keys` (absent keys are fine).
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let objects = keys.iter().map(|k| ObjectIdentifier::builder().key(k).build().map_err(StoreError::other)).collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .get()
            .delete_objects()
            .bucket(&self.bucket)
            .delete(Delete::builder().set_objects(Some(objects)).quiet(true).build().map_err(StoreError::other)?)
            .send()
            .await
            .map_err(store_error)?;
        if let Some(err) = out.errors().first() {
            return Err(StoreError::other(format!("delete failed: {}", err.code().unwrap_or("unknown"))));
        }
        Ok(())
    }
}

impl ObjectUploads for PhotoStorage {
    async fn start_upload(&self, key: &str, content_type: &str, tag: (&str, &str)) -> Result<String, StoreError> {
        let tagging = format!("{}={}", tag.0, tag.1);
        let out = self
            .client
            .get()
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .tagging(tagging)
            .send()
            .await
            .map_err(store_error)?;
        out.upload_id.ok_or_else(|| StoreError::other("CreateMultipartUpload returned no upload id"))
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: i32, bytes: Vec<u8>) -> Result<String, StoreError> {
        let out = self
            .client
            .get()
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(bytes.into())
            .send()
            .await
            .map_err(store_error)?;
        out.e_tag.ok_or_else(|| StoreError::other("UploadPart returned no ETag"))
    }

    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<(), StoreError> {
        let parts = parts.iter().map(|(number, etag)| CompletedPart::builder().part_number(*number).e_tag(etag).build()).collect();
        self.client
            .get()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        match self.client.get().abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await {
            Ok(_) => Ok(()),
            // Already aborted (an account deletion got there first) or completed.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn uploads_in_progress(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.multipart_uploads(prefix).await?.into_iter().map(|(key, _)| key).collect())
    }

    async fn abort_uploads_under(&self, prefix: &str) -> Result<usize, StoreError> {
        let uploads = self.multipart_uploads(prefix).await?;
        for (key, upload_id) in &uploads {
            self.abort_upload(key, upload_id).await?;
        }
        Ok(uploads.len())
    }
}

impl PhotoStorage {
    /// (key, upload id) of every multipart upload in progress under `prefix`.
    async fn multipart_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let out = self
                .client
                .get()
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker)
                .set_upload_id_marker(id_marker)
                .send()
                .await
                .map_err(store_error)?;
            uploads.extend(out.uploads().iter().filter_map(|u| Some((u.key()?.to_string(), u.upload_id()?.to_string()))));
            if !out.is_truncated().unwrap_or(false) {
                return Ok(uploads);
            }
            key_marker = out.next_key_marker().map(String::from);
            id_marker = out.next_upload_id_marker().map(String::from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_presigned_upload_signs_exactly_type_length_and_host() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(aws_sdk_s3::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .build();
        let storage = PhotoStorage::new(&sdk, "bucket");
        let put = storage.presign_put("users/u/uploads/x", "image/png", 1234, Duration::from_secs(300)).await.unwrap();
        let url = reqwest_free_query(&put.url);
        assert_eq!(url.get("X-Amz-SignedHeaders").map(String::as_str), Some("content-length;content-type;host"));
        assert_eq!(url.get("X-Amz-Expires").map(String::as_str), Some("300"));
        assert!(!put.url.contains("x-amz-checksum") && !put.url.contains("x-amz-sdk-checksum"), "{}", put.url);
        let mut headers = put.headers.clone();
        headers.sort();
        assert_eq!(headers, vec![("content-length".into(), "1234".into()), ("content-type".into(), "image/png".into())]);
    }

    fn reqwest_free_query(url: &str) -> std::collections::HashMap<String, String> {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.replace("%3B", ";"))).collect()
    }
}
