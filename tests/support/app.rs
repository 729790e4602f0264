//! The in-process tier (issue 12 item 5): the daemon's own wiring (`Application`, the
//! `Ingestor`, the sweep, the outbox) on a temporary database, driven with an injected clock —
//! no mail server, no binary, no sleeps. A mail goes in as its raw bytes; what the help desk
//! would send is taken from the outbox as the SMTP worker takes it, and read as a person's
//! mail client would.

use super::db::{DbKind, TestDb};
use chrono::{DateTime, Duration, TimeZone, Utc};
use mesayuda::config::Config;
use mesayuda::domain::procedure::Ticket;
use mesayuda::domain::ticket::TicketNumber;
use mesayuda::mail::inbound::{self, InboundMail};
use mesayuda::runtime::app::Application;
use mesayuda::store::{self, outbox};
use mesayuda::workflow::ingest::{Ingestor, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Notify;

#[allow(unused_imports)]
pub use super::HELPDESK;

pub struct TestApp {
    app: Application,
    ingestor: Ingestor,
    /// Every mail the help desk has sent, by recipient (bare address), oldest first.
    delivered: BTreeMap<String, Vec<InboundMail>>,
    config: std::path::PathBuf,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// The shipped catalogue and directory, the shipped templates; `None` when the database
    /// kind is not available here (PostgreSQL outside CI).
    pub async fn new(kind: DbKind) -> Option<TestApp> {
        TestApp::with_config(kind, "").await
    }

    /// [`TestApp::new`] that has just taken in one request from `from` (Monday 9:00 a. m.),
    /// the mail it caused delivered: where most stories start.
    pub async fn with_request(
        kind: DbKind,
        from: &str,
        subject: &str,
        body: &str,
    ) -> Option<TestApp> {
        let mut app = TestApp::new(kind).await?;
        app.exchange(&new_mail(from, subject, body), monday(0))
            .await;
        Some(app)
    }

    /// [`TestApp::new`] with `extra` configuration (whole sections) added.
    pub async fn with_config(kind: DbKind, extra: &str) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::create(kind, dir.path()).await?;
        let path = dir.path().join("mesayuda.toml");
        // The mail servers' addresses are never dialled: nothing here starts a worker.
        let paths = super::shipped_catalog_and_directory();
        let text = super::config_text(&db.url, 1, 1, &paths, extra);
        std::fs::write(&path, text).expect("write config");
        let config = Config::load(&path).expect("config");
        let app = Application::build(config).await.expect("application");
        let ingestor = app.ingestor(Arc::new(Notify::new()));
        Some(TestApp {
            app,
            ingestor,
            delivered: BTreeMap::new(),
            config: path,
            _db: db,
            _dir: dir,
        })
    }

    /// A mail arrives at `now`: taken in as the mailbox reader takes it in.
    pub async fn receive(&self, raw: &[u8], now: DateTime<Utc>) -> Outcome {
        self.ingestor
            .ingest(raw, None, now, now)
            .await
            .expect("ingest")
    }

    /// A mail arrives at `now` and whatever it makes the help desk send is delivered: one
    /// exchange, as the daemon's reader and sender would go through it.
    pub async fn exchange(&mut self, raw: &[u8], now: DateTime<Utc>) -> Outcome {
        let got = self.receive(raw, now).await;
        self.deliver(now).await;
        got
    }

    /// Every time-driven sweep once, as if the clock read `now`.
    pub async fn sweep(&self, now: DateTime<Utc>) {
        mesayuda::workflow::sweep::run(self.app.db(), self.app.mailer(), self.app.procedure(), now)
            .await
            .expect("sweep");
    }

    /// `mesayuda jobs run --now T --json` (the sweep as the operator runs it, its report
    /// returned), then what it queued delivered at `t`.
    pub async fn jobs(&mut self, t: DateTime<Utc>) -> serde_json::Value {
        let r = self
            .cli()
            .json(&["jobs", "run", "--now", &t.to_rfc3339(), "--json"]);
        self.deliver(t).await;
        r
    }

    /// Everything due in the outbox at `now` leaves, as the SMTP worker sends it; each copy
    /// lands in its recipients' mailboxes here.
    pub async fn deliver(&mut self, now: DateTime<Utc>) {
        let db = self.app.db();
        let due = loop {
            match outbox::claim_due(db, store::unix(now), 60, 10_000, outbox::Which::Any).await {
                // As the outbox sender does: SQLite refuses at once a transaction that read
                // and then wants to write while another connection still ends its own (a
                // rollback sqlx finishes after the call returned); it is simply tried again.
                Err(e) if store::is_busy(&e) => tokio::task::yield_now().await,
                r => break r.expect("claim"),
            }
        };
        for m in due {
            let mail = inbound::parse(&m.raw).expect("our own mail parses");
            for r in m.recipient_list() {
                self.delivered
                    .entry(r.to_lowercase())
                    .or_default()
                    .push(mail.clone());
            }
            outbox::mark_sent(db, m.id, store::unix(now))
                .await
                .expect("mark sent");
        }
    }

    /// What `who` has received so far, oldest first.
    pub fn inbox(&self, who: &str) -> &[InboundMail] {
        self.delivered
            .get(&who.to_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The latest mail `who` received whose subject contains `what`.
    pub fn last_to(&self, who: &str, what: &str) -> &InboundMail {
        self.inbox(who)
            .iter()
            .rev()
            .find(|m| m.subject.contains(what))
            .unwrap_or_else(|| {
                let got: Vec<&str> = self.inbox(who).iter().map(|m| m.subject.as_str()).collect();
                panic!("{who} received no mail about `{what}`; got {got:?}")
            })
    }

    /// The command line on this help desk's configuration and database.
    pub fn cli(&self) -> super::Cli {
        super::Cli::new(&self.config)
    }

    /// The ticket as the procedure sees it.
    pub async fn ticket(&self, n: TicketNumber) -> Ticket {
        let mut conn = self.app.db().pool.acquire().await.expect("connection");
        mesayuda::workflow::load_ticket(&mut conn, n)
            .await
            .expect("load")
            .expect("the ticket exists")
    }
}

/// Monday 30 November 2026, 9:00 a. m. in Bogotá, plus `minutes`.
pub fn monday(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub fn number(m: &InboundMail) -> TicketNumber {
    let r = mesayuda::domain::text::find_ticket_ref(&m.subject).expect("the mail names its ticket");
    TicketNumber(r.to_string().trim_start_matches("REQ-").parse().unwrap())
}

/// `from` writes to the help desk's address.
pub fn new_mail(from: &str, subject: &str, body: &str) -> Vec<u8> {
    super::mail::Draft {
        to: HELPDESK,
        ..super::mail::Draft::new(from, subject, body)
    }
    .render()
    .1
}

/// `from` answers `parent` with their mail client: to its Reply-To, threaded, subject kept.
pub fn answer(from: &str, parent: &InboundMail, body: &str) -> Vec<u8> {
    let to = parent
        .reply_to
        .as_ref()
        .or(parent.from.as_ref())
        .map(|a| a.email.clone())
        .unwrap();
    let subject = format!("RE: {}", parent.subject);
    super::mail::Draft {
        to: &to,
        in_reply_to: Some(parent.message_id.clone()),
        ..super::mail::Draft::new(from, &subject, body)
    }
    .render()
    .1
}
