//! KIE's file upload service: `POST /api/file-stream-upload` (multipart: `file`, `uploadPath`,
//! `fileName`), parsed with `multer`. The bytes are then served, without auth, at the returned
//! `downloadUrl` (`<base>/files/uploads/<id>/<fileName>`).

use std::convert::Infallible;

use http::HeaderMap;
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::reply::{self, Response};
use crate::server::Ctx;
use crate::state::StoredFile;

/// The upload service's error answer: `{"success":false,"code":400,"msg":…,"data":null}`.
fn error(msg: &str) -> Response {
    reply::json(http::StatusCode::OK, &json!({"success": false, "code": 400, "msg": msg, "data": Value::Null}))
}

/// What the multipart body held.
#[derive(Default)]
struct Form {
    file: Option<(Bytes, Option<String>, Option<String>)>,
    upload_path: Option<String>,
    file_name: Option<String>,
}

async fn read_form(headers: &HeaderMap, body: Bytes) -> Result<Form, String> {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|e| format!("Expected multipart/form-data: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    let bad = |e: multer::Error| format!("Malformed multipart body: {e}");
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                let part_name = field.file_name().map(str::to_string);
                let part_type = field.content_type().map(ToString::to_string);
                form.file = Some((field.bytes().await.map_err(bad)?, part_name, part_type));
            }
            Some("uploadPath") => form.upload_path = Some(field.text().await.map_err(bad)?),
            Some("fileName") => form.file_name = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /api/file-stream-upload`.
pub(crate) async fn handle(ctx: &Ctx, headers: &HeaderMap, body: Bytes) -> Response {
    let form = match read_form(headers, body).await {
        Ok(form) => form,
        Err(msg) => return error(&msg),
    };
    let Some((bytes, part_name, part_type)) = form.file else {
        return error("file is required");
    };
    let Some(upload_path) = form.upload_path.filter(|p| !p.trim().is_empty()) else {
        return error("uploadPath is required");
    };
    let file_name = form.file_name.or(part_name).filter(|n| !n.trim().is_empty()).unwrap_or_else(|| format!("{}.bin", uuid::Uuid::new_v4().simple()));
    let id = uuid::Uuid::new_v4().simple().to_string();
    let Ok(mut url) = reqwest::Url::parse(&ctx.base_url) else {
        return error("the simulator has no base URL");
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.clear().extend(["files", "uploads", id.as_str(), file_name.as_str()]);
    }
    let sniffed = reply::sniff_content_type(&bytes);
    let mime = match part_type {
        Some(t) if sniffed == "application/octet-stream" && t.parse::<http::HeaderValue>().is_ok() => t,
        _ => sniffed.to_string(),
    };
    let size = bytes.len();
    let file = StoredFile { content_type: mime.clone(), bytes };
    ctx.sim.state().files.insert(url.path().to_string(), file);
    let file_path = format!("{}/{file_name}", upload_path.trim_end_matches('/'));
    tracing::info!(url = %url, size, "kie-sim: file uploaded");
    reply::json(
        http::StatusCode::OK,
        &json!({
            "success": true,
            "code": 200,
            "msg": "File uploaded successfully",
            "data": {
                "fileName": file_name,
                "filePath": file_path,
                "downloadUrl": url.as_str(),
                "fileSize": size,
                "mimeType": mime,
            },
        }),
    )
}
