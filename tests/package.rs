//! Issue 15: the Debian package as an operator meets it, on this machine with dpkg — install
//! (files, owners, modes, the user, nothing started), configuration as the README says and
//! `check-config --offline` as the service user, an upgrade that keeps the edited configuration
//! and the data, a removal that keeps both, and a purge that removes the user and the
//! configuration and says where the data is. Needs root and dpkg (CI: Debian 12 as root).
//!
//! The package is built from the debug binary (`deploy/package.sh --dev`): the same assets and
//! maintainer scripts as a release package, without a 4-minute release build in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

const ETC: &str = "/etc/mesayuda";
const CONFIG: &str = "/etc/mesayuda/mesayuda.toml";
const STATE: &str = "/var/lib/mesayuda";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command; its status, and stdout and stderr together (what the operator sees).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let (success, text) = run(cmd);
    assert!(success, "{shown} failed:\n{text}");
    text
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

/// `stat`'s view: octal mode, owner and group names.
fn stat(path: &str) -> String {
    ok(Command::new("stat").args(["-c", "%a %U %G", path]))
        .trim()
        .to_owned()
}

fn user_exists() -> bool {
    run(Command::new("getent").args(["passwd", "mesayuda"])).0
}

/// Why this machine cannot take the test, if it cannot: never touch an installation that is
/// not the test's own.
fn unsuitable() -> Option<String> {
    if ok(Command::new("id").arg("-u")).trim() != "0" {
        return Some("not root".into());
    }
    if !Path::new("/usr/bin/dpkg").exists() {
        return Some("no dpkg".into());
    }
    if run(&mut sh(
        "dpkg -s mesayuda 2>/dev/null | grep -q '^Status: .* installed'",
    ))
    .0
    {
        return Some("the mesayuda package is installed on this machine".into());
    }
    if user_exists() || Path::new(ETC).exists() || Path::new(STATE).exists() {
        return Some(format!(
            "the user mesayuda, {ETC} or {STATE} exists on this machine"
        ));
    }
    None
}

/// Purges the package and the data it left, however the test ends, so the machine is as
/// before (`unsuitable` checked that nothing of it was there).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = run(Command::new("dpkg").args(["--purge", "mesayuda"]));
        let _ = std::fs::remove_dir_all(STATE);
        let _ = std::fs::remove_dir_all(ETC);
        let _ = run(Command::new("userdel").arg("mesayuda"));
        let _ = run(Command::new("groupdel").arg("mesayuda"));
    }
}

/// Builds the package from the debug binary under test; returns the .deb's path.
fn build(version: Option<&str>, out: &Path) -> PathBuf {
    // The test binary lives in <target>/debug: cargo-deb must package that one.
    let target = Path::new(env!("CARGO_BIN_EXE_mesayuda"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned();
    let mut cmd = Command::new(root().join("deploy/package.sh"));
    cmd.arg("--dev")
        .arg("--output")
        .arg(out)
        .env("CARGO_TARGET_DIR", &target);
    if let Some(v) = version {
        cmd.args(["--deb-version", v]);
    }
    let text = ok(&mut cmd);
    let deb = PathBuf::from(
        text.lines()
            .find(|l| l.trim().ends_with(".deb"))
            .unwrap_or("")
            .trim(),
    );
    assert!(deb.is_file(), "no .deb named in:\n{text}");
    deb
}

fn dpkg(args: &[&str]) -> String {
    // confold: an upgrade keeps the administrator's configuration without asking (no terminal).
    ok(Command::new("dpkg")
        .args(["--force-confdef", "--force-confold"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The service user's view: what the daemon and `runuser -u mesayuda -- mesayuda …` can read.
fn as_service_user(args: &[&str]) -> (bool, String) {
    run(Command::new("runuser")
        .args([
            "-u",
            "mesayuda",
            "--",
            "/usr/bin/mesayuda",
            "--config",
            CONFIG,
        ])
        .args(args)
        .current_dir("/"))
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().display().to_string());
        }
    }
}

#[test]
fn debian_package_installs_upgrades_removes_and_purges_cleanly() {
    if let Some(why) = unsuitable() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the package test must run in CI: {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    let _cleanup = Cleanup;
    let out = tempfile::tempdir().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let deb = build(None, out.path());
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("mesayuda_{version}_amd64.deb")
    );

    // Install: the user and the state directory exist, the service is neither started nor
    // enabled, and the output says what to do next.
    let said = dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(said.contains("systemctl enable --now mesayuda"), "{said}");
    let passwd = ok(Command::new("getent").args(["passwd", "mesayuda"]));
    assert!(
        passwd
            .trim_end()
            .ends_with(":/var/lib/mesayuda:/usr/sbin/nologin"),
        "{passwd}"
    );
    assert_eq!(stat(STATE), "700 mesayuda mesayuda");
    assert_eq!(stat(ETC), "750 root mesayuda");
    assert_eq!(stat(CONFIG), "640 root mesayuda");
    assert!(!Path::new("/etc/systemd/system/multi-user.target.wants/mesayuda.service").exists());
    for (path, mode) in [
        ("/usr/bin/mesayuda", "755 root root"),
        ("/lib/systemd/system/mesayuda.service", "644 root root"),
        ("/usr/lib/sysusers.d/mesayuda.conf", "644 root root"),
        ("/usr/lib/tmpfiles.d/mesayuda.conf", "644 root root"),
        ("/usr/share/doc/mesayuda/README.md", "644 root root"),
        ("/usr/share/doc/mesayuda/CHANGELOG.md", "644 root root"),
        ("/usr/share/doc/mesayuda/copyright", "644 root root"),
        (
            "/usr/share/doc/mesayuda/examples/catalog.toml",
            "644 root root",
        ),
        (
            "/usr/share/doc/mesayuda/examples/directory.toml",
            "644 root root",
        ),
    ] {
        assert_eq!(stat(path), mode, "{path}");
    }
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "mesayuda"]));
    assert!(conffiles.contains(CONFIG), "conffiles: {conffiles}");
    // The sample people and services are examples, never live data.
    for f in ["catalog.toml", "directory.toml"] {
        assert!(!Path::new(ETC).join(f).exists(), "{f} installed in {ETC}");
    }
    // Every template, the html/ subdirectory included.
    let (mut shipped, mut installed) = (Vec::new(), Vec::new());
    files_under(
        &root().join("templates"),
        &root().join("templates"),
        &mut shipped,
    );
    let dir = Path::new("/usr/share/mesayuda/templates");
    files_under(dir, dir, &mut installed);
    shipped.sort();
    installed.sort();
    assert!(shipped.iter().any(|f| f.starts_with("html/")));
    assert_eq!(installed, shipped);
    let v = ok(Command::new("/usr/bin/mesayuda").arg("--version"));
    assert!(
        v.starts_with(&format!("mesayuda {version} (commit ")),
        "{v}"
    );
    // The unit starts the installed binary.
    let unit = std::fs::read_to_string("/lib/systemd/system/mesayuda.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/mesayuda --config /etc/mesayuda/mesayuda.toml run"));

    // Configure as the README says: secrets readable by the group, catalogue and directory from
    // the examples (a real site writes its own), then check as the service user.
    ok(&mut sh(
        "set -e
         cd /etc/mesayuda
         for f in imap-password smtp-password; do
             install -m 0640 -g mesayuda /dev/null $f; echo secreto > $f
         done
         install -m 0640 -g mesayuda /usr/share/doc/mesayuda/examples/catalog.toml \
             /usr/share/doc/mesayuda/examples/directory.toml /etc/mesayuda/",
    ));
    let (passed, said) = as_service_user(&["check-config", "--offline"]);
    assert!(passed, "check-config --offline failed:\n{said}");
    // The state directory is the service user's: the SQLite database is created there.
    let (migrated, said) = as_service_user(&["migrate"]);
    assert!(migrated, "migrate failed:\n{said}");
    let db = Path::new(STATE).join("mesayuda.db");
    assert_eq!(stat(db.to_str().unwrap()), "600 mesayuda mesayuda");

    // An edited configuration and the data survive an upgrade.
    let edited = std::fs::read_to_string(CONFIG)
        .unwrap()
        .replace("poll_interval_secs = 30", "poll_interval_secs = 45");
    assert!(edited.contains("poll_interval_secs = 45"));
    std::fs::write(CONFIG, &edited).unwrap();
    let newer = format!("{version}+prueba1");
    let deb2 = build(Some(&newer), out.path());
    dpkg(&["-i", deb2.to_str().unwrap()]);
    let installed_version =
        ok(Command::new("dpkg-query").args(["-W", "-f=${Version}", "mesayuda"]));
    assert_eq!(installed_version, newer);
    assert_eq!(std::fs::read_to_string(CONFIG).unwrap(), edited);
    assert_eq!(stat(CONFIG), "640 root mesayuda");
    assert!(db.exists());
    let (passed, said) = as_service_user(&["check-config", "--offline"]);
    assert!(passed, "check-config after the upgrade:\n{said}");

    // The site moved to PostgreSQL meanwhile (the SQLite file stays behind): the purge below
    // must say where both are, the password hidden.
    let edited = edited.replace(
        "url = \"sqlite:///var/lib/mesayuda/mesayuda.db\"",
        "url = \"postgres://mesayuda:s3creto@db.example.test/mesayuda\"",
    );
    assert!(
        edited.contains("s3creto"),
        "the example config's url line changed"
    );
    std::fs::write(CONFIG, &edited).unwrap();

    // Remove: the program goes, configuration, user and data stay.
    dpkg(&["--remove", "mesayuda"]);
    assert!(!Path::new("/usr/bin/mesayuda").exists());
    assert!(!Path::new("/lib/systemd/system/mesayuda.service").exists());
    assert_eq!(std::fs::read_to_string(CONFIG).unwrap(), edited);
    assert!(user_exists());
    assert!(db.exists());

    // Purge: configuration (secrets included) and user go, the data stays and the output says
    // where it is.
    let said = dpkg(&["--purge", "mesayuda"]);
    assert!(!Path::new(ETC).exists(), "{ETC} left after purge");
    assert!(!user_exists(), "user left after purge");
    assert!(
        !run(Command::new("getent").args(["group", "mesayuda"])).0,
        "group left"
    );
    assert!(db.exists(), "purge deleted the data");
    assert!(said.contains("/var/lib/mesayuda (base SQLite)"), "{said}");
    assert!(
        said.contains(
            "La base PostgreSQL postgres://mesayuda:***@db.example.test/mesayuda no se tocó"
        ),
        "{said}"
    );
    assert!(!said.contains("s3creto"), "{said}");
    assert!(
        !run(&mut sh("dpkg -s mesayuda >/dev/null 2>&1")).0,
        "dpkg still knows the package after purge"
    );
}
