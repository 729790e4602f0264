//! Records the git commit the binary is built from, for `mesayuda --version` and the
//! `mesayuda_build_info` metric: an operator must be able to tell which build is running.
//! A source tarball or a copy without `.git` builds too, with the commit "unknown"; a tree
//! with uncommitted changes gives `<commit>-dirty`.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=9", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    // A build from a tree with uncommitted changes is not that commit: say so, as
    // `git describe --dirty` does.
    let dirty = commit != "unknown"
        && Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| !o.stdout.is_empty());
    let commit = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    println!("cargo:rustc-env=MESAYUDA_COMMIT={commit}");
    // Rebuild when HEAD moves (a commit or a checkout); in a worktree `.git` is a file naming
    // the real git directory, so ask git where HEAD and the current branch's ref live.
    for what in ["HEAD", "refs/heads"] {
        if let Some(p) = Command::new("git")
            .args(["rev-parse", "--git-path", what])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
        {
            println!("cargo:rerun-if-changed={}", p.trim());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    // The tree's state changes with any tracked file: look again when the sources do.
    for tracked in ["src", "templates", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={tracked}");
    }
    // `sqlx::migrate!` embeds the migrations at compile time; with the lines above cargo would
    // no longer notice a new migration file by itself (sqlx's documented pitfall).
    println!("cargo:rerun-if-changed=migrations");
}
