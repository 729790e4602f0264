#!/usr/bin/env bash
# Screenshots of the web panel's main pages for the README: starts a private loopback mail
# server and the daemon with the panel on a fresh SQLite file (like deploy/dev/demo.sh, on free
# ports, in a temporary directory), sends a few requests by mail, adds a month of closed
# history, signs each person in from the link mailed to them in headless Chromium over
# WebDriver, and writes PNGs into docs/screenshots/.
#
#   deploy/dev/screenshots.sh [--keep]      (needs chromium and chromium-driver)
#
# --keep leaves the temporary directory (daemon log, database, mailboxes) for a look.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/docs/screenshots
KEEP=no
[[ ${1:-} == --keep ]] && KEEP=yes
for cmd in chromium chromedriver python3 curl; do
    command -v "$cmd" >/dev/null || { echo "screenshots.sh: $cmd is missing (apt-get install chromium chromium-driver)" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
STATE=$(mktemp -d /tmp/mesayuda-shots.XXXXXX)
# Postfix and Dovecot run as their own users and must reach the mail directory.
chmod 0755 "$STATE"
SMTP_PORT=$(free_port); IMAP_PORT=$(free_port); IMAPS_PORT=$(free_port); WEB_PORT=$(free_port); DRIVER_PORT=$(free_port)
BASE=http://127.0.0.1:$WEB_PORT
DAEMON=; DRIVER=
cleanup() {
    [[ -n $DRIVER ]] && kill -KILL -- -"$DRIVER" 2>/dev/null || true
    [[ -n $DAEMON ]] && { kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null || true; }
    deploy/dev/mailserver.sh stop "$STATE/mail" >/dev/null 2>&1 || true
    if [[ $KEEP == yes ]]; then echo "screenshots.sh: kept $STATE" >&2; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

deploy/dev/mailserver.sh start "$STATE/mail" --smtp-port "$SMTP_PORT" --imap-port "$IMAP_PORT" --imaps-port "$IMAPS_PORT" >/dev/null
cat > "$STATE/mesayuda.toml" <<TOML
[database]
url = "sqlite://$STATE/mesayuda.db"

[imap]
host = "127.0.0.1"
port = $IMAP_PORT
security = "none"
username = "mesayuda@example.test"
password = "secret"
poll_interval_secs = 2

[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
security = "none"
from = "Servicios Tecnológicos <servicios.tecnologicos@example.test>"
reply_to = "Mesa de Ayuda <mesayuda@example.test>"

[paths]
templates = "$ROOT/templates"
catalog = "$ROOT/deploy/catalog.toml"
directory = "$ROOT/deploy/directory.toml"

[http]
listen = ""

[web]
listen = "127.0.0.1:$WEB_PORT"
base_url = "$BASE"
TOML

cargo build --locked --quiet
# Where cargo put it: ./target unless CARGO_TARGET_DIR says otherwise.
BIN="${CARGO_TARGET_DIR:-target}/debug/mesayuda"
MESAYUDA="$BIN --config $STATE/mesayuda.toml"
"$BIN" --config "$STATE/mesayuda.toml" run 2>"$STATE/daemon.log" &
DAEMON=$!

send() { # from subject body
    printf 'From: %s\r\nTo: mesayuda@example.test\r\nContent-Type: text/plain; charset=utf-8\r\nSubject: %s\r\n\r\n%s\r\n' "$1" "$2" "$3" |
        curl -s "smtp://127.0.0.1:$SMTP_PORT" --mail-from "$(sed 's/.*<\(.*\)>.*/\1/' <<<"$1")" --mail-rcpt mesayuda@example.test -T -
}
send 'Carlos Pérez <carlos.perez@example.test>' 'Acceso VPN' $'Necesito acceso remoto por VPN para trabajar desde casa.\r\nJustificación: cierre contable de fin de año\r\nNúmero de equipo: PC-0456\r\nFecha de finalización: 2026-12-31\r\nAprobador: luisa.martinez@example.test'
send 'Ana Gómez <ana.gomez@example.test>' 'Cambio de contraseña' $'Olvidé mi contraseña del correo, necesito cambiarla.'
send 'Jorge Ramírez <jorge.ramirez@example.test>' 'Préstamo de portátil' $'Necesito un portátil prestado para una presentación el viernes.\r\nUbicación: Piso 3'
for _ in $(seq 1 120); do
    [[ $($MESAYUDA tickets list --json 2>/dev/null | python3 -c 'import sys, json; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0) -ge 3 ]] && break
    sleep 0.5
done

# The VPN request waits on its approver before Luisa's page is taken.
for _ in $(seq 1 120); do
    $MESAYUDA tickets list --json 2>/dev/null | grep -q pendiente_aprobacion && break
    sleep 0.5
done

# A month of closed history, so the compliance report has something to draw. Demo data only:
# written straight into the demo's own SQLite file, as an import would.
python3 - "$STATE/mesayuda.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
rows = []
plan = [("VPN", 16, [4, 9, 12, 20, 6, 15]), ("CLAVE", 4, [1, 2, 3, 5]),
        ("BUZON", 8, [2, 3, 4, 6, 9]), ("PORTALES", 8, [3, 7, 10]), (None, 8, [2])]
ratings = [5, 4, 4, 3, 5, 2, 5, 4]
i = 0
for service, target_h, used in plan:
    for u in used:
        i += 1
        closed = now - (i % 20) * 3600
        rows.append(("cerrado", "resuelto", "Solicitud de ejemplo %d" % i, "ana.gomez@example.test",
                     "historia%d@example.test" % i, closed - 86400, closed, closed, service,
                     target_h * 3600, u * 3600, min(3, (u * 4) // (target_h * 2)),
                     ratings[i % len(ratings)] if i % 2 else None))
db.executemany("""INSERT INTO tickets (status, close_reason, subject, requester, root_message_id,
    created_at, updated_at, closed_at, service, sla_target_secs, sla_used_secs, sla_alerts_sent,
    survey_rating) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
db.commit()
PY

TMPDIR=$STATE HOME=$STATE setsid chromedriver --port="$DRIVER_PORT" >/dev/null 2>&1 &
DRIVER=$!
python3 - "$BASE" "$DRIVER_PORT" "$IMAP_PORT" "$OUT" <<'PY'
import base64, email, email.policy, imaplib, json, os, sys, time, urllib.request

base, driver_port, imap_port, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
driver = "http://127.0.0.1:%s" % driver_port
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(driver + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]

def wait(what, f, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.3)
    sys.exit("screenshots.sh: timed out waiting for " + what)

wait("chromedriver", lambda: urllib.request.urlopen(driver + "/status"))
wait("the panel", lambda: urllib.request.urlopen(base + "/"))

def links(addr):
    m = imaplib.IMAP4("127.0.0.1", imap_port)
    m.login(addr, "secret")
    m.select("INBOX")
    found = []
    for num in m.search(None, "ALL")[1][0].split():
        msg = email.message_from_bytes(m.fetch(num, "(RFC822)")[1][0][1], policy=email.policy.default)
        if "enlace para ingresar" in str(msg["subject"]):
            text = msg.get_body(("plain",)).get_content()
            found += [w for w in text.split() if "/ingresar/" in w]
    m.logout()
    return found

def session(width, height):
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", "--window-size=%d,%d" % (width, height)]}}}}
    if width < 500:
        caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] = {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}}
    return "/session/" + call("POST", "/session", caps)["sessionId"]

def find(s, css):
    return call("POST", s + "/element", {"using": "css selector", "value": css})[ELEMENT]

def sign_in(s, addr):
    before = len(links(addr))
    call("POST", s + "/url", {"url": base + "/"})
    call("POST", s + "/element/%s/value" % find(s, "#correo"), {"text": addr})
    call("POST", s + "/element/%s/click" % find(s, "form[action='/ingresar'] button"), {})
    link = wait("the sign-in mail to " + addr, lambda: (links(addr)[before:] or [None])[0])
    call("POST", s + "/url", {"url": link})
    call("POST", s + "/element/%s/click" % find(s, "#confirmar"), {})
    wait("signed in", lambda: "/ingresar/" not in call("GET", s + "/url"))

def shot(s, path, name):
    call("POST", s + "/url", {"url": base + path})
    height = call("POST", s + "/execute/sync", {"script": "return document.documentElement.scrollHeight;", "args": []})
    rect = call("GET", s + "/window/rect")
    if height > rect["height"] and rect["width"] >= 500:
        call("POST", s + "/window/rect", {"width": rect["width"], "height": min(height + 120, 3000)})
    png = base64.b64decode(call("GET", s + "/screenshot"))
    with open(os.path.join(out, name + ".png"), "wb") as f:
        f.write(png)
    print("screenshots.sh: %s -> docs/screenshots/%s.png" % (path, name))

def visit(addr, pages, width=1200, height=800):
    s = session(width, height)
    try:
        sign_in(s, addr)
        for path, name in pages:
            shot(s, path, name)
    finally:
        call("DELETE", s)

s = session(1200, 700)
try:
    shot(s, "/", "ingreso")
finally:
    call("DELETE", s)
visit("luisa.martinez@example.test", [("/aprobaciones", "aprobaciones-celular")], 390, 844)
visit("carlos.perez@example.test", [("/solicitudes", "solicitudes"), ("/solicitudes/REQ-1", "solicitud")])
visit("laura.rojas@example.test", [("/cola", "cola")])
visit("sandra.moreno@example.test", [("/sla", "sla"), ("/cumplimiento", "cumplimiento")])
visit("sandra.moreno@example.test", [("/cumplimiento", "cumplimiento-celular")], 390, 844)
PY
