//! The mail texts the procedure sends, by name: `templates/<name>.asunto.hbs` and
//! `<name>.cuerpo.hbs`. One enum, so that a template the code names but the directory lacks
//! fails at start (`mail::templates` loads every variant), and a new one must be given its
//! buttons (`mail::html::actions` matches every variant).

use strum::{EnumIter, EnumString, IntoStaticStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Template {
    AccionNoVerificada,
    AcuseRecibo,
    AlertaSla,
    AprobacionVencida,
    Aprobado,
    AprobadorRequerido,
    Asignacion,
    Catalogo,
    CierreCambio,
    CierreCancelado,
    CierreSinRespuesta,
    ComandoInvalido,
    DecisionRegistrada,
    EncuestaRegistrada,
    EnlaceIngreso,
    EsperaAprobacion,
    Incidente,
    IncidenteCopia,
    InformacionFaltante,
    InformeMensual,
    LimiteRemitente,
    MensajeTercero,
    MensajeUsuario,
    NuevaSolicitud,
    Reabierto,
    Rechazado,
    RespuestaAgente,
    RespuestaNoEntendida,
    RespuestaResumen,
    RespuestaSinEfecto,
    ResueltoEncuesta,
    ResumenAprobaciones,
    SinCategoria,
    SolicitanteNoVerificado,
    SolicitudAprobacion,
}

super::stored_words!(Template, "The file name's stem, e.g. `acuse_recibo`.");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The shipped directory and the enum name the same templates: a file nobody renders is
    /// as much a mistake as a name without a file.
    #[test]
    fn every_shipped_template_file_has_a_name_and_every_name_a_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Some(stem) = name
                .strip_suffix(".asunto.hbs")
                .or_else(|| name.strip_suffix(".cuerpo.hbs"))
            {
                files.insert(stem.to_owned());
            }
        }
        let named: BTreeSet<String> = Template::all().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(files, named);
        assert_eq!(
            "acuse_recibo".parse::<Template>(),
            Ok(Template::AcuseRecibo)
        );
    }
}
