//! The JWT signing key: from `JWT_SECRET`, or generated once (512 random bits) and kept in
//! `<data dir>/jwt-secret`, readable by the owner only. Never a built-in default.

use crate::config::Secret;
use anyhow::{Context, bail};
use app::server::SigningKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const KEY_FILE: &str = "jwt-secret";

pub fn load_or_create(secret: Option<&Secret>, data_dir: &Path) -> anyhow::Result<SigningKey> {
    if let Some(secret) = secret {
        return SigningKey::new(secret.expose().as_bytes().to_vec())
            .map_err(|e| anyhow::anyhow!("JWT_SECRET: {e}"));
    }
    let path = data_dir.join(KEY_FILE);
    match read(&path) {
        Ok(key) => Ok(key),
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == ErrorKind::NotFound) => {
            create(&path)
        }
        Err(e) => Err(e),
    }
}

fn read(path: &Path) -> anyhow::Result<SigningKey> {
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {:o}); run `chmod 600` on it",
            path.display(),
            mode & 0o777
        );
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = B64.decode(text.trim()).with_context(|| format!("{} is not base64", path.display()))?;
    SigningKey::new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes the key to a private temporary file, then links it into place: the key file is
/// either absent or complete, and if another process got there first its key wins.
fn create(path: &Path) -> anyhow::Result<SigningKey> {
    let key = SigningKey::generate().map_err(anyhow::Error::msg)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    writeln!(file, "{}", B64.encode(key.as_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new JWT signing key");
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e).with_context(|| format!("saving {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_persisted_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.as_bytes(), second.as_bytes());
        assert!(first.as_bytes().len() >= 32);
    }

    #[test]
    fn short_secret_from_env_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short: Secret = "too-short".parse().unwrap();
        assert!(load_or_create(Some(&short), dir.path()).is_err());
    }

    #[test]
    fn world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(None, dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(None, dir.path()).is_err());
    }
}
