#!/usr/bin/env bash
# Starts a working demo: a private loopback mail server (Dovecot + Postfix, domain
# example.test) and the mesayuda daemon on a SQLite file, all state in ./demo-state.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${MESAYUDA_DEMO_DIR:-$PWD/demo-state}
SMTP_PORT=${SMTP_PORT:-2525}
IMAP_PORT=${IMAP_PORT:-1143}
IMAPS_PORT=${IMAPS_PORT:-1993}
mkdir -p "$STATE"

deploy/dev/mailserver.sh start "$STATE/mail" --smtp-port "$SMTP_PORT" --imap-port "$IMAP_PORT" --imaps-port "$IMAPS_PORT"
trap 'deploy/dev/mailserver.sh stop "$STATE/mail"' EXIT

cat > "$STATE/mesayuda.toml" <<TOML
[database]
url = "sqlite://$STATE/mesayuda.db"

[imap]
host = "127.0.0.1"
port = $IMAP_PORT
security = "none"
username = "mesayuda@example.test"
password = "secret"

[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
security = "none"
from = "Servicios Tecnológicos <servicios.tecnologicos@example.test>"
reply_to = "Mesa de Ayuda <mesayuda@example.test>"

[paths]
templates = "$PWD/templates"
catalog = "$PWD/deploy/catalog.toml"
directory = "$PWD/deploy/directory.toml"
TOML

cargo build --locked --quiet
# Where cargo put it: ./target unless CARGO_TARGET_DIR says otherwise.
BIN="${CARGO_TARGET_DIR:-target}/debug/mesayuda"
cat <<TXT

mesayuda demo: help desk mesayuda@example.test, every @example.test user logs in with "secret".

Agents (deploy/directory.toml): laura.rojas@example.test, andres.castro@example.test;
approvers: luisa.martinez@example.test, hernan.quintero@example.test; requesters: any address.

Send a request (another terminal):
  printf 'From: Ana <ana@example.test>\r\nTo: mesayuda@example.test\r\nContent-Type: text/plain; charset=utf-8\r\nSubject: Instalación de impresora\r\n\r\nNecesito la impresora del piso 3.\r\nNúmero de equipo: PC-0456\r\nUbicación: Piso 3\r\n' \\
    | curl -s smtp://127.0.0.1:$SMTP_PORT --mail-from ana@example.test --mail-rcpt mesayuda@example.test -T -
Read the acknowledgement in Ana's inbox (decoded: the mail itself is quoted-printable):
  curl -s --user ana@example.test:secret 'imap://127.0.0.1:$IMAP_PORT/INBOX;UID=1' \\
    | python3 -c 'import sys, email, email.policy as p; m = email.message_from_binary_file(sys.stdin.buffer, policy=p.default); print("Asunto:", m["subject"]); print(m.get_body(("plain",)).get_content())'
See the ticket:
  $BIN --config $STATE/mesayuda.toml tickets list
  $BIN --config $STATE/mesayuda.toml tickets show REQ-1

TXT
# In the background so that Ctrl-C or a TERM to this script stops the daemon before the mail server.
"$BIN" --config "$STATE/mesayuda.toml" run &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null; wait $DAEMON; deploy/dev/mailserver.sh stop "$STATE/mail"' EXIT
trap 'exit 130' INT TERM
wait $DAEMON
