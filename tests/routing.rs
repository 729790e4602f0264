//! Issue 17 items 2 and 3: resolver groups and activity 2 with a person in it, observed in
//! the inboxes of the shipped directory's people, on both databases.

mod support;

use support::flow::{inbox_with, notice, request, tag};

use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "Laura Rojas <laura.rojas@example.test>";
const LAURA_ADDR: &str = "laura.rojas@example.test";
const ANDRES_ADDR: &str = "andres.castro@example.test";
const MIGUEL_ADDR: &str = "miguel.torres@example.test";
const WAIT: Duration = Duration::from_secs(25);

async fn new_work_notices(w: &World, to: &str) -> usize {
    mail::inbox(w.mail.imap_port, to)
        .await
        .iter()
        .filter(|m| m.subject.contains("Nueva solicitud"))
        .count()
}

async fn a_complete_request_reaches_exactly_its_group(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS,
        "Préstamo de videobeam",
        "Necesito un videobeam para la reunión del comité.\nFecha y hora: 3 de diciembre, 9:00 a. m.\nLugar: Sala de juntas piso 5\n",
    )
    .await;
    let n = notice(&w, MIGUEL_ADDR, &id).await;
    for line in [
        "Necesito un videobeam para la reunión del comité.",
        "Lugar: Sala de juntas piso 5",
        "Fecha y hora: 3 de diciembre, 9:00 a. m.",
        "Servicio: Préstamo de videobeam",
        // Where to find the requester, from the directory.
        "Dependencia: Subdirección de Infraestructura Tecnológica",
    ] {
        assert!(n.body_text.contains(line), "{line}: {}", n.body_text);
    }
    // The agents at the desk are not the group: they get nothing about it. Notices are
    // queued with the request's ticket; idle, every one of them is in its inbox.
    w.wait_idle(WAIT).await;
    assert_eq!(new_work_notices(&w, LAURA_ADDR).await, 0);
    assert_eq!(new_work_notices(&w, ANDRES_ADDR).await, 0);
}

async fn assigning_to_a_requester_is_refused_and_to_a_group_carries_the_request(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS,
        "Instalación de impresora",
        "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n",
    )
    .await;
    let n = notice(&w, LAURA_ADDR, &id).await;
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        &format!("#asignar {CARLOS_ADDR}"),
    )
    .await;
    let refused = inbox_with(&w, LAURA_ADDR, "refusal", |m| {
        m.subject.contains("Comandos no aplicados") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    assert!(
        refused.body_text.contains("solo se asigna a agentes"),
        "{}",
        refused.body_text
    );
    let t = w.cli().ticket(&id);
    assert!(t["assignee"].is_null(), "{t}");

    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        "#nota El usuario pide que sea antes del mediodía\n#asignar soporte-sitio",
    )
    .await;
    let assigned = inbox_with(&w, MIGUEL_ADDR, "assignment", |m| {
        m.subject.contains("Requerimiento asignado") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    for line in [
        "Ubicación: Piso 3, oficina 301",
        "Necesito instalar la impresora de la oficina.",
        "El usuario pide que sea antes del mediodía",
    ] {
        assert!(
            assigned.body_text.contains(line),
            "{line}: {}",
            assigned.body_text
        );
    }
    assert_eq!(w.cli().ticket(&id)["assignee"], "soporte-sitio");
}

async fn a_full_mailbox_request_with_its_fields_is_a_request(w: World) {
    let _d = w.spawn_daemon();
    let id = request(
        &w,
        CARLOS,
        "Buzón lleno",
        "Me sale un error de buzón lleno y no puedo recibir correos. Solicito ampliar el tamaño \
         de mi buzón.\nJustificación: recibo los informes de todas las regionales\nTamaño \
         solicitado: 10 GB\nAprobador: luisa.martinez@example.test\n",
    )
    .await;
    assert!(id.starts_with("REQ-"), "{id}");
    assert_eq!(w.cli().ticket(&id)["service"], "BUZON");
    let inbox = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await;
    assert!(
        !inbox.iter().any(|m| m.subject.contains("INC-")),
        "{:?}",
        inbox.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

async fn incidents_reach_the_agents_and_an_agent_turns_a_request_into_one(w: World) {
    let _d = w.spawn_daemon();
    // No [incidents] address: the agents receive it.
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            CARLOS,
            "SIIF caído",
            "El SIIF no funciona desde esta mañana.",
        ),
    )
    .await;
    for agent in [LAURA_ADDR, ANDRES_ADDR] {
        inbox_with(&w, agent, "incident copy", |m| {
            m.subject.contains("[INC-1] Incidente reportado")
        })
        .await;
    }

    let id = request(&w, CARLOS,
        "Instalación de impresora",
        "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n",
    )
    .await;
    let n = notice(&w, LAURA_ADDR, &id).await;
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        "#incidente la impresora ya estaba instalada y dejó de imprimir",
    )
    .await;
    let told = inbox_with(&w, CARLOS_ADDR, "incident notice", |m| {
        m.subject.contains("[INC-2]")
    })
    .await;
    assert!(told.body_text.contains(&id), "{}", told.body_text);
    let t = eventually(WAIT, "request closed as incident", || async {
        let t = w.cli().ticket(&id);
        (t["status"] == "cerrado").then_some(t)
    })
    .await;
    assert_eq!(t["close_reason"], "incidente");
    inbox_with(&w, ANDRES_ADDR, "converted incident copy", |m| {
        m.subject.contains("[INC-2] Incidente reportado")
    })
    .await;
}

/// The shipped directory with on-site support reading its mail through a list address.
async fn with_a_group_list(kind: support::DbKind) -> Option<(tempfile::TempDir, World)> {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(support::repo_root().join("deploy/directory.toml")).unwrap();
    let members = "members = [\"miguel.torres@example.test\"]";
    assert!(shipped.contains(members));
    let text = shipped.replace(members, &format!("{members}\nemail = \"{LIST}\""));
    let path = dir.path().join("directory.toml");
    std::fs::write(&path, text).unwrap();
    let w = World::with_directory_and(kind, &path, "").await?;
    Some((dir, w))
}

const LIST: &str = "soporte-sitio@example.test";

/// A group with a list address gets one notice, whose reply code was issued to the list: a
/// member answering it from their own address is proven and takes the request with the
/// "Asignármela" button's `#asignar`; staff who are not members are not.
async fn a_member_of_a_group_list_acts_on_the_lists_notice((_dir, w): (tempfile::TempDir, World)) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS,
        "Préstamo de videobeam",
        "Necesito un videobeam para la reunión del comité.\nFecha y hora: 3 de diciembre, 9:00 a. m.\nLugar: Sala de juntas piso 5\n",
    )
    .await;
    let n = notice(&w, LIST, &id).await;
    w.wait_idle(WAIT).await;
    assert_eq!(
        new_work_notices(&w, MIGUEL_ADDR).await,
        0,
        "the list reads it, not each member"
    );

    // Laura works tickets but is not in the group: the list's code is not hers.
    mail::reply(w.mail.smtp_port, LAURA, &n, "#asignar").await;
    inbox_with(&w, LAURA_ADDR, "the refusal", |m| {
        tag(m).as_deref() == Some(id.as_str()) && m.body_text.contains("enviado a otra persona")
    })
    .await;
    assert!(w.cli().ticket(&id)["assignee"].is_null());

    mail::reply(
        w.mail.smtp_port,
        "Miguel Torres <miguel.torres@example.test>",
        &n,
        "#asignar",
    )
    .await;
    eventually(WAIT, "taken by the member", || async {
        (w.cli().ticket(&id)["assignee"] == MIGUEL_ADDR).then_some(())
    })
    .await;
}

mod group_list {
    use super::*;
    on_both_databases!(setup = with_a_group_list;
        a_member_of_a_group_list_acts_on_the_lists_notice,
    );
}

on_both_databases!(
    with_procedure;
    a_complete_request_reaches_exactly_its_group,
    assigning_to_a_requester_is_refused_and_to_a_group_carries_the_request,
    a_full_mailbox_request_with_its_fields_is_a_request,
    incidents_reach_the_agents_and_an_agent_turns_a_request_into_one,
);
