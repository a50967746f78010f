//! The built site's code files (WASM and JS under /pkg) and their precompressed copies: what
//! the server can send, as opposed to what a visit receives (see `first_load`).

use anyhow::{Context, Result};
use std::path::Path;

/// One code file of the site, with the sizes of the copies the server picks from.
#[derive(Clone, Debug)]
pub struct SiteFile {
    pub name: String,
    pub raw: u64,
    /// The `.br` copy the build left beside it, if any.
    pub brotli: Option<u64>,
    /// The `.gz` copy, if any.
    pub gzip: Option<u64>,
}

/// Every `.wasm` and `.js` file directly under `pkg_dir`, largest first.
pub fn code_files(pkg_dir: &Path) -> Result<Vec<SiteFile>> {
    let size = |name: &str| std::fs::metadata(pkg_dir.join(name)).ok().map(|m| m.len());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(pkg_dir).with_context(|| format!("reading {}", pkg_dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".wasm") || name.ends_with(".js")) {
            continue;
        }
        files.push(SiteFile {
            raw: size(&name).unwrap_or(0),
            brotli: size(&format!("{name}.br")),
            gzip: size(&format!("{name}.gz")),
            name,
        });
    }
    files.sort_by(|a, b| b.raw.cmp(&a.raw).then_with(|| a.name.cmp(&b.name)));
    Ok(files)
}
