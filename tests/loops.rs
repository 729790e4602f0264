//! Issue "Nothing lost, nothing twice, no loops", part 3: mail loops.
//!
//! Robots talk to the help desk through the real mail server: our acknowledgements bounced
//! back, an out-of-office that answers each of our mails, other help desks that answer every
//! mail with a new one, a storm of mailer-daemon bounces. None of them opens a ticket or gets
//! an answer to its automatic mail; a robot that looks like a person is stopped by the
//! per-sender limit on new requests, and agents are told once.

mod support;

use support::flow::tag;

use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World, HELPDESK, NOTIFIER};

const WAIT: Duration = Duration::from_secs(30);
/// Nothing moved for this long: the conversation is over.
const QUIET: Duration = Duration::from_secs(4);
const AGENTS: [&str; 2] = ["laura.rojas@example.test", "andres.castro@example.test"];
/// A printer request without the fields its service requires: acknowledged, and the requester
/// is asked once for the missing information (the request then waits on them).
const INCOMPLETE: &str = "Necesito instalar la impresora de la oficina.";

fn outbox(w: &World) -> Vec<Value> {
    w.outbox()
}

/// Queued mail to `who`, by kind.
fn mail_to(w: &World, who: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in w.outbox_to(who) {
        *out.entry(m["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    out
}

/// The help desk has taken in and answered everything it was sent.
async fn desk_idle(w: &World) -> bool {
    w.is_idle().await
}

fn log_outcomes(log: &str, outcome: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("message ingested") && l.contains(&format!("outcome=\"{outcome}\"")))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Robots

#[derive(Clone, Copy, Debug, PartialEq)]
enum Manners {
    /// RFC 3834: marks its answers `Auto-Submitted: auto-replied` and never answers a mail that
    /// carries `Auto-Submitted` (ours do).
    Rfc3834,
    /// Answers every mail, new subject, threaded by In-Reply-To/References, no automatic
    /// headers: looks like a person replying.
    Naive,
    /// Answers every mail with a new, unthreaded mail and no automatic headers: every answer
    /// looks like a new request from a person.
    Blind,
    /// An out-of-office notice for every mail, as Exchange words it, with its headers.
    OutOfOffice,
    /// An out-of-office notice for every mail with no automatic header at all, only its subject
    /// (and threading) to go by.
    BareOutOfOffice,
}

struct Robot {
    addr: String,
    received: Arc<Mutex<Vec<InboundMail>>>,
    sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Robot {
    /// Starts answering whatever reaches `addr`, the way `manners` says.
    fn start(w: &World, addr: &str, manners: Manners) -> Robot {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (imap, smtp) = (w.mail.imap_port, w.mail.smtp_port);
        let task = tokio::spawn({
            let (addr, received, sent, stop) = (
                addr.to_owned(),
                received.clone(),
                sent.clone(),
                stop.clone(),
            );
            async move {
                let mut seen = HashSet::new();
                let mut case = 1000;
                while !stop.load(Ordering::SeqCst) {
                    for m in mail::inbox(imap, &addr).await {
                        if !seen.insert(m.message_id.clone()) {
                            continue;
                        }
                        received.lock().unwrap().push(m.clone());
                        case += 1;
                        if let Some(raw) = answer(&addr, manners, &m, case) {
                            mail::send_raw(smtp, &addr, HELPDESK, &raw).await;
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        });
        Robot {
            addr: addr.to_owned(),
            received,
            sent,
            stop,
            task,
        }
    }

    fn received(&self) -> Vec<InboundMail> {
        self.received.lock().unwrap().clone()
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    async fn stop(self) -> (Vec<InboundMail>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        (
            self.received.lock().unwrap().clone(),
            self.sent.load(Ordering::SeqCst),
        )
    }
}

fn answer(addr: &str, manners: Manners, to: &InboundMail, case: u32) -> Option<Vec<u8>> {
    let auto_submitted = to
        .auto
        .auto_submitted
        .as_deref()
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    let id = format!("robot-{case}-{:x}@example.test", rand::random::<u32>());
    let threading = format!(
        "In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n",
        p = to.message_id
    );
    let (subject, headers, body) = match manners {
        Manners::Rfc3834 if auto_submitted => return None,
        Manners::Rfc3834 => (
            format!("Caso {case} registrado"),
            format!("{threading}Auto-Submitted: auto-replied\r\n"),
            format!("Su mensaje quedó registrado en nuestra mesa con el caso {case}."),
        ),
        Manners::Naive => (
            format!("Caso {case} registrado"),
            threading,
            format!("Su mensaje quedó registrado en nuestra mesa con el caso {case}."),
        ),
        Manners::Blind => (
            format!("Caso {case} registrado"),
            String::new(),
            format!("Su mensaje quedó registrado en nuestra mesa con el caso {case}."),
        ),
        Manners::OutOfOffice => (
            format!("Respuesta automática: {}", to.subject),
            format!(
                "{threading}Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n"
            ),
            "Estoy fuera de la oficina hasta el lunes, sin acceso al correo.".to_owned(),
        ),
        Manners::BareOutOfOffice => (
            format!("Fuera de la oficina: {}", to.subject),
            threading,
            "Estoy fuera de la oficina hasta el lunes, sin acceso al correo.".to_owned(),
        ),
    };
    let raw = format!(
        "From: {addr}\r\nTo: {HELPDESK}\r\nSubject: {}\r\nMessage-ID: <{id}>\r\nDate: {}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n{headers}\r\n{}\r\n",
        encode_subject(&subject),
        chrono::Utc::now().to_rfc2822(),
        b64(body.as_bytes()),
    );
    Some(raw.into_bytes())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn encode_subject(s: &str) -> String {
    format!("=?UTF-8?B?{}?=", b64(s.as_bytes()))
}

/// Waits until the help desk and every robot have stopped: nothing in the help desk's inbox,
/// nothing queued, every robot has received all we sent it, and none has sent anything for
/// `QUIET`.
async fn converged(w: &World, robots: &[&Robot]) {
    let start = std::time::Instant::now();
    let mut last = (usize::MAX, std::time::Instant::now());
    loop {
        let sent: usize = robots.iter().map(|r| r.sent()).sum();
        let received: usize = robots.iter().map(|r| r.received().len()).sum();
        if (sent, received) != (last.0 / 100_000, last.0 % 100_000) {
            last = (sent * 100_000 + received, std::time::Instant::now());
        } else if last.1.elapsed() > QUIET && desk_idle(w).await && all_delivered(w, robots) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the conversation did not end: robots sent {sent} and received {received}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every mail the outbox sent to a robot has reached it.
fn all_delivered(w: &World, robots: &[&Robot]) -> bool {
    robots
        .iter()
        .all(|r| mail_to(w, &r.addr).values().sum::<usize>() == r.received().len())
}

// ---------------------------------------------------------------------------------------------
// Bounces

/// A Postfix-style delivery status notification for `bounced` (one of our mails): no ticket
/// tag in the subject, our headers in a `text/rfc822-headers` part.
fn postfix_dsn(from: &str, bounced: &InboundMail, n: usize) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <{from}>\r\nTo: {HELPDESK}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{n}-{r:x}@mx.example.test>\r\n\
         Date: {date}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B{n}\"\r\n\r\n\
         This is a MIME-encapsulated message.\r\n\r\n--B{n}\r\nContent-Description: Notification\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system at host mx.example.test.\r\n\r\n\
         I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n\
         <{to}>: host mx.example.test said: 550 5.1.1 User unknown\r\n\r\n--B{n}\r\n\
         Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.example.test\r\n\r\nFinal-Recipient: rfc822; {to}\r\nAction: failed\r\n\
         Status: 5.1.1\r\n\r\n--B{n}\r\nContent-Description: Undelivered Message Headers\r\n\
         Content-Type: text/rfc822-headers\r\n\r\nFrom: {NOTIFIER}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\n\r\n--B{n}--\r\n",
        r = rand::random::<u32>(),
        date = chrono::Utc::now().to_rfc2822(),
        to = bounced.to.first().map(|t| t.email.as_str()).unwrap_or("x@example.test"),
        subject = bounced.subject,
        id = bounced.message_id,
    )
    .into_bytes()
}

/// An Exchange-style non-delivery report: the original subject, with its ticket tag, after
/// "Undeliverable:", threaded to the bounced mail, no automatic headers at all.
fn exchange_ndr(from: &str, bounced: &InboundMail, n: usize) -> Vec<u8> {
    format!(
        "From: Microsoft Outlook <{from}>\r\nTo: {HELPDESK}\r\nSubject: Undeliverable: {subject}\r\n\
         Message-ID: <ndr-{n}-{r:x}@mx.example.test>\r\nDate: {date}\r\n\
         In-Reply-To: <{id}>\r\nReferences: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"N{n}\"\r\n\r\n\
         --N{n}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         Delivery has failed to these recipients or groups: the mailbox is full.\r\n\r\n--N{n}\r\n\
         Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n\
         Final-Recipient: rfc822; nadie@example.test\r\nAction: failed\r\nStatus: 5.2.2\r\n\r\n--N{n}--\r\n",
        r = rand::random::<u32>(),
        date = chrono::Utc::now().to_rfc2822(),
        subject = bounced.subject,
        id = bounced.message_id,
    )
    .into_bytes()
}

/// Sendmail-style "Returned mail" in plain text from MAILER-DAEMON, about mail we never sent
/// (backscatter from spam that forged our address): nothing but the sender to go by.
fn backscatter(from: &str, n: usize) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {HELPDESK}\r\nSubject: Returned mail: see transcript for details\r\n\
         Message-ID: <bs-{n}-{r:x}@mx.example.test>\r\nDate: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n\
         The original message was received at a remote host.\r\n\r\n   ----- Transcript of session follows -----\r\n\
         ... while talking to mx.example.test.:\r\n>>> RCPT To:<victima{n}@example.test>\r\n<<< 550 No such user\r\n\r\n\
         Subject: Oferta imperdible {n}\r\n",
        r = rand::random::<u32>(),
        date = chrono::Utc::now().to_rfc2822(),
    )
    .into_bytes()
}

async fn request_and_ack(w: &World, who: &str, subject: &str) -> InboundMail {
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            &format!("Usuario <{who}>"),
            subject,
            "Necesito ayuda con mi equipo.",
        ),
    )
    .await;
    mail::wait_for(w.mail.imap_port, who, WAIT, "acknowledgement", |m| {
        tag(m).is_some()
    })
    .await
}

async fn bounced_acknowledgements_are_kept_and_never_answered(w: World) {
    let d = w.spawn_daemon();
    let ana = "ana.bounce@example.test";
    let ack = request_and_ack(&w, ana, "Cambio de monitor").await;
    let id = tag(&ack).unwrap();
    eventually(WAIT, "the desk idle", || async {
        desk_idle(&w).await.then_some(())
    })
    .await;
    let answered = mail_to(&w, ana);
    // The acknowledgement comes back three ways, each sent with the null reverse path.
    let daemon = "MAILER-DAEMON@example.test";
    let postmaster = "postmaster@example.test";
    mail::send_null_sender(w.mail.smtp_port, HELPDESK, &postfix_dsn(daemon, &ack, 1)).await;
    mail::send_null_sender(
        w.mail.smtp_port,
        HELPDESK,
        &exchange_ndr(postmaster, &ack, 2),
    )
    .await;
    mail::send_null_sender(w.mail.smtp_port, HELPDESK, &backscatter(daemon, 3)).await;
    eventually(WAIT, "the three bounces taken in", || async {
        (log_outcomes(&d.log_text(), "auto") == 3 && desk_idle(&w).await).then_some(())
    })
    .await;
    // No ticket from them; the one that names its ticket is kept on it as a bounce.
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = w.cli().ticket(&id);
    let kinds: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["solicitud", "rebote"], "{t}");
    // Nobody was answered: not the bouncing systems, not the requester a second time.
    assert_eq!(mail_to(&w, ana), answered);
    for who in ["mailer-daemon@example.test", postmaster] {
        assert!(mail_to(&w, who).is_empty(), "{who}: {:?}", mail_to(&w, who));
    }
    assert_eq!(
        mail::inbox(w.mail.imap_port, ana).await.len(),
        answered.values().sum::<usize>()
    );
    // Kept, not dropped: everything left the inbox for the processed folder.
    let done = mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados").await;
    assert_eq!(done.len(), 4);
}

async fn a_bounce_storm_opens_nothing_and_answers_nobody(w: World) {
    let d = w.spawn_daemon();
    let users: Vec<String> = (1..=3)
        .map(|i| format!("u{i}.storm@example.test"))
        .collect();
    let mut acks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        acks.push(request_and_ack(&w, u, &format!("Solicitud {i}")).await);
    }
    eventually(WAIT, "the desk idle", || async {
        desk_idle(&w).await.then_some(())
    })
    .await;
    let answered: Vec<BTreeMap<String, usize>> = users.iter().map(|u| mail_to(&w, u)).collect();
    // 60 bounces at once from several daemons: of our acknowledgements (each many times) and
    // backscatter of mail we never sent.
    let daemons = [
        "MAILER-DAEMON@example.test",
        "postmaster@example.test",
        "mailer-daemon@mx2.example.test",
    ];
    let mut storm = Vec::new();
    // How many bounces name each acknowledgement's ticket in their subject.
    let mut tagged = vec![0; acks.len()];
    for n in 0..60 {
        let from = daemons[n % daemons.len()];
        let which = (n / 3) % acks.len();
        let ack = &acks[which];
        storm.push(match n % 3 {
            0 => postfix_dsn(from, ack, n),
            1 => {
                tagged[which] += 1;
                exchange_ndr(from, ack, n)
            }
            _ => backscatter(from, n),
        });
    }
    let port = w.mail.smtp_port;
    futures::future::join_all(
        storm
            .iter()
            .map(|raw| mail::send_null_sender(port, HELPDESK, raw)),
    )
    .await;
    eventually(Duration::from_secs(60), "the storm taken in", || async {
        (log_outcomes(&d.log_text(), "auto") == 60 && desk_idle(&w).await).then_some(())
    })
    .await;
    assert_eq!(w.cli().tickets().len(), 3);
    for (u, answered) in users.iter().zip(&answered) {
        assert_eq!(&mail_to(&w, u), answered, "{u}");
        assert_eq!(
            mail::inbox(w.mail.imap_port, u).await.len(),
            answered.values().sum::<usize>(),
            "{u}"
        );
    }
    let to_daemons: usize = outbox(&w)
        .iter()
        .filter(|m| {
            let r = m["recipients"].as_str().unwrap_or("").to_lowercase();
            r.contains("daemon") || r.contains("postmaster")
        })
        .count();
    assert_eq!(to_daemons, 0);
    assert_eq!(
        mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados")
            .await
            .len(),
        63
    );
    // Each bounce that names a ticket is kept on it; none became a request.
    for (ack, tagged) in acks.iter().zip(tagged) {
        let t = w.cli().ticket(&tag(ack).unwrap());
        let ins: Vec<&str> = t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .map(|m| m["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            ins.iter().filter(|k| **k == "solicitud").count(),
            1,
            "{ins:?}"
        );
        assert_eq!(
            ins.iter().filter(|k| **k == "rebote").count(),
            tagged,
            "{ins:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Out of office

async fn out_of_office_answering_each_of_our_mails_is_never_answered(w: World) {
    let _d = w.spawn_daemon();
    let pedro = "pedro.oof@example.test";
    let maria = "maria.oof@example.test";
    let mut tickets = BTreeMap::new();
    for who in [pedro, maria] {
        mail::send(
            w.mail.smtp_port,
            &Draft::new(
                &format!("Usuario <{who}>"),
                "Instalación de impresora",
                INCOMPLETE,
            ),
        )
        .await;
    }
    // What their requests cause, before anyone answers automatically: the acknowledgement and
    // the request for the missing information.
    for who in [pedro, maria] {
        let ask = mail::wait_for(
            w.mail.imap_port,
            who,
            WAIT,
            "request for information",
            |m| m.subject.contains("Información pendiente"),
        )
        .await;
        tickets.insert(who, tag(&ask).unwrap());
    }
    eventually(WAIT, "the desk idle", || async {
        desk_idle(&w).await.then_some(())
    })
    .await;
    let before: BTreeMap<&str, BTreeMap<String, usize>> = [pedro, maria]
        .iter()
        .map(|who| (*who, mail_to(&w, who)))
        .collect();
    assert_eq!(
        before[pedro].get("acuse").copied(),
        Some(1),
        "{:?}",
        before[pedro]
    );
    // Now both go on holiday: one auto-responder with the usual headers, one with none.
    let oof = Robot::start(&w, pedro, Manners::OutOfOffice);
    let bare = Robot::start(&w, maria, Manners::BareOutOfOffice);
    converged(&w, &[&oof, &bare]).await;
    // An agent writes to each of them: one more mail, one more automatic answer.
    for who in [pedro, maria] {
        let id = &tickets[who];
        mail::send(
            w.mail.smtp_port,
            &Draft {
                // Vouched for by our MTA: a staff answer needs proof (issue 11).
                extra_headers: "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n",
                ..Draft::new(
                    "Laura Rojas <laura.rojas@example.test>",
                    &format!("RE: [{id}] Instalación de impresora"),
                    "Buenos días, ¿en qué piso está la impresora?",
                )
            },
        )
        .await;
    }
    converged(&w, &[&oof, &bare]).await;
    let robots = [(pedro, oof.stop().await), (maria, bare.stop().await)];
    assert_eq!(
        w.cli().tickets().len(),
        2,
        "an out-of-office opened a ticket"
    );
    for (who, (received, sent)) in robots {
        // Every one of our mails got its automatic answer…
        assert_eq!(sent, received.len(), "{who}");
        // …and none of those answers got a mail back: what reached them is what their request
        // and the agent caused.
        let mut expected = before[who].clone();
        *expected.entry("respuesta_agente".into()).or_default() += 1;
        assert_eq!(mail_to(&w, who), expected, "{who}");
        assert_eq!(received.len(), expected.values().sum::<usize>(), "{who}");
        let t = w.cli().ticket(&tickets[who]);
        let kept = t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "fuera_de_oficina")
            .count();
        assert_eq!(
            kept, sent,
            "{who}: out-of-office notices kept on the ticket"
        );
        assert_eq!(t["status"], "pendiente_por_usuario", "{who}");
    }
}

// ---------------------------------------------------------------------------------------------
// Two help desks

async fn two_help_desks_answering_each_other_converge(w: World) {
    let d = w.spawn_daemon();
    let polite = "mesa.rfc3834@example.test";
    let naive = "mesa.ingenua@example.test";
    let blind = "mesa.ciega@example.test";
    let robots = [
        Robot::start(&w, polite, Manners::Rfc3834),
        Robot::start(&w, naive, Manners::Naive),
        Robot::start(&w, blind, Manners::Blind),
    ];
    // Each robot desk opens the conversation as a person there would: a request to us.
    for who in [polite, naive] {
        mail::send(
            w.mail.smtp_port,
            &Draft::new(
                &format!("Mesa externa <{who}>"),
                "Instalación de impresora",
                INCOMPLETE,
            ),
        )
        .await;
    }
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            &format!("Mesa externa <{blind}>"),
            "Consulta",
            "Buenos días, quisiera una cita con ustedes.",
        ),
    )
    .await;
    converged(&w, &robots.iter().collect::<Vec<_>>()).await;
    // On a slow machine a robot's answer can still sit in Postfix's retry queue when the
    // conversation looks quiet; give the blind robot's chain the time to reach the limit.
    let blind_tickets = || async {
        let n = w
            .cli()
            .tickets()
            .iter()
            .filter(|t| t["requester"] == blind)
            .count();
        (n >= 5).then_some(())
    };
    support::eventually(
        Duration::from_secs(60),
        "the blind robot's requests",
        blind_tickets,
    )
    .await;
    converged(&w, &robots.iter().collect::<Vec<_>>()).await;
    let [polite_r, naive_r, blind_r] = robots;
    let (polite_got, polite_sent) = polite_r.stop().await;
    let (naive_got, naive_sent) = naive_r.stop().await;
    let (blind_got, blind_sent) = blind_r.stop().await;
    let tickets = w.cli().tickets();
    let of = |who: &str| {
        tickets
            .iter()
            .filter(|t| t["requester"] == who)
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    // RFC 3834 on both sides: our automatic mail is not answered, so nothing more happens.
    assert_eq!(of(polite).len(), 1);
    assert_eq!(polite_sent, 0, "{polite_got:?}");
    assert_eq!(
        polite_got.len(),
        2,
        "acknowledgement and request for information"
    );

    // A robot that answers everything, threaded but to the help desk's plain address (not the
    // Reply-To, so nothing proves it is the requester): its answers land on its one request and
    // change nothing; it is told once that a mail in its name could not be verified, and its
    // answer to that warning gets nothing more.
    assert_eq!(of(naive).len(), 1);
    assert_eq!(
        mail_to(&w, naive),
        BTreeMap::from([
            ("acuse".into(), 1),
            ("informacion_faltante".into(), 1),
            ("accion_no_verificada".into(), 1)
        ])
    );
    assert_eq!(naive_got.len(), 3);
    assert_eq!(naive_sent, 3);
    let t = w.cli().ticket(&of(naive)[0]);
    let refused = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "accion_rechazada")
        .count();
    assert_eq!(refused, 3, "{t}");
    assert_eq!(t["status"], "pendiente_por_usuario");

    // A robot whose answers look like new requests: one acknowledgement per ticket, until the
    // per-sender limit (5 in this test) holds its mail; agents are told once.
    let limit = 5;
    assert_eq!(of(blind).len(), limit, "{tickets:?}");
    assert_eq!(
        mail_to(&w, blind),
        BTreeMap::from([("acuse".into(), limit)])
    );
    assert_eq!(blind_got.len(), limit);
    assert_eq!(blind_sent, limit, "it answered each acknowledgement once");
    let log = d.log_text();
    assert_eq!(
        log_outcomes(&log, "rate_limited"),
        1,
        "its last mail was held"
    );
    for agent in AGENTS {
        let notices: Vec<InboundMail> = mail::inbox(w.mail.imap_port, agent)
            .await
            .into_iter()
            .filter(|m| m.subject.contains("demasiadas solicitudes"))
            .collect();
        assert_eq!(notices.len(), 1, "{agent}");
        assert!(notices[0].subject.contains(blind), "{}", notices[0].subject);
        assert!(
            notices[0].body_text.contains("#solicitante"),
            "{}",
            notices[0].body_text
        );
    }
    // Everything kept: nothing is left in the inbox and nothing was quarantined.
    let done = mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados").await;
    assert_eq!(done.len(), 3 + polite_sent + naive_sent + blind_sent);
}

// ---------------------------------------------------------------------------------------------
// Per-sender limit

async fn a_sender_over_the_hourly_limit_is_kept_without_ticket_and_agents_are_told_once(w: World) {
    let d = w.spawn_daemon();
    let eager = "muy.activo@example.test";
    for i in 1..=8 {
        mail::send(
            w.mail.smtp_port,
            &Draft::new(
                &format!("Usuario Activo <{eager}>"),
                &format!("Pedido {i}"),
                &format!("Solicitud número {i}."),
            ),
        )
        .await;
    }
    eventually(WAIT, "eight mails taken in", || async {
        let log = d.log_text();
        (log_outcomes(&log, "created") + log_outcomes(&log, "rate_limited") == 8
            && desk_idle(&w).await)
            .then_some(())
    })
    .await;
    // Five tickets (the limit), five acknowledgements; the other three kept without either.
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), 5, "{tickets:?}");
    assert_eq!(mail_to(&w, eager), BTreeMap::from([("acuse".into(), 5)]));
    assert_eq!(log_outcomes(&d.log_text(), "rate_limited"), 3);
    assert_eq!(
        mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados")
            .await
            .len(),
        8
    );
    // Agents are told once, not once per mail held.
    for agent in AGENTS {
        let notices = mail::wait_for(w.mail.imap_port, agent, WAIT, "limit notice", |m| {
            m.subject.contains("demasiadas solicitudes")
        })
        .await;
        assert!(notices.body_text.contains(eager), "{}", notices.body_text);
        // Postfix may deliver the eight in any order: the mail named is one that got no ticket.
        let held = notices
            .body_text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Asunto: "))
            .unwrap_or_else(|| panic!("no held subject in {}", notices.body_text))
            .to_string();
        assert!(held.starts_with("Pedido "), "{held}");
        assert!(
            !tickets.iter().any(|t| t["subject"] == held.as_str()),
            "{held} named as held but has a ticket: {tickets:?}"
        );
    }
    assert_eq!(mail_to(&w, AGENTS[0]).get("limite_remitente"), Some(&1));
    assert_eq!(
        lines_with(
            &d.log_text(),
            "sender over ingest.max_new_tickets_per_sender_per_hour"
        ),
        1
    );
    // Someone else is not held back, and an agent registering requests is not limited.
    let other = request_and_ack(&w, "otra.persona@example.test", "Pedido aparte").await;
    assert!(tag(&other).is_some());
    for i in 1..=6 {
        mail::send(
            w.mail.smtp_port,
            &Draft {
                // Our MTA vouches for the agent (a new mail has no token to answer).
                extra_headers: "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n",
                ..Draft::new(
                    "Laura Rojas <laura.rojas@example.test>",
                    &format!("Llamada {i}"),
                    &format!("#solicitante usuario{i}@example.test\nPide ayuda con su equipo."),
                )
            },
        )
        .await;
    }
    eventually(WAIT, "the agent's six requests registered", || async {
        (w.cli().tickets().len() == 12).then_some(())
    })
    .await;
    // The agent's name in a From that nobody vouches for is no agent: limited like anyone
    // (the six requests above count as hers), so none of these opens a ticket.
    for i in 1..=6 {
        mail::send(
            w.mail.smtp_port,
            &Draft::new(
                "Laura Rojas <laura.rojas@example.test>",
                &format!("Pedido falso {i}"),
                "Necesito ayuda con mi equipo.",
            ),
        )
        .await;
    }
    eventually(WAIT, "the forged agent held at the limit", || async {
        (lines_with(
            &d.log_text(),
            "sender over ingest.max_new_tickets_per_sender_per_hour",
        ) == 2)
            .then_some(())
    })
    .await;
    w.wait_idle(WAIT).await;
    assert_eq!(w.cli().tickets().len(), 12);
}

/// A newsletter as mass-mailing services send it: `List-Unsubscribe` (and its one-click POST),
/// but neither `List-Id` nor `Precedence`. Delivered over SMTP from the service's bounce
/// address, it is kept as bulk: no ticket, no acknowledgement, nothing queued to anyone.
async fn a_newsletter_with_only_list_unsubscribe_is_kept_as_bulk(w: World) {
    let d = w.spawn_daemon();
    let raw = std::fs::read(
        support::repo_root().join("tests/corpus/53-newsletter-list-unsubscribe-only.eml"),
    )
    .expect("corpus file");
    let sender = "noticias@example.test";
    mail::send_raw(
        w.mail.smtp_port,
        "bounce-mc.us21_5512.7731@example.test",
        HELPDESK,
        &raw,
    )
    .await;
    eventually(WAIT, "the newsletter taken in", || async {
        (log_outcomes(&d.log_text(), "auto") == 1 && desk_idle(&w).await).then_some(())
    })
    .await;
    let log = d.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("message ingested"))
        .expect("the ingest line");
    assert!(line.contains("kind=\"masivo\""), "kept as bulk: {line}");
    assert!(w.cli().tickets().is_empty(), "no ticket");
    assert!(outbox(&w).is_empty(), "nothing queued: {:?}", outbox(&w));
    assert!(mail::inbox(w.mail.imap_port, sender).await.is_empty());
    // Kept, not dropped.
    let done = mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados").await;
    assert_eq!(done.len(), 1);
    assert!(done[0].auto.list_unsubscribe.is_some());
}

fn lines_with(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// With the shipped catalogue and directory (agents to tell, services that ask for missing
/// information), and a limit of 5 new requests per sender and hour.
async fn world(kind: support::DbKind) -> Option<World> {
    World::with_procedure_and(
        kind,
        "[ingest]\nmax_new_tickets_per_sender_per_hour = 5\n\
         [security]\ntrusted_authserv_id = \"mx.example.test\"\n",
    )
    .await
}

on_both_databases!(setup = world;

    bounced_acknowledgements_are_kept_and_never_answered,
    a_bounce_storm_opens_nothing_and_answers_nobody,
    out_of_office_answering_each_of_our_mails_is_never_answered,
    two_help_desks_answering_each_other_converge,
    a_sender_over_the_hourly_limit_is_kept_without_ticket_and_agents_are_told_once,
    a_newsletter_with_only_list_unsubscribe_is_kept_as_bulk,
);
