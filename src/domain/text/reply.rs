//! Separating what the author of a reply wrote from the quoted conversation
//! and the signature their client appended.

use std::sync::LazyLock;

use regex::Regex;

use super::normalize::{fold, lines};

// Gmail / Apple Mail quote headers, matched on folded text:
// "On Mon, 3 Mar 2025, Juan <j@x> wrote:", "El lun, 3 mar 2025 a las 10:15,
// Juan (<j@x>) escribió:", plus Portuguese, French and German forms.
static ATTRIBUTION_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:on|el|em|le|am)\b").unwrap());
static ATTRIBUTION_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\b(?:wrote|escribio|escreveu|a ecrit)\s*:|\bschrieb\b.*:)$").unwrap()
});
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^-{2,}\s*(?:original message|mensaje original|mensagem original|message d'origine|forwarded message|mensaje reenviado|mensagem encaminhada)\s*-{2,}$|^(?:begin forwarded message|inicio del mensaje reenviado)\s*:$",
    )
    .unwrap()
});
// Outlook's header block ("De:", "Enviado:", "Para:", "Asunto:" …).
static HEADER_FROM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:de|from)\s*:").unwrap());
// "Enviado:" is Outlook's own; "Fecha:" also heads memo-style requests
// ("De: / Para: / Fecha: / Asunto:"), so it counts only after an address.
static HEADER_SENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:enviado(?: el)?|sent)\s*:").unwrap());
static HEADER_DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:fecha|date)\s*:").unwrap());
static HEADER_ANY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:de|from|enviado(?: el)?|sent|fecha|date|para|to|cc|asunto|subject)\s*:")
        .unwrap()
});
// A whole header block flattened onto one line by an HTML-to-text conversion.
static INLINE_HEADERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:de|from)\s*:.*\b(?:enviado(?: el)?|sent)\s*:").unwrap());
static MOBILE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:enviado desde|sent from|obtener outlook para|descargar outlook para|get outlook for)\b",
    )
    .unwrap()
});

// Longest line (in chars) still taken for a client-added header or signature:
// a longer line is prose the author wrote.
const MAX_HEADER_CHARS: usize = 400;
const MAX_SIGNATURE_WORDS: usize = 8;

/// The part of a reply its author wrote: everything before the first quoted
/// line (`>`), quote header ("El … escribió:", "On … wrote:", possibly wrapped
/// over two lines), "-----Mensaje original-----" style separator, Outlook
/// header block (optionally under a `____` rule) or client signature ("-- ",
/// "Enviado desde mi iPhone", "Obtener Outlook para Android" …).
///
/// Leading text is kept as written (CRLF becomes LF); trailing blank lines
/// and trailing whitespace are trimmed. Forwarded-message separators cut too.
pub fn new_text(body: &str) -> String {
    let raw: Vec<&str> = lines(body).collect();
    // `*` comes from bold markup in HTML-to-text conversions (`*De:* Juan`).
    let folded: Vec<String> = raw.iter().map(|l| fold(&l.replace('*', ""))).collect();
    let cut = (0..raw.len())
        .find(|&i| starts_quote(&raw, &folded, i))
        .unwrap_or(raw.len());
    let mut out = raw[..cut].join("\n");
    out.truncate(out.trim_end().len());
    out
}

fn starts_quote(raw: &[&str], folded: &[String], i: usize) -> bool {
    let line = raw[i];
    let f = folded[i].as_str();
    if line.trim_start().starts_with('>') || line.trim() == "--" {
        return true;
    }
    if f.is_empty() {
        return false;
    }
    let next = folded.get(i + 1).map_or("", String::as_str);
    is_attribution(f, next)
        || SEPARATOR.is_match(f)
        || is_outlook_block(folded, i)
        || is_mobile_signature(f)
}

fn is_attribution(f: &str, next: &str) -> bool {
    if !ATTRIBUTION_START.is_match(f) {
        return false;
    }
    // The date in the header tells it apart from a sentence starting "El …".
    let plausible =
        |h: &str| h.chars().count() <= MAX_HEADER_CHARS && h.contains(|c: char| c.is_ascii_digit());
    if ATTRIBUTION_END.is_match(f) {
        return plausible(f);
    }
    if next.is_empty() || !ATTRIBUTION_END.is_match(next) {
        return false;
    }
    plausible(&format!("{f} {next}"))
}

fn is_outlook_block(folded: &[String], i: usize) -> bool {
    let f = folded[i].as_str();
    if f.chars().count() > MAX_HEADER_CHARS * 4 {
        return false;
    }
    if INLINE_HEADERS.is_match(f) {
        return true;
    }
    let following = || folded[i + 1..].iter().filter(|l| !l.is_empty()).take(4);
    if is_rule(f) {
        return following().next().is_some_and(|l| HEADER_ANY.is_match(l));
    }
    let has_address = f.contains('@');
    HEADER_FROM.is_match(f)
        && following().any(|l| HEADER_SENT.is_match(l) || (has_address && HEADER_DATE.is_match(l)))
}

fn is_rule(f: &str) -> bool {
    f.len() >= 10 && f.chars().all(|c| c == '_')
}

fn is_mobile_signature(f: &str) -> bool {
    f.chars().count() <= 80
        && f.split(' ').count() <= MAX_SIGNATURE_WORDS
        && MOBILE_SIGNATURE.is_match(f)
}

// A closing formula on a line of its own, folded, end punctuation removed.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:un |muy )?(?:cordial(?:es)? )?saludos?(?: cordiales)?|cordialmente|atentamente|atte?|(?:muchas |mil )?gracias(?: y saludos)?|quedo atent[oa]s?(?: a [a-z ]{0,40})?|feliz (?:dia|tarde|noche)|buen dia|(?:best |kind )?regards|thanks?(?: you)?|bendiciones)$",
    )
    .unwrap()
});
static CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:tel|telefono|cel|celular|movil|ext|extension|pbx|phone|mobile)\b").unwrap()
});
// Lowercase words a name or a position may hold: "Jefe de la Oficina de Sistemas".
const CONNECTORS: &[&str] = &[
    "de", "del", "la", "las", "los", "el", "y", "e", "en", "para", "a", "of", "and", "the", "for",
];
const MAX_SIGN_OFF_LINES: usize = 6;
const MAX_NAME_LINE_CHARS: usize = 60;

/// Whether `text` is only a sign-off: at most six lines, each a closing formula
/// ("Cordialmente,", "Gracias", "Saludos cordiales"), a contact line (address, link, phone,
/// "Ext. 1234") or a name or position written as one ("Miguel Torres", "Especialista de
/// Soporte N1", "Centro de Servicios Tecnológicos"), and recognisably a signature as a whole:
/// it holds a closing formula, a contact line, a name of two capitalised words or more, or
/// the writer's own `name` (or its first word).
///
/// Used for the text an agent leaves under their commands: a signature alone is no message
/// for the requester. A short answer ("Listo.", "Ya quedó instalado") is not a sign-off; a
/// one-word line that is not the writer's name is taken as an answer, not a signature.
pub fn is_sign_off(text: &str, name: Option<&str>) -> bool {
    let own: Vec<&str> = lines(text)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if own.is_empty() || own.len() > MAX_SIGN_OFF_LINES {
        return false;
    }
    let name = name.map(fold).filter(|n| !n.is_empty());
    let first_name = name
        .as_deref()
        .and_then(|n| n.split(' ').next())
        .map(str::to_owned);
    let mut signature = false;
    for line in own {
        let f = fold(line);
        let bare = f.trim_matches(|c: char| !c.is_alphanumeric());
        let own_name = name.as_deref() == Some(bare) || first_name.as_deref() == Some(bare);
        if CLOSING.is_match(bare) || is_contact(line, &f) || own_name {
            signature = true;
        } else if let Some(capitalised) = name_like(line) {
            signature |= capitalised >= 2;
        } else {
            return false;
        }
    }
    signature
}

fn is_contact(line: &str, folded: &str) -> bool {
    let digits = line.chars().filter(char::is_ascii_digit).count();
    line.contains('@')
        || folded.contains("http")
        || folded.contains("www.")
        || CONTACT.is_match(folded.trim_start_matches(|c: char| !c.is_alphanumeric()))
        || (digits >= 5 && digits * 2 >= line.chars().filter(|c| !c.is_whitespace()).count())
}

/// The number of capitalised words when `line` reads as a name or position: short, no
/// sentence punctuation, every word capitalised but connectors ("de", "la", "y" …).
fn name_like(line: &str) -> Option<usize> {
    if line.chars().count() > MAX_NAME_LINE_CHARS || line.contains(['?', '¿', '!', '¡', ':', ';'])
    {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words.len() > 8 {
        return None;
    }
    let mut capitalised = 0;
    for w in words {
        let Some(first) = w.chars().find(|c| c.is_alphabetic()) else {
            continue;
        };
        if first.is_uppercase() {
            capitalised += 1;
        } else if !CONNECTORS.contains(&w.trim_matches(|c: char| !c.is_alphabetic())) {
            return None;
        }
    }
    (capitalised > 0).then_some(capitalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_gmail_spanish_quote() {
        let body = "Buenos días,\r\n\r\nYa quedó funcionando, gracias.\r\n\r\n\
            El lun, 3 mar 2025 a las 10:15, Mesa de Ayuda (<mesaayuda@minhacienda.gov.co>) escribió:\r\n\
            > [REQ-12] Su solicitud fue resuelta\r\n> Saludos\r\n";
        assert_eq!(
            new_text(body),
            "Buenos días,\n\nYa quedó funcionando, gracias."
        );
    }

    #[test]
    fn cuts_wrapped_attribution() {
        let body = "APROBAR\n\nEl mar, 4 mar 2025 a las 8:01, Mesa de Ayuda <\n\
            mesaayuda+abc@minhacienda.gov.co> escribió:\n\n> Solicitud de aprobación";
        assert_eq!(new_text(body), "APROBAR");
        let en = "Thanks!\nOn Tue, Mar 4, 2025 at 8:01 AM Help Desk <\nhelp@x.co> wrote:\n> hi";
        assert_eq!(new_text(en), "Thanks!");
    }

    #[test]
    fn keeps_sentences_starting_with_el() {
        let body = "El equipo no enciende desde ayer.\nEl técnico dijo:\nque esperemos.";
        assert_eq!(new_text(body), body);
    }

    #[test]
    fn cuts_outlook_spanish_block() {
        let body =
            "Aprobado.\r\n\r\nCordialmente,\r\nMaría Gómez\r\nDirectora Administrativa\r\n\r\n\
            ________________________________\r\n\
            De: Mesa de Ayuda <mesaayuda@minhacienda.gov.co>\r\n\
            Enviado: lunes, 3 de marzo de 2025 10:15\r\n\
            Para: María Gómez <mgomez@minhacienda.gov.co>\r\n\
            Asunto: [REQ-12] Solicitud de aprobación\r\n\r\nTexto original";
        assert_eq!(
            new_text(body),
            "Aprobado.\n\nCordialmente,\nMaría Gómez\nDirectora Administrativa"
        );
    }

    #[test]
    fn cuts_bare_outlook_block() {
        let body = "#nota llamé al usuario\n\n*De:* Juan Pérez <jperez@x.gov.co>\n\
            *Enviado el:* martes, 4 de marzo de 2025 9:00 a. m.\n*Para:* Mesa\n*Asunto:* RE: [INC-3]";
        assert_eq!(new_text(body), "#nota llamé al usuario");
        let en = "ok\nFrom: Help <h@x.co>\nSent: Tuesday, March 4, 2025 9:00 AM\nTo: me";
        assert_eq!(new_text(en), "ok");
    }

    #[test]
    fn mac_outlook_block_needs_an_address() {
        let mac = "Aprobado\n\nDe: Mesa de Ayuda <mesaayuda@x.gov.co>\nFecha: lunes, 3 de marzo de 2025, 10:15\n\
            Para: Ana <ana@x.gov.co>\nAsunto: [REQ-1]";
        assert_eq!(new_text(mac), "Aprobado");
        let memo = "Solicitud de acceso\nDe: Subdirección de Tesorería\nPara: Mesa de Ayuda\n\
            Fecha: 3 de marzo de 2025\nAsunto: Usuario SIIF";
        assert_eq!(new_text(memo), memo);
    }

    #[test]
    fn cuts_inline_outlook_headers() {
        let body = "Listo\nDe: Mesa <m@x.co> Enviado: lunes, 3 de marzo Para: Juan Asunto: RE: x";
        assert_eq!(new_text(body), "Listo");
    }

    #[test]
    fn keeps_de_line_without_header_block() {
        let body = "De: parte del área financiera\nsolicito acceso.";
        assert_eq!(new_text(body), body);
        let rule = "Texto\n__________\nmás texto";
        assert_eq!(new_text(rule), rule);
    }

    #[test]
    fn cuts_original_message_separators() {
        assert_eq!(new_text("Sí\n-----Mensaje original-----\nDe: x"), "Sí");
        assert_eq!(new_text("Yes\n-----Original Message-----\nFrom: x"), "Yes");
        assert_eq!(
            new_text("Ver abajo\n\n---------- Forwarded message ---------\nDe: x"),
            "Ver abajo"
        );
        assert_eq!(
            new_text("Mira esto\n\nInicio del mensaje reenviado:\n\nDe: x"),
            "Mira esto"
        );
    }

    #[test]
    fn cuts_signatures() {
        assert_eq!(new_text("Gracias\n-- \nJuan Pérez\nAnalista"), "Gracias");
        assert_eq!(new_text("Gracias\n--\nJuan"), "Gracias");
        assert_eq!(new_text("RECHAZAR\n\nEnviado desde mi iPhone"), "RECHAZAR");
        assert_eq!(
            new_text("Ok\r\n\r\nEnviado desde mi Samsung Galaxy S23 Ultra"),
            "Ok"
        );
        assert_eq!(new_text("Listo\nObtener Outlook para Android"), "Listo");
        assert_eq!(
            new_text("Done\n\nGet Outlook for iOS<https://aka.ms/o0ukef>"),
            "Done"
        );
        assert_eq!(new_text("Ok\nSent from my iPhone\n\n> On x wrote:"), "Ok");
    }

    #[test]
    fn keeps_prose_that_looks_like_a_signature() {
        let body =
            "Enviado desde mi correo personal porque el institucional no funciona desde ayer";
        assert_eq!(new_text(body), body);
    }

    #[test]
    fn iphone_reply_with_quote() {
        let body = "Sí, aprobado\n\nEnviado desde mi iPhone\n\n\
            > El 3 mar 2025, a las 10:15, Mesa de Ayuda <mesaayuda@x.gov.co> escribió:\n>\n> texto";
        assert_eq!(new_text(body), "Sí, aprobado");
    }

    #[test]
    fn sign_offs() {
        let yes: &[(&str, Option<&str>)] = &[
            ("Miguel Torres\nEspecialista", None),
            ("Miguel Torres / Especialista", None),
            ("Cordialmente,\n\nMiguel Torres\nEspecialista de Soporte N1", None),
            ("Gracias", None),
            ("Saludos cordiales.", None),
            ("Un cordial saludo,\nLaura", None),
            ("Miguel", Some("Miguel Torres")),
            ("MIGUEL TORRES", Some("Miguel Torres")),
            ("Especialista\nExt. 1234", None),
            (
                "Laura Rojas\nCentro de Servicios Tecnológicos\nMinisterio de Hacienda y Crédito Público\nTel. (601) 381 1700",
                None,
            ),
            ("Laura\nlaura.rojas@minhacienda.gov.co", None),
            ("Quedo atento.\nMiguel", None),
            ("Miguel A. Torres\nEspecialista", None),
        ];
        for (text, name) in yes {
            assert!(is_sign_off(text, *name), "{text:?}");
        }
        let no: &[(&str, Option<&str>)] = &[
            ("", None),
            ("Listo.", None),
            ("Ya quedó instalado.", None),
            ("Ana, ya casi está listo.\n\nMiguel Torres", None),
            (
                "Por favor reinicie el equipo.\nMiguel",
                Some("Miguel Torres"),
            ),
            ("¿Puede confirmar si ya funciona?\nGracias", None),
            ("Miguel", None),
            ("Especialista", None),
            ("Gracias por su paciencia, mañana voy a su oficina.", None),
            ("Saludos\n1\n2\n3\n4\n5\n6", None),
        ];
        for (text, name) in no {
            assert!(!is_sign_off(text, *name), "{text:?}");
        }
    }

    #[test]
    fn handles_degenerate_input() {
        assert_eq!(new_text(""), "");
        assert_eq!(new_text("> a\n> b"), "");
        assert_eq!(new_text("\r\n\r\n"), "");
        assert_eq!(new_text("\n\nHola\n\n"), "\n\nHola");
        assert_eq!(new_text("-- "), "");
        assert_eq!(new_text("El"), "El");
        assert_eq!(new_text("De:"), "De:");
        assert_eq!(
            new_text("________________________________"),
            "________________________________"
        );
        let long = "ñ".repeat(200_000);
        assert_eq!(new_text(&long), long);
        let long_header = format!("El 1 {} escribió:", "x".repeat(5000));
        assert_eq!(new_text(&long_header), long_header);
        assert_eq!(new_text("\u{0}\u{301}>"), "\u{0}\u{301}>");
    }
}
