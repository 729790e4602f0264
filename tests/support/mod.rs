//! Test harness: real loopback mail servers, real SQLite files and PostgreSQL databases, and the
//! real `mesayuda` binary. Nothing here mocks a system the daemon talks to.
#![allow(dead_code)]

pub mod app;
pub mod browser;
pub mod cli;
pub mod daemon;
pub mod db;
pub mod flow;
pub mod ldap;
pub mod mail;
pub mod mailserver;
pub mod panel;
pub mod ports;

pub use cli::Cli;
pub use daemon::Daemon;
pub use db::{DbKind, TestDb};
pub use mailserver::MailServer;

use std::path::PathBuf;
use std::time::Duration;

/// Runs `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET `path` from the daemon's HTTP listener (`/healthz`, `/metrics`) on 127.0.0.1: the status
/// and the body, or `None` when nothing answered within 5 s.
pub async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the shipped templates (text and `html/`) in `to`, for tests that change one.
pub fn copy_templates(to: &std::path::Path) {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    copy_dir(&repo_root().join("templates"), to);
}

/// One test's world: its own mail server, database and config directory.
pub struct World {
    pub mail: MailServer,
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The web panel's address (`[web] base_url`), when the world has one.
    pub web: Option<String>,
}

pub const HELPDESK: &str = "mesayuda@example.test";
pub const NOTIFIER: &str = "servicios.tecnologicos@example.test";

impl World {
    /// `None` when the database kind is unavailable outside CI (the reason is printed).
    pub async fn new(kind: DbKind) -> Option<World> {
        Self::with_extra_config(kind, "").await
    }

    /// With the shipped catalogue and directory (`deploy/`), so the whole procedure runs.
    pub async fn with_procedure(kind: DbKind) -> Option<World> {
        Self::with_procedure_and(kind, "").await
    }

    pub async fn with_procedure_and(kind: DbKind, extra: &str) -> Option<World> {
        Self::build(kind, &shipped_catalog_and_directory(), extra, &[]).await
    }

    /// [`World::with_procedure`] whose MTA is `mx.example.test`: a topmost
    /// `Authentication-Results: mx.example.test; dmarc=pass …` authenticates the sender.
    pub async fn with_procedure_trusting_mta(kind: DbKind) -> Option<World> {
        Self::with_procedure_and(
            kind,
            "[security]\ntrusted_authserv_id = \"mx.example.test\"\n",
        )
        .await
    }

    /// [`World::with_procedure`] with the web panel on a port of its own.
    pub async fn with_panel(kind: DbKind) -> Option<World> {
        let port = ports::reserve();
        let base = format!("http://127.0.0.1:{port}");
        let extra = format!("[web]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"{base}\"\n");
        let mut w = Self::with_procedure_and(kind, &extra).await?;
        w.web = Some(base);
        Some(w)
    }

    /// The shipped catalogue with the directory file `directory` (TOML), and `extra` config.
    pub async fn with_directory_and(
        kind: DbKind,
        directory: &std::path::Path,
        extra: &str,
    ) -> Option<World> {
        let paths = format!(
            "catalog = \"{}\"\ndirectory = \"{}\"\n",
            repo_root().join("deploy/catalog.toml").display(),
            directory.display()
        );
        Self::build(kind, &paths, extra, &[]).await
    }

    pub async fn with_extra_config(kind: DbKind, extra: &str) -> Option<World> {
        Self::build(kind, "", extra, &[]).await
    }

    /// With `mailserver.sh start` options, e.g. `--defer-recipient ADDRESS`.
    pub async fn with_mail_server_options(
        kind: DbKind,
        extra: &str,
        mail: &[&str],
    ) -> Option<World> {
        Self::build(kind, "", extra, mail).await
    }

    /// Adds `lines` to the config's `[smtp]` table (a second `[smtp]` in `extra` would be
    /// invalid TOML).
    pub fn add_smtp_config(&self, lines: &str) {
        let text = std::fs::read_to_string(&self.config).expect("read config");
        let text = text.replacen("[smtp]\n", &format!("[smtp]\n{lines}\n"), 1);
        std::fs::write(&self.config, text).expect("write config");
    }

    async fn build(kind: DbKind, paths: &str, extra: &str, mail: &[&str]) -> Option<World> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::create(kind, dir.path()).await?;
        let mail = MailServer::start_with(mail).await;
        let config = dir.path().join("mesayuda.toml");
        let text = config_text(&db.url, mail.imap_port, mail.smtp_port, paths, extra);
        std::fs::write(&config, text).expect("write config");
        Some(World {
            mail,
            db,
            dir,
            config,
            web: None,
        })
    }

    pub fn cli(&self) -> Cli {
        Cli::new(&self.config)
    }

    pub fn spawn_daemon(&self) -> Daemon {
        Daemon::spawn(&self.config, self.dir.path())
    }

    /// The outgoing mail queue, as `mesayuda outbox list --json` prints it.
    pub fn outbox(&self) -> Vec<serde_json::Value> {
        match self.cli().json(&["outbox", "list", "--json"]) {
            serde_json::Value::Array(a) => a,
            other => panic!("outbox list --json is not an array: {other}"),
        }
    }

    /// Queued mail (whatever its status) with `who` among its recipients.
    pub fn outbox_to(&self, who: &str) -> Vec<serde_json::Value> {
        self.outbox()
            .into_iter()
            .filter(|m| {
                m["recipients"]
                    .as_str()
                    .unwrap_or("")
                    .split(',')
                    .any(|r| r.trim() == who)
            })
            .collect()
    }

    /// A copy of this world's configuration for another instance on the same database and
    /// mail server: its own health port and `extra` sections appended.
    pub fn instance_config(&self, name: &str, http: u16, extra: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!("{text}\n[http]\nlisten = \"127.0.0.1:{http}\"\n{extra}\n"),
        )
        .unwrap();
        path
    }

    /// Two instances on this world's database and mail server, each with its own health port
    /// and `extra` sections (a `[lease]`, say), started together.
    pub fn two_instances(&self, extra: &str) -> (Daemon, Daemon) {
        let a = self.instance_config("a.toml", ports::reserve(), extra);
        let b = self.instance_config("b.toml", ports::reserve(), extra);
        (
            Daemon::spawn(&a, self.dir.path()),
            Daemon::spawn(&b, self.dir.path()),
        )
    }

    /// The help desk has taken in all mail sent to it and has delivered all it queued. In this
    /// order: the mail server's queue empty (what the test sent is in the desk's inbox), the
    /// inbox empty (the reader moves a message out only after committing it, with the mail it
    /// causes queued in the same transaction), nothing pending in the outbox (every mail
    /// handed to the mail server) and its queue empty again (every mail in its inbox).
    pub async fn is_idle(&self) -> bool {
        self.mail.queue_is_empty()
            && mail::inbox(self.mail.imap_port, HELPDESK).await.is_empty()
            && self.outbox().iter().all(|m| m["status"] != "pending")
            && self.mail.queue_is_empty()
    }

    /// Waits until [`World::is_idle`]. After this, mail the desk was going to send because of
    /// what it received is in its recipients' inboxes: a mail missing there will not arrive
    /// later, and the database shows all the received mail did, with no fixed sleep.
    pub async fn wait_idle(&self, timeout: Duration) {
        eventually(timeout, "the help desk idle", || async {
            self.is_idle().await.then_some(())
        })
        .await;
    }
}

/// A database of `kind` in `dir`, migrated and opened by the daemon's own wiring (no mail
/// server); `None` where that database is unavailable.
pub async fn built_db(
    kind: DbKind,
    dir: &std::path::Path,
) -> Option<(TestDb, mesayuda::store::Db)> {
    let tdb = TestDb::create(kind, dir).await?;
    let config = mesayuda::config::Config::load(&offline_config(dir, &tdb)).unwrap();
    let app = mesayuda::runtime::app::Application::build(config)
        .await
        .unwrap();
    let db = app.db().clone();
    Some((tdb, db))
}

/// A configuration for the store and the CLI only: `db`, the shipped templates, and mail
/// servers on port 1 (never reached).
pub fn offline_config(dir: &std::path::Path, db: &TestDb) -> PathBuf {
    let p = dir.join("mesayuda.toml");
    std::fs::write(
        &p,
        format!(
            "[database]\nurl = \"{}\"\n[imap]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
             username = \"{HELPDESK}\"\npassword = \"x\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\n\
             security = \"none\"\nfrom = \"s@example.test\"\nreply_to = \"{HELPDESK}\"\n\
             [paths]\ntemplates = \"{}\"\n",
            db.url,
            repo_root().join("templates").display()
        ),
    )
    .unwrap();
    p
}

/// The daemon's configuration for a test: database, the loopback mail server's ports, the
/// shipped templates, and `paths` lines and `extra` sections.
pub fn config_text(db_url: &str, imap: u16, smtp: u16, paths: &str, extra: &str) -> String {
    // A daemon under test lives in real time: from 7 a.m. on a month's first business day until
    // its fifth, it would mail the real previous month's compliance report to the directory's
    // coordinator, subdirector and director (or warn that it has nobody to send it to), mail
    // no test asked for. A test about the report turns it on in its own `[reports]`.
    let reports = if extra.contains("[reports]") {
        ""
    } else {
        "[reports]\nmonthly_compliance = false\n"
    };
    format!(
        r#"
[database]
url = "{db_url}"

[imap]
host = "127.0.0.1"
port = {imap}
security = "none"
username = "{HELPDESK}"
password = "secret"
poll_interval_secs = 2

[smtp]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "Servicios Tecnológicos <{NOTIFIER}>"
reply_to = "Mesa de Ayuda <{HELPDESK}>"

[paths]
templates = "{templates}"
{paths}
{reports}
{extra}
"#,
        templates = repo_root().join("templates").display(),
    )
}

/// `paths` lines for the shipped catalogue and directory (`deploy/`).
pub fn shipped_catalog_and_directory() -> String {
    format!(
        "catalog = \"{}\"\ndirectory = \"{}\"\n",
        repo_root().join("deploy/catalog.toml").display(),
        shipped_directory_away_for_ever().display()
    )
}

/// The shipped directory (`deploy/directory.toml`), whose Patricia Vargas is away until a
/// date in 2027, with that absence lasting for ever: daemons under test read the real date,
/// and the substitute stories must not stop working the day after it.
pub fn shipped_directory_away_for_ever() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let shipped = std::fs::read_to_string(repo_root().join("deploy/directory.toml"))
            .expect("read deploy/directory.toml");
        let away = "away_until = 2027-02-07";
        assert!(
            shipped.contains(away),
            "the shipped absence changed: update {away:?} here"
        );
        let text = shipped.replace(away, "away_until = 2099-12-31");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("directory-away-for-ever.toml");
        // Several test binaries run at once: each writes its own file and renames it into place.
        let mine = dir.join(format!(
            "directory-away-for-ever.{}.toml",
            std::process::id()
        ));
        std::fs::write(&mine, text).expect("write the test directory");
        std::fs::rename(&mine, &path).expect("rename the test directory");
        path
    })
    .clone()
}

/// Declares test scenarios once and runs each on SQLite and on PostgreSQL: the one way the
/// tests run on both databases. Each scenario is an `async fn` taking what its setup gives:
/// by default a [`World`] (`World::new`, or another constructor: `on_both_databases!(with_ldap;
/// …)`), or, with `setup = f;`, what `f(DbKind)` returns, an async fn in the calling file
/// (`Option<T>`: `None` skips the test where that database is unavailable);
/// `setup = kind;` passes the `DbKind` itself.
#[macro_export]
macro_rules! on_both_databases {
    (setup = kind; $($name:ident),* $(,)?) => {
        $crate::on_both_databases!(@both (|k| async move { Some(k) }); $($name),*);
    };
    (setup = $setup:path; $($name:ident),* $(,)?) => {
        $crate::on_both_databases!(@both $setup; $($name),*);
    };
    (@both $setup:expr; $($name:ident),*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = ($setup)($crate::support::DbKind::Sqlite).await {
                        super::$name(s).await;
                    }
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = ($setup)($crate::support::DbKind::Postgres).await {
                        super::$name(s).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_databases!(@both $crate::support::World::new; $($name),*);
    };
    ($ctor:ident; $($name:ident),* $(,)?) => {
        $crate::on_both_databases!(@both $crate::support::World::$ctor; $($name),*);
    };
}
