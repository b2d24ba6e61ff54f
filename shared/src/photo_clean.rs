//! Rewrites a photo without metadata before it leaves our storage: decode it
//! (under a pixel limit), turn it upright by its EXIF orientation, and encode
//! the pixels alone as a fresh JPEG. No EXIF, GPS, XMP or comments survive,
//! because nothing but pixels is carried over.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Photos over this many pixels are refused (`invalid_image`).
pub const MAX_PIXELS: u64 = 40_000_000;
/// JPEG quality of the rewritten photo.
const QUALITY: u8 = 92;

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
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    decoder.set_limits(limits).map_err(|_| bad("the photo is too large to decode"))?;
    let orientation = decoder.orientation().map_err(|_| bad("the photo's orientation is unreadable"))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| bad("the photo is damaged"))?;
    img.apply_orientation(orientation);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&img.to_rgb8())
        .map_err(|_| bad("the photo could not be re-encoded"))?;
    Ok(out)
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

    #[test]
    fn non_images_are_refused() {
        assert!(rewrite_without_metadata(b"This is a text file, not a photo.").is_err());
    }
}
