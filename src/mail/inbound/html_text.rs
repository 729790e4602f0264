//! HTML to readable text, as its reader saw it, within bounds on depth and size.

use super::*;
use std::borrow::Cow;

/// Readable text from HTML, as its reader saw it: what a mail client does not show (hidden
/// elements, `<head>`, scripts, styles; see [`crate::mail::hidden`]) is dropped first. html2text keeps
/// link URLs and table structure, and never runs scripts or fetches images; HTML too deeply
/// nested for it (its time grows with the square of the depth) goes through a linear tag
/// stripper instead.
pub fn html_to_text(html: &str) -> String {
    let visible = crate::mail::hidden::drop_hidden(html);
    let html = visible.as_ref();
    if too_nested(html) {
        return strip_tags(html);
    }
    html2text::config::plain()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_else(|_| strip_tags(html))
}

/// Elements that never nest (void) or that the HTML parser closes by itself.
pub(super) const FLAT_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "td", "th", "tr", "option", "dt", "dd", "o:p",
];

pub(super) fn too_nested(html: &str) -> bool {
    let bytes = html.as_bytes();
    let (mut depth, mut max, mut tags) = (0usize, 0usize, 0usize);
    // The next `>`, found again only once passed, so that `<a<a<a…` stays linear.
    let mut next_gt = 0;
    let mut i = 0;
    while let Some(p) = find_lt(&bytes[i..]) {
        let at = i + p + 1;
        i = at;
        let closing = bytes.get(at) == Some(&b'/');
        let name_start = if closing { at + 1 } else { at };
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b':'))
            .map_or(bytes.len(), |n| name_start + n);
        if name_end == name_start {
            continue;
        }
        tags += 1;
        let name = html[name_start..name_end].to_ascii_lowercase();
        if FLAT_ELEMENTS.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            if next_gt < name_end {
                next_gt = bytes[name_end..]
                    .iter()
                    .position(|b| *b == b'>')
                    .map_or(bytes.len(), |gt| name_end + gt);
            }
            let self_closing =
                next_gt < bytes.len() && next_gt > name_end && bytes[next_gt - 1] == b'/';
            if !self_closing {
                depth += 1;
                max = max.max(depth);
            }
        }
        if max > MAX_HTML_DEPTH || tags > MAX_HTML_TAGS {
            return true;
        }
    }
    false
}

pub(super) fn find_lt(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'<')
}

/// Text of HTML without the markup: script, style and head contents and comments dropped,
/// block ends turned into line breaks, character references decoded. Linear time.
pub(super) fn strip_tags(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            out.push_str(&decode_entities(&html[i..]));
            break;
        };
        out.push_str(&decode_entities(&html[i..lt]));
        if lower[lt..].starts_with("<!--") {
            i = lower[lt + 4..]
                .find("-->")
                .map_or(html.len(), |p| lt + 4 + p + 3);
            continue;
        }
        let Some(gt) = html[lt..].find('>').map(|p| lt + p) else {
            break;
        };
        let tag = &lower[lt + 1..gt];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = gt + 1;
        if !closing
            && matches!(
                name.as_str(),
                "script" | "style" | "head" | "title" | "template"
            )
        {
            let end_tag = format!("</{name}");
            i = lower[i..]
                .find(&end_tag)
                .and_then(|p| lower[i + p..].find('>').map(|q| i + p + q + 1))
                .unwrap_or(html.len());
            continue;
        }
        let block = matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "tr"
                | "li"
                | "ul"
                | "ol"
                | "table"
                | "blockquote"
                | "hr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "pre"
                | "section"
                | "article"
        );
        if block && !out.ends_with('\n') {
            out.push('\n');
        }
    }
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for l in lines {
        if l.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(l);
        text.push('\n');
    }
    text.trim().to_owned()
}

pub(in crate::mail) fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

pub(super) fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "Aacute" => 'Á',
        "Eacute" => 'É',
        "Iacute" => 'Í',
        "Oacute" => 'Ó',
        "Uacute" => 'Ú',
        "ntilde" => 'ñ',
        "Ntilde" => 'Ñ',
        "uuml" => 'ü',
        "Uuml" => 'Ü',
        "iexcl" => '¡',
        "iquest" => '¿',
        "ordf" => 'ª',
        "ordm" => 'º',
        "deg" => '°',
        "euro" => '€',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "middot" => '·',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "bull" => '•',
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Sanitising.
