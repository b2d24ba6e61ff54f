//! Where a user's objects live in the bucket. Every key is under an opaque
//! per-user prefix, a keyed hash of the user id, so no link given to the app
//! or to the provider carries the user id:
//!
//! - `uploads/<prefix>/<upload_id>`: a photo as the app sent it. A lifecycle
//!   rule empties `uploads/` within a day, whatever a late PUT through a
//!   still-valid link puts there.
//! - `users/<prefix>/photos/<upload_id>`: a job's own copy of its photo
//!   (an upload feeds one job), made when the job is created; the worker
//!   rewrites it without metadata. `users/<prefix>/results/<job_id>`: its
//!   result.
//! - `users/<prefix>/exports/<export_id>/<run>.zip`: a data export's ZIP
//!   (each worker run its own object; the export's record names the one).
//!
//! Jobs made before this layout keep the keys their records hold
//! (`users/<user_id>/uploads/…`, `users/<user_id>/results/<job_id>`); an
//! account deletion and its verifier cover that prefix too.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The top-level prefix of uploads (the lifecycle rule's filter).
pub const UPLOADS: &str = "uploads/";

/// The keys of one user's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserObjects {
    prefix: String,
    user_id: String,
}

impl UserObjects {
    /// The keys of `user_id`'s objects, its prefix derived with `key` (the
    /// app secret's `ip_hash_key`: changing it would orphan every object).
    pub fn new(key: &[u8], user_id: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(b"storage-prefix\0");
        mac.update(user_id.as_bytes());
        let prefix = mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect();
        UserObjects { prefix, user_id: user_id.to_string() }
    }

    /// The opaque prefix (32 hex characters).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// An upload's key.
    pub fn upload(&self, upload_id: &str) -> String {
        format!("{UPLOADS}{}/{upload_id}", self.prefix)
    }

    /// A job's own copy of the photo of `upload_id`.
    pub fn job_photo(&self, upload_id: &str) -> String {
        format!("users/{}/photos/{upload_id}", self.prefix)
    }

    /// Where the user's data exports are written (the only place objects
    /// are written in parts: an erasure aborts uploads in progress there).
    pub fn exports(&self) -> String {
        format!("users/{}/exports/", self.prefix)
    }

    /// Where the ZIPs of the data export `export_id` are written.
    pub fn export_prefix(&self, export_id: &str) -> String {
        format!("{}{export_id}/", self.exports())
    }

    /// Every prefix the user's objects may be under (the legacy one too).
    pub fn prefixes(&self) -> [String; 3] {
        [format!("{UPLOADS}{}/", self.prefix), format!("users/{}/", self.prefix), format!("users/{}/", self.user_id)]
    }
}

/// A job's result key: under the same user prefix as its photo (so also
/// for a job made before the opaque layout).
pub fn result_key(input_key: &str, job_id: &str) -> String {
    let owner = input_key.strip_prefix("users/").and_then(|rest| rest.split('/').next()).unwrap_or_default();
    format!("users/{owner}/results/{job_id}")
}

/// The upload a job's photo was copied from, worked out from the photo's key
/// (`None` for a job made before the opaque layout).
pub fn upload_of(input_key: &str) -> Option<String> {
    let (prefix, upload_id) = input_key.strip_prefix("users/")?.split_once("/photos/")?;
    Some(format!("{UPLOADS}{prefix}/{upload_id}"))
}

/// Every object a job may have: its photo, its result (recorded or not: a
/// step cut short may have stored one without recording it), and the upload
/// its photo was copied from, should create-job not have removed it.
pub fn job_objects(job: &crate::jobs::Job) -> Vec<String> {
    let mut keys = vec![job.input_key.clone(), result_key(&job.input_key, &job.job_id)];
    keys.extend(job.result_key.iter().chain(upload_of(&job.input_key).as_ref()).filter(|k| !keys.contains(k)).cloned().collect::<Vec<_>>());
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_an_opaque_prefix_not_the_user_id() {
        let user = "b7e3f8fa48c74e679fb23ea891a1fe55";
        let keys = UserObjects::new(b"a key of at least thirty-two bytes!", user);
        assert_eq!(keys.prefix().len(), 32);
        for key in [keys.upload("up1"), keys.job_photo("up1")] {
            assert!(!key.contains(user), "{key}");
        }
        assert_eq!(keys, UserObjects::new(b"a key of at least thirty-two bytes!", user), "stable");
        assert_ne!(keys.prefix(), UserObjects::new(b"another key of thirty-two bytes!!", user).prefix(), "keyed");
        assert!(keys.upload("up1").starts_with(UPLOADS));
        assert!(keys.export_prefix("e1").starts_with(&keys.prefixes()[1]), "exports go with the user's objects");
    }

    #[test]
    fn a_jobs_other_keys_follow_from_its_photo() {
        let keys = UserObjects::new(b"a key of at least thirty-two bytes!", "u1");
        let photo = keys.job_photo("up1");
        assert_eq!(result_key(&photo, "job1"), format!("users/{}/results/job1", keys.prefix()));
        assert_eq!(upload_of(&photo), Some(keys.upload("up1")));
        assert_eq!(result_key("users/u1/uploads/up1", "job1"), "users/u1/results/job1", "a job from before");
        assert_eq!(upload_of("users/u1/uploads/up1"), None);
    }
}
