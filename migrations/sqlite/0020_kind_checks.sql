-- no-transaction
-- The kinds of mail (messages.kind, outbox.kind) and of audit events (events.kind) accept only
-- the words the code knows: `MailKind` and `EventKind`, those it writes and those older
-- versions wrote, which old rows still hold. PostgreSQL's 0020 adds the same CHECKs under the
-- same names.
--
-- SQLite cannot add a CHECK to a table: the three are rebuilt as 0019 rebuilt them (create
-- `t_new`, copy, drop `t`, rename, recreate its indexes), with foreign keys off since
-- attachments and raw_chunks refer to messages; hence `no-transaction` above, and the
-- transaction opened here. `Db::migrate` checks before that no row holds a kind the CHECKs
-- refuse, and names it.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- messages
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    references_hdr TEXT,
    thread_key TEXT,
    from_addr TEXT NOT NULL,
    from_name TEXT,
    to_addrs TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    at INTEGER NOT NULL,
    raw BLOB,
    imap_uidvalidity INTEGER,
    imap_uid INTEGER,
    imap_state TEXT,
    created_at INTEGER NOT NULL,
    fingerprint TEXT,
    CONSTRAINT messages_direction_known CHECK (direction IN ('in', 'out')),
    CONSTRAINT messages_imap_state_known CHECK (imap_state IN ('pending_move', 'pending_quarantine', 'moved')),
    CONSTRAINT messages_kind_known CHECK (kind IN ('accion_no_verificada', 'accion_rechazada', 'acuse', 'alerta_operaciones', 'alerta_sla', 'aprobacion_invalida', 'aprobado', 'asignacion', 'aviso_agentes', 'aviso_asignado', 'catalogo', 'cierre', 'comando_invalido', 'copia', 'correo_propio', 'cuarentena', 'decision_registrada', 'encuesta', 'encuesta_registrada', 'enlace_ingreso', 'espera_aprobacion', 'fuera_de_oficina', 'incidente', 'incidente_copia', 'informacion_faltante', 'informe_mensual', 'limite_remitente', 'masivo', 'mensaje_tercero', 'nueva_solicitud', 'rebote', 'respuesta', 'respuesta_agente', 'respuesta_aprobacion', 'respuesta_automatica', 'respuesta_incidente', 'respuesta_no_entendida', 'respuesta_pendiente', 'respuesta_resumen', 'respuesta_sin_efecto', 'resumen_aprobaciones', 'solicitante_no_verificado', 'solicitud', 'solicitud_aprobacion', 'alerta_seguridad'))
) STRICT;
INSERT INTO messages_new (id, ticket_id, direction, kind, message_id, in_reply_to, references_hdr, thread_key, from_addr, from_name, to_addrs, subject, body_text, body_html, at, raw, imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint)
SELECT id, ticket_id, direction, kind, message_id, in_reply_to, references_hdr, thread_key, from_addr, from_name, to_addrs, subject, body_text, body_html, at, raw, imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint
FROM messages;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))
WHERE name = 'messages_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'messages_new', seq
FROM sqlite_sequence
WHERE name = 'messages' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_new');
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_inbound_message_id ON messages(message_id) WHERE direction = 'in';
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_ticket ON messages(ticket_id);
CREATE INDEX messages_thread_key ON messages(thread_key) WHERE thread_key IS NOT NULL;
CREATE INDEX messages_pending_move ON messages(imap_state) WHERE imap_state IS NOT NULL AND imap_state <> 'moved';
CREATE INDEX messages_inbound_from ON messages(from_addr, created_at) WHERE direction = 'in';

-- events
CREATE TABLE events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    activity INTEGER,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    CONSTRAINT events_kind_known CHECK (kind IN ('accion_rechazada', 'alerta_sla', 'aprobacion_cancelada', 'aprobacion_solicitada', 'aprobacion_vencida', 'aprobado', 'aprobador_ausente', 'aprobador_corregido', 'aprobador_invalido', 'asignado', 'cambio', 'categorizado', 'comandos_ignorados', 'comentario', 'convertido_incidente', 'correo_automatico', 'correo_enviado', 'encuesta', 'estado', 'evidencia', 'incidente_abierto', 'incompleto', 'informacion_recibida', 'mensaje_tercero', 'nota', 'prioridad', 'reabierto', 'rechazado', 'recordatorio', 'registrado', 'relacionado', 'requiere_aprobacion', 'respuesta_no_entendida', 'respuesta_omitida', 'respuesta_publica', 'respuesta_recibida', 'respuesta_sin_efecto', 'respuesta_tardia', 'resuelto', 'sin_acuse', 'sin_aprobacion', 'sin_categoria', 'sin_respuesta', 'sla_pausado', 'sla_reanudado', 'solicitud_recibida', 'suplente', 'suplente_es_solicitante', 'texto_no_enviado', 'validada', 'verificado', 'ya_aprobado', 'aprobacion_pendiente', 'aprobador', 'seguridad'))
) STRICT;
INSERT INTO events_new (id, ticket_id, at, actor, activity, kind, description)
SELECT id, ticket_id, at, actor, activity, kind, description
FROM events;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'events_new', seq
FROM sqlite_sequence
WHERE name = 'events' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events_new');
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_ticket ON events(ticket_id);

-- outbox
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    envelope_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    claimed_by TEXT,
    CONSTRAINT outbox_status_known CHECK (status IN ('pending', 'sent', 'failed')),
    CONSTRAINT outbox_kind_known CHECK (kind IN ('accion_no_verificada', 'accion_rechazada', 'acuse', 'alerta_operaciones', 'alerta_sla', 'aprobacion_invalida', 'aprobado', 'asignacion', 'aviso_agentes', 'aviso_asignado', 'catalogo', 'cierre', 'comando_invalido', 'copia', 'correo_propio', 'cuarentena', 'decision_registrada', 'encuesta', 'encuesta_registrada', 'enlace_ingreso', 'espera_aprobacion', 'fuera_de_oficina', 'incidente', 'incidente_copia', 'informacion_faltante', 'informe_mensual', 'limite_remitente', 'masivo', 'mensaje_tercero', 'nueva_solicitud', 'rebote', 'respuesta', 'respuesta_agente', 'respuesta_aprobacion', 'respuesta_automatica', 'respuesta_incidente', 'respuesta_no_entendida', 'respuesta_pendiente', 'respuesta_resumen', 'respuesta_sin_efecto', 'resumen_aprobaciones', 'solicitante_no_verificado', 'solicitud', 'solicitud_aprobacion', 'alerta_seguridad'))
) STRICT;
INSERT INTO outbox_new (id, ticket_id, kind, message_id, envelope_from, recipients, raw, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at, claimed_by)
SELECT id, ticket_id, kind, message_id, envelope_from, recipients, raw, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at, claimed_by
FROM outbox;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))
WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'outbox_new', seq
FROM sqlite_sequence
WHERE name = 'outbox' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_new');
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
COMMIT;
PRAGMA foreign_keys = ON;
