//! Pure text reading for the help desk's mail: subjects, reply bodies,
//! request fields, agent commands, approvals, automatic-mail signals,
//! Outlook thread indexes and attachment names. No I/O.

mod approval;
mod autoreply;
mod commands;
mod fields;
mod filename;
mod normalize;
mod reply;
mod subject;
mod thread_index;

pub use approval::{parse_answer, parse_rating, says_not_resolved, ApprovalAnswer};
pub use autoreply::{classify, AutoKind, AutoSignals};
pub use commands::{command, parse_commands, parse_email, Command, ParsedCommands, Priority};
pub use fields::{field_key, read_fields, Field, Fields, NAME_MAX as FIELD_NAME_MAX};
pub use filename::safe_filename;
pub use normalize::{bare_address, canonical_address, fold, fold_eq, is_email};
pub use reply::{is_sign_off, new_text};
pub use subject::{
    find_ticket_ref, is_catalog_request, mask_raw_tokens, mask_tokens, plus_token,
    strip_reply_prefixes, subject_token, TicketKind, TicketRef,
};
pub use thread_index::conversation_key;

#[cfg(test)]
mod tests {
    use super::*;

    // Pieces that exercise slicing, folding and the quote/command detectors.
    const PIECES: &[&str] = &[
        "",
        " ",
        "\n",
        "\r\n",
        "\t",
        ">",
        "#",
        "#nota",
        "#asignar",
        "--",
        "-- ",
        ":",
        "::",
        "/",
        "\\",
        ".",
        "..",
        "*",
        "_",
        "____________",
        "-----Mensaje original-----",
        "De:",
        "Enviado:",
        "El",
        "escribió:",
        "On",
        "wrote:",
        "ñ",
        "é",
        "\u{301}",
        "\u{202E}",
        "\u{FE0F}",
        "⭐",
        "📎",
        "5",
        "4/5",
        "10:30",
        "Sí",
        "NO",
        "APROBAR",
        "[REQ-",
        "1]",
        "[APR:",
        "aaaaaaaaaaaaaaaa",
        "+",
        "@",
        "<",
        ">",
        "mailto:",
        "\u{0}",
        "İ",
        "catálogo",
        "Re:",
        "RV[2]:",
        "=",
        "==",
        "AQID",
    ];

    #[test]
    fn agent_reply_from_outlook_mobile() {
        let body = "#asignar laura.rojas@minhacienda.gov.co<mailto:laura.rojas@minhacienda.gov.co>\r\n\
            #prioridad Alta\r\n#nota El usuario envió pantallazo;\r\nse escala a redes.\r\n\r\n\
            Laura, por favor revisa hoy.\r\n\r\nObtener Outlook para Android<https://aka.ms/AAb9ysg>\r\n\
            ________________________________\r\nDe: Mesa de Ayuda <mesaayuda@minhacienda.gov.co>\r\n\
            Enviado: martes, 4 de marzo de 2025 8:02 a. m.\r\nPara: Soporte N1\r\n\
            Asunto: [INC-88] Sin acceso a la VPN\r\n\r\n#cerrar texto citado";
        let parsed = parse_commands(&new_text(body));
        assert_eq!(
            parsed.commands,
            [
                Command::Assign {
                    to: "laura.rojas@minhacienda.gov.co".into()
                },
                Command::Priority(Priority::Alta),
                Command::Note {
                    text: "El usuario envió pantallazo;\nse escala a redes.".into()
                },
            ]
        );
        assert_eq!(parsed.rest, "Laura, por favor revisa hoy.");
    }

    #[test]
    fn request_fields_from_a_gmail_reply() {
        let body = "Completo los datos:\n\nNombre: Ana Ruiz\nJustificación: contratista nueva\n\n\
            El mar, 4 mar 2025 a las 9:00, Mesa de Ayuda <mesaayuda@x.gov.co> escribió:\n\
            > Nombre:\n> Justificación:\n> Fecha de inicio:";
        let fields = read_fields(&new_text(body));
        assert_eq!(fields.get("justificacion"), Some("contratista nueva"));
        assert_eq!(
            fields.missing(&["Nombre", "Justificación", "Fecha de inicio"]),
            ["Fecha de inicio"]
        );
    }

    fn exercise(s: &str) {
        let _ = fold(s);
        let _ = find_ticket_ref(s);
        let _ = strip_reply_prefixes(s);
        let _ = is_catalog_request(s);
        let _ = plus_token(s, "mesaayuda");
        let _ = subject_token(s);
        let own = new_text(s);
        assert!(own.len() <= s.len() || s.contains('\r'));
        let f = read_fields(s);
        let _ = f.missing(&["nombre", ""]);
        let _ = parse_commands(s);
        let _ = parse_answer(s);
        let _ = parse_rating(s);
        let _ = says_not_resolved(s);
        let _ = is_sign_off(s, Some(s));
        let _ = conversation_key(s);
        let name = safe_filename(s);
        assert!(!name.is_empty() && name.len() <= 150);
        let signals = AutoSignals {
            from: Some(s.into()),
            subject: Some(s.into()),
            content_type: Some(s.into()),
            return_path: Some(s.into()),
            own_addresses: vec![s.into()],
            ..Default::default()
        };
        let _ = classify(&signals);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..1500 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                s.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            exercise(&s);
        }
        exercise(&"x".repeat(1 << 16));
        exercise(&">\n".repeat(5_000));
    }
}
