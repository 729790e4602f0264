//! What leaves the parser is printable: no terminal escapes, no bidi overrides or invisible
//! characters, one-line fields without line breaks.

use std::borrow::Cow;

/// Characters that can reorder what a reader sees (bidi overrides and isolates) or hide text.
pub(super) fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Removes terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`) and
/// leaves every other character for the caller to judge.
pub(super) fn without_escapes(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') && !s.contains('\u{9b}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' {
                            break;
                        }
                        if d == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\u{9b}' => {
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A one-line field (subject, display name, header value): line breaks, tabs and runs of
/// whitespace become one space; control and invisible characters and escapes are removed.
pub fn clean_line(s: &str) -> String {
    let s = without_escapes(s);
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else if c.is_control() || invisible(c) {
            continue;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// A text: `\r\n` and lone `\r` become `\n`; control characters other than `\n` and `\t`,
/// invisible characters and escapes are removed; trailing spaces and blank ends trimmed.
pub fn clean_text(s: &str) -> String {
    let s = without_escapes(s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() || invisible(c) => {}
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Attachments.
