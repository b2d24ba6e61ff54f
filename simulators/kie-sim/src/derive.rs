//! Deriving the "generated" image from the input photo: fit it in 512 px, turn it sepia (so a
//! result is visibly not the input), and encode it as PNG.

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

/// The longest side of a result image.
pub(crate) const MAX_SIDE: u32 = 512;

/// Why an input could not be turned into a result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeriveError {
    /// The bytes are not an image the decoder knows (JPEG, PNG, WebP).
    #[error("the input is not a supported image: {0}")]
    NotAnImage(String),
    /// The PNG encoder failed.
    #[error("could not encode the result image: {0}")]
    Encode(String),
}

/// Decodes `input`, fits it in [`MAX_SIDE`], tints it sepia and encodes a PNG.
///
/// Scaling samples the nearest source pixel and the PNG is written with fast compression: the
/// result only has to be a real, visibly derived image, and this stays quick in debug builds.
pub(crate) fn derive(input: &[u8]) -> Result<Vec<u8>, DeriveError> {
    let img = image::load_from_memory(input).map_err(|e| DeriveError::NotAnImage(e.to_string()))?;
    // A no-op for RGB8 (JPEG, most PNGs); a per-pixel conversion is slow in debug builds.
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    let scale = (f64::from(MAX_SIDE) / f64::from(w.max(h))).min(1.0);
    let out_w = ((f64::from(w) * scale).round() as u32).max(1);
    let out_h = ((f64::from(h) * scale).round() as u32).max(1);
    let sepia = RgbImage::from_fn(out_w, out_h, |x, y| {
        let sx = (u64::from(x) * u64::from(w) / u64::from(out_w)) as u32;
        let sy = (u64::from(y) * u64::from(h) / u64::from(out_h)) as u32;
        let [r, g, b] = rgb.get_pixel(sx.min(w - 1), sy.min(h - 1)).0.map(u32::from);
        let l = (r * 77 + g * 150 + b * 29) >> 8; // Rec. 601 luma, 0..=255
        Rgb([l as u8, (l * 217 / 255) as u8, (l * 166 / 255) as u8])
    });
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, PngFilter::NoFilter)
        .write_image(sepia.as_raw(), out_w, out_h, ExtendedColorType::Rgb8)
        .map_err(|e| DeriveError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 200]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img).write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn large_inputs_are_fitted_and_tinted() {
        let result = derive(&png(1200, 600)).expect("derived");
        let img = image::load_from_memory_with_format(&result, ImageFormat::Png).expect("png");
        assert_eq!((img.width(), img.height()), (512, 256));
        let px = img.to_rgb8().get_pixel(100, 100).0;
        assert!(px[0] >= px[1] && px[1] >= px[2], "sepia: {px:?}");
    }

    #[test]
    fn small_inputs_keep_their_size() {
        let img = image::load_from_memory(&derive(&png(40, 30)).expect("derived")).expect("png");
        assert_eq!((img.width(), img.height()), (40, 30));
    }

    #[test]
    fn non_images_are_rejected() {
        assert!(matches!(derive(b"<html>not an image</html>"), Err(DeriveError::NotAnImage(_))));
        assert!(matches!(derive(&png(10, 10)[..40]), Err(DeriveError::NotAnImage(_))));
    }
}
