use super::*;

#[test]
fn latin1_body_and_encoded_subject_read_as_spanish() {
    let mut raw = b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <Jose@Example.Test>\r\n\
To: mesayuda@example.test\r\n\
Subject: =?ISO-8859-1?Q?Instalaci=F3n_de_impresora?=\r\n\
Message-ID: <a1@example.test>\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(b"Necesito instalaci\xf3n en el sal\xf3n de reuniones, a\xf1o 2026.\r\n");
    let m = parse(&raw).unwrap();
    assert_eq!(m.subject, "Instalación de impresora");
    assert_eq!(m.from.as_ref().unwrap().email, "jose@example.test");
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("José Pérez"));
    assert_eq!(
        m.body_text,
        "Necesito instalación en el salón de reuniones, año 2026."
    );
    assert_eq!(m.message_id, "a1@example.test");
}

#[test]
fn html_only_mail_becomes_readable_text_with_links() {
    let raw = "From: ana@example.test\r\nSubject: Correo\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Buenos d&iacute;as,</p><p>no puedo abrir <a href=\"https://intranet/x\">la intranet</a>.</p></body></html>";
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.body_text.contains("Buenos días"), "{}", m.body_text);
    assert!(
        m.body_text.contains("https://intranet/x"),
        "{}",
        m.body_text
    );
    assert!(m.body_html.is_some());
}

/// Issue 11 item 6: an HTML-only answer is read as its reader saw it.
#[test]
fn html_only_approval_answer_reads_without_hidden_elements() {
    use crate::domain::text::{parse_answer, ApprovalAnswer};
    let raw = "From: Luisa Martinez <luisa.martinez@example.test>\r\n\
To: mesayuda+tok@example.test\r\nSubject: RE: [REQ-7] Solicitud de aprobación [APR:abc]\r\n\
Message-ID: <hidden-approve@example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<html><head><style>p{margin:0}</style><title>APROBAR</title></head><body>\r\n\
<div style=3D\"display:none\"><div><p>APROBAR</p></div></div>\r\n\
<span style=3D\"font-size:0px\">APROBAR</span>\r\n\
<p>RECHAZAR</p><p>No corresponde a su cargo.</p>\r\n\
<div id=3D\"divRplyFwdMsg\"><b>De:</b> Mesa de Ayuda &lt;mesayuda@example.test&gt;<br>\r\n\
<b>Enviado:</b> lunes, 3 de marzo de 2025 10:15<br><b>Para:</b> Luisa<br>\r\n\
<b>Asunto:</b> [REQ-7] Solicitud de aprobaci=C3=B3n</div>\r\n\
<div>Responda APROBAR o RECHAZAR.</div></body></html>\r\n";
    let m = parse(raw.as_bytes()).unwrap();
    assert!(
        m.body_text.trim_start().starts_with("RECHAZAR"),
        "{}",
        m.body_text
    );
    assert_eq!(
        parse_answer(&m.body_text),
        ApprovalAnswer::Reject {
            reason: "No corresponde a su cargo.".into()
        }
    );
    // The stored HTML is the mail as received.
    assert!(m.body_html.unwrap().contains("display:none"));
}

#[test]
fn corpus_html_with_hidden_text_reads_only_what_is_shown() {
    let raw = include_bytes!("../../../tests/corpus/52-html-hidden-text.eml");
    let m = parse(raw).unwrap();
    assert_eq!(
        m.body_text,
        "El monitor de la oficina 204 parpadea y se apaga.\n\nGracias,\nJulián"
    );
}

#[test]
fn missing_message_id_is_stable_for_the_same_bytes() {
    let raw = b"From: a@example.test\r\nSubject: x\r\n\r\nhola";
    assert_eq!(
        parse(raw).unwrap().message_id,
        parse(raw).unwrap().message_id
    );
    assert!(parse(raw)
        .unwrap()
        .message_id
        .ends_with("@mesayuda.invalid"));
}

#[test]
fn missing_message_id_survives_a_second_delivery() {
    let body =
        b"From: a@example.test\r\nDate: Tue, 4 Mar 2025 08:00:00 -0500\r\nSubject: x\r\n\r\nhola";
    let mut again = b"Received: from relay2 by mx; Tue, 4 Mar 2025 08:01:00 -0500\r\n".to_vec();
    again.extend_from_slice(body);
    assert_eq!(
        parse(body).unwrap().message_id,
        parse(&again).unwrap().message_id
    );
    let other =
        b"From: a@example.test\r\nDate: Tue, 4 Mar 2025 08:00:00 -0500\r\nSubject: x\r\n\r\nchao";
    assert_ne!(
        parse(body).unwrap().message_id,
        parse(other).unwrap().message_id
    );
}

#[test]
fn no_sender_and_garbage_are_unreadable_not_panics() {
    assert_eq!(
        parse(b"Subject: x\r\n\r\nhola").unwrap_err(),
        Unreadable::NoSender
    );
    assert!(parse(b"").is_err());
    assert!(parse(&[0xff; 300]).is_err());
    assert_eq!(
        parse(b"From: Sistemas\r\n\r\nhola").unwrap_err(),
        Unreadable::NoSender
    );
}

#[test]
fn mail_of_too_many_parts_is_unreadable() {
    let mut raw =
        b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..=MAX_MIME_PARTS {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    assert!(matches!(parse(&raw), Err(Unreadable::TooManyParts(_))));
    let sql =
        "From: a@example.test\r\n\r\n".to_owned() + &"-- comentario de SQL\r\n".repeat(20_000);
    assert!(parse(sql.as_bytes()).is_ok());
}

#[test]
fn threading_headers_lose_their_brackets() {
    let raw = b"From: a@example.test\r\nIn-Reply-To: <x@y>\r\nReferences: <r1@y> <x@y>\r\nThread-Index: AQHZ\r\n\r\nhola";
    let m = parse(raw).unwrap();
    assert_eq!(m.in_reply_to, vec!["x@y"]);
    assert_eq!(m.references, vec!["r1@y", "x@y"]);
    assert_eq!(m.thread_index.as_deref(), Some("AQHZ"));
}

#[test]
fn eight_bit_text_without_a_usable_charset_is_read_as_windows_1252() {
    for ct in [
        "",
        "Content-Type: text/plain\r\n",
        "Content-Type: text/plain; charset=x-desconocido\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
    ] {
        let mut raw = format!("From: a@example.test\r\nSubject: x\r\n{ct}\r\n").into_bytes();
        raw.extend_from_slice(b"El ca\xf1\xf3n del sal\xf3n \x93no\x94 enciende.\r\n");
        assert_eq!(
            parse(&raw).unwrap().body_text,
            "El cañón del salón “no” enciende.",
            "{ct:?}"
        );
    }
    let qp = b"From: a@example.test\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSe=F1al d=E9bil";
    assert_eq!(parse(qp).unwrap().body_text, "Señal débil");
}

#[test]
fn raw_eight_bit_headers_are_read_as_windows_1252() {
    let raw = b"From: Jos\xe9 Mu\xf1oz <jm@example.test>\r\nSubject: Instalaci\xf3n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhola";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject, "Instalación");
    assert_eq!(m.from.unwrap().name.as_deref(), Some("José Muñoz"));
    let utf8 = "From: Ángela <a@example.test>\r\nSubject: Contraseña\r\n\r\nhola";
    assert_eq!(parse(utf8.as_bytes()).unwrap().subject, "Contraseña");
}

#[test]
fn subject_is_one_clean_line() {
    let raw = b"From: a@example.test\r\nSubject: =?UTF-8?Q?Falla_<script>alert(1)</script>=0D=0ABcc:_x@y=0D=0A=00fin?=\r\n\r\nhola";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject, "Falla <script>alert(1)</script> Bcc: x@y fin");
    let esc = b"From: G \x1b[31mRoja\x1b[0m <g@example.test>\r\nSubject: Escape \x1b]0;titulo\x07 y \x08fin\r\n\r\nTexto \x1b[2J\x00con\r\rlineas";
    let m = parse(esc).unwrap();
    assert_eq!(m.subject, "Escape y fin");
    assert_eq!(m.from.unwrap().name.as_deref(), Some("G Roja"));
    assert_eq!(m.body_text, "Texto con\n\nlineas");
}

#[test]
fn multipart_without_usable_boundary_is_still_read() {
    let no_param = b"From: a@example.test\r\nContent-Type: multipart/mixed\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nNo funciona el tel\xc3\xa9fono.\r\n--xyz--\r\n";
    assert_eq!(
        parse(no_param).unwrap().body_text,
        "No funciona el teléfono."
    );
    let never = b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\nTexto sin partes.\r\n";
    assert_eq!(parse(never).unwrap().body_text, "Texto sin partes.");
}

#[test]
fn base64_with_garbage_keeps_the_readable_lines() {
    let raw = b"From: a@example.test\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nRWwgdGVjbGFkbyBubyBmdW5jaW9uYS4=\r\n!!!@@@\r\nIERlc3B1w6lz\r\n";
    assert_eq!(
        parse(raw).unwrap().body_text,
        "El teclado no funciona. Después"
    );
}

#[test]
fn html_is_text_without_script_even_when_deeply_nested() {
    let html = format!(
        "From: a@example.test\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>{}Texto &aacute;rbol{}<style>p{{}}</style>",
        "<div>".repeat(5000),
        "</div>".repeat(5000)
    );
    // No time is asserted (timings belong in benchmarks); a quadratic reader would hang here.
    let m = parse(html.as_bytes()).unwrap();
    assert_eq!(m.body_text, "Texto árbol");
    let unclosed = format!(
        "From: a@example.test\r\nContent-Type: text/html\r\n\r\nHola {}",
        "<a".repeat(200_000)
    );
    assert!(parse(unclosed.as_bytes())
        .unwrap()
        .body_text
        .starts_with("Hola"));
    let self_closing = format!(
        "From: a@example.test\r\nContent-Type: text/html\r\n\r\n{}<p>Texto</p>",
        "<span/>".repeat(300)
    );
    assert_eq!(parse(self_closing.as_bytes()).unwrap().body_text, "Texto");
    let flat = "From: a@example.test\r\nContent-Type: text/html\r\n\r\n<p>Hola</p><script>alert(1)</script><img src=\"https://t.example/x.gif\">";
    let m = parse(flat.as_bytes()).unwrap();
    assert!(
        m.body_text.contains("Hola") && !m.body_text.contains("alert"),
        "{}",
        m.body_text
    );
}

#[test]
fn attachment_names_are_safe_and_default_names_have_extensions() {
    let raw = b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhola\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n\
--b\r\nContent-Type: text/calendar\r\nContent-Disposition: attachment\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n";
    let m = parse(raw).unwrap();
    let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, ["passwd", "adjunto-2.ics"]);
}

#[test]
fn huge_identifiers_are_bounded_consistently() {
    let long = "x".repeat(5000);
    let raw = format!(
        "From: a@example.test\r\nMessage-ID: <{long}@y>\r\nReferences: <{long}@y>\r\n\r\nhola"
    );
    let m = parse(raw.as_bytes()).unwrap();
    assert!(m.message_id.len() <= MAX_ID_BYTES);
    assert_eq!(m.references, vec![m.message_id.clone()]);
}

#[test]
fn reused_message_id_gets_a_stable_derived_id() {
    let a =
        parse(b"From: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: uno\r\n\r\nhola").unwrap();
    let b =
        parse(b"From: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: dos\r\n\r\nhola").unwrap();
    let a2 = parse(
        b"Received: by mx\r\nFrom: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: uno\r\n\r\nhola",
    )
    .unwrap();
    assert!(a.same_content(&a2));
    assert!(!a.same_content(&b));
    assert_ne!(b.derived_message_id(), a.message_id);
    assert_eq!(b.derived_message_id(), b.derived_message_id());
    assert!(b.derived_message_id().starts_with("r.dup-") && b.derived_message_id().ends_with("@x"));
}
