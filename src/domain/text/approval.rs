//! Reading approvers' answers, satisfaction ratings and "not resolved" replies.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::normalize::fold;
use super::reply::new_text;

/// What an approver's reply says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalAnswer {
    Approve { reason: String },
    Reject { reason: String },
    Unclear,
}

const APPROVE: &[&str] = &[
    "aprobar", "aprobado", "apruebo", "si", "approve", "approved", "yes",
];
const REJECT: &[&str] = &[
    "rechazar",
    "rechazado",
    "negar",
    "negado",
    "no",
    "reject",
    "rejected",
];

/// Decides an approver's reply by the first word of its first written line.
///
/// Only the author's text counts ([`new_text`]); its first non-empty line must
/// start with an approve word (APROBAR, APROBADO, APRUEBO, SÍ, SI, APPROVE,
/// APPROVED, YES) or a reject word (RECHAZAR, RECHAZADO, NEGAR, NEGADO, NO,
/// REJECT, REJECTED), in any case, with or without accents, surrounding
/// punctuation allowed ("¡Sí!", "Aprobado.", "*APROBAR*").
///
/// The rule is literal on purpose, so that approvers can predict it:
/// "No estoy seguro" rejects with reason "estoy seguro", and since "si" is
/// also Spanish for "if", "Si no hay presupuesto…" approves. The rest of that
/// line and the lines after it are the reason.
pub fn parse_answer(text: &str) -> ApprovalAnswer {
    let Some((line, after)) = first_line(text) else {
        return ApprovalAnswer::Unclear;
    };
    let line = line.trim_start_matches(|c: char| !c.is_alphanumeric());
    let word_end = line
        .find(|c: char| !(c.is_alphabetic() || is_combining_mark(c)))
        .unwrap_or(line.len());
    let word = fold(&line[..word_end]);
    let reason = || join_reason(&line[word_end..], &after);
    if APPROVE.contains(&word.as_str()) {
        ApprovalAnswer::Approve { reason: reason() }
    } else if REJECT.contains(&word.as_str()) {
        ApprovalAnswer::Reject { reason: reason() }
    } else {
        ApprovalAnswer::Unclear
    }
}

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
        assert_eq!(parse_answer(body), approve("Cordialmente,\nMaría Gómez"));
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
        assert_eq!(
            parse_answer("No estoy seguro, llámeme"),
            reject("estoy seguro, llámeme")
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
