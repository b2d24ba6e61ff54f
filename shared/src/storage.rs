//! What photo storage hands out: presigned uploads and the first bytes of
//! an object (for checking an upload by its bytes).

/// A presigned `PUT`: the URL and exactly the headers the client must send.
#[derive(Debug, Clone)]
pub struct PresignedPut {
    pub url: String,
    /// Lowercase header name → value, as signed.
    pub headers: Vec<(String, String)>,
}

/// The first bytes of an object and its total size.
#[derive(Debug, Clone)]
pub struct ObjectPrefix {
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// The object's full size.
    pub total_size: u64,
}
