//! Rewrites a photo without metadata before it leaves our storage: decode it
//! (under a pixel and a memory limit), scale it down to at most
//! [`MAX_SIDE`] pixels a side, turn it upright by its EXIF orientation, and
//! encode the pixels alone as a fresh JPEG. No EXIF, GPS,
//! XMP or comments survive, because nothing but pixels is carried over.
//!
//! Decoding is what takes memory (a 40-megapixel photo is 120 to 160 MB of
//! pixels), so a worker decodes at most a few photos at once
//! ([`Rewriter`]): a batch of ten large photos then needs the memory of a
//! few, and one that would need more than [`MAX_DECODE_BYTES`] fails its own
//! job instead of the whole batch.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// Photos over this many pixels are refused (`invalid_image`).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The most one decode may allocate: 40 megapixels of 8-bit RGBA. A photo
/// that needs more (16-bit colour over 20 megapixels) is refused.
pub const MAX_DECODE_BYTES: u64 = MAX_PIXELS * 4;
/// JPEG quality of the rewritten photo.
const QUALITY: u8 = 92;
/// The rewritten photo's longest side at most. The provider's models make
/// images of at most 2K, so more pixels only cost time: encoding a
/// 40-megapixel JPEG takes seconds of a worker's CPU, a 2048-pixel one a
/// fraction of that.
pub const MAX_SIDE: u32 = 2048;

/// Why a photo could not be rewritten; the job fails as `invalid_image`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UnusablePhoto(pub String);

/// The photo's pixels, upright, as a JPEG without metadata.
pub fn rewrite_without_metadata(bytes: &[u8]) -> Result<Vec<u8>, UnusablePhoto> {
    let bad = |what: &str| UnusablePhoto(what.to_string());
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| bad("unreadable photo"))?;
    if !matches!(reader.format(), Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) {
        return Err(bad("the photo is not a JPEG, PNG or WebP image"));
    }
    let mut decoder = reader.into_decoder().map_err(|_| bad("the photo cannot be decoded"))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad("the photo has more than 40 megapixels"));
    }
    // Checked here: `from_decoder` allocates the whole buffer without asking the limits.
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(bad("the photo is too large to decode"));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder.set_limits(limits).map_err(|_| bad("the photo is too large to decode"))?;
    let orientation = decoder.orientation().map_err(|_| bad("the photo's orientation is unreadable"))?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(|_| bad("the photo is damaged"))?;
    // Scaled down first, so turning it upright and encoding touch few pixels.
    let mut img = if decoded.width().max(decoded.height()) > MAX_SIDE { decoded.thumbnail(MAX_SIDE, MAX_SIDE) } else { decoded };
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .write_image(rgb.as_raw(), rgb.width(), rgb.height(), ExtendedColorType::Rgb8)
        .map_err(|_| bad("the photo could not be re-encoded"))?;
    Ok(out)
}

/// Rewrites photos off the async threads, at most `concurrency` at once
/// (`DECODE_CONCURRENCY`), so a batch's memory is that of a few decodes.
#[derive(Debug, Clone)]
pub struct Rewriter {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Rewriter {
    /// At most `concurrency` (at least 1) decodes at once.
    pub fn new(concurrency: usize) -> Self {
        Rewriter { permits: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))) }
    }

    /// [`rewrite_without_metadata`], waiting for a turn first.
    pub async fn rewrite(&self, bytes: Vec<u8>) -> Result<Vec<u8>, UnusablePhoto> {
        let _turn = self.permits.acquire().await.map_err(|_| UnusablePhoto("the worker is shutting down".into()))?;
        // CPU-bound: off the async threads, so other steps of the batch keep moving.
        tokio::task::spawn_blocking(move || rewrite_without_metadata(&bytes))
            .await
            .unwrap_or_else(|_| Err(UnusablePhoto("the photo could not be processed".into())))
    }
}

/// Whether `bytes` carry an EXIF block (a JPEG APP1 `Exif` segment).
pub fn has_exif(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"Exif\0\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_with_exif() -> Vec<u8> {
        let img = DynamicImage::new_rgb8(300, 200);
        let mut plain = Vec::new();
        JpegEncoder::new_with_quality(&mut plain, 80).encode_image(&img.to_rgb8()).unwrap();
        // Insert an APP1 Exif segment (orientation 6: rotate 90° clockwise) right after SOI.
        let tiff: &[u8] = &[b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
        let mut app1 = vec![0xFF, 0xE1];
        let len = (2 + 6 + tiff.len()) as u16;
        app1.extend(len.to_be_bytes());
        app1.extend(b"Exif\0\0");
        app1.extend(tiff);
        let mut out = plain[..2].to_vec();
        out.extend(app1);
        out.extend(&plain[2..]);
        out
    }

    #[test]
    fn metadata_is_dropped_and_orientation_applied() {
        let input = jpeg_with_exif();
        assert!(has_exif(&input));
        let clean = rewrite_without_metadata(&input).unwrap();
        assert!(!has_exif(&clean));
        let decoded = image::load_from_memory(&clean).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (200, 300), "turned upright");
        assert_eq!(imagesize::image_type(&clean).unwrap(), imagesize::ImageType::Jpeg);
    }

    /// A PNG whose header declares `w`×`h` 16-bit RGBA pixels, with one
    /// empty image-data chunk: enough for a decoder to size its buffer.
    fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for b in bytes {
                crc ^= u32::from(*b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            let body = [kind, data].concat();
            c.extend(&body);
            c.extend(crc32(&body).to_be_bytes());
            c
        };
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([16, 6, 0, 0, 0]); // 16-bit, RGBA, deflate, no filter, no interlace
        let empty_zlib = [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
        [b"\x89PNG\r\n\x1a\n".to_vec(), chunk(b"IHDR", &ihdr), chunk(b"IDAT", &empty_zlib), chunk(b"IEND", &[])].concat()
    }

    #[test]
    fn a_photo_over_the_decode_memory_limit_is_refused_without_decoding() {
        // 16-bit RGBA at 30 megapixels: 240 MB of pixels, over the 160 MB limit.
        let refused = rewrite_without_metadata(&png_header_only(6000, 5000)).map(|_| "rewritten").map_err(|e| e.0);
        assert_eq!(refused, Err("the photo is too large to decode".to_string()));
        // The same header at 4 megapixels (32 MB) gets past the check and fails on the missing pixels.
        let small = rewrite_without_metadata(&png_header_only(2000, 2000)).map(|_| "rewritten").map_err(|e| e.0);
        assert_eq!(small, Err("the photo is damaged".to_string()));
    }

    #[tokio::test]
    async fn rewrites_wait_for_a_turn() {
        let rewriter = Rewriter::new(1);
        let held = rewriter.permits.clone().acquire_owned().await.unwrap();
        let pending = tokio::spawn({
            let rewriter = rewriter.clone();
            async move { rewriter.rewrite(jpeg_with_exif()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!pending.is_finished(), "no turn while the only permit is held");
        drop(held);
        assert!(!has_exif(&pending.await.unwrap().unwrap()));
    }

    #[test]
    fn a_photo_larger_than_the_provider_needs_is_scaled_down() {
        let big = DynamicImage::new_rgb8(3000, 1500);
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 80).write_image(big.as_bytes(), 3000, 1500, ExtendedColorType::Rgb8).unwrap();
        let clean = image::load_from_memory(&rewrite_without_metadata(&jpeg).unwrap()).unwrap();
        assert_eq!((clean.width(), clean.height()), (2048, 1024), "the long side at 2048, the shape kept");
    }

    #[test]
    fn non_images_are_refused() {
        assert!(rewrite_without_metadata(b"This is a text file, not a photo.").is_err());
    }
}
