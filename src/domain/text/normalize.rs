//! Folding for case- and accent-insensitive matching, and e-mail address helpers.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lowercases, removes accents (NFD, then drops combining marks), collapses
/// every run of whitespace into one space and trims.
///
/// `"  Justificación\t DEL  Cambio "` becomes `"justificacion del cambio"`.
/// `ñ` folds to `n`: the result is for comparing, never for showing.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    // Lowercase before decomposing: some lowercase mappings (e.g. `İ`) emit
    // combining marks that must be dropped too.
    for c in s.chars().flat_map(char::to_lowercase).nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// `fold(a) == fold(b)`.
pub fn fold_eq(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$").unwrap()
});

/// Whether `s` is a plain `local@domain.tld` address (deliberately simple).
pub fn is_email(s: &str) -> bool {
    EMAIL.is_match(s)
}

/// The addr-spec of a header-like mailbox: `"Juan <juan@x.co>"` → `juan@x.co`.
///
/// Also undoes Outlook's plain-text rendering of links,
/// `juan@x.co<mailto:juan@x.co>`, and a bare `mailto:` prefix.
/// Returns the trimmed input when it has no angle brackets.
pub fn bare_address(s: &str) -> &str {
    let s = s.trim();
    let s = match s.find("<mailto:") {
        Some(p) if !s[..p].trim().is_empty() => s[..p].trim(),
        _ => s,
    };
    let s = match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim(),
        _ => s,
    };
    let s = strip_prefix_ci(s, "mailto:").unwrap_or(s);
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';'))
}

/// The address lowercased with any `+detail` removed from its local part, so
/// `Mesa.Ayuda+abc@Dom.co` and `mesa.ayuda@dom.co` compare equal.
pub fn canonical_address(s: &str) -> String {
    let addr = bare_address(s).to_lowercase();
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(l, _)| l);
            format!("{local}@{domain}")
        }
        None => addr,
    }
}

/// ASCII case-insensitive `strip_prefix`.
pub(super) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Lines of `text` without their `\r`, so CRLF and LF bodies read alike.
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_spaces() {
        assert_eq!(
            fold("  Justificación\t DEL  Cambio "),
            "justificacion del cambio"
        );
        assert_eq!(fold("CATÁLOGO"), "catalogo");
        assert_eq!(fold("Año Ñandú"), "ano nandu");
        assert_eq!(fold("ÜBER çà"), "uber ca");
        assert_eq!(fold(""), "");
        assert_eq!(fold(" \r\n\t "), "");
        assert_eq!(fold("a\u{a0}b"), "a b");
    }

    #[test]
    fn folds_decomposed_input() {
        // macOS clients send NFD text.
        assert_eq!(fold("Justificacio\u{301}n"), "justificacion");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert!(fold_eq("Sí", "SI"));
    }

    #[test]
    fn validates_simple_emails() {
        assert!(is_email("juan.perez@minhacienda.gov.co"));
        assert!(is_email("o'neil+x@a-b.co"));
        assert!(!is_email("juan"));
        assert!(!is_email("juan@local"));
        assert!(!is_email("juan perez@x.co"));
        assert!(!is_email("@x.co"));
    }

    #[test]
    fn extracts_bare_addresses() {
        assert_eq!(bare_address("Juan Pérez <juan@x.gov.co>"), "juan@x.gov.co");
        assert_eq!(
            bare_address("juan@x.gov.co<mailto:juan@x.gov.co>"),
            "juan@x.gov.co"
        );
        assert_eq!(bare_address("<mailto:juan@x.gov.co>"), "juan@x.gov.co");
        assert_eq!(bare_address("MAILTO:juan@x.co"), "juan@x.co");
        assert_eq!(bare_address("  juan@x.co, "), "juan@x.co");
        assert_eq!(bare_address("<>"), "");
        assert_eq!(bare_address("ñ<"), "ñ<");
    }

    #[test]
    fn canonical_drops_detail_and_case() {
        assert_eq!(
            canonical_address("Mesa <Mesa.Ayuda+Tok123@Dom.CO>"),
            "mesa.ayuda@dom.co"
        );
        assert_eq!(canonical_address("nodomain"), "nodomain");
    }

    #[test]
    fn strips_ascii_prefix_without_panicking() {
        assert_eq!(strip_prefix_ci("Mailto:x", "mailto:"), Some("x"));
        assert_eq!(strip_prefix_ci("ñandú", "ma"), None);
        assert_eq!(strip_prefix_ci("m", "mailto:"), None);
    }

    #[test]
    fn splits_crlf_lines() {
        let v: Vec<_> = lines("a\r\nb\n\r\nc").collect();
        assert_eq!(v, ["a", "b", "", "c"]);
    }
}
