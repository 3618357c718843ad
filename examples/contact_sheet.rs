//! Lays PNGs out in a grid, for docs/options.png:
//! `cargo run --release --example contact_sheet -- OUT.png COLUMNS A.png B.png …`
//! Each cell is as large as the largest input; images are centred on white.

use image::{imageops, Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: contact_sheet OUT.png COLUMNS IMAGE…".into());
    }
    let cols: u32 = args[1].parse()?;
    let imgs = args[2..]
        .iter()
        .map(|p| image::open(p).map(|i| i.to_rgb8()))
        .collect::<Result<Vec<_>, _>>()?;
    let cw = imgs.iter().map(|i| i.width()).max().unwrap_or(1) + 4;
    let ch = imgs.iter().map(|i| i.height()).max().unwrap_or(1) + 4;
    let rows = (imgs.len() as u32).div_ceil(cols.max(1));
    let mut sheet = RgbImage::from_pixel(cw * cols, ch * rows, Rgb([255, 255, 255]));
    for (k, img) in imgs.iter().enumerate() {
        let (c, r) = (k as u32 % cols, k as u32 / cols);
        let x = c * cw + (cw - img.width()) / 2;
        let y = r * ch + (ch - img.height()) / 2;
        imageops::overlay(&mut sheet, img, x.into(), y.into());
    }
    sheet.save(&args[0])?;
    Ok(())
}
