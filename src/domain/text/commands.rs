//! Agents' `#commands` at the top of a reply.

use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::normalize::{bare_address, fold, is_email, lines};

/// Ticket priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Priority {
    Alta,
    Media,
    Baja,
}

impl Priority {
    /// The Spanish name, lowercase: `"alta"`, `"media"`, `"baja"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Alta => "alta",
            Priority::Media => "media",
            Priority::Baja => "baja",
        }
    }
}

impl FromStr for Priority {
    type Err = ();

    /// Case- and accent-insensitive, a trailing `.` allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match fold(s).trim_end_matches('.') {
            "alta" => Ok(Priority::Alta),
            "media" => Ok(Priority::Media),
            "baja" => Ok(Priority::Baja),
            _ => Err(()),
        }
    }
}

/// One agent command. Names are matched case- and accent-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `#asignar correo` or `#asignar grupo`: a lowercased address, or a group code (lowercase,
    /// no `@`) for the directory to recognise. `#asignar` alone (`to` empty) takes the ticket
    /// for the sender: what the notices' "Asignármela" button composes, since a resolver
    /// group's list address is one reply address for all its members.
    Assign { to: String },
    /// `#incidente [motivo]`: the request is an incident (activity 2).
    Incident { reason: String },
    /// `#requerimiento [SERVICIO]`: the incident is a service request (activity 2 → 3); code
    /// uppercased.
    ToRequest { service: Option<String> },
    /// `#pendiente motivo…`
    Pending { reason: String },
    /// `#nota texto…`
    Note { text: String },
    /// `#servicio CODIGO` (code uppercased)
    Service { code: String },
    /// `#prioridad alta|media|baja`
    Priority(Priority),
    /// `#cambio CHG-…` (uppercased)
    Change { id: String },
    /// `#resolver texto…`
    Resolve { text: String },
    /// `#cerrar motivo…`
    Close { reason: String },
    /// `#aprobador correo`
    Approver { email: String },
    /// `#solicitante correo`
    Requester { email: String },
    /// A known command whose argument is missing or wrong; `reason` is Spanish
    /// and meant for the agent.
    Invalid { name: String, reason: String },
    /// A `#word` that is not a command; `name` is as written, without `#`.
    Unknown { name: String },
}

/// Commands found at the top of a text, and the free text after them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedCommands {
    pub commands: Vec<Command>,
    pub rest: String,
}

static SERVICE_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$").unwrap());
static CHANGE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^CHG-[A-Z0-9][A-Z0-9\-]{0,30}$").unwrap());

/// Reads the command block at the top of an (already de-quoted) text.
///
/// The block is made of lines starting with `#`, with blank lines allowed
/// before and between them. Non-blank lines after `#nota`, `#pendiente`,
/// `#resolver` or `#cerrar` continue that command's text until a blank line
/// or the next command. The first other line starts `rest`, returned trimmed.
pub fn parse_commands(text: &str) -> ParsedCommands {
    let all: Vec<&str> = lines(text).collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let line = all[i].trim();
        if line.is_empty() {
            i += 1;
            continue;
        }
        let Some(body) = line.strip_prefix('#') else {
            break;
        };
        i += 1;
        let end = body
            .find(|c: char| c.is_whitespace() || c == ':')
            .unwrap_or(body.len());
        let (name, arg) = body.split_at(end);
        let arg = arg.trim_start();
        let key = fold(name);
        let mut arg = arg.strip_prefix(':').unwrap_or(arg).trim().to_string();
        if takes_text(&key) {
            while let Some(next) = all.get(i).map(|l| l.trim()) {
                if next.is_empty() || next.starts_with('#') {
                    break;
                }
                if !arg.is_empty() {
                    arg.push('\n');
                }
                arg.push_str(next);
                i += 1;
            }
        }
        commands.push(build(name, &key, arg));
    }
    let rest = all[i..].join("\n").trim().to_string();
    ParsedCommands { commands, rest }
}

/// One command given outside a mail (a panel form): its name without `#` and its argument,
/// read exactly as the same line at the top of a reply would be, refusals worded the same.
pub fn command(name: &str, arg: &str) -> Command {
    build(name, &fold(name), arg.trim().to_string())
}

fn takes_text(key: &str) -> bool {
    matches!(
        key,
        "nota" | "pendiente" | "resolver" | "cerrar" | "incidente"
    )
}

fn build(name: &str, key: &str, arg: String) -> Command {
    let invalid = |reason: String| Command::Invalid {
        name: name.to_string(),
        reason,
    };
    let required = |what: &str, arg: String, make: fn(String) -> Command| {
        if arg.is_empty() {
            invalid(format!("Falta {what} después de #{name}."))
        } else {
            make(arg)
        }
    };
    let email = |make: fn(String) -> Command| match parse_email(&arg) {
        Ok(e) => make(e),
        Err(reason) => invalid(format!("#{name}: {reason}")),
    };
    match key {
        "asignar" if arg.trim().is_empty() => Command::Assign { to: String::new() },
        "asignar" => match single(&arg) {
            Some(word) if !word.contains('@') => match crate::domain::group::code(word) {
                Some(code) => Command::Assign { to: code },
                None => invalid(format!(
                    "#{name}: «{word}» no es un correo electrónico ni un código de grupo."
                )),
            },
            _ => email(|to| Command::Assign { to }),
        },
        "incidente" => Command::Incident { reason: arg },
        "requerimiento" => match single(&arg) {
            Some(code) if SERVICE_CODE.is_match(code) => Command::ToRequest {
                service: Some(code.to_uppercase()),
            },
            None if arg.is_empty() => Command::ToRequest { service: None },
            _ => invalid(format!(
                "#{name} espera solo el código del servicio (o nada), no «{arg}»."
            )),
        },
        "aprobador" => email(|email| Command::Approver { email }),
        "solicitante" => email(|email| Command::Requester { email }),
        "nota" => required("el texto de la nota", arg, |text| Command::Note { text }),
        "pendiente" => required("el motivo", arg, |reason| Command::Pending { reason }),
        "resolver" => required("la descripción de la solución", arg, |text| {
            Command::Resolve { text }
        }),
        "cerrar" => required("el motivo del cierre", arg, |reason| Command::Close {
            reason,
        }),
        "prioridad" => match arg.parse() {
            Ok(p) => Command::Priority(p),
            Err(()) if arg.is_empty() => invalid(format!(
                "Falta la prioridad después de #{name}: alta, media o baja."
            )),
            Err(()) => invalid(format!(
                "Prioridad «{arg}» no válida: use alta, media o baja."
            )),
        },
        "servicio" => match single(&arg) {
            Some(code) if SERVICE_CODE.is_match(code) => Command::Service {
                code: code.to_uppercase(),
            },
            Some(code) => invalid(format!("Código de servicio «{code}» no válido.")),
            None if arg.is_empty() => {
                invalid(format!("Falta el código del servicio después de #{name}."))
            }
            None => invalid(format!(
                "#{name} espera solo el código del servicio, no «{arg}»."
            )),
        },
        "cambio" => match single(&arg) {
            Some(id) if CHANGE_ID.is_match(id) => Command::Change {
                id: id.to_uppercase(),
            },
            Some(id) => invalid(format!(
                "«{id}» no es un número de cambio (ejemplo: CHG-123)."
            )),
            None if arg.is_empty() => {
                invalid(format!("Falta el número de cambio después de #{name}."))
            }
            None => invalid(format!(
                "#{name} espera solo el número de cambio, no «{arg}»."
            )),
        },
        _ => Command::Unknown {
            name: name.to_string(),
        },
    }
}

/// The argument when it is exactly one word (trailing `.`/`,` dropped).
fn single(arg: &str) -> Option<&str> {
    let word = arg.trim().trim_end_matches(['.', ',', ';']);
    (!word.is_empty() && !word.contains(char::is_whitespace)).then_some(word)
}

/// A lowercased address from `juan@x.co`, `<juan@x.co>`, `Juan <juan@x.co>`
/// or Outlook's `juan@x.co<mailto:juan@x.co>`.
///
/// # Errors
/// A Spanish message for the agent when the address is missing or invalid.
pub fn parse_email(arg: &str) -> Result<String, String> {
    let addr = bare_address(arg).trim_end_matches('.');
    if addr.is_empty() {
        return Err("falta el correo electrónico.".into());
    }
    if is_email(addr) {
        Ok(addr.to_lowercase())
    } else {
        Err(format!(
            "«{}» no es un correo electrónico válido.",
            arg.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(text: &str) -> Vec<Command> {
        parse_commands(text).commands
    }

    #[test]
    fn parses_a_typical_agent_reply() {
        let text = "\r\n#asignar Laura.Rojas@minhacienda.gov.co\r\n#Prioridad ALTA\r\n\
            #servicio siif-01\r\n#NOTA Llamé al usuario,\r\nconfirma que el error persiste.\r\n\r\n\
            Hola Juan, ya estamos revisando.\r\n\r\nLaura";
        let p = parse_commands(text);
        assert_eq!(
            p.commands,
            [
                Command::Assign {
                    to: "laura.rojas@minhacienda.gov.co".into()
                },
                Command::Priority(Priority::Alta),
                Command::Service {
                    code: "SIIF-01".into()
                },
                Command::Note {
                    text: "Llamé al usuario,\nconfirma que el error persiste.".into()
                },
            ]
        );
        assert_eq!(p.rest, "Hola Juan, ya estamos revisando.\n\nLaura");
    }

    #[test]
    fn text_may_start_on_next_line() {
        let p = parse_commands(
            "#resolver\nSe reinstaló el certificado.\nQueda operativo.\n#cerrar:duplicado de INC-4",
        );
        assert_eq!(
            p.commands,
            [
                Command::Resolve {
                    text: "Se reinstaló el certificado.\nQueda operativo.".into()
                },
                Command::Close {
                    reason: "duplicado de INC-4".into()
                },
            ]
        );
        assert_eq!(p.rest, "");
    }

    #[test]
    fn accent_insensitive_names_and_all_kinds() {
        let text = "#PENDIENTE esperando al proveedor\n#cambio chg-2025-001\n\
            #Aprobador Jefe <jefe@x.gov.co>\n#solicitante ana@x.gov.co<mailto:ana@x.gov.co>\n#prioridad baja\n#prioridad Media";
        assert_eq!(
            cmds(text),
            [
                Command::Pending {
                    reason: "esperando al proveedor".into()
                },
                Command::Change {
                    id: "CHG-2025-001".into()
                },
                Command::Approver {
                    email: "jefe@x.gov.co".into()
                },
                Command::Requester {
                    email: "ana@x.gov.co".into()
                },
                Command::Priority(Priority::Baja),
                Command::Priority(Priority::Media),
            ]
        );
        assert_eq!(cmds("#NÓTA x"), [Command::Note { text: "x".into() }]);
        // Alone, the sender takes it (the notices' "Asignármela" button).
        assert_eq!(cmds("#asignar"), [Command::Assign { to: String::new() }]);
    }

    #[test]
    fn reports_invalid_arguments_in_spanish() {
        let got = cmds(
            "#asignar juan perez\n#prioridad urgente\n#nota\n#servicio a b\n#cambio 123\n#servicio",
        );
        let reasons: Vec<_> = got
            .iter()
            .map(|c| match c {
                Command::Invalid { reason, .. } => reason.as_str(),
                other => panic!("expected invalid, got {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "#asignar: «juan perez» no es un correo electrónico válido.",
                "Prioridad «urgente» no válida: use alta, media o baja.",
                "Falta el texto de la nota después de #nota.",
                "#servicio espera solo el código del servicio, no «a b».",
                "«123» no es un número de cambio (ejemplo: CHG-123).",
                "Falta el código del servicio después de #servicio.",
            ]
        );
    }

    #[test]
    fn unknown_commands_and_rest() {
        let p = parse_commands("#escalar nivel 2\n#\nTexto libre\n#nota no es comando");
        assert_eq!(
            p.commands,
            [
                Command::Unknown {
                    name: "escalar".into()
                },
                Command::Unknown { name: "".into() }
            ]
        );
        assert_eq!(p.rest, "Texto libre\n#nota no es comando");
    }

    #[test]
    fn non_text_command_does_not_absorb_lines() {
        let p = parse_commands("#prioridad alta\nGracias por avisar.");
        assert_eq!(p.commands, [Command::Priority(Priority::Alta)]);
        assert_eq!(p.rest, "Gracias por avisar.");
    }

    #[test]
    fn no_commands() {
        assert_eq!(parse_commands(""), ParsedCommands::default());
        let p = parse_commands("\n\nHola, adjunto el pantallazo.\n");
        assert!(p.commands.is_empty());
        assert_eq!(p.rest, "Hola, adjunto el pantallazo.");
    }

    #[test]
    fn a_command_from_a_form_reads_as_the_same_line_of_a_mail() {
        assert_eq!(
            command("prioridad", " Alta "),
            Command::Priority(Priority::Alta)
        );
        assert_eq!(
            command("nota", "línea uno\n#cerrar no es otro comando"),
            Command::Note {
                text: "línea uno\n#cerrar no es otro comando".into()
            }
        );
        assert_eq!(
            command("pendiente", ""),
            cmds("#pendiente").remove(0),
            "the same refusal"
        );
    }

    #[test]
    fn email_parsing() {
        assert_eq!(parse_email("Juan@X.gov.co."), Ok("juan@x.gov.co".into()));
        assert!(parse_email("juan @x.co").is_err());
    }

    #[test]
    fn priority_round_trip() {
        for p in [Priority::Alta, Priority::Media, Priority::Baja] {
            assert_eq!(p.as_str().to_uppercase().parse(), Ok(p));
        }
        assert_eq!("Média.".parse(), Ok(Priority::Media));
        assert_eq!("urgente".parse::<Priority>(), Err(()));
    }
}
