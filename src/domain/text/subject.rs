//! Reading subjects: ticket tags, reply prefixes, catalog requests and the
//! approval token (also carried as a plus-address).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::normalize::{bare_address, fold};

/// Kind of ticket, as written in the `[REQ-12]` / `[INC-12]` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TicketKind {
    /// Service request.
    Req,
    /// Incident.
    Inc,
}

impl TicketKind {
    /// The tag prefix: `"REQ"` or `"INC"`.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketKind::Req => "REQ",
            TicketKind::Inc => "INC",
        }
    }
}

/// A ticket reference such as `REQ-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketRef {
    pub kind: TicketKind,
    pub number: i64,
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.prefix(), self.number)
    }
}

impl FromStr for TicketRef {
    type Err = String;

    /// Parses `REQ-12` / `inc 5` (no brackets), case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        static BARE: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(?i)^\s*(REQ|INC)\s*[-‐‑–—]?\s*(\d{1,18})\s*$").unwrap());
        BARE.captures(s)
            .and_then(|c| to_ref(&c[1], &c[2]))
            .ok_or_else(|| format!("referencia de caso no válida: {s:?}"))
    }
}

// Outlook and phones may autocorrect the hyphen into a dash.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\[\s*(REQ|INC)\s*[-‐‑–—]\s*(\d{1,18})\s*\]").unwrap());

fn to_ref(kind: &str, digits: &str) -> Option<TicketRef> {
    let kind = if kind.eq_ignore_ascii_case("req") {
        TicketKind::Req
    } else {
        TicketKind::Inc
    };
    Some(TicketRef {
        kind,
        number: digits.parse().ok()?,
    })
}

/// The first `[REQ-123]` / `[INC-5]` tag in `subject` (case-insensitive,
/// spaces allowed inside the brackets).
pub fn find_ticket_ref(subject: &str) -> Option<TicketRef> {
    TAG.captures(subject).and_then(|c| to_ref(&c[1], &c[2]))
}

// One reply/forward prefix in the languages our users' clients speak; `Re[2]:`
// and `Re(2):` are counted replies, `：` is the full-width colon.
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:re|fwd?|rv|enc|res|aw|wg|tr|r|sv|antw)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]")
        .unwrap()
});

/// `subject` without any chain of `Re:` / `RV:` / `Fwd:` / `RE[2]:` …
/// prefixes and without surrounding whitespace.
pub fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject;
    while let Some(m) = PREFIX.find(s) {
        s = &s[m.end()..];
    }
    s.trim()
}

/// Whether the subject asks for the service catalog: just "catálogo"
/// (any case, with or without accent, reply prefixes and punctuation allowed).
pub fn is_catalog_request(subject: &str) -> bool {
    let f = fold(strip_reply_prefixes(subject));
    f.trim_matches(|c: char| !c.is_alphanumeric()) == "catalogo"
}

static TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]{16,128}$").unwrap());
static SUBJECT_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\[\s*APR\s*:\s*([A-Za-z0-9_-]{16,128})\s*\]").unwrap());

/// The approval token of a plus-address: `mesayuda+<token>@dom` with
/// `base_local = "mesayuda"`. Accepts a bare address or `Name <addr>`; the
/// local part is compared case-insensitively, the token is returned as written.
pub fn plus_token(addr: &str, base_local: &str) -> Option<String> {
    let (local, _domain) = bare_address(addr).rsplit_once('@')?;
    let (base, token) = local.split_once('+')?;
    (base.eq_ignore_ascii_case(base_local) && TOKEN.is_match(token)).then(|| token.to_string())
}

/// The approval token of a `[APR:<token>]` subject tag.
pub fn subject_token(subject: &str) -> Option<String> {
    SUBJECT_TOKEN.captures(subject).map(|c| c[1].to_string())
}

/// How a token looks at rest: enough to show that the mail carried one, nothing to use.
pub const MASKED_TOKEN: &str = "••••";

/// Every form a token takes in what we store, each with the token itself as its one group:
/// the `[APR:<token>]` subject tag; the `+<token>@` of a plus-address (the Reply-To of our
/// mail, the To of an answer); those two percent-encoded, as in the `mailto:` of our HTML
/// buttons quoted in an answer (`%5BAPR%3A…%5D`, `%2B…%40`); and the secret of a panel
/// sign-in link (`/ingresar/<token>`).
const AT_REST_TOKEN: &str = r"(?i)\[\s*APR\s*:\s*([A-Za-z0-9_-]{16,128})\s*\]|%5BAPR%3A([A-Za-z0-9_-]{16,128})%5D|\+([A-Za-z0-9_-]{16,128})@|%2B([A-Za-z0-9_-]{16,128})%40|/ingresar/([A-Za-z0-9_-]{16,128})";

static TEXT_TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(AT_REST_TOKEN).unwrap());
static RAW_TOKEN: LazyLock<regex::bytes::Regex> =
    LazyLock::new(|| regex::bytes::Regex::new(AT_REST_TOKEN).unwrap());

/// `text` with every approval or reply token masked ([`AT_REST_TOKEN`]'s forms). Whatever
/// the help desk stores (subjects, bodies, addresses) goes through this, so the database never
/// holds a token someone could still answer with; the live ones exist only as hashes. A
/// plus-address tag of a third party that looks like a token (16+ letters, digits, `-`, `_`)
/// is masked too: the price of not having to know every helpdesk address here.
pub fn mask_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    TEXT_TOKEN.replace_all(text, |c: &regex::Captures| {
        let whole = c.get(0).expect("group 0 is the match");
        let token = (1..=5).find_map(|i| c.get(i)).expect("one form matched");
        format!(
            "{}{MASKED_TOKEN}{}",
            &text[whole.start()..token.start()],
            &text[token.end()..whole.end()]
        )
    })
}

/// A received mail's bytes as they are stored: each token ([`AT_REST_TOKEN`]'s forms, where
/// they appear as written: headers, plain and quoted-printable parts) overwritten with `*`,
/// byte for byte, so the mail's structure and every other byte stay as they came (evidence,
/// attachments read back from it). A plus-address counts only on one of `own` (our
/// addresses): a sender's `ana+lista@…` or a `Message-ID` with a `+` stays as it came.
/// Borrowed, without a copy, when the mail carries none. A token inside a base64 part, or
/// split by a quoted-printable soft line break, is not seen.
pub fn mask_raw_tokens<'a>(raw: &'a [u8], own: &[String]) -> std::borrow::Cow<'a, [u8]> {
    let own_locals: Vec<&[u8]> = own
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(local, _)| local.as_bytes()))
        .collect();
    // The plus-address's local part, read back from the `+`.
    let ours = |plus: usize| {
        let start = raw[..plus]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || b"._-".contains(b)))
            .map_or(0, |i| i + 1);
        own_locals
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&raw[start..plus]))
    };
    let spans: Vec<std::ops::Range<usize>> = RAW_TOKEN
        .captures_iter(raw)
        .filter_map(|c| {
            let (i, token) = (1..=5).find_map(|i| c.get(i).map(|m| (i, m)))?;
            // Group 3 is the plain `+<token>@`; its `+` is the byte before the token.
            (i != 3 || ours(token.start() - 1)).then(|| token.range())
        })
        .collect();
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut kept = raw.to_vec();
    for r in spans {
        kept[r].fill(b'*');
    }
    std::borrow::Cow::Owned(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOK: &str = "a1B2c3D4e5F6g7H8_-x";

    #[test]
    fn finds_ticket_tags() {
        let r = find_ticket_ref("RE: [REQ-123] Acceso a SIIF Nación").unwrap();
        assert_eq!(
            r,
            TicketRef {
                kind: TicketKind::Req,
                number: 123
            }
        );
        assert_eq!(r.to_string(), "REQ-123");
        assert_eq!(
            find_ticket_ref("[ inc - 5 ] caído").unwrap().to_string(),
            "INC-5"
        );
        assert_eq!(
            find_ticket_ref("RV: [req-7][INC-9]").unwrap().to_string(),
            "REQ-7"
        );
        assert_eq!(find_ticket_ref("[REQ–44] guion largo").unwrap().number, 44);
    }

    #[test]
    fn ignores_non_tags() {
        assert_eq!(find_ticket_ref("REQ-123 sin corchetes"), None);
        assert_eq!(find_ticket_ref("[REQ-]"), None);
        assert_eq!(find_ticket_ref("[REQ-1234567890123456789]"), None);
        assert_eq!(find_ticket_ref("[CHG-1]"), None);
        assert_eq!(find_ticket_ref(""), None);
    }

    #[test]
    fn parses_bare_refs() {
        assert_eq!("inc-5".parse::<TicketRef>().unwrap().to_string(), "INC-5");
        assert_eq!(" REQ 12 ".parse::<TicketRef>().unwrap().number, 12);
        assert!("REQ-x".parse::<TicketRef>().is_err());
    }

    #[test]
    fn strips_prefix_chains() {
        assert_eq!(strip_reply_prefixes("RE: RV: Fwd: Hola"), "Hola");
        assert_eq!(
            strip_reply_prefixes("  Re[2]: ENC:  RES: AW:WG: TR: R: x "),
            "x"
        );
        assert_eq!(strip_reply_prefixes("Re(3) : FW : catálogo"), "catálogo");
        assert_eq!(strip_reply_prefixes("Reunión: martes"), "Reunión: martes");
        assert_eq!(strip_reply_prefixes("Resumen"), "Resumen");
        assert_eq!(strip_reply_prefixes("RE:"), "");
        assert_eq!(strip_reply_prefixes(""), "");
    }

    #[test]
    fn recognises_catalog_requests() {
        assert!(is_catalog_request("catálogo"));
        assert!(is_catalog_request("RE: CATALOGO"));
        assert!(is_catalog_request("  Catálogo. "));
        assert!(is_catalog_request("Catalogo\u{301}"));
        assert!(!is_catalog_request("catálogo de servicios de red caído"));
        assert!(!is_catalog_request("[REQ-1] catálogo"));
        assert!(!is_catalog_request(""));
    }

    #[test]
    fn reads_plus_tokens() {
        let addr = format!("Mesa de Ayuda <MesaAyuda+{TOK}@minhacienda.gov.co>");
        assert_eq!(plus_token(&addr, "mesaayuda").as_deref(), Some(TOK));
        assert_eq!(
            plus_token(&format!("mesaayuda+{TOK}@x.co"), "MesaAyuda").as_deref(),
            Some(TOK)
        );
        assert_eq!(plus_token("mesaayuda+corto@x.co", "mesaayuda"), None);
        assert_eq!(plus_token(&format!("otro+{TOK}@x.co"), "mesaayuda"), None);
        assert_eq!(plus_token("mesaayuda@x.co", "mesaayuda"), None);
        assert_eq!(
            plus_token(&format!("mesaayuda+{TOK}!@x.co"), "mesaayuda"),
            None
        );
        assert_eq!(plus_token("", "mesaayuda"), None);
    }

    #[test]
    fn reads_subject_tokens() {
        let s = format!("RE: [REQ-12] Aprobación requerida [APR:{TOK}]");
        assert_eq!(subject_token(&s).as_deref(), Some(TOK));
        assert_eq!(
            subject_token(&format!("[ apr : {TOK} ]")).as_deref(),
            Some(TOK)
        );
        assert_eq!(subject_token("[APR:short]"), None);
        assert_eq!(subject_token(&format!("[APR:{TOK}")), None);
    }

    #[test]
    fn percent_encoded_tokens_of_a_quoted_button_are_masked() {
        let html = format!(
            "<a href=\"mailto:mesayuda%2B{TOK}%40example.test?subject=RE%3A%20%5BAPR%3A{TOK}%5D\">"
        );
        let masked = mask_tokens(&html);
        assert!(!masked.contains(TOK), "{masked}");
        assert!(
            masked.contains("mesayuda%2B••••%40example.test"),
            "{masked}"
        );
        assert!(masked.contains("%5BAPR%3A••••%5D"), "{masked}");
    }

    #[test]
    fn a_stored_mail_keeps_its_bytes_but_not_its_tokens() {
        let raw = format!(
            "To: Mesa <mesayuda+{TOK}@example.test>\r\nSubject: RE: [APR:{TOK}] x\r\n\r\n\
             APROBAR\r\n> Ingrese: https://mesa.example.test/ingresar/{TOK}\r\n"
        );
        let own = ["mesayuda@example.test".to_owned()];
        let kept = mask_raw_tokens(raw.as_bytes(), &own);
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert_eq!(text.len(), raw.len());
        assert!(!text.contains(TOK), "{text}");
        let stars = "*".repeat(TOK.len());
        assert!(
            text.contains(&format!("mesayuda+{stars}@example.test")),
            "{text}"
        );
        assert!(text.contains(&format!("[APR:{stars}]")), "{text}");
        assert!(text.contains(&format!("/ingresar/{stars}")), "{text}");
        // Nothing to mask: the same bytes, not a copy. Someone else's plus-address and a
        // Message-ID with a `+` are no tokens of ours.
        let plain = format!(
            "From: ana+boletines{TOK}@example.test\r\nMessage-ID: <CAKx+{TOK}@mail.example.com>\r\n\
             To: mesayuda@example.test\r\n\r\nHola +57 3001234567\r\n"
        );
        assert!(matches!(
            mask_raw_tokens(plain.as_bytes(), &own),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn tokens_are_masked_at_rest_and_nothing_else() {
        let s = format!("[REQ-3] Aprobación requerida: Acceso VPN [APR:{TOK}]");
        assert_eq!(
            mask_tokens(&s),
            "[REQ-3] Aprobación requerida: Acceso VPN [APR:••••]"
        );
        assert_eq!(subject_token(&mask_tokens(&s)), None);
        assert_eq!(
            mask_tokens(&format!("RE: x [ apr : {TOK} ] y")),
            "RE: x [ apr : •••• ] y"
        );
        let to = format!("Mesa <mesayuda+{TOK}@example.test>, ana@example.test");
        assert_eq!(
            mask_tokens(&to),
            "Mesa <mesayuda+••••@example.test>, ana@example.test"
        );
        assert_eq!(plus_token(&mask_tokens(&to), "mesayuda"), None);
        assert_eq!(
            mask_tokens(&format!(
                "Ingrese: https://mesa.example.test/ingresar/{TOK}\n"
            )),
            "Ingrese: https://mesa.example.test/ingresar/••••\n"
        );
        for plain in [
            "[REQ-3] Impresora",
            "ana+facturas@x.co",
            "[APR:corto]",
            "año ñ",
        ] {
            assert!(
                matches!(mask_tokens(plain), std::borrow::Cow::Borrowed(_)),
                "{plain}"
            );
        }
    }
}
