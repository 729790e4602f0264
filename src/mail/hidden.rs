//! Dropping what a mail client would not show from HTML before it is read as text.
//!
//! An HTML-only answer is read the way its reader saw it: an approver who saw "RECHAZAR" must
//! not approve because a `<div style="display:none">APROBAR</div>` sat above it (issue 11).
//! html2text shows every element's text, so hidden elements are removed from the HTML first:
//! - with everything inside them: `<head>`, `<style>`, `<script>`, `<template>`, `<title>`, the
//!   `hidden` attribute, and inline styles `display:none`, `mso-hide:all` (Outlook),
//!   `opacity:0`, and `height:0` or `max-height:0` with `overflow:hidden` (the "preheader"
//!   trick); nothing inside can be shown again;
//! - only their own text: `font-size:0` (any unit) and `visibility:hidden`/`collapse`, which
//!   descendants undo by setting a size or `visibility:visible` — templates routinely put
//!   `font-size:0` on a container to remove the gaps between inline blocks and size the text
//!   inside, and that text is visible.
//!
//! One pass over the input, linear in its length whatever the nesting (see the "HTML nesting
//! check stays linear" history): tags are scanned once, a stack of open elements follows the
//! HTML parser's main rules (end tags close up to their element, `<p>`, `<li>`, `<td>`, `<tr>`,
//! `<option>`, `<dt>`/`<dd>` close their open sibling, content outside `<head>` ends it), and
//! the search for an open element's end tag is answered by a count per element name. Styles from
//! `<style>` sheets (classes) are not applied: only inline styles and attributes count.

use std::borrow::Cow;
use std::collections::HashMap;

use super::inbound::html_text::decode_entities;

/// Elements that never have content or an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag, never markup.
const RAW_TEXT: &[&str] = &[
    "script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes",
];
/// Never shown, with their content.
const ALWAYS_HIDDEN: &[&str] = &["head", "style", "script", "template", "title"];
/// What may stay inside `<head>`; any other start tag means the body began.
const HEAD_CONTENT: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "noscript", "script", "style", "template",
    "title",
];
/// Start tags that close an open `<p>`.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];
/// Phrasing elements an implied end tag looks through: `<p><b>x<p>` closes the first `<p>`.
const INLINE: &[&str] = &[
    "a", "abbr", "b", "big", "cite", "code", "em", "font", "i", "label", "s", "small", "span",
    "strike", "strong", "sub", "sup", "tt", "u", "o:p",
];
/// How far down the stack an implied end tag looks (keeps each start tag O(1)).
const IMPLIED_SCAN: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct Visibility {
    /// The element and everything inside it are not shown.
    gone: bool,
    /// Its own text is not shown (inherited, descendants may undo it).
    font_zero: bool,
    invisible: bool,
}

impl Visibility {
    fn text_shown(self) -> bool {
        !(self.gone || self.font_zero || self.invisible)
    }
}

struct Open {
    name: String,
    vis: Visibility,
}

/// `html` without the elements and text a reader does not see (see the module comment).
/// Returns the input unchanged when it holds no `<`.
pub(crate) fn drop_hidden(html: &str) -> Cow<'_, str> {
    if !html.contains('<') {
        return Cow::Borrowed(html);
    }
    let lower = html.to_ascii_lowercase();
    let mut doc = Doc {
        stack: Vec::new(),
        counts: HashMap::new(),
        out: String::with_capacity(html.len()),
    };
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            doc.text(&html[i..]);
            break;
        };
        doc.text(&html[i..lt]);
        let next = bytes.get(lt + 1).copied();
        i = match next {
            Some(b'!') if lower[lt..].starts_with("<!--") => lower[lt + 4..]
                .find("-->")
                .map_or(html.len(), |p| lt + 4 + p + 3),
            Some(b'!' | b'?') => lower[lt..].find('>').map_or(html.len(), |p| lt + p + 1),
            Some(b'/') if bytes.get(lt + 2).is_some_and(u8::is_ascii_alphabetic) => {
                let Some(tag) = Tag::read(html, &lower, lt + 2) else {
                    break;
                };
                doc.end_tag(&tag.name, &html[lt..tag.end]);
                tag.end
            }
            Some(b'/') => lower[lt..].find('>').map_or(html.len(), |p| lt + p + 1),
            Some(c) if c.is_ascii_alphabetic() => {
                let Some(tag) = Tag::read(html, &lower, lt + 1) else {
                    break;
                };
                doc.start_tag(&tag, html, &lower, lt)
            }
            _ => {
                doc.text("<");
                lt + 1
            }
        };
    }
    Cow::Owned(doc.out)
}

struct Doc {
    stack: Vec<Open>,
    counts: HashMap<String, usize>,
    out: String,
}

impl Doc {
    fn current(&self) -> Visibility {
        self.stack
            .last()
            .map_or_else(Visibility::default, |o| o.vis)
    }

    fn text(&mut self, s: &str) {
        let vis = self.current();
        if vis.text_shown() || (!vis.gone && s.trim().is_empty()) {
            self.out.push_str(s);
        }
    }

    fn open(&self, name: &str) -> bool {
        self.counts.get(name).is_some_and(|n| *n > 0)
    }

    fn push(&mut self, name: String, vis: Visibility) {
        *self.counts.entry(name.clone()).or_default() += 1;
        self.stack.push(Open { name, vis });
    }

    fn pop(&mut self) -> Option<Open> {
        let o = self.stack.pop()?;
        if let Some(n) = self.counts.get_mut(&o.name) {
            *n = n.saturating_sub(1);
        }
        Some(o)
    }

    /// Pops up to and including the innermost open `name`; the popped element's visibility.
    fn close(&mut self, name: &str) -> Option<Visibility> {
        if !self.open(name) {
            return None;
        }
        while let Some(o) = self.pop() {
            if o.name == name {
                return Some(o.vis);
            }
        }
        None
    }

    /// Closes an open element of `group` near the top of the stack, looking through phrasing
    /// elements only, as the start tag of a sibling does (`<li>a<li>b`).
    fn close_sibling(&mut self, group: &[&str]) {
        loop {
            let found = self
                .stack
                .iter()
                .rev()
                .take(IMPLIED_SCAN)
                .take_while(|o| {
                    group.contains(&o.name.as_str()) || INLINE.contains(&o.name.as_str())
                })
                .find(|o| group.contains(&o.name.as_str()))
                .map(|o| o.name.clone());
            match found {
                Some(name) => {
                    self.close(&name);
                }
                None => return,
            }
        }
    }

    fn start_tag(&mut self, tag: &Tag, html: &str, lower: &str, lt: usize) -> usize {
        let name = tag.name.as_str();
        if self.open("head") && !HEAD_CONTENT.contains(&name) {
            self.close("head");
        }
        match name {
            "li" => self.close_sibling(&["li"]),
            "dt" | "dd" => self.close_sibling(&["dt", "dd"]),
            "option" => self.close_sibling(&["option"]),
            "td" | "th" => self.close_sibling(&["td", "th"]),
            "tr" | "tbody" | "thead" | "tfoot" => self.close_sibling(&["td", "th", "tr"]),
            _ if CLOSES_P.contains(&name) => self.close_sibling(&["p"]),
            _ => {}
        }
        let vis = visibility(self.current(), name, tag);
        let markup = &html[lt..tag.end];
        if RAW_TEXT.contains(&name) {
            // Text up to `</name`, then that end tag.
            let close = format!("</{name}");
            let content_end = lower[tag.end..]
                .find(&close)
                .map_or(html.len(), |p| tag.end + p);
            let end = lower[content_end..]
                .find('>')
                .map_or(html.len(), |p| content_end + p + 1);
            if !vis.gone {
                self.out.push_str(markup);
                if vis.text_shown() {
                    self.out.push_str(&html[tag.end..content_end]);
                }
                self.out.push_str(&html[content_end..end]);
            }
            return end;
        }
        if !vis.gone {
            self.out.push_str(markup);
        }
        let foreign = self.open("svg") || self.open("math");
        let empty = VOID.contains(&name) || (tag.self_closing && foreign);
        if !empty {
            self.push(tag.name.clone(), vis);
        }
        tag.end
    }

    fn end_tag(&mut self, name: &str, markup: &str) {
        // The parser keeps reading into the body after these; open elements stay open.
        if matches!(name, "body" | "html") {
            if !self.current().gone {
                self.out.push_str(markup);
            }
            return;
        }
        let shown = match self.close(name) {
            Some(vis) => !vis.gone,
            None => !self.current().gone,
        };
        if shown {
            self.out.push_str(markup);
        }
    }
}

/// A start or end tag: its name (lowercase), where it ends (after `>`), and the attributes
/// that decide visibility.
struct Tag {
    name: String,
    end: usize,
    self_closing: bool,
    hidden: bool,
    style: Option<String>,
}

impl Tag {
    /// Reads the tag whose name starts at `at`; `None` when the input ends inside it (the
    /// parser drops such a tag and everything after it).
    fn read(html: &str, lower: &str, at: usize) -> Option<Tag> {
        let b = lower.as_bytes();
        let name_end = b[at..]
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/' || *c == b'>')
            .map_or(b.len(), |p| at + p);
        let mut tag = Tag {
            name: lower[at..name_end].to_owned(),
            end: 0,
            self_closing: false,
            hidden: false,
            style: None,
        };
        let mut i = name_end;
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            match b.get(i) {
                None => return None,
                Some(b'>') => {
                    tag.self_closing = i > at && b[i - 1] == b'/';
                    tag.end = i + 1;
                    return Some(tag);
                }
                Some(_) => {}
            }
            let attr_start = i;
            // The first character belongs to the name even when it is `=`, as in the parser.
            i += 1;
            while i < b.len() && !(b[i].is_ascii_whitespace() || matches!(b[i], b'/' | b'>' | b'='))
            {
                i += 1;
            }
            let attr = &lower[attr_start..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = None;
            if b.get(i) == Some(&b'=') {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                match b.get(i) {
                    Some(q @ (b'"' | b'\'')) => {
                        let close = b[i + 1..].iter().position(|c| c == q)? + i + 1;
                        value = Some(&html[i + 1..close]);
                        i = close + 1;
                    }
                    _ => {
                        let start = i;
                        while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b'>') {
                            i += 1;
                        }
                        value = Some(&html[start..i]);
                    }
                }
            }
            match attr {
                "hidden" => tag.hidden = true,
                // The first of a repeated attribute counts, as in the parser.
                "style" if tag.style.is_none() => {
                    tag.style = value.map(|v| decode_entities(v).into_owned());
                }
                _ => {}
            }
        }
    }
}

/// The visibility of an element named `name` with `tag`'s attributes inside `parent`.
fn visibility(parent: Visibility, name: &str, tag: &Tag) -> Visibility {
    let mut vis = parent;
    if tag.hidden || ALWAYS_HIDDEN.contains(&name) {
        vis.gone = true;
    }
    let Some(style) = &tag.style else {
        return vis;
    };
    let (mut display_none, mut mso_hide, mut transparent) = (false, false, false);
    let (mut zero_height, mut overflow_hidden) = (false, false);
    for (prop, value) in declarations(style) {
        match prop.as_str() {
            "display" => display_none = value == "none",
            "mso-hide" => mso_hide = value == "all",
            "opacity" => transparent = is_zero(&value),
            "height" | "max-height" => zero_height |= is_zero(&value),
            "overflow" | "overflow-y" => {
                overflow_hidden = matches!(value.as_str(), "hidden" | "clip")
            }
            "visibility" => vis.invisible = matches!(value.as_str(), "hidden" | "collapse"),
            "font-size" => vis.font_zero = font_size_zero(&value, parent.font_zero),
            // `font: 0/0 a`: the size is the token before an optional `/line-height`.
            "font" => {
                vis.font_zero = value
                    .split_whitespace()
                    .any(|t| is_zero(t.split('/').next().unwrap_or(t)));
            }
            _ => {}
        }
    }
    if display_none || mso_hide || transparent || (zero_height && overflow_hidden) {
        vis.gone = true;
    }
    vis
}

/// `prop: value` pairs of an inline style, lowercase, comments and `!important` removed;
/// later ones win, as in CSS.
fn declarations(style: &str) -> Vec<(String, String)> {
    let mut css = String::with_capacity(style.len());
    let mut rest = style;
    while let Some(p) = rest.find("/*") {
        css.push_str(&rest[..p]);
        rest = rest[p + 2..]
            .find("*/")
            .map_or("", |q| &rest[p + 2 + q + 2..]);
    }
    css.push_str(rest);
    css.to_ascii_lowercase()
        .split(';')
        .filter_map(|d| {
            let (prop, value) = d.split_once(':')?;
            let value = value.trim();
            let value = value.strip_suffix("!important").unwrap_or(value).trim();
            Some((prop.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// A length or number that is zero: `0`, `0px`, `0.0pt`, `0em`, `0%`, `-0`.
fn is_zero(value: &str) -> bool {
    let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
    !number.is_empty() && number.parse::<f64>().is_ok_and(|n| n == 0.0)
}

/// Whether a `font-size` makes text invisible: zero in any unit, or a size relative to a
/// parent's zero size (`100%`, `1em`).
fn font_size_zero(value: &str, parent_zero: bool) -> bool {
    if is_zero(value) {
        return true;
    }
    let relative = value.ends_with('%')
        || (value.ends_with("em") && !value.ends_with("rem"))
        || value.ends_with("ex")
        || value.ends_with("ch")
        || matches!(value, "inherit" | "smaller" | "larger");
    relative && parent_zero
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(html: &str) -> String {
        drop_hidden(html).into_owned()
    }

    #[test]
    fn drops_hidden_elements_with_their_content() {
        for html in [
            r#"<div style="display:none">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div style="DISPLAY : None !important;">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div style="color:red;display:/* x */none">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div style="display&#58;none">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div hidden>APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div HIDDEN="hidden">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<span style='mso-hide:all'>APROBAR</span><p>RECHAZAR</p>"#,
            r#"<div style="opacity:0">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<div style="max-height:0;overflow:hidden">APROBAR</div><p>RECHAZAR</p>"#,
            r#"<head><title>APROBAR</title><style>p{}</style></head><body><p>RECHAZAR</p></body>"#,
            r#"<script>var a = "</div>APROBAR";</script><p>RECHAZAR</p>"#,
            r#"<template><p>APROBAR</p></template><p>RECHAZAR</p>"#,
            r#"<div title="a>b" style="display:none">APROBAR</div><p>RECHAZAR</p>"#,
        ] {
            let v = visible(html);
            assert!(!v.contains("APROBAR"), "{html} -> {v}");
            assert!(v.contains("RECHAZAR"), "{html} -> {v}");
        }
    }

    #[test]
    fn hidden_parents_hide_their_children() {
        let html = r#"<div style="display:none"><div><p>APROBAR<div><b>sí</b></div></div>
            <table><tr><td>APROBAR</td></tr></table></div><div>RECHAZAR</div>"#;
        assert_eq!(visible(html), "<div>RECHAZAR</div>");
        // Implied ends: the hidden <p> ends where the parser ends it.
        let p = "<p hidden>APROBAR<p>RECHAZAR";
        assert_eq!(visible(p), "<p>RECHAZAR");
        let li = "<ul><li hidden>APROBAR<li>RECHAZAR</ul>";
        assert_eq!(visible(li), "<ul><li>RECHAZAR</ul>");
        let td = "<table><tr><td><div hidden>APROBAR</td><td>RECHAZAR</td></tr></table>";
        assert!(visible(td).contains("RECHAZAR"), "{}", visible(td));
        let head = "<html><head><meta charset=utf-8><title>x</title><p>Texto visible";
        assert!(visible(head).contains("Texto visible"));
    }

    #[test]
    fn zero_font_size_hides_only_text_that_keeps_it() {
        for size in [
            "0",
            "0px",
            "0pt",
            "0em",
            "0.0px",
            "0%",
            "0rem",
            "0 !important",
        ] {
            let html = format!(r#"<span style="font-size:{size}">APROBAR</span> RECHAZAR"#);
            let v = visible(&html);
            assert!(
                !v.contains("APROBAR") && v.contains("RECHAZAR"),
                "{size}: {v}"
            );
        }
        let shorthand = r#"<span style="font:0/0 a">APROBAR</span>RECHAZAR"#;
        assert!(!visible(shorthand).contains("APROBAR"));
        // Templates zero the container and size the blocks inside: that text is seen.
        let layout = r#"<div style="font-size:0"><div style="font-size:14px">RECHAZAR</div><span style="font-size:100%">APROBAR</span></div>"#;
        let v = visible(layout);
        assert!(v.contains("RECHAZAR") && !v.contains("APROBAR"), "{v}");
        let vis = r#"<div style="visibility:hidden">APROBAR<span style="visibility:visible">RECHAZAR</span></div>"#;
        let v = visible(vis);
        assert!(v.contains("RECHAZAR") && !v.contains("APROBAR"), "{v}");
    }

    #[test]
    fn visible_markup_is_kept_as_written() {
        for html in [
            "<p>Hola <b>Ana</b>,<br>a &lt; b</p>",
            r#"<a href="https://x/?a=1&b=2">enlace</a> 3 < 4"#,
            "<div/><span/>texto<svg><path/></svg>",
            "</p>sin abrir</div><!-- comentario -->fin",
            "texto sin etiquetas",
        ] {
            let v = visible(html);
            let expected = html.replace("<!-- comentario -->", "");
            assert_eq!(v, expected);
        }
    }

    #[test]
    fn broken_markup_never_panics() {
        for html in [
            "<",
            "<a",
            "<a b='",
            "<a b=\"x\"",
            "</",
            "</a",
            "<!--",
            "<!",
            "<?",
            "<div hidden",
            "<style>",
            "<script>x",
            "<p style=>",
            "<p style>x",
            "<p =x>",
            "<p a=b/>",
            "<é>ñ</é>",
            "<div style=\"font-size:\">x",
            "<x:y style='display:none'>a</x:y>b",
        ] {
            let _ = visible(html);
        }
        assert_eq!(visible("<x:y style='display:none'>a</x:y>b"), "b");
        assert_eq!(visible("texto <div hidden"), "texto ");
    }

    /// Inputs a quadratic reader would take minutes on (it is one pass with a stack); no time
    /// is asserted here — timings belong in benchmarks, not in tests a loaded machine runs.
    #[test]
    fn deep_nesting_and_many_tags_are_read_in_one_pass() {
        let deep = format!(
            "{}APROBAR{}RECHAZAR",
            "<div style=\"display:none\"><div>".repeat(20_000),
            "</div></div>".repeat(20_000)
        );
        let v = visible(&deep);
        assert!(v.ends_with("RECHAZAR") && !v.contains("APROBAR"));
        let unclosed = "<p hidden><span>".repeat(50_000) + &"</div>".repeat(50_000);
        let _ = visible(&unclosed);
        let open_quotes = "<a b='".repeat(50_000);
        let _ = visible(&open_quotes);
        let lis = "<li><b>".repeat(50_000);
        let _ = visible(&lis);
        let raw = "<script>".repeat(50_000);
        let _ = visible(&raw);
    }
}
