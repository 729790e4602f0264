//! RFC 8601 `Authentication-Results`: does a header written by our own trusted MTA say that
//! DMARC or DKIM passed for the domain of the From address? Headers from anyone else are
//! ignored, because a sender can write any header it likes.

use super::text::fold;

/// `headers` as received (topmost first), `trusted` the MTA's authserv-id, `from_domain` the
/// domain of the From address.
pub fn passes(headers: &[String], trusted: &str, from_domain: &str) -> bool {
    let trusted = trusted.trim().to_ascii_lowercase();
    let domain = from_domain.trim().to_ascii_lowercase();
    headers.iter().any(|h| {
        let mut parts = h.split(';');
        let authserv = parts
            .next()
            .and_then(|p| p.split_whitespace().next())
            .unwrap_or("")
            .to_ascii_lowercase();
        authserv == trusted && parts.any(|result| result_passes(result, &domain))
    })
}

fn result_passes(result: &str, domain: &str) -> bool {
    let r = fold(result);
    let words: Vec<&str> = r.split_whitespace().collect();
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
            d == domain || domain.ends_with(&format!(".{d}"))
        })
    };
    match *first {
        "dmarc=pass" => aligned(property("header.from=")),
        "dkim=pass" => aligned(property("header.d=").or(property("header.i="))),
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
            &h("MX.Hacienda.test; dkim=pass header.i=@correo.hacienda.test"),
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
        assert!(!passes(
            &h("mx.hacienda.test; none"),
            "mx.hacienda.test",
            "hacienda.test"
        ));
    }
}
