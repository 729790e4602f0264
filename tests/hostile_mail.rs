//! Issue "Nothing lost, nothing twice, no loops": hostile and broken mail. The whole corpus in
//! `tests/corpus/` (plus a 20 MB attachment, a 10,000-line body, a 2,000-level nested multipart,
//! a mail of 20,000 parts and an oversized mail, made here) is put in the help desk's inbox at once. Each mail either
//! becomes a ticket with readable text or goes to the quarantine folder with a logged reason;
//! none crashes the daemon, none is lost, none blocks the mail behind it. And whatever a user
//! writes reaches tickets, logs and attachment names as plain, harmless text.

mod support;

use serde_json::Value;
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, DbKind, World, HELPDESK};

const MAX_MESSAGE_BYTES: usize = 30_000_000;

/// What ops and users see of a corpus mail once the daemon has read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A ticket with exactly this subject.
    Ticket(&'static str),
    /// Moved to `Procesados` without a ticket: automatic mail, or a second copy of one.
    NoTicket,
    /// Moved to `Cuarentena`, with a logged reason.
    Quarantine,
}
use Expect::*;

/// Every file of `tests/corpus/` with its outcome; a file missing here fails the test.
const CORPUS: &[(&str, Expect)] = &[
    (
        "01-outlook-multipart-alternative.eml",
        Ticket("Solicitud de instalación de software contable"),
    ),
    (
        "02-gmail-multipart-alternative.eml",
        Ticket("No puedo ingresar al correo desde el celular"),
    ),
    (
        "03-iso-8859-1-8bit-body.eml",
        Ticket("Configuración del escáner de la señora Nuñez"),
    ),
    (
        "04-windows-1252-qp.eml",
        Ticket("“Urgente” – revisión del contrato € 500"),
    ),
    (
        "05-8bit-no-charset.eml",
        Ticket("Sin charset: cañon proyector"),
    ),
    ("06-8bit-unknown-charset.eml", Ticket("Charset desconocido")),
    (
        "07-8bit-latin1-headers.eml",
        Ticket("Instalación de impresora en el piso 2"),
    ),
    (
        "08-8bit-utf8-headers.eml",
        Ticket("Contraseña bloqueada — urgente"),
    ),
    ("09-truncated-mime.eml", Ticket("Correo truncado")),
    (
        "10-multipart-no-boundary-param.eml",
        Ticket("Multipart sin boundary"),
    ),
    ("11-boundary-never-appears.eml", Ticket("Boundary ausente")),
    ("12-no-from.eml", Quarantine),
    ("13-no-message-id.eml", Ticket("Sin Message-ID")),
    (
        "14-duplicate-id-first.eml",
        Ticket("Primera solicitud con id repetido"),
    ),
    (
        "15-duplicate-id-second-different.eml",
        Ticket("Segunda solicitud con id repetido"),
    ),
    ("16-duplicate-id-first-redelivered.eml", NoTicket),
    ("17-nested-rfc822-forward.eml", Ticket("RV: Autorización")),
    ("18-zip-bomb-named-pdf.eml", Ticket("Factura escaneada")),
    (
        "19-path-traversal-filenames.eml",
        Ticket("Adjuntos con rutas"),
    ),
    (
        "20-html-script-remote-images.eml",
        Ticket("Pantallazo del error"),
    ),
    ("21-subject-10000-chars.eml", Ticket(LONG_SUBJECT_START)),
    ("22-crlf-lf-mix.eml", Ticket("Saltos de linea mezclados")),
    ("23-nul-bytes.eml", Ticket(NUL_SUBJECT)),
    ("24-base64-garbage.eml", Ticket("Base64 corrupto")),
    ("25-qp-soft-break-at-end.eml", Ticket("QP cortado")),
    (
        "26-calendar-invite.eml",
        Ticket("Soporte para comité directivo"),
    ),
    ("27-read-receipt-mdn.eml", NoTicket),
    ("28-dsn-bounce.eml", NoTicket),
    ("29-out-of-office.eml", NoTicket),
    (
        "30-script-subject-crlf.eml",
        Ticket("Falla <script>alert(1)</script> Bcc: victima@example.test fin"),
    ),
    ("31-binary-garbage.eml", Quarantine),
    ("32-headers-only.eml", Ticket("Solo encabezados")),
    ("33-from-not-an-address.eml", Quarantine),
    (
        "34-huge-references-header.eml",
        Ticket("Referencias enormes"),
    ),
    ("35-huge-message-id.eml", Ticket("Identificador gigante")),
    (
        "36-broken-encoded-words.eml",
        Ticket("Clave de wifiImpresora rota =?iso-8859-1?B?????==?="),
    ),
    (
        "37-rfc2231-latin1-filename.eml",
        Ticket("Cotización adjunta"),
    ),
    ("38-attachment-only.eml", Ticket("Pantallazo")),
    ("39-utf16-body.eml", Ticket("UTF-16")),
    (
        "40-bidi-filename-and-tnef.eml",
        Ticket("Archivos de Outlook"),
    ),
    ("41-mailing-list-bulk.eml", NoTicket),
    ("42-own-notification-loop.eml", NoTicket),
    ("43-html-deep-nesting.eml", Ticket("HTML anidado")),
    (
        "44-garbage-content-type-and-date.eml",
        Ticket("Tipo de contenido roto"),
    ),
    ("45-smtputf8-address.eml", Ticket("Dirección con tilde")),
    ("46-five-hundred-attachments.eml", Ticket("Muchos adjuntos")),
    (
        "47-outlook-related-inline-image.eml",
        Ticket("Error en SIIF con imagen"),
    ),
    ("48-empty-message.eml", Quarantine),
    (
        "49-control-chars-in-headers.eml",
        Ticket("Escape y retroceso"),
    ),
    ("50-latin1-mislabelled-utf8.eml", Ticket("Mal etiquetado")),
    (
        "51-nested-message-breaks-parser-state.eml",
        Ticket("RV: nAutorización"),
    ),
    ("52-html-hidden-text.eml", Ticket("Texto oculto en HTML")),
    ("53-newsletter-list-unsubscribe-only.eml", NoTicket),
    ("54-abuse-feedback-report.eml", NoTicket),
];

/// The first 500 characters of the 10,000-character subject (a ticket's subject is bounded).
const LONG_SUBJECT_START: &str = "@long";
/// Dovecot serves a NUL byte as 0x80 (its "no NULs" stream), which the header line then reads as
/// windows-1252; either way no NUL reaches the ticket.
const NUL_SUBJECT: &str = "@nul";

fn subject_matches(expected: &str, subject: &str) -> bool {
    match expected {
        LONG_SUBJECT_START => {
            subject.starts_with("impresora impresora") && subject.chars().count() == 500
        }
        NUL_SUBJECT => subject == "NUL en el asunto" || subject == "NUL€ en el asunto",
        _ => subject == expected,
    }
}

/// The big mails, made here rather than committed.
fn generated() -> Vec<(String, Vec<u8>, Expect)> {
    use base64::Engine;
    let head = |subject: &str, id: &str, ct: &str| {
        format!(
            "From: Gran Remitente <grande@example.test>\r\nTo: {HELPDESK}\r\nSubject: {subject}\r\n\
Message-ID: <{id}@generated.example.test>\r\nMIME-Version: 1.0\r\nContent-Type: {ct}\r\n\r\n"
        )
    };
    // 20 MB that do not compress, as a real backup or video would be.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let blob: Vec<u8> = (0..20 * 1024 * 1024 / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let mut big = head(
        "Adjunto de 20 MB",
        "big-attachment",
        "multipart/mixed; boundary=\"B\"",
    )
    .into_bytes();
    big.extend_from_slice(
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEnv\xc3\xado el respaldo.\r\n\
--B\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"respaldo.bak\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    for line in b64.as_bytes().chunks(76) {
        big.extend_from_slice(line);
        big.extend_from_slice(b"\r\n");
    }
    big.extend_from_slice(b"--B--\r\n");

    let mut lines = head(
        "Registro de 10000 lineas",
        "ten-thousand-lines",
        "text/plain; charset=utf-8",
    );
    for i in 0..10_000 {
        lines.push_str(&format!(
            "Línea {i:05} del registro de errores del servidor.\r\n"
        ));
    }

    let mut nested = head(
        "Multipart anidado 2000 niveles",
        "nested-2000",
        "multipart/mixed; boundary=\"b0\"",
    );
    for i in 0..2000 {
        nested.push_str(&format!(
            "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
            i + 1
        ));
    }
    nested.push_str("--b2000\r\nContent-Type: text/plain\r\n\r\nTexto en el fondo.\r\n");
    for i in (0..=2000).rev() {
        nested.push_str(&format!("--b{i}--\r\n"));
    }

    let mut oversized = head(
        "Correo demasiado grande",
        "oversized",
        "text/plain; charset=utf-8",
    )
    .into_bytes();
    let line = b"Este correo supera el limite de ingest.max_message_bytes del servicio.\r\n";
    while oversized.len() <= MAX_MESSAGE_BYTES {
        oversized.extend_from_slice(line);
    }
    // Each part would cost the parser memory: 20,000 of them are refused, not parsed.
    let mut parts = head(
        "Veinte mil partes",
        "twenty-thousand-parts",
        "multipart/mixed; boundary=\"p\"",
    );
    parts.push_str(&"--p\r\n\r\nx\r\n".repeat(20_000));
    parts.push_str("--p--\r\n");
    vec![
        (
            "generated: 20,000 MIME parts".into(),
            parts.into_bytes(),
            Quarantine,
        ),
        (
            "generated: 20 MB attachment".into(),
            big,
            Ticket("Adjunto de 20 MB"),
        ),
        (
            "generated: 10,000-line body".into(),
            lines.into_bytes(),
            Ticket("Registro de 10000 lineas"),
        ),
        (
            "generated: 2,000-level nested multipart".into(),
            nested.into_bytes(),
            Ticket("Multipart anidado 2000 niveles"),
        ),
        ("generated: oversized".into(), oversized, Quarantine),
    ]
}

fn corpus() -> Vec<(String, Vec<u8>, Expect)> {
    let dir = support::repo_root().join("tests/corpus");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = CORPUS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        on_disk, listed,
        "every corpus file needs an expected outcome in CORPUS"
    );
    let mut all: Vec<_> = CORPUS
        .iter()
        .map(|(name, expect)| {
            let raw = std::fs::read(dir.join(name)).expect("corpus file");
            (name.to_string(), raw, *expect)
        })
        .collect();
    all.extend(generated());
    all
}

impl World {
    /// A smaller size limit, so an oversized mail need not be 40 MB; and no incident patterns,
    /// so every request a person wrote becomes a ticket whatever words it uses (routing to the
    /// incident process is tested with the procedure, not here).
    async fn hostile(kind: DbKind) -> Option<World> {
        World::with_extra_config(
            kind,
            &format!(
                "[ingest]\nmax_message_bytes = {MAX_MESSAGE_BYTES}\n\n[incidents]\npatterns = []\n"
            ),
        )
        .await
    }
}

/// How many messages a folder of the help desk holds, as any IMAP client shows it.
async fn count(imap_port: u16, folder: &str) -> u32 {
    let mut s = mail::login(imap_port, HELPDESK).await;
    let n = s.examine(folder).await.map(|m| m.exists).unwrap_or(0);
    let _ = s.logout().await;
    n
}

fn ack_tag(m: &mesayuda::mail::inbound::InboundMail) -> Option<String> {
    mesayuda::domain::text::find_ticket_ref(&m.subject).map(|r| r.to_string())
}

/// Text a person can read: no replacement characters (mis-decoded bytes), no control
/// characters but line breaks and tabs, no carriage returns.
fn assert_readable(what: &str, s: &str) {
    assert!(!s.contains('\u{FFFD}'), "{what} has undecoded bytes: {s:?}");
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} has control characters: {s:?}"
    );
}

/// Attachment rows as ops would list them with sqlite3 or psql.
async fn attachments(w: &World) -> Vec<(String, i64, Vec<u8>)> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&w.db.url)
        .await
        .expect("database");
    sqlx::query("SELECT filename, size, content FROM attachments ORDER BY id")
        .fetch_all(&mut c)
        .await
        .expect("attachments")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn whole_corpus_is_ticketed_or_quarantined_and_nothing_blocks(w: World) {
    let corpus = corpus();
    let total = corpus.len() as u32;
    let expected_quarantine = corpus.iter().filter(|(_, _, e)| *e == Quarantine).count() as u32;
    let mut s = mail::login(w.mail.imap_port, HELPDESK).await;
    for (name, raw, _) in &corpus {
        s.append("INBOX", None, None, raw)
            .await
            .unwrap_or_else(|e| panic!("APPEND {name}: {e}"));
    }
    let _ = s.logout().await;
    assert_eq!(count(w.mail.imap_port, "INBOX").await, total);

    let started = std::time::Instant::now();
    let mut d = w.spawn_daemon();
    // A normal request arriving behind the whole corpus is still answered.
    let ana = "ana.normal@example.test";
    let id = mail::send(
        w.mail.smtp_port,
        &Draft::new(
            "Ana <ana.normal@example.test>",
            "Cambio de clave",
            "No recuerdo mi clave.",
        ),
    )
    .await;
    let ack = mail::wait_for(
        w.mail.imap_port,
        ana,
        // Generous: the corpus holds a 20 MB attachment and a 20,000-part mail, and a test
        // machine running four suites at once (load 20 seen) needs over a minute for them.
        // Waiting longer costs nothing when the desk is quick.
        Duration::from_secs(150),
        "acknowledgement of the request sent after the corpus",
        |m| ack_tag(m).is_some(),
    )
    .await;
    assert_eq!(ack.in_reply_to, vec![id]);

    let (processed, quarantined) = eventually(
        Duration::from_secs(150),
        "inbox emptied into Procesados and Cuarentena",
        || async {
            let inbox = count(w.mail.imap_port, "INBOX").await;
            let p = count(w.mail.imap_port, "Procesados").await;
            let q = count(w.mail.imap_port, "Cuarentena").await;
            (inbox == 0 && p + q == total + 1).then_some((p, q))
        },
    )
    .await;
    eprintln!(
        "corpus of {total}: {} processed, {quarantined} quarantined, in {:?}",
        processed - 1,
        started.elapsed()
    );
    assert_eq!(quarantined, expected_quarantine, "quarantined");
    assert_eq!(processed, total - expected_quarantine + 1, "processed");

    assert!(d.is_running(), "the daemon died:\n{}", d.log_text());
    let log = d.log_text();
    assert!(!log.contains("panicked"), "{log}");
    // A retried transaction may log a reason twice; count the mails (UIDs) with one.
    let with_reason: std::collections::BTreeSet<&str> = log
        .lines()
        .filter(|l| l.contains("message quarantined") && l.contains("reason="))
        .filter_map(|l| l.split("uid=").nth(1)?.split(['}', ' ', ':']).next())
        .collect();
    assert_eq!(
        with_reason.len() as u32,
        expected_quarantine,
        "one logged reason per quarantined mail: {with_reason:?}"
    );
    // Nothing a user wrote forged a log line or reached the terminal.
    assert!(!log.contains('\u{1b}'), "escape sequence in the log");
    assert!(!log.lines().any(|l| l.starts_with("Bcc:")));

    // Tickets: exactly the expected ones, each with readable text.
    let tickets = w.cli().tickets();
    let wanted: Vec<(&str, &str)> = corpus
        .iter()
        .filter_map(|(name, _, e)| match e {
            Ticket(s) => Some((name.as_str(), *s)),
            _ => None,
        })
        .collect();
    let mut by_file: BTreeMap<&str, Value> = BTreeMap::new();
    for (name, subject) in &wanted {
        let t = tickets
            .iter()
            .find(|t| subject_matches(subject, t["subject"].as_str().unwrap_or("")))
            .unwrap_or_else(|| {
                let subjects: Vec<&str> = tickets
                    .iter()
                    .filter_map(|t| t["subject"].as_str())
                    .collect();
                panic!("no ticket for {name} ({subject:?}); tickets: {subjects:#?}")
            });
        by_file.insert(name, w.cli().ticket(t["id"].as_str().unwrap()));
    }
    assert_eq!(
        tickets.len(),
        wanted.len() + 1,
        "one ticket per request mail plus the normal one"
    );
    for (name, t) in &by_file {
        assert_readable(
            &format!("{name} ticket subject"),
            t["subject"].as_str().unwrap(),
        );
        let first = &t["messages"][0];
        assert_eq!(first["direction"], "in", "{name}");
        assert_readable(
            &format!("{name} subject"),
            first["subject"].as_str().unwrap(),
        );
        assert_readable(
            &format!("{name} body"),
            first["body_text"].as_str().unwrap(),
        );
    }
    let body = |name: &str| {
        by_file[name]["messages"][0]["body_text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let has = |name: &str, text: &str| {
        let b = body(name);
        assert!(b.contains(text), "{name}: {text:?} not in {b:?}");
    };
    has(
        "01-outlook-multipart-alternative.eml",
        "Solicito la instalación del software contable",
    );
    has(
        "02-gmail-multipart-alternative.eml",
        "\"contraseña incorrecta\"",
    );
    has(
        "03-iso-8859-1-8bit-body.eml",
        "La señora Nuñez lo necesita mañana.",
    );
    has(
        "04-windows-1252-qp.eml",
        "muestra “error 500” al generar el reporte de € del año.",
    );
    has(
        "05-8bit-no-charset.eml",
        "El cañón proyector del salón 3 no enciende desde el miércoles.",
    );
    has(
        "06-8bit-unknown-charset.eml",
        "Tesorería, por favor. Señal débil.",
    );
    has(
        "10-multipart-no-boundary-param.eml",
        "No funciona el teléfono IP de la extensión 4521.",
    );
    has("11-boundary-never-appears.eml", "Solicito cambio de mouse");
    has(
        "15-duplicate-id-second-different.eml",
        "Necesito acceso al SIIF Nación.",
    );
    has("14-duplicate-id-first.eml", "Necesito licencia de Office.");
    has("20-html-script-remote-images.eml", "pantalla en blanco");
    let html = body("20-html-script-remote-images.eml");
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("document.cookie"), "{html}");
    assert!(
        !html.contains("<img") && !html.contains("<iframe"),
        "{html}"
    );
    has("22-crlf-lf-mix.eml", "tercera");
    has("23-nul-bytes.eml", "tiene bytes nulos");
    has("24-base64-garbage.eml", "El teclado no funciona.");
    has("25-qp-soft-break-at-end.eml", "después de unos minutos");
    has(
        "39-utf16-body.eml",
        "Solicito el cambio de contraseña del dominio.",
    );
    has("43-html-deep-nesting.eml", "Texto profundo");
    // What the reader's client hides is not part of the request.
    has(
        "52-html-hidden-text.eml",
        "El monitor de la oficina 204 parpadea y se apaga.",
    );
    let hidden = body("52-html-hidden-text.eml");
    assert!(
        !hidden.contains("OCULTO") && !hidden.contains("APROBAR") && !hidden.contains("#cerrar"),
        "{hidden}"
    );
    has("49-control-chars-in-headers.eml", "secuencias de escape");
    has(
        "50-latin1-mislabelled-utf8.eml",
        "La conexión a internet está muy lenta en el área de nómina.",
    );
    let long = body("generated: 10,000-line body");
    assert_eq!(long.lines().count(), 10_000);
    has(
        "generated: 2,000-level nested multipart",
        "Texto en el fondo.",
    );
    let nested = &by_file["generated: 2,000-level nested multipart"];
    assert_eq!(nested["messages"][0]["direction"], "in");

    // Attachments: stored whole, never unpacked, under safe names.
    let atts = attachments(&w).await;
    for (name, _, _) in &atts {
        assert!(
            !name.is_empty()
                && !name.contains(['/', '\\'])
                && !name.contains("..")
                && !name.starts_with('.')
                && !name.chars().any(|c| c.is_control()),
            "unsafe attachment name {name:?}"
        );
    }
    let names: Vec<&str> = atts.iter().map(|(n, _, _)| n.as_str()).collect();
    for safe in [
        "passwd",
        "SAM",
        "authorized_keys",
        "boot.ini",
        "bashrc",
        "Cotización año 2025.pdf",
        "facturafdp.exe",
        "autorizacion.eml",
    ] {
        assert!(names.contains(&safe), "{safe:?} not among {names:?}");
    }
    let (_, size, content) = atts
        .iter()
        .find(|(n, _, _)| n == "factura.pdf")
        .expect("zip bomb kept as factura.pdf");
    assert!(
        content.starts_with(b"PK\x03\x04") && *size < 100_000 && *size as usize == content.len(),
        "the zip bomb was stored as sent ({size} bytes), not unpacked"
    );
    let (_, size, _) = atts
        .iter()
        .find(|(n, _, _)| n == "respaldo.bak")
        .expect("20 MB attachment");
    assert_eq!(*size, 20 * 1024 * 1024);
    assert_eq!(
        names.iter().filter(|n| n.starts_with("parte")).count(),
        500,
        "all 500 small attachments"
    );
    // The CR/LF in a subject smuggled no header into the acknowledgement.
    assert!(mail::inbox(w.mail.imap_port, "victima@example.test")
        .await
        .is_empty());
}

/// Part 3 of the issue: a subject with `<script>` and CR/LF, and an attachment called
/// `../../etc/passwd`, as a user would send them.
async fn script_subject_and_path_attachment_stay_plain_text(w: World) {
    let mut d = w.spawn_daemon();
    let raw = "From: Tomás <tomas@example.test>\r\nTo: mesayuda@example.test\r\n\
Subject: =?UTF-8?Q?<script>alert(1)</script>=0D=0ABcc:_victima@example.test=0D=0A=0D=0A?=\r\n \
=?UTF-8?Q?Impresora_da=C3=B1ada=1B[2J?=\r\n\
Message-ID: <injection@client.example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLa impresora no imprime.\r\n\
--x\r\nContent-Type: text/plain; name=\"../../etc/passwd\"\r\n\
Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot:x:0:0:root:/root:/bin/bash\r\n\
--x--\r\n";
    mail::send_raw(
        w.mail.smtp_port,
        "tomas@example.test",
        HELPDESK,
        raw.as_bytes(),
    )
    .await;
    let ack = mail::wait_for(
        w.mail.imap_port,
        "tomas@example.test",
        Duration::from_secs(20),
        "acknowledgement",
        |m| ack_tag(m).is_some(),
    )
    .await;
    let tag = ack_tag(&ack).unwrap();
    let plain = "<script>alert(1)</script> Bcc: victima@example.test Impresora dañada";
    let t = w.cli().ticket(&tag);
    assert_eq!(t["subject"], plain);
    assert_eq!(t["messages"][0]["subject"], plain);
    assert_eq!(t["messages"][0]["body_text"], "La impresora no imprime.");
    // The user's own acknowledgement carries the text as text, on one line, and nobody else
    // was mailed through the smuggled header.
    assert!(ack.subject.contains(plain), "{}", ack.subject);
    assert!(mail::inbox(w.mail.imap_port, "victima@example.test")
        .await
        .is_empty());
    let atts = attachments(&w).await;
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].0, "passwd");
    assert_eq!(atts[0].2, b"root:x:0:0:root:/root:/bin/bash");
    // Agents see it in `tickets show --json` under its safe name, with size and digest.
    let listed = t["attachments"].as_array().expect("attachments array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["filename"], "passwd");
    assert_eq!(listed[0]["size"], 31);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        b"root:x:0:0:root:/root:/bin/bash",
    ));
    assert_eq!(listed[0]["sha256"], digest.as_str());
    let log = d.log_text();
    assert!(!log.contains('\u{1b}'), "escape sequence in the log");
    assert!(!log.lines().any(|l| l.starts_with("Bcc:")), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(d.is_running());
}

/// Issue 13, item 2: messages waiting together are taken in in one transaction; an
/// unreadable one among them is quarantined and the others are answered as if alone.
async fn a_bad_message_inside_a_batch_is_quarantined_and_the_others_answered(w: World) {
    let first = Draft::new(
        "Rosa <rosa.lote@example.test>",
        "Clave bloqueada",
        "Mi clave quedó bloqueada.",
    );
    let last = Draft::new(
        "Iván <ivan.lote@example.test>",
        "Impresora sin tóner",
        "La impresora del piso 3 no tiene tóner.",
    );
    // No sender at all: nobody to answer, so it is quarantined.
    let bad = b"To: mesayuda@example.test\r\nSubject: sin remitente\r\n\
Message-ID: <sin-remitente@lote.example.test>\r\n\r\nNadie firma esto.\r\n";
    for raw in [first.render().1, bad.to_vec(), last.render().1] {
        mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    }
    let d = w.spawn_daemon();
    for who in ["rosa.lote@example.test", "ivan.lote@example.test"] {
        mail::wait_for(
            w.mail.imap_port,
            who,
            Duration::from_secs(30),
            "acknowledgement",
            |m| ack_tag(m).is_some(),
        )
        .await;
    }
    eventually(
        Duration::from_secs(30),
        "inbox emptied into Procesados and Cuarentena",
        || async {
            let inbox = count(w.mail.imap_port, "INBOX").await;
            let p = count(w.mail.imap_port, "Procesados").await;
            let q = count(w.mail.imap_port, "Cuarentena").await;
            (inbox == 0 && p == 2 && q == 1).then_some(())
        },
    )
    .await;
    assert_eq!(w.cli().tickets().len(), 2);
    let log = d.log_text();
    assert!(
        log.contains("messages taken in together count=3"),
        "the three were not taken in together:\n{log}"
    );
}

/// A status the procedure does not know cannot be stored (the database's `CHECK` refuses it,
/// as bad data); a stored value the code cannot read (here the fields, edited by hand) is never
/// replaced by a default and written back: a reply to that ticket is quarantined with its
/// reason, the row keeps its value, and the mail behind it is answered.
async fn an_unreadable_stored_value_is_left_alone_and_its_reply_quarantined(w: World) {
    let mut d = w.spawn_daemon();
    let ana = "Ana <ana.estado@example.test>";
    mail::send(
        w.mail.smtp_port,
        &Draft::new(ana, "Clave bloqueada", "Mi clave quedó bloqueada."),
    )
    .await;
    let ack = mail::wait_for(
        w.mail.imap_port,
        "ana.estado@example.test",
        Duration::from_secs(30),
        "acknowledgement",
        |m| ack_tag(m).is_some(),
    )
    .await;
    let id = ack_tag(&ack).unwrap();
    let n: i64 = id.trim_start_matches("REQ-").parse().unwrap();
    let db = mesayuda::store::Db::connect(&w.db.url, 1).await.unwrap();
    let refused = sqlx::query("UPDATE tickets SET status = 'en_revision_externa' WHERE id = $1")
        .bind(n)
        .execute(&db.pool)
        .await
        .expect_err("a status outside the CHECK");
    assert!(mesayuda::store::is_data_error(&refused), "{refused:?}");
    sqlx::query("UPDATE tickets SET fields_json = 'editado a mano' WHERE id = $1")
        .bind(n)
        .execute(&db.pool)
        .await
        .unwrap();
    mail::reply(w.mail.smtp_port, ana, &ack, "¿Alguna novedad?").await;
    eventually(Duration::from_secs(30), "the reply quarantined", || async {
        (count(w.mail.imap_port, "Cuarentena").await == 1).then_some(())
    })
    .await;
    let (status, fields): (String, String) =
        sqlx::query_as("SELECT status, fields_json FROM tickets WHERE id = $1")
            .bind(n)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "registrado");
    assert_eq!(fields, "editado a mano");
    assert!(
        d.log_text().contains(&format!("ticket {id}: fields_json:")),
        "{}",
        d.log_text()
    );
    // The daemon goes on: the next request is answered.
    mail::send(
        w.mail.smtp_port,
        &Draft::new("Iván <ivan.estado@example.test>", "Impresora", "Sin tóner."),
    )
    .await;
    mail::wait_for(
        w.mail.imap_port,
        "ivan.estado@example.test",
        Duration::from_secs(30),
        "acknowledgement",
        |m| ack_tag(m).is_some(),
    )
    .await;
    assert!(d.is_running());
}

on_both_databases!(hostile;
    whole_corpus_is_ticketed_or_quarantined_and_nothing_blocks,
    script_subject_and_path_attachment_stay_plain_text,
    a_bad_message_inside_a_batch_is_quarantined_and_the_others_answered,
    an_unreadable_stored_value_is_left_alone_and_its_reply_quarantined,
);
