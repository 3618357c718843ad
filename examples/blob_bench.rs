//! The cost of moving a 4096 px output through a PostgreSQL store (not a
//! test): a 4096 × 4096 PNG with a painting's fine texture is stored (as a
//! worker stores a finished run's output) and fetched into a file (as
//! `runs export` or another host's cache does), a few times each; prints the
//! file's size and the median seconds and MB/s of each direction.
//!
//!     scripts/pg_test_server.sh run sh -c 'target/release/examples/blob_bench "$ATELIER_TEST_PG"'

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use atelier::engine::nets::weights::sha256_file;
use atelier::queue::store::postgres::PostgresBackend;
use atelier::queue::store::BlobStore;

const SIDE: u32 = 4096;
const TIMES: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let Some(url) = std::env::args().nth(1) else {
        anyhow::bail!("usage: blob_bench POSTGRES_URL (an empty database: its blobs are removed)");
    };
    let dir = tempfile::tempdir()?;
    let png = dir.path().join("output.png");
    // A photo scaled up with per-pixel grain: compresses like a stylized
    // output, not like a flat test card.
    let photo =
        image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("contents/chelsea.png"))?.to_rgb8();
    let mut img =
        image::imageops::resize(&photo, SIDE, SIDE, image::imageops::FilterType::Triangle);
    let mut seed = 0x2545_f491_u32;
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *c = c.saturating_add((seed % 24) as u8);
        }
    }
    img.save(&png)?;
    let bytes = std::fs::metadata(&png)?.len();
    let sha = sha256_file(&png)?;
    let backend = PostgresBackend::open(&url)?;
    let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
    let (mut put, mut get) = (Vec::new(), Vec::new());
    for _ in 0..TIMES {
        client
            .batch_execute("DELETE FROM run_files; DELETE FROM blob_chunks; DELETE FROM blobs")?;
        let t = Instant::now();
        backend.put_blob(&sha, &mut std::fs::File::open(&png)?, &png)?;
        put.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut out = BufWriter::new(std::fs::File::create(dir.path().join("back.png"))?);
        anyhow::ensure!(backend.get_blob(&sha, &mut out)?, "the blob was not stored");
        out.flush()?;
        get.push(t.elapsed().as_secs_f64());
    }
    anyhow::ensure!(
        sha256_file(&dir.path().join("back.png"))? == sha,
        "a damaged copy"
    );
    let mb = bytes as f64 / 1e6;
    println!("{SIDE} px PNG: {mb:.1} MB, median of {TIMES}");
    for (what, t) in [("store (put)", median(put)), ("fetch (get)", median(get))] {
        println!("{what}: {t:.2} s, {:.0} MB/s", mb / t);
    }
    Ok(())
}
