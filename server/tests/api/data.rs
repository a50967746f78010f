//! The data on disk: the SQLite file is created wherever `DATABASE_URL` points, and it (it
//! holds the private signing keys) is readable by its owner alone, whatever the folder.

use crate::helpers::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// A temporary folder that others may read, as a shared or pre-existing folder often is.
fn world_readable_folder() -> std::sync::Arc<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::sync::Arc::new(dir)
}

fn assert_owner_only(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(mode(&file) & 0o077, 0, "{} is {:o}", file.display(), mode(&file));
    }
}

#[tokio::test]
async fn a_sqlite_url_naming_a_file_that_does_not_exist_yet_creates_it_owner_only() {
    let dir = world_readable_folder();
    let db = dir.path().join("new/folder/app.db");
    let url = format!("sqlite://{}", db.display());
    assert!(url.starts_with("sqlite:///"), "{url}");
    let app = spawn_instance(dir.clone(), Some(&url), &[]).await;
    app.login("user1", "password1").await;
    assert_owner_only(&db);
    assert_eq!(mode(db.parent().unwrap()), 0o700, "a folder it creates is 0700");
}

#[tokio::test]
async fn the_default_database_is_owner_only_in_a_folder_others_can_read() {
    let dir = world_readable_folder();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let app = spawn_instance(dir.clone(), Some(&url), &[]).await;
    app.login("user1", "password1").await;
    assert_owner_only(&dir.path().join("app.db"));
}

#[tokio::test]
async fn an_existing_database_file_readable_by_others_is_made_owner_only() {
    let dir = world_readable_folder();
    let db = dir.path().join("app.db");
    std::fs::File::create(&db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = spawn_instance(dir.clone(), Some(&format!("sqlite://{}", db.display())), &[]).await;
    app.login("user1", "password1").await;
    assert_owner_only(&db);
}
