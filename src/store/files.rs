//! The SQLite database and its companions (`-wal`, `-shm`, the `.lock` of the single-instance
//! guard) hold every mail and ticket: they are readable and writable by the daemon's user only
//! (0600), whatever the umask of whoever started it first (`mesayuda run`, `migrate`, the CLI).

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const PRIVATE_MODE: u32 = 0o600;

/// The file of a SQLite URL, or `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(":memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Opens (creating it 0600 if missing) a file that must stay private, and takes group and
/// other permissions away from one an earlier version created with the umask's mode.
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(PRIVATE_MODE)
        .open(path)?;
    tighten(path, &file)?;
    Ok(file)
}

fn tighten(path: &Path, file: &std::fs::File) -> std::io::Result<()> {
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))?;
        tracing::info!(path = %path.display(), from = format!("{mode:o}"), "database file made private (0600)");
    }
    Ok(())
}

/// Before SQLite opens the database: SQLite creates `-wal` and `-shm` with the database file's
/// own mode, so a database file created 0600 here keeps all three private. Existing `-wal` and
/// `-shm` files are tightened as well. A read-only URL (`mode=ro`) creates nothing.
pub fn prepare_sqlite(url: &str) -> std::io::Result<()> {
    let Some(db) = sqlite_path(url) else {
        return Ok(());
    };
    let may_create = !url.contains("mode=") || url.contains("mode=rwc");
    if !db.exists() {
        if may_create {
            open_private(&db)?;
        }
    } else {
        tighten_existing(&db);
    }
    for suffix in ["-wal", "-shm"] {
        tighten_existing(&PathBuf::from(format!("{}{suffix}", db.display())));
    }
    Ok(())
}

/// Best effort on a file that exists: one we may not change (read-only or immutable during a
/// disk problem, or owned by someone else for a read-only CLI) is left to SQLite, which reports
/// what it cannot do; refusing here would turn a read-only database into an unreadable one.
fn tighten_existing(path: &Path) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)) {
        Ok(()) => {
            tracing::info!(path = %path.display(), from = format!("{mode:o}"), "database file made private")
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "database file could not be made private")
        }
    }
}

/// Waits for an exclusive lock on `path` (created private if missing); the lock lasts as long
/// as the returned file is open.
pub async fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = open_private(&path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let p = |u: &str| sqlite_path(u).map(|p| p.display().to_string());
        assert_eq!(p("sqlite://mesayuda.db").as_deref(), Some("mesayuda.db"));
        assert_eq!(
            p("sqlite:///var/lib/m.db?mode=rwc").as_deref(),
            Some("/var/lib/m.db")
        );
        assert_eq!(p("sqlite:m.db").as_deref(), Some("m.db"));
        assert_eq!(p("sqlite::memory:"), None);
        assert_eq!(p("sqlite://:memory:"), None);
        assert_eq!(p("postgres://x@y/z"), None);
    }
}
