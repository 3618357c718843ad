//! [`BlobStore`] on PostgreSQL: a blob is its chunks (`blob_chunks`, one
//! row per [`CHUNK`] bytes) and, written last in the same transaction, its
//! row in `blobs`; a run's files are rows of `run_files` naming blobs.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::PostgresBackend;
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::store::blobs::{BlobStore, RunFile, CHUNK};

impl BlobStore for PostgresBackend {
    fn keeps_blobs(&self) -> bool {
        true
    }

    fn put_blob(&self, sha256: &str, read: &mut dyn Read, file: &Path) -> StoreResult<()> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let stored = tx
            .query_opt("SELECT 1 FROM blobs WHERE sha256 = $1", &[&sha256])
            .map_err(|e| self.err(e))?;
        if stored.is_some() {
            return Ok(());
        }
        let mut hash = Sha256::new();
        let mut buf = Vec::with_capacity(CHUNK);
        let (mut chunks, mut size) = (0i64, 0i64);
        loop {
            buf.clear();
            // At most one chunk: `take` stops there, and the buffer never grows.
            let n = (&mut *read)
                .take(CHUNK as u64)
                .read_to_end(&mut buf)
                .map_err(|e| StoreError::io(file, e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            // A second host storing the same file at once waits here for
            // the first, then finds its chunk there.
            tx.execute(
                "INSERT INTO blob_chunks (sha256, n, data) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&sha256, &chunks, &&buf[..n]],
            )
            .map_err(|e| self.err(e))?;
            chunks += 1;
            size += n as i64;
        }
        let read_hash = format!("{:x}", hash.finalize());
        if read_hash != sha256 {
            // Dropping the transaction rolls the chunks back.
            return Err(StoreError::io(
                file,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "changed since it was checked (sha256 {}… then, {}… now); queue it again",
                        &sha256[..12.min(sha256.len())],
                        &read_hash[..12]
                    ),
                ),
            ));
        }
        tx.execute(
            "INSERT INTO blobs (sha256, size, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&sha256, &size, &chunks],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn get_blob(&self, sha256: &str, write: &mut dyn Write) -> StoreResult<bool> {
        let chunks: Option<i64> = self
            .rows(
                "SELECT chunks FROM blobs WHERE sha256 = $1",
                &[&sha256],
                |r| r.try_get(0),
            )?
            .pop();
        let Some(chunks) = chunks else {
            return Ok(false);
        };
        // One chunk per query: memory holds one chunk, whatever the size.
        for n in 0..chunks {
            let data: Vec<u8> = self
                .rows(
                    "SELECT data FROM blob_chunks WHERE sha256 = $1 AND n = $2",
                    &[&sha256, &n],
                    |r| r.try_get(0),
                )?
                .pop()
                .ok_or_else(|| StoreError::Database {
                    path: self.label.clone(),
                    reason: format!("blob {sha256} lacks its chunk {n}"),
                })?;
            write
                .write_all(&data)
                .map_err(|e| StoreError::io(format!("blob {sha256}"), e))?;
        }
        Ok(true)
    }

    fn set_run_files(&self, run: i64, worker: &str, files: &[RunFile]) -> StoreResult<bool> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        // Locked until the commit: the run cannot change hands meanwhile.
        let ours = tx
            .query_opt(
                "SELECT 1 FROM runs WHERE id = $1 AND status = 'running' AND worker = $2
                 FOR UPDATE",
                &[&run, &worker],
            )
            .map_err(|e| self.err(e))?;
        if ours.is_none() {
            return Ok(false);
        }
        for f in files {
            tx.execute(
                "INSERT INTO run_files (run_id, name, sha256) VALUES ($1, $2, $3)
                 ON CONFLICT (run_id, name) DO UPDATE SET sha256 = excluded.sha256",
                &[&run, &f.name, &f.sha256],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }

    fn run_files(&self, run: i64) -> StoreResult<Vec<RunFile>> {
        self.rows(
            "SELECT name, sha256 FROM run_files WHERE run_id = $1 ORDER BY name",
            &[&run],
            |r| {
                Ok(RunFile {
                    name: r.try_get(0)?,
                    sha256: r.try_get(1)?,
                })
            },
        )
    }
}
