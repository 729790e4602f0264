//! Outlook's `Thread-Index` header, which links the messages of one
//! conversation even when the subject or the References chain is lost.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use std::fmt::Write;

// Outlook pads, other writers of the header do not always.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Bytes that identify the conversation: reserved byte, FILETIME, GUID.
const CONVERSATION_BYTES: usize = 22;

/// Lowercase hex of the first 22 bytes of a base64 `Thread-Index` value (the
/// conversation; the 5-byte blocks after it are the replies), or `None` when
/// the value is not base64 or too short. Folding whitespace is ignored.
pub fn conversation_key(header: &str) -> Option<String> {
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = LENIENT.decode(compact).ok()?;
    let head = bytes.get(..CONVERSATION_BYTES)?;
    Some(head.iter().fold(
        String::with_capacity(2 * CONVERSATION_BYTES),
        |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 22-byte conversation header followed by one 5-byte reply block.
    const ROOT: &str = "AdmMJjoXzEVR0ImCTOSiUJHVvBBl6w==";
    const REPLY: &str = "AdmMJjoXzEVR0ImCTOSiUJHVvBBl6wAAAKs3Dw==";

    #[test]
    fn replies_share_the_root_key() {
        let root = conversation_key(ROOT).unwrap();
        assert_eq!(root.len(), 44);
        assert_eq!(root, "01d98c263a17cc4551d089824ce4a25091d5bc1065eb");
        assert_eq!(conversation_key(REPLY).as_deref(), Some(root.as_str()));
    }

    #[test]
    fn tolerates_folding_and_missing_padding() {
        let folded = " AdmMJjoXzEVR0ImCTOSi\r\n\tUJHVvBBl6w";
        assert_eq!(conversation_key(folded), conversation_key(ROOT));
    }

    #[test]
    fn rejects_invalid_or_short() {
        assert_eq!(conversation_key(""), None);
        assert_eq!(conversation_key("AQID"), None);
        assert_eq!(conversation_key("not base64 at all!!"), None);
        assert_eq!(conversation_key("ñññ"), None);
    }
}
