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
    if let Ok(file) = OpenOptions::new().read(true).open(&db) {
        // Read access is enough to tighten the mode; asking for write access here would make
        // the CLI fail on a database that is read-only for a while (it only reads).
        tighten(&db, &file)?;
    } else if may_create {
        open_private(&db)?;
    }
    for suffix in ["-wal", "-shm"] {
        let companion = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(file) = OpenOptions::new().read(true).open(&companion) {
            tighten(&companion, &file)?;
        }
    }
    Ok(())
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
