//! Attachment names that are safe to store and to offer for download.

use unicode_normalization::UnicodeNormalization;

const MAX_BYTES: usize = 150;
// An extension longer than this is more likely part of the name.
const MAX_EXT_BYTES: usize = 16;
const FALLBACK: &str = "adjunto";
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A safe file name for an attachment called `name`: its last path component
/// (`/` and `\`), NFC, without control or invisible formatting characters nor
/// `<>:"|?*`, without leading dots or `..`, trimmed, at most 150 bytes with
/// the extension kept; `"adjunto"` when nothing is left.
pub fn safe_filename(name: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .find(|p| !p.trim().is_empty())
        .unwrap_or("");
    let mut s: String = last.nfc().filter(|c| keep(*c)).collect();
    while s.contains("..") {
        s = s.replace("..", ".");
    }
    // Leading dots hide files; trailing dots and spaces are dropped by Windows.
    let s = s
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if s.is_empty() {
        return FALLBACK.to_string();
    }
    let stem = s.split('.').next().unwrap_or("").trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        return truncate_keeping_extension(&format!("_{s}"));
    }
    truncate_keeping_extension(s)
}

fn keep(c: char) -> bool {
    // Bidi overrides and zero-width characters can disguise `fdp.exe` as `exe.pdf`.
    let invisible = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    !(c.is_control() || invisible || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
}

fn truncate_keeping_extension(s: &str) -> String {
    if s.len() <= MAX_BYTES {
        return s.to_string();
    }
    let ext = s
        .rfind('.')
        .filter(|&i| i > 0 && s.len() - i <= MAX_EXT_BYTES)
        .map_or("", |i| &s[i..]);
    let stem = &s[..s.len() - ext.len()];
    let stem = prefix_within(stem, MAX_BYTES - ext.len())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    format!("{stem}{ext}")
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn prefix_within(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ordinary_names() {
        assert_eq!(
            safe_filename("Formato solicitud SIIF.pdf"),
            "Formato solicitud SIIF.pdf"
        );
        assert_eq!(
            safe_filename("pantallazo_error (2).PNG"),
            "pantallazo_error (2).PNG"
        );
        assert_eq!(safe_filename("Cotizacio\u{301}n.xlsx"), "Cotización.xlsx");
    }

    #[test]
    fn takes_last_component() {
        assert_eq!(
            safe_filename("C:\\Users\\jperez\\Escritorio\\acta.docx"),
            "acta.docx"
        );
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("carpeta/informe.pdf/"), "informe.pdf");
    }

    #[test]
    fn drops_dangerous_characters() {
        assert_eq!(safe_filename("a<b>c:d\"e|f?g*h.txt"), "abcdefgh.txt");
        assert_eq!(safe_filename("fac\u{0}tura\r\n.pdf"), "factura.pdf");
        assert_eq!(safe_filename("factura\u{202E}fdp.exe"), "facturafdp.exe");
        assert_eq!(safe_filename(".htaccess"), "htaccess");
        assert_eq!(
            safe_filename("  ..informe...final..pdf. "),
            "informe.final.pdf"
        );
        assert_eq!(safe_filename("con.txt"), "_con.txt");
        assert_eq!(safe_filename("NUL"), "_NUL");
        assert_eq!(safe_filename("console.txt"), "console.txt");
    }

    #[test]
    fn falls_back_when_empty() {
        for n in ["", "   ", "...", "/", "\\\\", "???", "\u{202E}"] {
            assert_eq!(safe_filename(n), "adjunto", "{n:?}");
        }
    }

    #[test]
    fn truncates_on_char_boundary_keeping_extension() {
        let long = format!("{}.pdf", "ñ".repeat(200));
        let s = safe_filename(&long);
        assert!(s.len() <= MAX_BYTES, "{}", s.len());
        assert!(s.ends_with("ñ.pdf"));
        let no_ext = "a".repeat(300);
        assert_eq!(safe_filename(&no_ext).len(), MAX_BYTES);
        let huge_ext = format!("x.{}", "e".repeat(300));
        assert_eq!(safe_filename(&huge_ext).len(), MAX_BYTES);
        let emoji = "📎".repeat(100);
        assert_eq!(safe_filename(&emoji).len(), 148);
        let reserved = format!("con.{}", "a".repeat(300));
        assert_eq!(safe_filename(&reserved).len(), MAX_BYTES);
    }
}
