//! RFC 8601 `Authentication-Results`: does the header written by our own trusted MTA say that
//! DMARC or DKIM passed for the domain of the From address? Only the topmost header counts: it
//! is the one our MTA added last. Any lower one, even one naming our MTA, may have been written by
//! the sender (RFC 8601 §5 asks the MTA to strip those; the README tells ops to make sure it
//! does).

use super::text::fold;

/// `headers` as received (topmost first), `trusted` the MTA's authserv-id, `from_domain` the
/// domain of the From address.
pub fn passes(headers: &[String], trusted: &str, from_domain: &str) -> bool {
    let trusted = trusted.trim().to_ascii_lowercase();
    let domain = from_domain.trim().to_ascii_lowercase();
    let Some(topmost) = headers.first() else {
        return false;
    };
    // Comments may hold `;` (OpenDKIM writes `dkim=pass (2048-bit key; unprotected) …`).
    // Nor are a quoted string's `;` and spaces separators: our MTA may quote what the sender
    // chose (`smtp.mailfrom="x;dmarc=pass header.from=example.test"@evil.test`).
    let topmost = without_comments(topmost);
    let parts = split_unquoted(&topmost, |c| c == ';');
    let mut parts = parts.iter();
    let authserv = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_lowercase();
    authserv == trusted && parts.any(|result| result_passes(result, &domain))
}

/// `value` cut at each character `is_sep` outside a quoted string (`"…"`, `\` escaping);
/// empty pieces dropped.
fn split_unquoted(value: &str, is_sep: impl Fn(char) -> bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if quoted => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if !quoted && is_sep(c) => {
                if !cur.trim().is_empty() {
                    pieces.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        pieces.push(cur);
    }
    pieces
}

/// `value` with its RFC 5322 comments — `(…)`, nested, `\` escaping — replaced by a space;
/// a quoted string keeps its parentheses.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => {
                depth += 1;
                if depth == 1 {
                    out.push(' ');
                }
            }
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Exchange / Microsoft 365 marks mail its own users sent with
/// `X-MS-Exchange-Organization-AuthAs: Internal`, and strips the header from outside mail.
pub fn exchange_internal(auth_as: Option<&str>) -> bool {
    auth_as.is_some_and(|v| v.trim().eq_ignore_ascii_case("internal"))
}

fn result_passes(result: &str, domain: &str) -> bool {
    let r = fold(result);
    let words = split_unquoted(&r, char::is_whitespace);
    let Some(first) = words.first() else {
        return false;
    };
    let property = |key: &str| {
        words
            .iter()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| v.trim_matches(|c| c == '"' || c == '@'))
    };
    let aligned = |v: Option<&str>| {
        v.is_some_and(|d| {
            let d = d.rsplit('@').next().unwrap_or(d);
            // The From domain or its parent (mail.hacienda.test signed by hacienda.test),
            // never a further ancestor: a suffix such as `gov.co` vouches for nobody in it.
            let parent = domain.split_once('.').map(|(_, p)| p);
            d == domain || (parent == Some(d) && d.contains('.'))
        })
    };
    match first.as_str() {
        "dmarc=pass" => aligned(property("header.from=")),
        "dkim=pass" => aligned(property("header.d=")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<String> {
        vec![s.to_owned()]
    }

    #[test]
    fn a_comment_holding_a_semicolon_is_no_separator() {
        assert!(passes(
            &h("mx.hacienda.test; dkim=pass (2048-bit key; unprotected) header.d=hacienda.test header.i=@hacienda.test header.b=\"AbC(d\""),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        // What a comment says is no result.
        assert!(!passes(
            &h("mx.hacienda.test; dkim=fail (was: dkim=pass header.d=hacienda.test)"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert_eq!(without_comments("a (b (c) d) e"), "a   e");
    }

    #[test]
    fn dmarc_or_aligned_dkim_pass_from_the_trusted_mta_counts() {
        assert!(passes(
            &h("mx.hacienda.test; dmarc=pass (p=reject) header.from=hacienda.test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(passes(
            &h("mx.hacienda.test; spf=fail; dkim=pass header.d=hacienda.test header.s=s1"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(passes(
            &h("MX.Hacienda.test; dkim=pass header.d=hacienda.test"),
            "mx.hacienda.test",
            "correo.hacienda.test"
        ));
    }

    #[test]
    fn failures_foreign_servers_and_other_domains_do_not_count() {
        assert!(!passes(
            &h("mx.hacienda.test; dmarc=fail header.from=hacienda.test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(
            &h("evil.example; dmarc=pass header.from=hacienda.test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(
            &h("mx.hacienda.test; dkim=pass header.d=evil.example"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(&[], "mx.hacienda.test", "hacienda.test"));
        // Only the parent aligns, not a further ancestor or a bare suffix.
        for d in ["test", "gov.test"] {
            assert!(!passes(
                &h(&format!("mx.hacienda.test; dkim=pass header.d={d}")),
                "mx.hacienda.test",
                "correo.hacienda.gov.test"
            ));
        }
        assert!(!passes(
            &h("mx.hacienda.test; dkim=pass header.d=test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(
            &h("mx.hacienda.test; dkim=pass header.i=@hacienda.test header.d=evil.example"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(
            &h("mx.hacienda.test; none"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
    }

    /// What the sender chose, quoted by our MTA, is one value: its `;` starts no result and
    /// its words are no properties.
    #[test]
    fn a_quoted_value_holds_no_result_of_its_own() {
        assert!(!passes(
            &h("mx.hacienda.test; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=hacienda.test y\"@evil.test; dmarc=fail header.from=hacienda.test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        assert!(!passes(
            &h("mx.hacienda.test; dkim=pass header.i=\"a header.d=hacienda.test\" header.d=evil.test"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
        // A quoted value of our own domain still counts.
        assert!(passes(
            &h("mx.hacienda.test; dkim=pass header.d=\"hacienda.test\""),
            "mx.hacienda.test",
            "hacienda.test"
        ));
    }

    #[test]
    fn only_the_topmost_header_counts() {
        let forged_below = vec![
            "mx.hacienda.test; dmarc=fail header.from=hacienda.test".to_owned(),
            "mx.hacienda.test; dmarc=pass header.from=hacienda.test".to_owned(),
        ];
        assert!(!passes(&forged_below, "mx.hacienda.test", "hacienda.test"));
        let ours_on_top = vec![
            "mx.hacienda.test; dmarc=pass header.from=hacienda.test".to_owned(),
            "evil.example; dmarc=fail".to_owned(),
        ];
        assert!(passes(&ours_on_top, "mx.hacienda.test", "hacienda.test"));
        let foreign_on_top = vec![
            "evil.example; dmarc=pass header.from=hacienda.test".to_owned(),
            "mx.hacienda.test; dmarc=pass header.from=hacienda.test".to_owned(),
        ];
        assert!(!passes(
            &foreign_on_top,
            "mx.hacienda.test",
            "hacienda.test"
        ));
    }

    #[test]
    fn exchange_marks_internal_mail() {
        assert!(exchange_internal(Some(" Internal ")));
        assert!(!exchange_internal(Some("Anonymous")));
        assert!(!exchange_internal(None));
    }
}
