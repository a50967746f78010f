//! What the browser downloads: the release WASM bundle, compressed as a server would send it.

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;

/// The target for the compressed bundle: 200 KiB.
pub const GZIP_BUDGET: u64 = 200 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct WasmSize {
    pub raw: u64,
    /// Size after gzip at the best compression (as `gzip -9`).
    pub gzip: u64,
}

pub fn measure(path: &Path) -> Result<WasmSize> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&bytes)?;
    let gzip = encoder.finish()?.len();
    Ok(WasmSize { raw: bytes.len() as u64, gzip: gzip as u64 })
}
