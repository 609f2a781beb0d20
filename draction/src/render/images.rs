//! Writing rendered frames for people and programs: `frames.npy`, one PNG per frame, a
//! contact sheet and a looping GIF.

use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, Rgb, RgbImage, RgbaImage};

use crate::error::{Error, Result};

/// What [`write_frames`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// `frames.npy`: float32 `[F, S, S, 3]`.
    pub npy: PathBuf,
    /// `frame_01.png`, … (8-bit, `round(clamp(x, 0, 1) · 255)`).
    pub pngs: Vec<PathBuf>,
    /// `contact_sheet.png`: every frame in a grid with thin gaps.
    pub sheet: PathBuf,
    /// `animation.gif`: the frames looping.
    pub gif: PathBuf,
}

/// 8-bit value of a frame value, as the authors' tools write PNGs.
pub fn to_u8(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn frame_image(frames: &[f32], i: usize, size: usize) -> RgbImage {
    let n = size * size * 3;
    let bytes: Vec<u8> = frames[i * n..(i + 1) * n]
        .iter()
        .map(|&x| to_u8(x))
        .collect();
    RgbImage::from_raw(size as u32, size as u32, bytes)
        .unwrap_or_else(|| RgbImage::new(size as u32, size as u32))
}

/// Encodes `img` as PNG and writes it atomically to `path`.
fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    crate::io::write_atomic(path, &bytes)
}

/// Writes frames `[F, S, S, 3]` (row-major) into `dir` (created if needed). `gif_delay_ms` is
/// the time each frame is shown. Each file is written atomically (a temporary sibling, then a
/// rename); for a whole folder that appears at once, write into a [`crate::io::StagedDir`].
pub fn write_frames(
    frames: &[f32],
    count: usize,
    size: usize,
    dir: &Path,
    gif_delay_ms: u32,
) -> Result<Written> {
    if frames.len() != count * size * size * 3 {
        return Err(Error::Invalid(format!(
            "{} values are not {count} frames of {size}²×3",
            frames.len()
        )));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| Error::Io {
            path: path.clone(),
            source: e,
        }
    };
    let img_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: image::ImageError| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let npy = dir.join("frames.npy");
    crate::io::npy::write_array(&npy, &[count, size, size, 3], frames)?;
    let mut pngs = Vec::with_capacity(count);
    let images: Vec<RgbImage> = (0..count).map(|i| frame_image(frames, i, size)).collect();
    for (i, img) in images.iter().enumerate() {
        let p = dir.join(format!("frame_{:02}.png", i + 1));
        save_png(img, &p)?;
        pngs.push(p);
    }
    // Contact sheet: up to 6 columns, 2-pixel grey gaps.
    let cols = count.clamp(1, 6);
    let rows = count.div_ceil(cols).max(1);
    let gap = 2u32;
    let s = size as u32;
    let mut sheet = RgbImage::from_pixel(
        cols as u32 * (s + gap) + gap,
        rows as u32 * (s + gap) + gap,
        Rgb([64, 64, 64]),
    );
    for (i, img) in images.iter().enumerate() {
        let (cx, cy) = ((i % cols) as u32, (i / cols) as u32);
        image::imageops::replace(
            &mut sheet,
            img,
            (gap + cx * (s + gap)) as i64,
            (gap + cy * (s + gap)) as i64,
        );
    }
    let sheet_path = dir.join("contact_sheet.png");
    save_png(&sheet, &sheet_path)?;
    let gif = dir.join("animation.gif");
    let mut gif_bytes = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut gif_bytes, 10);
        enc.set_repeat(Repeat::Infinite).map_err(img_err(&gif))?;
        let frames_iter = images.iter().map(|img| {
            let rgba: RgbaImage = image::DynamicImage::ImageRgb8(img.clone()).to_rgba8();
            Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(gif_delay_ms, 1))
        });
        enc.encode_frames(frames_iter).map_err(img_err(&gif))?;
    }
    crate::io::write_atomic(&gif, &gif_bytes)?;
    Ok(Written {
        npy,
        pngs,
        sheet: sheet_path,
        gif,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let (f, s) = (3, 8);
        let frames: Vec<f32> = (0..f * s * s * 3).map(|i| (i % 17) as f32 / 16.0).collect();
        let w = write_frames(&frames, f, s, dir.path(), 250).unwrap();
        assert_eq!(w.pngs.len(), 3);
        let png = image::open(&w.pngs[1]).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (8, 8));
        assert_eq!(png.get_pixel(0, 0)[0], to_u8(frames[s * s * 3]));
        let (shape, back) = crate::io::npy::read_array(&w.npy).unwrap();
        assert_eq!(shape, vec![3, 8, 8, 3]);
        assert_eq!(back, frames);
        let sheet = image::open(&w.sheet).unwrap();
        assert_eq!(sheet.width(), 3 * 10 + 2);
        let gif = std::fs::read(&w.gif).unwrap();
        assert!(gif.starts_with(b"GIF89a"));
        assert!(write_frames(&frames, 4, s, dir.path(), 250).is_err());
    }
}
