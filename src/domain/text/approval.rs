//! Reading approvers' answers, satisfaction ratings and "not resolved" replies.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::normalize::fold;
use super::reply::{is_sign_off, new_text};

/// What an approver's reply says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalAnswer {
    Approve { reason: String },
    Reject { reason: String },
    Unclear,
}

// Folded. Feminine forms agree with "la solicitud"; AUTORIZO is how many Colombian
// officials word an approval.
const APPROVE: &[&str] = &[
    "aprobar",
    "aprobado",
    "aprobada",
    "apruebo",
    "autorizo",
    "autorizado",
    "autorizada",
    "si",
    "approve",
    "approved",
    "yes",
];
const REJECT: &[&str] = &[
    "rechazar",
    "rechazado",
    "rechazada",
    "rechazo",
    "negar",
    "negado",
    "negada",
    "niego",
    "denegado",
    "denegada",
    "no",
    "reject",
    "rejected",
];

/// Decides an approver's reply by its first written line, as a person reading it would.
///
/// Only the author's text counts ([`new_text`]: quotes, Outlook header blocks and client
/// signatures are cut), and of it the first non-empty line that is not quoted (`>`). That line
/// decides only when
/// - it starts with an approve word (APROBAR, APROBADO/A, APRUEBO, AUTORIZO, AUTORIZADO/A, SÍ,
///   SI, APPROVE, APPROVED, YES) or a reject word (RECHAZAR, RECHAZADO/A, RECHAZO, NEGAR,
///   NEGADO/A, NIEGO, DENEGADO/A, NO, REJECT, REJECTED), in any case, with or without accents,
///   surrounding punctuation allowed ("¡Sí!", "Aprobado.", "*APROBAR*"), and
/// - no word of the other kind appears anywhere on that line, and no keyword on it is negated
///   ("no apruebo", "no lo rechazo"), and
/// - a first "no" is not the start of doubt or assent: "No sé", "No estoy seguro, llámeme",
///   "No, no hay problema", "No, tranquilo" decide nothing ([`DOUBT_AFTER_NO`]), while "No",
///   "No.", "No gracias", "No se autoriza", "No procede, falta el visto bueno" reject.
///
/// Anything else is [`ApprovalAnswer::Unclear`], and the approver is asked again: a mixed
/// line such as "No hay problema, apruebo" or "Sí, pero no antes del lunes" reads one way to
/// a person and the other way to a first-word rule, and a wrong decision (an access granted,
/// a request closed) costs far more than one more mail. The rest of the deciding line and the
/// lines after it are the reason; later lines do not change the decision.
///
/// One exception keeps ordinary rejections readable: an unaccented "si" after a reject word is
/// the conditional "if" ("RECHAZADO, si lo necesita pida autorización"), so only "sí" written
/// with its accent counts against a rejection. "no" has no such twin, so "Aprobado, no hay
/// problema" is unclear too: approvers are told to write the keyword alone on the first line.
pub fn parse_answer(text: &str) -> ApprovalAnswer {
    let Some((line, after)) = first_line(text) else {
        return ApprovalAnswer::Unclear;
    };
    let line = line.trim_start_matches(|c: char| !c.is_alphanumeric());
    let word_end = line
        .find(|c: char| !(c.is_alphabetic() || is_combining_mark(c)))
        .unwrap_or(line.len());
    let word = fold(&line[..word_end]);
    let reason = || approval_reason(&line[word_end..], &after);
    let approves = APPROVE.contains(&word.as_str());
    let rejects = REJECT.contains(&word.as_str());
    if !(approves || rejects) || mixed(line, approves) || doubt_after_no(&word, &line[word_end..]) {
        ApprovalAnswer::Unclear
    } else if approves {
        ApprovalAnswer::Approve { reason: reason() }
    } else {
        ApprovalAnswer::Reject { reason: reason() }
    }
}

/// What, right after a first "no" (and any further "no"), makes it doubt or assent rather
/// than a rejection: "No sé", "No, no hay problema". Folded words; a one-word entry matches a
/// whole word. Unaccented "se" counts only alone or before a question word ("no se si…"):
/// "No se autoriza" is a rejection.
const DOUBT_AFTER_NO: &[&[&str]] = &[
    &["lo", "se"],
    &["estoy"],
    &["entiendo"],
    &["entendi"],
    &["comprendo"],
    &["conozco"],
    &["recuerdo"],
    &["tengo", "claro"],
    &["tengo", "idea"],
    &["tengo", "informacion"],
    &["tengo", "conocimiento"],
    &["tengo", "problema"],
    &["tengo", "inconveniente"],
    &["tengo", "objecion"],
    &["tengo", "objeciones"],
    &["hay", "problema"],
    &["hay", "inconveniente"],
    &["hay", "objecion"],
    &["hay", "lio"],
    &["problema"],
    &["todo", "bien"],
    &["tranquilo"],
    &["tranquila"],
    &["claro"],
    &["dale"],
    &["de", "acuerdo"],
    &["puedo"],
    &["me", "consta"],
    &["me", "queda"],
    &["me", "quedo"],
    &["me", "acuerdo"],
    &["me", "parece", "mal"],
    &["queda", "claro"],
    &["es", "claro"],
    &["esta", "claro"],
    &["lo", "tengo"],
    &["lo", "entiendo"],
    &["lo", "comprendo"],
    &["se", "entiende"],
    &["sabria"],
    &["veo", "problema"],
    &["veo", "inconveniente"],
    &["hay", "ningun"],
];

/// After "no se": the words that make it "no sé" (a question follows).
const AFTER_NO_SE: &[&str] = &[
    "si", "que", "quien", "cual", "como", "cuando", "donde", "nada",
];

/// Whether a first word "no" opens doubt or assent ("No sé", "No, no hay problema") rather
/// than a rejection ("No", "No gracias", "No se autoriza"): a wrong rejection closes the
/// request, so what reads as doubt is asked again.
fn doubt_after_no(word: &str, rest: &str) -> bool {
    if word != "no" {
        return false;
    }
    let written: Vec<String> = rest
        .nfc()
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .skip_while(|w| w == "no")
        .collect();
    let words: Vec<String> = written.iter().map(|w| fold(w)).collect();
    // "sé" is "I know" only while its accent is there; folded, "se" may be "No se autoriza".
    let se_as_know = words.first().is_some_and(|w| w == "se")
        && (written[0] == "sé"
            || words
                .get(1)
                .is_none_or(|w| AFTER_NO_SE.contains(&w.as_str())));
    se_as_know
        || DOUBT_AFTER_NO.iter().any(|phrase| {
            words.len() >= phrase.len() && words.iter().zip(phrase.iter()).all(|(w, p)| w == p)
        })
}

/// Whether `line`, which starts with a keyword (an approve word when `approves`), also holds
/// a keyword of the other kind or a negated keyword.
fn mixed(line: &str, approves: bool) -> bool {
    // Words as written (NFC, so "si\u{301}" keeps its accent visible), then folded.
    let nfc: String = line.nfc().collect();
    let words: Vec<(&str, String)> = nfc
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| (w, fold(w)))
        .collect();
    let other = |written: &str, folded: &str| {
        if approves {
            REJECT.contains(&folded)
        } else {
            APPROVE.contains(&folded) && !(folded == "si" && written.eq_ignore_ascii_case("si"))
        }
    };
    words
        .iter()
        .skip(1)
        .any(|(written, folded)| other(written, folded))
        || NEGATED.is_match(&fold(line))
}

// "no apruebo", "no lo rechazo", "no se lo autorizo": a keyword negated by the "no" right
// before it (whitespace and pronouns only: "No, rechazado" is a plain rejection). Matched on
// folded text.
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    let keywords: Vec<&str> = APPROVE
        .iter()
        .chain(REJECT)
        .copied()
        .filter(|w| *w != "no")
        .collect();
    Regex::new(&format!(
        r"\bno (?:(?:lo|la|le|les|se|me) )*(?:{})\b",
        keywords.join("|")
    ))
    .unwrap()
});

/// The first non-empty, non-quoted line of the author's text and the text after it.
fn first_line(text: &str) -> Option<(String, String)> {
    let own = new_text(text);
    let mut lines = own.lines().filter(|l| !l.trim_start().starts_with('>'));
    let first = lines.find(|l| !l.trim().is_empty())?.trim().to_string();
    let after = lines.collect::<Vec<_>>().join("\n");
    Some((first, after))
}

fn join_reason(tail: &str, after: &str) -> String {
    let tail = tail.trim_start_matches(|c: char| !c.is_alphanumeric() && !is_opening(c));
    format!("{}\n{}", tail.trim(), after).trim().to_string()
}

/// An approval's reason: [`join_reason`] without the paragraphs after the deciding line that
/// are only a signature ("Cordialmente,\nMaría Gómez"): the requester reads the reason as the
/// approver's words. (A rating's comment keeps them: "Gracias Laura" is a comment.)
fn approval_reason(tail: &str, after: &str) -> String {
    let mut paragraphs: Vec<&str> = after
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    while paragraphs.last().is_some_and(|p| is_sign_off(p, None)) {
        paragraphs.pop();
    }
    join_reason(tail, &paragraphs.join("\n\n"))
}

// Kept at the start of a reason: they open what follows.
fn is_opening(c: char) -> bool {
    matches!(c, '¿' | '¡' | '(' | '"' | '«' | '“')
}

static RATING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:(?:calificaci[oó]n|puntuaci[oó]n|puntaje|nota|rating|score)\s*[:=\-]?\s*)?([1-5])(?:\s*(?:/|de)\s*5)?(?:\s*(?:estrellas?|stars?|puntos?))?",
    )
    .unwrap()
});

/// A satisfaction survey reply: the first written line starts with a rating
/// 1–5 ("4", "4/5", "5 estrellas", "Calificación: 4", "⭐⭐⭐⭐"); returns it
/// with the rest of the text as comment. "10", "4.5" and "0" are not ratings.
pub fn parse_rating(text: &str) -> Option<(u8, String)> {
    let (line, after) = first_line(text)?;
    let line: String = line.nfc().collect();
    // Emoji stars usually carry a U+FE0F variation selector each.
    let stars = line
        .chars()
        .take_while(|c| matches!(c, '⭐' | '★' | '\u{fe0f}'))
        .filter(|c| *c != '\u{fe0f}')
        .count();
    let (rating, tail) = if stars > 0 {
        let rest = line.trim_start_matches(['⭐', '★', '\u{fe0f}']);
        (u8::try_from(stars).ok().filter(|n| *n <= 5)?, rest)
    } else {
        let caps = RATING.captures(&line)?;
        let end = caps.get(0)?.end();
        let rest = &line[end..];
        let mut next = rest.chars();
        let continues_number = match next.next() {
            Some(c) if c.is_ascii_digit() => true,
            // "4.5", "4,5" and "3/10" are on other scales.
            Some('.' | ',' | '/') => next.next().is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        };
        if continues_number {
            return None;
        }
        (caps[1].parse().ok()?, rest)
    };
    Some((rating, join_reason(tail, &after)))
}

// Folded phrases that mean the problem is still there.
static NOT_RESOLVED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:no (?:esta|estaba|quedo|ha quedado|fue|ha sido|se ha|se) (?:resuelto|solucionado|arreglado|corregido)|no se (?:resolvio|soluciono|arreglo|corrigio)|no (?:lo |me lo )?(?:han|ha) (?:resuelto|solucionado|arreglado)|no (?:funciona|sirve|abre|carga|me deja)|(?:aun|todavia) no|(?:sigue|continua) (?:fallando|sin funcionar|igual|el (?:error|problema|inconveniente))|persiste|not (?:resolved|fixed|working)|still (?:broken|failing|not))\b",
    )
    .unwrap()
});

/// Whether a requester's reply to a resolved ticket says the problem is not
/// solved ("no está resuelto", "sigue fallando", "persiste", "aún no" …).
/// Reads only the author's text, folded. "Ya no persiste" / "no sigue
/// fallando" do not count.
pub fn says_not_resolved(text: &str) -> bool {
    let f = fold(&new_text(text));
    NOT_RESOLVED.find_iter(&f).any(|m| {
        let before = f[..m.start()].trim_end();
        m.as_str().starts_with("no ")
            || m.as_str().starts_with("not ")
            || !(before.ends_with(" no") || before == "no")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approve(r: &str) -> ApprovalAnswer {
        ApprovalAnswer::Approve { reason: r.into() }
    }

    fn reject(r: &str) -> ApprovalAnswer {
        ApprovalAnswer::Reject { reason: r.into() }
    }

    #[test]
    fn approves_outlook_reply() {
        let body = "APROBADO\r\n\r\nCordialmente,\r\nMaría Gómez\r\n\r\n\
            De: Mesa de Ayuda <mesaayuda@minhacienda.gov.co>\r\n\
            Enviado: lunes, 3 de marzo de 2025 10:15\r\nPara: María\r\nAsunto: Aprobación [APR:x]\r\n\r\n\
            Responda APROBAR o RECHAZAR.";
        assert_eq!(parse_answer(body), approve(""));
    }

    /// A signature under the answer is no reason; the words above it are.
    #[test]
    fn a_signature_is_no_reason() {
        assert_eq!(
            parse_answer("No.\n\nCordialmente,\nMaría Gómez\nDirectora Administrativa"),
            reject("")
        );
        assert_eq!(
            parse_answer("RECHAZAR no corresponde a sus funciones\n\nSaludos,\nMaría Gómez"),
            reject("no corresponde a sus funciones")
        );
        assert_eq!(
            parse_answer("Rechazado.\n\nHable con talento humano.\n\nAtentamente,\nMaría"),
            reject("Hable con talento humano.")
        );
    }

    #[test]
    fn approve_words_with_punctuation_and_accents() {
        assert_eq!(parse_answer("Sí, aprobado"), approve("aprobado"));
        assert_eq!(parse_answer("¡SI!"), approve(""));
        assert_eq!(
            parse_answer("\n\n  aprobar: el usuario lo necesita\nEnviado desde mi iPhone"),
            approve("el usuario lo necesita")
        );
        assert_eq!(parse_answer("*APRUEBO*"), approve(""));
        assert_eq!(parse_answer("Approved."), approve(""));
        assert_eq!(parse_answer("yes"), approve(""));
        assert_eq!(
            parse_answer("Si\u{301}. ¿Cuándo queda?"),
            approve("¿Cuándo queda?")
        );
    }

    #[test]
    fn rejects_with_reason() {
        let body = "Rechazado. No corresponde a su cargo.\nHablar con talento humano.\n\n\
            El lun, 3 mar 2025 a las 10:15, Mesa de Ayuda <m@x.gov.co> escribió:\n> APROBAR o RECHAZAR";
        assert_eq!(
            parse_answer(body),
            reject("No corresponde a su cargo.\nHablar con talento humano.")
        );
        assert_eq!(parse_answer("NEGADO"), reject(""));
        assert_eq!(parse_answer("No."), reject(""));
        assert_eq!(
            parse_answer("No, no cumple requisitos"),
            reject("no cumple requisitos")
        );
        assert_eq!(parse_answer("REJECT: budget"), reject("budget"));
    }

    #[test]
    fn unclear_answers() {
        assert_eq!(parse_answer(""), ApprovalAnswer::Unclear);
        assert_eq!(parse_answer("> APROBAR"), ApprovalAnswer::Unclear);
        assert_eq!(
            parse_answer("Buenos días, APROBAR"),
            ApprovalAnswer::Unclear
        );
        assert_eq!(
            parse_answer("Sino hay otra opción"),
            ApprovalAnswer::Unclear
        );
        assert_eq!(parse_answer("Nosotros revisamos"), ApprovalAnswer::Unclear);
        assert_eq!(parse_answer("123"), ApprovalAnswer::Unclear);
        assert_eq!(
            parse_answer("Enviado desde mi iPhone"),
            ApprovalAnswer::Unclear
        );
    }

    /// Issue 11 item 6: the first line decides only when it starts with a keyword of one kind
    /// and holds none of the other kind.
    #[test]
    fn first_line_read_as_a_person_would() {
        use ApprovalAnswer::Unclear;
        let cases: &[(&str, ApprovalAnswer)] = &[
            // Mixed lines: asked again.
            ("No hay problema, apruebo", Unclear),
            ("no hay problema, APRUEBO.", Unclear),
            ("Sí, pero no antes del lunes", Unclear),
            ("Si\u{301}, pero no antes del lunes", Unclear),
            ("Si no hay presupuesto, rechazar", Unclear),
            ("Si no hay presupuesto no se hace", Unclear),
            ("Aprobado, no hay problema", Unclear),
            ("APROBAR / RECHAZAR", Unclear),
            ("Rechazado, sí lo revisé", Unclear),
            ("No, sí lo apruebo", Unclear),
            // Doubt or assent after a first "no" is no rejection.
            ("No sé", Unclear),
            ("NO SE", Unclear),
            ("No se si lo necesita", Unclear),
            ("No, no sé", Unclear),
            ("No... no estoy seguro", Unclear),
            ("No estoy seguro, llámeme", Unclear),
            ("no   tengo información", Unclear),
            ("No, no hay problema", Unclear),
            ("No, tranquilo", Unclear),
            ("No lo sé", Unclear),
            ("No me queda claro qué necesita", Unclear),
            ("No me quedó claro", Unclear),
            ("No está claro para qué es", Unclear),
            ("No lo tengo claro", Unclear),
            ("No se entiende la solicitud", Unclear),
            ("No sabría decirle", Unclear),
            ("No veo problema", Unclear),
            ("No hay ningún inconveniente", Unclear),
            ("No me parece mal", Unclear),
            ("No me acuerdo de esa persona", Unclear),
            // A first "no" followed by anything else rejects, the rest its reason.
            ("No gracias", reject("gracias")),
            ("No\u{a0}gracias", reject("gracias")),
            ("No se autoriza", reject("se autoriza")),
            ("No procede, falta el visto bueno", reject("procede, falta el visto bueno")),
            ("No no cumple requisitos", reject("no cumple requisitos")),
            ("No corresponde a su cargo", reject("corresponde a su cargo")),
            ("No me parece conveniente", reject("me parece conveniente")),
            ("No es posible por ahora", reject("es posible por ahora")),
            // A keyword negated by the "no" right before it.
            ("No apruebo", Unclear),
            ("NO APROBADO", Unclear),
            ("No lo rechazo", Unclear),
            ("no se lo autorizo", Unclear),
            // One kind only.
            ("Aprobado, gracias", approve("gracias")),
            ("Aprobada", approve("")),
            ("  \t Aprobado, gracias  ", approve("gracias")),
            ("Autorizo.", approve("")),
            ("Sí, aprobado", approve("aprobado")),
            ("APROBAR\n\nNo olvide avisarle a Ana.", approve("No olvide avisarle a Ana.")),
            (
                "RECHAZAR no cumple requisitos",
                reject("no cumple requisitos"),
            ),
            ("Rechazo: no cumple requisitos", reject("no cumple requisitos")),
            ("No, rechazado", reject("rechazado")),
            ("NO. No corresponde.", reject("No corresponde.")),
            (
                "RECHAZADO, si lo necesita pida autorización al director",
                reject("si lo necesita pida autorización al director"),
            ),
            ("Rechazada", reject("")),
            ("DENEGADO", reject("")),
            // Case, accents and punctuation.
            ("¡SÍ!", approve("")),
            ("**aprobado**", approve("")),
            ("rEcHaZaDo.", reject("")),
            ("APROBACIÓN", Unclear),
            // Only the author's first line: quotes and Outlook blocks do not count.
            // The author's text ends at the first quoted line ([`new_text`]), so an answer
            // written below the quote is not read.
            ("> RECHAZAR\nAPROBAR", Unclear),
            ("\n  \n   APROBAR\n> RECHAZAR", approve("")),
            (
                "Aprobado\r\n\r\nDe: Mesa de Ayuda <mesaayuda@x.gov.co>\r\n\
                 Enviado: lunes, 3 de marzo de 2025 10:15\r\nPara: Ana\r\n\
                 Asunto: RE: [REQ-4] Solicitud de aprobación\r\n\r\n\
                 Responda APROBAR o RECHAZAR. No responda si no está seguro.",
                approve(""),
            ),
            (
                "No hay problema, apruebo\n\nEl lun, 3 mar 2025 a las 10:15, Mesa <m@x.co> escribió:\n> APROBAR",
                Unclear,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_answer(text), want, "{text:?}");
        }
    }

    #[test]
    fn reads_ratings() {
        assert_eq!(parse_rating("5"), Some((5, String::new())));
        assert_eq!(
            parse_rating("4/5 muy buena atención"),
            Some((4, "muy buena atención".into()))
        );
        assert_eq!(
            parse_rating("5 estrellas!\r\nGracias Laura"),
            Some((5, "Gracias Laura".into()))
        );
        assert_eq!(
            parse_rating("Calificación: 3 - demoró mucho"),
            Some((3, "demoró mucho".into()))
        );
        assert_eq!(
            parse_rating("calificacio\u{301}n 2"),
            Some((2, String::new()))
        );
        assert_eq!(parse_rating("4 de 5. Bien"), Some((4, "Bien".into())));
        assert_eq!(parse_rating("⭐⭐⭐⭐ bien"), Some((4, "bien".into())));
        assert_eq!(
            parse_rating("⭐\u{fe0f}⭐\u{fe0f}"),
            Some((2, String::new()))
        );
        assert_eq!(
            parse_rating(
                "\n1\n\nEl lun, 3 mar 2025, Mesa <m@x.co> escribió:\n> Califique de 1 a 5"
            ),
            Some((1, String::new()))
        );
    }

    #[test]
    fn rejects_non_ratings() {
        for t in [
            "10",
            "0",
            "6",
            "4.5",
            "4,5 bien",
            "3/10",
            "Excelente 5",
            "",
            "> 5",
            "⭐⭐⭐⭐⭐⭐",
        ] {
            assert_eq!(parse_rating(t), None, "{t:?}");
        }
    }

    #[test]
    fn detects_not_resolved() {
        for t in [
            "Buenas tardes, el problema NO está resuelto.",
            "No se ha resuelto, sigue saliendo el error",
            "no quedó resuelto",
            "El SIIF sigue fallando desde las 8",
            "El error persiste.",
            "La VPN no funciona",
            "no se solucionó nada",
            "Aún no, sigue igual",
            "Todavía no puedo entrar",
            "It is still not working",
            "Todavía no me lo han solucionado",
            "no lo han resuelto",
        ] {
            assert!(says_not_resolved(t), "{t:?}");
        }
    }

    #[test]
    fn detects_resolved() {
        for t in [
            "Gracias, ya funciona perfecto.",
            "Ya no persiste el error, gracias",
            "Listo, no sigue fallando",
            "",
            "Perfecto.\n\nEl lun, 3 mar 2025, Mesa <m@x.co> escribió:\n> Si no funciona, responda a este correo",
            "Nosotros lo revisamos y funciona",
        ] {
            assert!(!says_not_resolved(t), "{t:?}");
        }
    }
}
