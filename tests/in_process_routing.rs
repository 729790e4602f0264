//! Issue 17 in process: activity 2 decides only on new mail (a reply stays on its ticket or
//! incident, whatever words it uses), and a requester's messages reach whoever works the
//! request — its resolver group while nobody has it, then the assignee alone.

mod support;

use mesayuda::workflow::ingest::Outcome;
use support::app::{answer, monday, new_mail, number, TestApp};
use support::DbKind;

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "laura.rojas@example.test";
/// The one member of the shipped `soporte-sitio` group.
const MIGUEL: &str = "miguel.torres@example.test";
const COMPLETE: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";
const VIDEOBEAM: &str = "Solicito el préstamo de un videobeam.\nFecha y hora: 2 de diciembre, 3:00 p. m.\nLugar: Sala de juntas, piso 5\n";

fn kinds(app: &TestApp) -> Vec<String> {
    app.cli()
        .json(&["tickets", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["id"].as_str().unwrap(),
                t["kind"].as_str().unwrap()
            )
        })
        .collect()
}

/// Words the incident patterns match ("no funciona", "error", "falla") in a reply: on an open
/// request the reply stays on it; on an incident it reaches the incident's handlers; on a
/// closed request it opens a new request that refers to it — never an incident.
async fn a_reply_is_never_classified_again(kind: DbKind) {
    let Some(mut app) =
        TestApp::with_request(kind, CARLOS, "Instalación de impresora", COMPLETE).await
    else {
        return;
    };
    let ack = app.last_to(CARLOS_ADDR, "Recibimos su solicitud").clone();
    let n = number(&ack);
    let got = app
        .receive(
            &answer(
                CARLOS,
                &ack,
                "La impresora vieja no funciona y da error; por eso la nueva.",
            ),
            monday(10),
        )
        .await;
    assert!(matches!(got, Outcome::Threaded(t) if t == n), "{got:?}");

    // A new mail that reads as a failure is an incident …
    let got = app
        .receive(
            &new_mail(
                CARLOS,
                "El correo no funciona",
                "Desde esta mañana no abre.",
            ),
            monday(20),
        )
        .await;
    assert!(matches!(got, Outcome::Incident(_)), "{got:?}");
    app.deliver(monday(20)).await;
    let inc = app
        .last_to(CARLOS_ADDR, "se atiende como incidente")
        .clone();
    // … and the reporter's answer that it is not a failure stays on it: no request, no second
    // incident; whoever handles incidents reads it.
    let got = app
        .receive(
            &answer(
                CARLOS,
                &inc,
                "No es una falla: es una solicitud. Necesito que amplíen mi buzón.",
            ),
            monday(30),
        )
        .await;
    assert!(
        matches!(got, Outcome::StoredWithoutAnswer { ticket: None, .. }),
        "{got:?}"
    );
    app.deliver(monday(30)).await;
    let copy = app.last_to(LAURA, "Nuevo mensaje sobre el incidente");
    assert!(
        copy.body_text.contains("No es una falla"),
        "{}",
        copy.body_text
    );
    assert_eq!(
        kinds(&app),
        [format!("{n} requerimiento"), "INC-1 incidente".into()]
    );
    // The same in Carlos's name to the plain address: anyone can write that; passed on marked.
    app.exchange(
        &new_mail(
            CARLOS,
            &format!("RE: {}", inc.subject),
            "Cancelen el incidente.",
        ),
        monday(35),
    )
    .await;
    let marked = app.last_to(LAURA, "Nuevo mensaje sin verificar sobre el incidente");
    assert!(
        marked.body_text.contains("Sin verificar"),
        "{}",
        marked.body_text
    );

    // Closed: the next reply, failure words and all, is a new request referring to it.
    let notice = app.last_to(LAURA, "Nueva solicitud").clone();
    app.receive(&answer(LAURA, &notice, "#cerrar duplicado"), monday(40))
        .await;
    let got = app
        .receive(
            &answer(CARLOS, &ack, "Otra vez no funciona la impresora."),
            monday(50),
        )
        .await;
    let Outcome::Created { ticket: again, .. } = got else {
        panic!("{got:?}")
    };
    let shown = app
        .cli()
        .json(&["tickets", "show", &again.to_string(), "--json"]);
    assert_eq!(shown["kind"], "requerimiento");
    assert_eq!(shown["related_ticket"], n.to_string());
}

/// A request for a group's service: the requester's follow-up goes to the group's members while
/// nobody has it, and to the assignee alone once someone took it.
async fn the_requesters_messages_reach_whoever_works_the_request(kind: DbKind) {
    let Some(mut app) =
        TestApp::with_request(kind, CARLOS, "Préstamo de videobeam", VIDEOBEAM).await
    else {
        return;
    };
    let ack = app.last_to(CARLOS_ADDR, "Recibimos su solicitud").clone();
    let n = number(&ack);
    let notice = app.last_to(MIGUEL, "Nueva solicitud").clone();
    assert_eq!(number(&notice), n);
    assert!(app.inbox(LAURA).iter().all(|m| number(m) != n));

    app.exchange(
        &answer(CARLOS, &ack, "¿Pueden llevar también el cable HDMI?"),
        monday(10),
    )
    .await;
    let to_group = app.last_to(MIGUEL, "Nuevo mensaje del usuario");
    assert!(
        to_group.body_text.contains("cable HDMI"),
        "{}",
        to_group.body_text
    );
    assert!(app.inbox(LAURA).iter().all(|m| number(m) != n));

    // Laura (an agent outside the group) takes it; from then on the messages are hers alone.
    let laura_notice = {
        app.exchange(
            &answer(MIGUEL, &notice, &format!("#asignar {LAURA}")),
            monday(20),
        )
        .await;
        app.last_to(LAURA, "Requerimiento asignado").clone()
    };
    assert_eq!(number(&laura_notice), n);
    let before = app.inbox(MIGUEL).len();
    app.exchange(
        &answer(
            CARLOS,
            &ack,
            "El préstamo es para la reunión con el viceministro.",
        ),
        monday(30),
    )
    .await;
    let to_assignee = app.last_to(LAURA, "Nuevo mensaje del usuario");
    assert!(
        to_assignee.body_text.contains("viceministro"),
        "{}",
        to_assignee.body_text
    );
    assert_eq!(
        app.inbox(MIGUEL).len(),
        before,
        "the group no longer gets it"
    );
}

on_both_databases!(setup = kind;
    a_reply_is_never_classified_again,
    the_requesters_messages_reach_whoever_works_the_request,
);
