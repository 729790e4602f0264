//! Mail the SMTP server refuses temporarily (4xx) is tried a bounded number of times and then
//! marked failed, where an operator sees it; an SMTP outage uses up none of those tries.

mod support;

use support::flow::tag;

use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, DbKind, World, HELPDESK};

const WAIT: Duration = Duration::from_secs(60);
/// The loopback Postfix answers `450 4.2.0` to this recipient, and accepts every other.
const DEFERRED: &str = "lleno@example.test";

async fn request(w: &World, who: &str) {
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            &format!("Usuario <{who}>"),
            "No puedo imprimir",
            "La impresora del piso 3 no imprime.",
        ),
    )
    .await;
}

fn outbox(w: &World, status: &str) -> Vec<Value> {
    match w
        .cli()
        .json(&["outbox", "list", "--status", status, "--json"])
    {
        Value::Array(a) => a,
        other => panic!("outbox list --json is not an array: {other}"),
    }
}

fn to(row: &Value) -> &str {
    row["recipients"].as_str().unwrap_or_default()
}

async fn metrics(port: u16) -> Option<String> {
    support::http_get(port, "/metrics")
        .await
        .map(|(_, body)| body)
}

async fn temporary_refusals_end_in_failed_mail(kind: DbKind) {
    let http = support::ports::reserve();
    let Some(w) = World::with_mail_server_options(
        kind,
        &format!("[http]\nlisten = \"127.0.0.1:{http}\"\n"),
        &["--defer-recipient", DEFERRED],
    )
    .await
    else {
        return;
    };
    // Seconds instead of minutes between tries, so the bound is reached within the test.
    w.add_smtp_config("max_attempts = 3\nretry_delay_secs = 1");
    let d = w.spawn_daemon();

    request(&w, DEFERRED).await;
    let failed = eventually(
        WAIT,
        "the refused acknowledgement marked failed",
        || async { outbox(&w, "failed").into_iter().find(|r| to(r) == DEFERRED) },
    )
    .await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    let answer = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        answer.contains("450") && answer.contains("mailbox temporarily unavailable"),
        "the last SMTP answer is kept: {failed}"
    );

    // The refusal is about that mailbox only: other mail still goes out.
    request(&w, "ana@example.test").await;
    mail::wait_for(
        w.mail.imap_port,
        "ana@example.test",
        WAIT,
        "ana's acknowledgement",
        |m| tag(m).is_some(),
    )
    .await;
    // The request itself was registered; only its acknowledgement could not be delivered.
    assert_eq!(w.cli().tickets().len(), 2);
    assert!(mail::inbox(w.mail.imap_port, HELPDESK).await.is_empty());

    let m = eventually(WAIT, "/metrics", || metrics(http)).await;
    assert!(
        m.lines().any(|l| l == "mesayuda_outbox_failed 1"),
        "one failed mail in /metrics:\n{m}"
    );

    let id = failed["id"].as_i64().expect("outbox id");
    let log = d.log_text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("marked failed"))
        .collect();
    assert_eq!(warnings.len(), 1, "one WARN line:\n{log}");
    assert!(
        warnings[0].contains(&format!("outbox={id}")) && warnings[0].contains("(450): 4.2.0"),
        "it names the outbox id and the last SMTP answer: {}",
        warnings[0]
    );
}

/// While the SMTP server is down, queued mail is not tried, so no attempt is counted; once it
/// is back, each mail goes out on its first real try.
async fn an_smtp_outage_counts_no_attempts(kind: DbKind) {
    let Some(w) = World::with_extra_config(kind, "[http]\nlisten = \"\"\n").await else {
        return;
    };
    w.mail.stop_smtp();
    let _d = w.spawn_daemon();
    // SMTP is down: the requests reach the mailbox directly, as mail already there would.
    let users = ["ana@example.test", "luis@example.test"];
    for u in users {
        let (_, raw) = Draft::new(&format!("Usuario <{u}>"), "Sin correo", "Ayuda.").render();
        mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    }
    // Both acknowledgements are queued and the sender has met the outage (a mail given back
    // with the outage as its last error). A mail queued after that is not even taken while the
    // sender waits for SMTP to come back, so only "met the outage" is waited for; either way
    // no pending mail may count an attempt (before, that round alone counted one for each).
    eventually(
        WAIT,
        "the outage met with both acknowledgements queued",
        || async {
            let rows = outbox(&w, "pending");
            (rows.len() == 2 && rows.iter().any(|r| r["last_error"].is_string())).then_some(())
        },
    )
    .await;
    for r in outbox(&w, "pending") {
        assert_eq!(r["attempts"], 0, "an outage is no attempt: {r}");
    }

    w.mail.start_smtp();
    for u in users {
        mail::wait_for(w.mail.imap_port, u, WAIT, "acknowledgement", |m| {
            tag(m).is_some()
        })
        .await;
    }
    let sent = eventually(WAIT, "both marked sent", || async {
        let rows = outbox(&w, "sent");
        (rows.len() == 2).then_some(rows)
    })
    .await;
    for r in sent {
        assert_eq!(r["attempts"], 1, "sent on its first real try: {r}");
    }
}

on_both_databases!(setup = kind;
    temporary_refusals_end_in_failed_mail,
    an_smtp_outage_counts_no_attempts,
);
