-- Status, kind and reason columns accept only the values the code writes; the same CHECKs,
-- under the same names, as SQLite's 0019 (which also makes its tables STRICT: PostgreSQL's
-- columns are typed already). `Db::migrate` checks before that no row holds a value they
-- refuse, and names it.

ALTER TABLE tickets ADD CONSTRAINT tickets_status_known CHECK (status IN ('registrado', 'pendiente_por_usuario', 'pendiente_aprobacion', 'trabajo_en_progreso', 'resuelto', 'cerrado'));
ALTER TABLE tickets ADD CONSTRAINT tickets_close_reason_known CHECK (close_reason IN ('resuelto', 'cambio', 'rechazado', 'sin_respuesta_usuario', 'cancelado', 'incidente'));
ALTER TABLE tickets ADD CONSTRAINT tickets_priority_known CHECK (priority IN ('alta', 'media', 'baja'));
ALTER TABLE messages ADD CONSTRAINT messages_direction_known CHECK (direction IN ('in', 'out'));
ALTER TABLE messages ADD CONSTRAINT messages_imap_state_known CHECK (imap_state IN ('pending_move', 'pending_quarantine', 'moved'));
ALTER TABLE outbox ADD CONSTRAINT outbox_status_known CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE timers ADD CONSTRAINT timers_kind_known CHECK (kind IN ('pendiente_usuario', 'autocierre', 'sla', 'aprobacion_recordatorio', 'aprobacion_vencida'));
ALTER TABLE approvals ADD CONSTRAINT approvals_kind_known CHECK (kind IN ('none', 'jefe_inmediato', 'seguridad_informacion'));
ALTER TABLE approvals ADD CONSTRAINT approvals_status_known CHECK (status IN ('esperando_aprobador', 'pendiente', 'aprobado', 'rechazado', 'cancelada'));
ALTER TABLE approval_tokens ADD CONSTRAINT approval_tokens_purpose_known CHECK (purpose IN ('aprobacion', 'respuesta'));
