//! Region maps: one image whose distinct colours are regions (a map painted
//! in an editor, or a segmenter's label map saved as a greyscale PNG), each
//! colour one style's region. The styles take the colours in reading order:
//! the first colour met reading the map row by row from its top-left corner
//! goes to the first style, and so on. A map is split into exactly the
//! greyscale masks `--style-mask` takes (white on that colour, black
//! elsewhere), so that both paths mask the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::{GrayImage, Luma, RgbImage};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::load_rgb;
use crate::engine::infra::mask::{check_aspect, to_tensor};

/// A colour covering less of the map than this share is refused: it is
/// almost always antialiasing between two regions, not a region.
pub const MIN_SHARE: f64 = 0.001;

/// A region map and the colours the styles take, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionMap {
    pub path: PathBuf,
    /// One per style, in the order of the styles (recorded when the run is
    /// built; empty: not read yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub colours: Vec<RegionColour>,
}

/// One colour of a map and the share of the map it covers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionColour {
    pub rgb: [u8; 3],
    /// In [0, 1].
    pub share: f64,
}

impl RegionColour {
    /// `red`, `grey 3` or `#1f77b4`.
    pub fn name(&self) -> String {
        // Pure colours a painted map is made of (deep-photo-styletransfer's palette and a few more).
        const NAMES: [([u8; 3], &str); 10] = [
            ([0, 0, 0], "black"),
            ([255, 255, 255], "white"),
            ([255, 0, 0], "red"),
            ([0, 255, 0], "green"),
            ([0, 0, 255], "blue"),
            ([255, 255, 0], "yellow"),
            ([0, 255, 255], "cyan"),
            ([255, 0, 255], "magenta"),
            ([128, 128, 128], "grey"),
            ([255, 128, 0], "orange"),
        ];
        let [r, g, b] = self.rgb;
        match NAMES.iter().find(|(c, _)| *c == self.rgb) {
            Some((_, n)) => (*n).to_string(),
            // A label map's labels are grey levels.
            None if r == g && g == b => format!("grey {r}"),
            None => format!("#{r:02x}{g:02x}{b:02x}"),
        }
    }
}

/// The distinct colours of `img` in reading order with their pixel counts.
fn colours(img: &RgbImage) -> Vec<([u8; 3], u64)> {
    let mut index: HashMap<[u8; 3], usize> = HashMap::new();
    let mut out: Vec<([u8; 3], u64)> = Vec::new();
    for p in img.pixels() {
        let i = *index.entry(p.0).or_insert_with(|| {
            out.push((p.0, 0));
            out.len() - 1
        });
        out[i].1 += 1;
    }
    out
}

/// `red, blue and 2 more` for an error line.
fn listed(colours: &[RegionColour]) -> String {
    const SHOWN: usize = 6;
    let names: Vec<String> = colours.iter().take(SHOWN).map(|c| c.name()).collect();
    match colours.len().saturating_sub(SHOWN) {
        0 => names.join(", "),
        more => format!("{} and {more} more", names.join(", ")),
    }
}

impl RegionMap {
    /// The map at `path`, its colours read when the run is built.
    pub fn new(path: &Path) -> RegionMap {
        RegionMap {
            path: path.to_path_buf(),
            colours: Vec::new(),
        }
    }

    /// The map at `path` read for `styles` styles: one colour per style, none
    /// of them noise. Refused with one line naming the file otherwise.
    pub fn read(path: &Path, pixel_limit: u64, styles: usize) -> Result<RegionMap> {
        let img = load_rgb(path, pixel_limit)?;
        let total = f64::from(img.width()) * f64::from(img.height());
        let found: Vec<RegionColour> = colours(&img)
            .into_iter()
            .map(|(rgb, n)| RegionColour {
                rgb,
                share: n as f64 / total,
            })
            .collect();
        let refuse = |reason: String| Error::NotAllowed {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(c) = found.iter().find(|c| c.share < MIN_SHARE) {
            return Err(refuse(format!(
                "colour {} covers only {:.3}% of the region map ({} colours in all), likely antialiasing noise: save the map without antialiasing (or resize it with nearest neighbour), as PNG",
                c.name(),
                100.0 * c.share,
                found.len()
            )));
        }
        let map = RegionMap {
            path: path.to_path_buf(),
            colours: found,
        };
        map.check_count(styles)?;
        Ok(map)
    }

    /// The map fits a run with `style_masks` style masks and `styles`
    /// styles: it replaces the masks, and has a colour per style once read.
    pub fn check_run(&self, style_masks: usize, styles: usize) -> Result<()> {
        if style_masks > 0 {
            return Err(Error::invalid(
                "regions",
                "a region map replaces style masks: give one or the other",
            ));
        }
        if self.colours.is_empty() {
            return Ok(());
        }
        self.check_count(styles)
    }

    /// One colour per style: a colour without a style, or a style without a
    /// colour, is refused.
    pub fn check_count(&self, styles: usize) -> Result<()> {
        let n = self.colours.len();
        let has = format!(
            "the region map has {n} colour{} ({})",
            if n == 1 { "" } else { "s" },
            listed(&self.colours)
        );
        let reason = if n > styles {
            format!(
                "{has} but there are {styles} styles: give a style for each colour, in the order the colours are listed"
            )
        } else if n < styles {
            format!(
                "{has} for {styles} styles: style {} has no colour (paint one region per style)",
                n + 1
            )
        } else {
            return Ok(());
        };
        Err(Error::NotAllowed {
            path: self.path.clone(),
            reason,
        })
    }

    /// `red → irises 41.0%, blue → harvesters 59.0%`, the styles named by
    /// `names` in order.
    pub fn mapping(&self, names: &[String]) -> String {
        self.colours
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let style = names.get(i).map_or("?", String::as_str);
                format!("{} → {style} {:.1}%", c.name(), 100.0 * c.share)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The greyscale mask of each colour, in order (white where the map has
    /// that colour, black elsewhere), at the map's size.
    pub fn split(&self, map: &RgbImage) -> Vec<GrayImage> {
        self.colours
            .iter()
            .map(|c| {
                GrayImage::from_fn(map.width(), map.height(), |x, y| {
                    Luma([if map.get_pixel(x, y).0 == c.rgb {
                        255
                    } else {
                        0
                    }])
                })
            })
            .collect()
    }

    /// The style masks of the map for a photo of `photo` = (width, height)
    /// pixels, at `size` = (width, height), on `device`: the map is read
    /// (its colours when not recorded), checked and split.
    pub fn style_masks(
        &self,
        pixel_limit: u64,
        styles: usize,
        photo: (u32, u32),
        size: (u32, u32),
        device: Device,
    ) -> Result<Vec<Tensor>> {
        let read;
        let map = if self.colours.is_empty() {
            read = Self::read(&self.path, pixel_limit, styles)?;
            &read
        } else {
            self.check_count(styles)?;
            self
        };
        let img = load_rgb(&map.path, pixel_limit)?;
        let masks = map.split(&img);
        if let Some(m) = masks.first() {
            check_aspect(m, &map.path, photo)?;
        }
        masks
            .iter()
            .map(|m| to_tensor(m, size.0, size.1, device))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    const RED: Rgb<u8> = Rgb([255, 0, 0]);
    const BLUE: Rgb<u8> = Rgb([0, 0, 255]);

    #[test]
    fn colours_come_in_reading_order_with_their_shares() {
        // Blue on the top rows, red below: blue is met first.
        let img = RgbImage::from_fn(8, 4, |_, y| if y < 1 { BLUE } else { RED });
        let c = colours(&img);
        assert_eq!(c, vec![([0, 0, 255], 8), ([255, 0, 0], 24)]);
        let map = RegionMap {
            path: "m.png".into(),
            colours: vec![
                RegionColour {
                    rgb: [0, 0, 255],
                    share: 0.25,
                },
                RegionColour {
                    rgb: [3, 3, 3],
                    share: 0.75,
                },
            ],
        };
        assert_eq!(
            map.mapping(&["sky".into(), "sea".into()]),
            "blue → sky 25.0%, grey 3 → sea 75.0%"
        );
        let masks = map.split(&RgbImage::from_fn(2, 2, |x, _| {
            if x == 0 {
                BLUE
            } else {
                Rgb([3, 3, 3])
            }
        }));
        assert_eq!(masks[0].as_raw(), &vec![255, 0, 255, 0]);
        assert_eq!(masks[1].as_raw(), &vec![0, 255, 0, 255]);
    }
}
