#!/usr/bin/env python3
"""mesayuda benchmark driver (see bench/README.md; started by bench/run.sh).

Runs the release binary against a private loopback Dovecot + Postfix (deploy/dev/mailserver.sh)
on SQLite and on PostgreSQL and measures, for each database:

  1. ceiling    the mail server alone: SMTP in -> visible over IMAP, and SMTP accept of outgoing mail
  2. requests   N new requests already in the inbox: daemon start -> every ticket committed and
                every acknowledgement accepted by SMTP
  3. replies    N replies threaded onto those tickets, same measure
  4. latency    daemon idle in IDLE, requests sent one at a time: SMTP accept of the request ->
                acknowledgement visible in the requester's inbox
  5. memory     VmRSS idle, VmHWM of the request run and of one 25 MB message; start -> "watching
                mailbox"

On request: the scaling runs (--prefill, on prefilled databases) and the soak (--soak, mixed
traffic for --soak-minutes: bench/soak.py).

Only the Python 3.11 standard library is used; PostgreSQL is read through one long-lived `psql`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.policy
import imaplib
import json
import os
import platform
import random
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
MAILSERVER = REPO / "deploy" / "dev" / "mailserver.sh"
DOMAIN = "example.test"
HELPDESK = f"mesayuda@{DOMAIN}"
NOTIFY_FROM = f"servicios.tecnologicos@{DOMAIN}"
CEILING_BOX = f"techo@{DOMAIN}"
LATENCY_USER = f"latencia@{DOMAIN}"
PASSWORD = "secret"
READY_LINE = b"watching mailbox"

GOALS = {
    "requests_msgs_per_s": (">=", 250.0),
    "latency_p95_s": ("<", 1.0),
    "rss_idle_mb": ("<", 20.0),
    "rss_after_burst_mb": ("<", 25.0),
    "hwm_requests_mb": ("<", 100.0),
    "hwm_25mb_mb": ("<", 100.0),
    "ready_ms": ("<", 200.0),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Mail content: Spanish requests, 10 % with a 100 KB attachment

NOMBRES = [
    "María Fernanda Gómez", "José Luis Rodríguez", "Ana Lucía Martínez", "Carlos Andrés Pérez",
    "Luz Marina Hernández", "Jorge Iván Ramírez", "Diana Carolina Torres", "Andrés Felipe Díaz",
    "Paola Andrea Muñoz", "Óscar Eduardo Castaño", "Sandra Milena Rojas", "Julián David Peña",
]
# Service requests of the shipped catalogue that need no approval (deploy/catalog.toml), each
# with the fields the catalogue requires; nothing here reads as an incident ("error", "falla",
# "no funciona" … go to the incident procedure instead of opening a ticket).
SERVICIOS = [
    ("Instalación de impresora en el piso {p}",
     "Necesito que instalen la impresora de la dependencia en mi equipo.",
     ["Número de equipo: MHCP-{n:05d}", "Ubicación: oficina {o}, piso {p}"]),
    ("Desbloqueo de mi usuario de red",
     "Mi cuenta de usuario quedó bloqueada después de cambiar la contraseña el viernes.",
     ["Usuario de red: usr{n:05d}"]),
    ("Préstamo de videobeam para reunión de la Subdirección",
     "Solicito el préstamo del videobeam para la reunión de seguimiento presupuestal.",
     ["Fecha y hora: 15 de diciembre a las 9:00 a. m.", "Lugar: sala de juntas del piso {p}"]),
    ("Configurar el correo institucional en el celular",
     "Quisiera configurar el correo institucional en mi celular para consultar las citaciones.",
     ["Marca y modelo del dispositivo: Samsung Galaxy A{p}4"]),
    ("Recuperación de un archivo de la carpeta compartida",
     "Borré por equivocación un documento de la carpeta compartida de la Subdirección.",
     ["Ruta o carpeta: \\\\archivos\\presupuesto\\{n:05d}", "Nombre del archivo: informe_{n:05d}.xlsx",
      "Fecha aproximada: la semana pasada"]),
    ("Préstamo de portátil para la capacitación regional",
     "Solicito el préstamo de un portátil para la capacitación en la Dirección Territorial.",
     ["Fecha de entrega: 1 de diciembre", "Fecha de devolución: 5 de diciembre", "Lugar: oficina {o}"]),
]
PARRAFOS = [
    "Buenos días, les escribo para solicitar su apoyo con lo siguiente.",
    "Les agradezco su colaboración con este requerimiento, pues es importante para la Subdirección.",
    "El equipo tiene la placa de inventario MHCP-{n:05d} y está en la oficina {o} del edificio principal.",
    "Adjunto la información que tengo disponible; quedo atento(a) a cualquier pregunta adicional.",
    "Necesito que el servicio quede disponible antes del cierre contable de este mes.",
    "Mi extensión es la {e} y estaré en la oficina hasta las 5:00 p. m.",
]
RESPUESTAS = [
    "Gracias por la pronta respuesta. Quedo atento(a) a la visita del técnico.",
    "Adicionalmente, les comento que mi compañera de la oficina {o} necesita lo mismo.",
    "Estaré disponible toda la tarde en la extensión {e}.",
    "Les confirmo los datos de la solicitud; cualquier duda me pueden llamar.",
]
ASUNTOS = [s for s, _, _ in SERVICIOS]


def requester(i: int) -> tuple[str, str]:
    """50 different requesters, as a real week of mail would have."""
    k = i % 50
    return NOMBRES[k % len(NOMBRES)], f"usuario{k:02d}@{DOMAIN}"


def fill(rng: random.Random, line: str) -> str:
    return line.format(n=rng.randrange(99999), o=rng.randrange(100, 999), e=rng.randrange(1000, 9999),
                       p=rng.randrange(2, 9))


def body_text(rng: random.Random, lines: list[str], n: int) -> str:
    return "\n\n".join(fill(rng, rng.choice(lines)) for _ in range(n))


def request_text(rng: random.Random, i: int, complete: bool = True) -> tuple[str, str]:
    """(subject, body) of a service request; incomplete ones lack their last required field."""
    subject, lead, fields = SERVICIOS[i % len(SERVICIOS)]
    if not complete:
        fields = fields[:-1]
    body = "\n\n".join([fill(rng, PARRAFOS[0]), fill(rng, lead), "\n".join(fill(rng, f) for f in fields),
                         body_text(rng, PARRAFOS[1:], 2)])
    return fill(rng, subject), body


def attachment_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def build_mail(*, rng: random.Random, msgid: str, name: str, addr: str, to: str, subject: str,
               text: str, attach: int = 0, in_reply_to: str | None = None,
               references: str | None = None) -> bytes:
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = f"{name} <{addr}>"
    m["To"] = f"Mesa de Ayuda <{to}>"
    m["Subject"] = subject
    m["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    m["Message-ID"] = msgid
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    m.set_content(text + f"\n\nCordialmente,\n{name}\nMinisterio de Hacienda y Crédito Público\n")
    if attach:
        m.add_attachment(attachment_bytes(rng, attach), maintype="application", subtype="pdf",
                         filename=f"soporte_{rng.randrange(10000)}.pdf")
    return m.as_bytes()


def make_requests(n: int, tag: str, seed: int, to: str = HELPDESK) -> list[tuple[str, bytes]]:
    """(envelope sender, raw) pairs; every tenth one has a 100 KB attachment."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name, addr = requester(i)
        # One in ten lacks a required field (the help desk asks for it: one more outgoing mail).
        subject, text = request_text(rng, i, complete=i % 10 != 4)
        raw = build_mail(rng=rng, msgid=f"<{tag}-{i}@{DOMAIN}>", name=name, addr=addr, to=to,
                         subject=f"{subject} ({i})", text=text, attach=100 * 1024 if i % 10 == 9 else 0)
        out.append((addr, raw))
    return out


def make_replies(tickets: list[dict], tag: str, seed: int) -> list[tuple[str, bytes]]:
    """One reply per ticket: even ones by subject tag `RE: [REQ-n] …`, odd ones only by
    In-Reply-To/References of the acknowledgement (subject without the tag)."""
    rng = random.Random(seed)
    out = []
    for i, t in enumerate(tickets):
        name = t["requester_name"] or t["requester"]
        addr = t["requester"]
        quote = "\n".join("> " + ln for ln in f"Su solicitud quedó registrada con el número REQ-{t['id']}.".splitlines())
        text = body_text(rng, RESPUESTAS, 2) + "\n\n" + quote
        if i % 2 == 0:
            subject, irt, refs = f"RE: [REQ-{t['id']}] {t['subject']}", None, None
        else:
            ack = f"<{t['ack_id']}>"
            subject, irt, refs = f"RE: {t['subject']}", ack, f"{t['root']} {ack}"
        raw = build_mail(rng=rng, msgid=f"<{tag}-{i}@{DOMAIN}>", name=name, addr=addr, to=HELPDESK,
                         subject=subject, text=text, attach=100 * 1024 if i % 10 == 9 else 0,
                         in_reply_to=irt, references=refs)
        out.append((addr, raw))
    return out


def make_big(tag: str, size: int) -> bytes:
    """One message of about `size` bytes on the wire (a base64 attachment of 3/4 of that)."""
    rng = random.Random(7)
    name, addr = requester(3)
    return build_mail(rng=rng, msgid=f"<{tag}@{DOMAIN}>", name=name, addr=addr, to=HELPDESK,
                      subject="Recuperación de archivos: envío los anexos escaneados",
                      text=request_text(rng, 4)[1], attach=int(size * 0.74))


def make_ack_like(n: int, seed: int) -> list[tuple[str, bytes]]:
    """Outgoing mail shaped like the acknowledgement (for the outbound ceiling)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name, addr = requester(i)
        m = EmailMessage(policy=email.policy.SMTP)
        m["From"] = f"Servicios Tecnológicos <{NOTIFY_FROM}>"
        m["Reply-To"] = f"Mesa de Ayuda <{HELPDESK}>"
        m["To"] = addr
        m["Subject"] = f"[REQ-{i + 1}] Recibimos su solicitud: {fill(rng, ASUNTOS[i % len(ASUNTOS)])}"
        m["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
        m["Message-ID"] = make_msgid(domain=DOMAIN)
        m.set_content(f"Estimado(a) {name}:\n\nEl Centro de Servicios Tecnológicos recibió su "
                      f"solicitud y la registró con el número REQ-{i + 1}.\n\n"
                      + body_text(rng, PARRAFOS, 2) + "\n\nCordialmente,\n\nCentro de Servicios "
                      "Tecnológicos\n")
        out.append((addr, m.as_bytes()))
    return out


# ---------------------------------------------------------------------------------------------
# Mail server

def free_ports(k: int) -> list[int]:
    socks, ports = [], []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class MailServer:
    def __init__(self, state: Path):
        self.dir = state / "m"
        self.smtp_port, self.imap_port, self.imaps_port = free_ports(3)

    def start(self) -> None:
        if self.dir.exists():
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        out = self.dir.parent / "mailserver.out"
        with open(out, "ab") as f:
            r = subprocess.run([str(MAILSERVER), "start", str(self.dir), "--smtp-port", str(self.smtp_port),
                                "--imap-port", str(self.imap_port), "--imaps-port", str(self.imaps_port)],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        if r.returncode != 0:
            raise SystemExit(f"mail server did not start; see {out}")

    def stop(self) -> None:
        with open(self.dir.parent / "mailserver.out", "ab") as f:
            subprocess.run([str(MAILSERVER), "stop", str(self.dir)], stdin=subprocess.DEVNULL,
                           stdout=f, stderr=f)

    def imap(self, user: str) -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", self.imap_port)
        c.login(user, PASSWORD)
        return c

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname="bench.example.test")

    def count(self, conn: imaplib.IMAP4, mailbox: str = "INBOX") -> int:
        typ, data = conn.status(mailbox, "(MESSAGES)")
        if typ != "OK":
            return 0
        m = re.search(rb"MESSAGES (\d+)", data[0])
        return int(m.group(1)) if m else 0

    def append(self, user: str, mails: list[bytes], threads: int = 3) -> float:
        """IMAP APPEND (unseen) in parallel; returns seconds."""
        t0 = time.monotonic()
        errors: list[BaseException] = []

        def worker(part: list[bytes]) -> None:
            try:
                c = self.imap(user)
                for raw in part:
                    typ, data = c.append("INBOX", None, None, raw)
                    if typ != "OK":
                        raise RuntimeError(f"APPEND: {data}")
                c.logout()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ts = [threading.Thread(target=worker, args=(mails[i::threads],)) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        return time.monotonic() - t0


def ceiling(ms: MailServer, n: int, requests: list[tuple[str, bytes]]) -> dict:
    """The mail server alone: N requests over one SMTP connection into a mailbox until all are
    visible over IMAP; N acknowledgement-like mails accepted over one SMTP connection."""
    watch = ms.imap(CEILING_BOX)
    before = ms.count(watch)
    s = ms.smtp()
    cpu0 = cpu_by_program()
    t0 = time.monotonic()
    for sender, raw in requests[:n]:
        s.sendmail(sender, [CEILING_BOX], raw)
    t_accepted = time.monotonic() - t0
    while ms.count(watch) < before + n:
        if time.monotonic() - t0 > 120:
            raise RuntimeError("ceiling: mail did not arrive within 120 s")
        time.sleep(0.01)
    t_visible = time.monotonic() - t0
    cpu_in = cpu_spent(cpu0, cpu_by_program())
    watch.logout()
    acks = make_ack_like(n, seed=11)
    t0 = time.monotonic()
    for rcpt, raw in acks:
        s.sendmail(NOTIFY_FROM, [rcpt], raw)
    t_out = time.monotonic() - t0
    s.quit()
    return {
        "in_msgs_per_s": n / t_visible,
        "in_accept_msgs_per_s": n / t_accepted,
        "out_accept_msgs_per_s": n / t_out,
        "in_cpu_s": cpu_in,
        "in_s": t_visible,
    }


# ---------------------------------------------------------------------------------------------
# Databases

class Sqlite:
    name = "sqlite"

    def __init__(self, state: Path):
        self.path = state / "mesayuda.db"
        self.url = f"sqlite://{self.path}"
        self.conn: sqlite3.Connection | None = None

    def reset(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def query(self, sql: str) -> list[tuple] | None:
        """Rows, or None while the database or its tables do not exist yet."""
        if self.conn is None:
            if not self.path.exists():
                return None
            self.conn = sqlite3.connect(self.path, timeout=10)
        try:
            return self.conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Postgres:
    """One long-lived psql, so a poll costs a round trip and not a process start."""
    name = "postgres"

    def __init__(self, state: Path, host: str, port: int, user: str, params: str = ""):
        self.db = f"mesayuda_bench_{os.getpid()}"
        self.base = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-h", host, "-p", str(port), "-U", user]
        self.url = f"postgres://{user}@{host}:{port}/{self.db}" + (f"?{params}" if params else "")
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available(host: str, port: int, user: str) -> str | None:
        if shutil.which("psql") is None:
            return "psql is not installed"
        r = subprocess.run(["psql", "-X", "-A", "-t", "-h", host, "-p", str(port), "-U", user, "-d", "postgres",
                            "-c", "SELECT 1"], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return f"PostgreSQL at {host}:{port} not reachable as {user}: {r.stderr.strip()}"
        return None

    def admin(self, sql: str) -> None:
        subprocess.run(self.base + ["-d", "postgres", "-c", sql], check=True, capture_output=True)

    def reset(self) -> None:
        self.close()
        self.admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{self.db}"')

    def drop(self) -> None:
        self.close()
        self.admin(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def query(self, sql: str) -> list[tuple] | None:
        if self.proc is None:
            self.proc = subprocess.Popen(self.base + ["-d", self.db], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                         bufsize=1)
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __END__\n")
        self.proc.stdin.flush()
        rows, failed = [], False
        while True:
            line = self.proc.stdout.readline()
            if line == "":
                raise RuntimeError("psql exited")
            line = line.rstrip("\n")
            if line == "__END__":
                break
            if line.startswith(("ERROR:", "psql:", "LINE ", "HINT:", "DETAIL:")) or line.startswith(" "):
                failed = True
                continue
            if line:
                rows.append(tuple(line.split("\t")))
        return None if failed else rows

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
            self.proc = None


def progress(db, base: dict | None = None) -> dict | None:
    """Counts that tell when a run is done; None before the schema exists. With `base` (the
    highest ids before the run, see `high_ids`), only rows added since are counted, by primary
    key ranges: counting a prefilled million rows every 20 ms would load the machine the
    daemon is measured on."""
    b = base or {"tickets": 0, "messages": 0, "outbox": 0}
    t, m, o = (f"id > {b[k]}" for k in ("tickets", "messages", "outbox"))
    rows = db.query(
        f"SELECT (SELECT COUNT(*) FROM tickets WHERE {t}), "
        f"(SELECT COUNT(*) FROM messages WHERE {m} AND direction = 'in'), "
        f"(SELECT COUNT(*) FROM outbox WHERE {o} AND status = 'sent'), "
        f"(SELECT COUNT(*) FROM outbox WHERE {o} AND status = 'sent' AND kind = 'acuse'), "
        f"(SELECT COUNT(*) FROM outbox WHERE {o} AND status = 'failed'), "
        f"(SELECT COUNT(*) FROM outbox WHERE {o} AND status = 'pending' AND next_attempt_at <= {int(time.time()) + 1})")
    if not rows:
        return None
    t, i, s, a, f, p = (int(x) for x in rows[0])
    return {"tickets": t, "inbound": i, "sent": s, "acks_sent": a, "failed": f, "due": p}


# ---------------------------------------------------------------------------------------------
# The daemon

def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0]) / 1024.0  # MiB
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            tck = os.sysconf("SC_CLK_TCK")
            out["cpu_s"] = (int(fields[11]) + int(fields[12])) / tck
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    return out


# Where the machine's CPU went during a run, by program: whether a run is held back by the
# cores (every one busy) or by waiting (round trips, locks), and whose work fills them.
CPU_GROUPS = (("postfix", "postfix"), ("dovecot", "dovecot"), ("postgres", "postgresql"),
              ("python", "harness"))


def cpu_by_program(daemon_bin: Path | None = None) -> dict:
    """CPU seconds so far: the whole machine busy (/proc/stat), and per program group, each
    live process's own time plus what its exited children left it (so a Postfix smtpd that
    came and went is counted once, in its master)."""
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    out = {"machine": (sum(v) - v[3] - v[4]) / tck}
    me = str(Path(daemon_bin).resolve()) if daemon_bin else None
    for pid in (d for d in os.listdir("/proc") if d.isdigit()):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        group = "daemon" if exe == me else next((g for key, g in CPU_GROUPS if key in exe), "other")
        out[group] = out.get(group, 0.0) + sum(int(x) for x in fields[11:15]) / tck
    return out


def cpu_spent(before: dict, after: dict) -> dict:
    """CPU seconds per group between two `cpu_by_program` readings (a group whose processes
    all exited in between reads as nothing rather than negative)."""
    return {k: max(0.0, after.get(k, 0.0) - before.get(k, 0.0)) for k in after}


class Daemon:
    def __init__(self, binary: Path, config: Path, logfile: Path, wrap: list[str] | None = None,
                 env: dict | None = None):
        self.binary, self.config, self.logfile = binary, config, logfile
        self.wrap = wrap or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.t_spawn = 0.0
        self.t_ready: float | None = None
        self.ready = threading.Event()
        self.lines = 0

    def start(self, wrapped: bool = False) -> None:
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        if os.environ.get("BENCH_RUST_LOG"):
            env["RUST_LOG"] = os.environ["BENCH_RUST_LOG"]
        env.pop("MESAYUDA_CONFIG", None)
        env.update(self.env)
        self.ready.clear()
        self.t_ready = None
        self.wrapped_pid = None
        self.t_spawn = time.monotonic()
        cmd = [str(self.binary), "--config", str(self.config), "run"]
        if wrapped:
            cmd = self.wrap + cmd
        self.proc = subprocess.Popen(cmd, cwd=REPO,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        threading.Thread(target=self._read_log, args=(self.proc,), daemon=True).start()

    def _read_log(self, proc: subprocess.Popen) -> None:
        with open(self.logfile, "ab") as f:
            f.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            for line in proc.stderr:  # type: ignore[union-attr]
                if self.t_ready is None and READY_LINE in line:
                    self.t_ready = time.monotonic()
                    self.ready.set()
                self.lines += 1
                f.write(line)

    def wait_ready(self, timeout: float = 30) -> float:
        if not self.ready.wait(timeout):
            raise RuntimeError(f"daemon not ready after {timeout} s; see {self.logfile}")
        assert self.t_ready is not None
        return self.t_ready - self.t_spawn

    def status(self) -> dict:
        if not self.proc:
            return {}
        pid = self.proc.pid
        if self.wrap and self.wrapped_pid is None:
            # The daemon is the wrapper's child (perf, valgrind): measure it, not the wrapper.
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                self.wrapped_pid = int(kids[0]) if kids else None
            except OSError:
                pass
        return proc_status(self.wrapped_pid or pid)

    def copy_smaps(self, to: Path) -> None:
        pid = self.wrapped_pid or (self.proc.pid if self.proc else None)
        try:
            to.write_text(Path(f"/proc/{pid}/smaps").read_text())
        except OSError as e:
            log(f"smaps not copied: {e}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.status()
            if self.wrapped_pid:
                os.kill(self.wrapped_pid, signal.SIGTERM)  # the wrapper then exits by itself
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60 if self.wrapped_pid else 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def write_config(path: Path, db_url: str, ms: MailServer, binary: Path, extra_db: str = "",
                 http_listen: str = "") -> None:
    """The daemon's configuration, like deploy/mesayuda.example.toml: the shipped catalogue and
    directory, defaults elsewhere. Keys an older binary rejects (exit 2 naming them) are
    dropped, so that the bench also measures earlier commits."""
    sections: dict[str, list[tuple[str | None, str]]] = {
        "database": [(None, f'url = "{db_url}"')] + ([(None, extra_db)] if extra_db else []),
        "imap": [(None, 'host = "127.0.0.1"'), (None, f"port = {ms.imap_port}"), (None, 'security = "none"'),
                 (None, f'username = "{HELPDESK}"'), (None, f'password = "{PASSWORD}"')],
        "smtp": [(None, 'host = "127.0.0.1"'), (None, f"port = {ms.smtp_port}"), (None, 'security = "none"'),
                 (None, f'from = "Servicios Tecnológicos <{NOTIFY_FROM}>"'),
                 (None, f'reply_to = "Mesa de Ayuda <{HELPDESK}>"')],
        "paths": [(None, f'templates = "{REPO / "templates"}"'),
                  ("catalog", f'catalog = "{REPO / "deploy" / "catalog.toml"}"'),
                  ("directory", f'directory = "{REPO / "deploy" / "directory.toml"}"')],
        # One requester sends 200 requests in the latency run: the anti-loop limit (default 20
        # new requests per sender and hour) is lifted, the bench is not about it.
        "ingest": [("max_new_tickets_per_sender_per_hour", "max_new_tickets_per_sender_per_hour = 1000000")],
        # Off unless asked for (the soak reads /metrics, on a free port): the bench must never
        # collide with another daemon on the default health/metrics port.
        "http": [("http", f'listen = "{http_listen}"')],
    }
    dropped: set[str] = set()
    while True:
        text = "# Written by bench/bench.py\n"
        for name, lines in sections.items():
            keep = [line for key, line in lines if key not in dropped]
            if keep and name not in dropped:
                text += f"\n[{name}]\n" + "\n".join(keep) + "\n"
        path.write_text(text)
        r = subprocess.run([str(binary), "--config", str(path), "check-config"], cwd=REPO,
                           capture_output=True, text=True)
        optional = {key for lines in sections.values() for key, _ in lines if key} - dropped
        rejected = {k for k in optional if r.returncode == 2 and k in r.stderr}
        if not rejected:
            return
        dropped |= rejected


def run_until(daemon: Daemon, db, done, ms: MailServer, timeout: float, what: str,
              base: dict | None = None, first=None) -> dict:
    """Polls the database until `done(progress)`; also notes when the inbox was emptied and,
    with `first`, when `first(progress)` first held (in `first_s`)."""
    inbox = ms.imap(HELPDESK)
    cpu0, cpu_first, t0 = cpu_by_program(daemon.binary), None, time.monotonic()
    t_done = t_drained = t_first = None
    last: dict | None = None
    rss_max = 0.0
    next_imap = 0.0
    while True:
        now = time.monotonic()
        if daemon.proc is None or daemon.proc.poll() is not None:
            raise RuntimeError(f"{what}: daemon exited (code {daemon.proc.returncode if daemon.proc else '?'}); "
                               f"see {daemon.logfile}")
        p = progress(db, base)
        st = daemon.status()
        rss_max = max(rss_max, st.get("VmRSS", 0.0))
        if p is not None:
            last = p
            if t_first is None and first is not None and first(p):
                t_first = now
                cpu_first = cpu_spent(cpu0, cpu_by_program(daemon.binary))
            if t_done is None and done(p):
                t_done = now
        if t_drained is None and now >= next_imap:
            next_imap = now + 0.1
            if ms.count(inbox) == 0:
                t_drained = now
        if t_done is not None and t_drained is not None:
            break
        if t_done is not None and now - t_done > 10:
            break  # the inbox is not emptied: reported as such
        if now - daemon.t_spawn > timeout:
            raise RuntimeError(f"{what}: not done after {timeout} s, last progress {last}; see {daemon.logfile}")
        time.sleep(0.02)
    inbox.logout()
    st = daemon.status()
    return {
        "elapsed_s": t_done - daemon.t_spawn,
        "drained_s": (t_drained - daemon.t_spawn) if t_drained else None,
        "first_s": (t_first - daemon.t_spawn) if t_first else None,
        "progress": last,
        "hwm_mb": st.get("VmHWM"),
        "rss_max_mb": rss_max,
        "cpu_s": st.get("cpu_s"),
        # From the run's first poll (the daemon already started) until `first` held.
        "cpu_until_first": cpu_first,
        "cpu_until_first_wall_s": (t_first - t0) if t_first else None,
    }


def high_ids(db) -> dict:
    """The highest ids of the tables `progress` counts (0 when empty)."""
    rows = db.query("SELECT (SELECT COALESCE(MAX(id), 0) FROM tickets), (SELECT COALESCE(MAX(id), 0) FROM messages), "
                    "(SELECT COALESCE(MAX(id), 0) FROM outbox)")
    t, m, o = (int(x) for x in rows[0]) if rows else (0, 0, 0)
    return {"tickets": t, "messages": m, "outbox": o}


def ticket_rows(db, after: int = 0) -> list[dict]:
    rows = db.query(
        "SELECT t.id, t.subject, t.requester, COALESCE(t.requester_name, ''), t.root_message_id, o.message_id "
        f"FROM tickets t JOIN outbox o ON o.ticket_id = t.id AND o.kind = 'acuse' WHERE t.id > {after} ORDER BY t.id")
    out = []
    for r in rows or []:
        root = r[4] if r[4].startswith("<") else f"<{r[4]}>"
        out.append({"id": int(r[0]), "subject": r[1], "requester": r[2], "requester_name": r[3],
                    "root": root, "ack_id": r[5].strip("<>")})
    return out


# ---------------------------------------------------------------------------------------------
# One database

class Skip(Exception):
    """The rest of a backend's runs was skipped (--skip)."""


def bench_backend(args, db, ms: MailServer, state: Path, tag: str, res: dict) -> None:
    """Fills `res` as it goes, so that a failure keeps what was measured before it."""
    n = args.n
    res["database"] = db.name
    cfg = state / f"mesayuda-{db.name}.toml"
    write_config(cfg, db.url, ms, args.bin,
                 f"max_connections = {args.max_connections}" if args.max_connections else "")
    daemon = Daemon(args.bin, cfg, state / f"daemon-{db.name}.log",
                    [w.replace("{db}", db.name) for w in args.wrap.split()] if args.wrap else None,
                    dict(kv.split("=", 1) for kv in args.daemon_env))
    db.reset()
    try:
        # 1. ceiling
        log(f"{db.name}: ceiling ({n} messages in, {n} out)")
        reqs = make_requests(n, f"{tag}-req", seed=1)
        res["ceiling"] = ceiling(ms, n, make_requests(n, f"{tag}-ceil", seed=2, to=CEILING_BOX))
        log(f"{db.name}: ceiling in {res['ceiling']['in_msgs_per_s']:.0f}/s, "
            f"out {res['ceiling']['out_accept_msgs_per_s']:.0f}/s")

        # 2. new requests
        secs = ms.append(HELPDESK, [raw for _, raw in reqs])
        log(f"{db.name}: {n} requests appended in {secs:.1f} s; starting the daemon")
        daemon.start(wrapped=args.wrap_run == "requests")
        ready_cold = daemon.wait_ready()
        # The goal's figure is the issue's: every request ticketed and acknowledged. The run goes
        # on until nothing is due (the agents' notices, the missing-information mails), printed
        # apart: since issue 17 a request sends about 2.4 mails.
        acked = lambda p: p["tickets"] >= n and p["acks_sent"] >= n  # noqa: E731
        r = run_until(daemon, db, lambda p: acked(p) and p["due"] == 0,
                      ms, args.timeout, "requests", first=acked)
        # What the burst leaves resident once the daemon is idle again (memory not returned).
        time.sleep(args.idle_wait)
        st = daemon.status()
        if args.keep:
            # Where the memory left after the burst lies, mapping by mapping.
            daemon.copy_smaps(state / f"smaps-{db.name}-after-requests.txt")
        r["rss_after_mb"] = st.get("VmRSS")
        r["rss_after_split_mb"] = {"anon": st.get("RssAnon"), "file": st.get("RssFile")}
        daemon.stop()
        r["all_out_s"] = r["elapsed_s"]
        r["elapsed_s"] = r["first_s"] or r["elapsed_s"]
        r["msgs_per_s"] = n / r["elapsed_s"]
        r["mails_out_per_request"] = r["progress"]["sent"] / n if r.get("progress") else None
        r["ready_ms"] = ready_cold * 1000
        res["requests"] = r
        log(f"{db.name}: requests {r['msgs_per_s']:.0f} msgs/s ({r['elapsed_s']:.2f} s; "
            f"every queued mail out after {r['all_out_s']:.2f} s), "
            f"peak {r['hwm_mb']:.1f} MiB, idle after {r['rss_after_mb']:.1f} MiB "
            f"(anon {st.get('RssAnon', 0):.1f}, file {st.get('RssFile', 0):.1f}), cpu {r['cpu_s']:.2f} s")

        # 3. replies
        ready_warm: list[float] = []
        if "replies" not in args.skip:
            tickets = ticket_rows(db)
            if len(tickets) < n:
                raise RuntimeError(f"only {len(tickets)} tickets with an acknowledgement")
            replies = make_replies(tickets[:n], f"{tag}-re", seed=3)
            secs = ms.append(HELPDESK, [raw for _, raw in replies])
            before = progress(db)
            assert before is not None
            log(f"{db.name}: {n} replies appended in {secs:.1f} s; starting the daemon")
            daemon.start()
            ready_warm.append(daemon.wait_ready())
            threaded = lambda p: p["inbound"] >= before["inbound"] + n  # noqa: E731
            r = run_until(daemon, db, lambda p: threaded(p) and p["due"] == 0,
                          ms, args.timeout, "replies", first=threaded)
            daemon.stop()
            r["all_out_s"] = r["elapsed_s"]
            r["elapsed_s"] = r["first_s"] or r["elapsed_s"]
            r["msgs_per_s"] = n / r["elapsed_s"]
            r["mails_out_per_reply"] = (r["progress"]["sent"] - before["sent"]) / n if r.get("progress") else None
            r["new_tickets"] = r["progress"]["tickets"] - before["tickets"]
            res["replies"] = r
            log(f"{db.name}: replies {r['msgs_per_s']:.0f} msgs/s ({r['elapsed_s']:.2f} s), "
                f"{r['new_tickets']} wrongly opened new tickets")

        # 4. idle memory (always), then latency
        daemon.start()
        ready_warm.append(daemon.wait_ready())
        time.sleep(args.idle_wait)
        st = daemon.status()
        res["rss_idle_mb"] = st.get("VmRSS")
        res["rss_idle_split_mb"] = {"anon": st.get("RssAnon"), "file": st.get("RssFile")}
        log(f"{db.name}: idle RSS {res['rss_idle_mb']:.1f} MiB "
            f"(anon {st.get('RssAnon', 0):.1f}, file {st.get('RssFile', 0):.1f})")
        if "latency" in args.skip:
            daemon.stop()
        else:
            log(f"{db.name}: latency, {args.latency_n} requests one at a time")
            res["latency"] = latency(ms, args.latency_n, f"{tag}-lat")
            lat = res["latency"]
            log(f"{db.name}: latency p50 {lat['p50_s']*1000:.0f} ms p95 {lat['p95_s']*1000:.0f} ms "
                f"p99 {lat['p99_s']*1000:.0f} ms")
            daemon.stop()

        # 5. one 25 MB message
        if "big" in args.skip:
            if ready_warm:
                res["ready_warm_ms"] = statistics.median(ready_warm) * 1000
            raise Skip
        big = make_big(f"{tag}-big", args.big_mb * 1024 * 1024)
        ms.append(HELPDESK, [big], threads=1)
        before = progress(db)
        assert before is not None
        daemon.start(wrapped=args.wrap_run == "big")
        ready_warm.append(daemon.wait_ready())
        r = run_until(daemon, db, lambda p: p["tickets"] >= before["tickets"] + 1
                      and p["acks_sent"] >= before["acks_sent"] + 1 and p["due"] == 0,
                      ms, args.timeout, "25 MB message")
        daemon.stop()
        r["bytes"] = len(big)
        res["big"] = r
        res["ready_warm_ms"] = statistics.median(ready_warm) * 1000
        log(f"{db.name}: {len(big) / 1e6:.1f} MB message: peak {r['hwm_mb']:.1f} MiB in {r['elapsed_s']:.2f} s; "
            f"ready warm {res['ready_warm_ms']:.0f} ms")
    except Skip:
        pass
    finally:
        daemon.stop()
        db.close()


def prefill(args, db, tickets: int, sweep: bool = False) -> dict:
    """Runs bench_prefill (see bench/prefill.rs) on `db`: fills it with `tickets` tickets when
    it is empty; with `sweep`, then times one sweep of `--sweep-due` due SLA thresholds."""
    db.close()
    cmd = [str(args.prefill_bin), db.url, str(tickets)] + (["--sweep", str(args.sweep_due)] if sweep else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"bench_prefill failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def scaling(args, db, ms: MailServer, state: Path, tag: str, res: dict) -> None:
    """Issue 13's "cost flat as the database grows": for an empty database and each
    `--prefill` size, a fresh database filled with that much history, then the request and
    reply runs (counting only what they add) and one sweep of `--sweep-due` due thresholds."""
    n = args.n
    cfg = state / f"mesayuda-{db.name}.toml"
    write_config(cfg, db.url, ms, args.bin,
                 f"max_connections = {args.max_connections}" if args.max_connections else "")
    daemon = Daemon(args.bin, cfg, state / f"daemon-{db.name}-scaling.log")
    out = res.setdefault("scaling", {})
    try:
        for size in [0] + args.prefill:
            r: dict = {"loadavg_before": loadavg()}
            out[str(size)] = r
            db.reset()
            log(f"{db.name}: scaling, filling {size} tickets")
            r["fill_s"] = prefill(args, db, size)["fill_s"]
            # The fill leaves up to 2 GB of dirty pages (SQLite's file, PostgreSQL's WAL and
            # tables) that the kernel writes back over the next minute: the runs below would
            # wait behind that writeback at each of their own fsyncs and measure it.
            t = time.monotonic()
            os.sync()
            r["sync_s"] = time.monotonic() - t
            base = high_ids(db)
            reqs = make_requests(n, f"{tag}-s{size}-req", seed=11)
            ms.append(HELPDESK, [raw for _, raw in reqs])
            daemon.start()
            daemon.wait_ready()
            q = run_until(daemon, db, lambda p: p["tickets"] >= n and p["acks_sent"] >= n and p["due"] == 0,
                          ms, args.timeout, f"requests at {size}", base)
            daemon.stop()
            q["msgs_per_s"] = n / q["elapsed_s"]
            r["requests"] = q
            tickets = ticket_rows(db, base["tickets"])[:n]
            before = progress(db, base)
            assert before is not None
            ms.append(HELPDESK, [raw for _, raw in make_replies(tickets, f"{tag}-s{size}-re", seed=12)])
            daemon.start()
            daemon.wait_ready()
            p = run_until(daemon, db, lambda p: p["inbound"] >= before["inbound"] + len(tickets) and p["due"] == 0,
                          ms, args.timeout, f"replies at {size}", base)
            daemon.stop()
            p["msgs_per_s"] = len(tickets) / p["elapsed_s"]
            p["new_tickets"] = p["progress"]["tickets"] - before["tickets"]
            r["replies"] = p
            r["sweep"] = prefill(args, db, size, sweep=True)
            r["loadavg_after"] = loadavg()
            log(f"{db.name}: at {size} tickets: requests {q['msgs_per_s']:.0f} msgs/s (cpu {q['cpu_s']:.2f} s), "
                f"replies {p['msgs_per_s']:.0f} msgs/s (cpu {p['cpu_s']:.2f} s), "
                f"sweep of {args.sweep_due} {r['sweep']['sweep_ms']:.0f} ms (cpu {r['sweep']['sweep_cpu_ms']:.0f} ms); "
                f"load {r['loadavg_before'][0]:.1f} -> {r['loadavg_after'][0]:.1f}")
    finally:
        daemon.stop()
        db.close()


def latency(ms: MailServer, n: int, tag: str) -> dict:
    rng = random.Random(5)
    watch = ms.imap(LATENCY_USER)
    watch.select("INBOX")
    s = ms.smtp()
    samples = []
    last_uid = 0
    for i in range(n):
        msgid = f"<{tag}-{i}@{DOMAIN}>"
        subject, text = request_text(rng, i)
        raw = build_mail(rng=rng, msgid=msgid, name="Laura Latencia", addr=LATENCY_USER, to=HELPDESK,
                         subject=f"{subject} (latencia {i})", text=text)
        s.sendmail(LATENCY_USER, [HELPDESK], raw)
        t0 = time.monotonic()
        while True:
            typ, data = watch.uid("SEARCH", f"UID {last_uid + 1}:*", "HEADER", "References", f'"{msgid}"')
            uids = [int(u) for u in (data[0] or b"").split() if int(u) > last_uid] if typ == "OK" else []
            if uids:
                samples.append(time.monotonic() - t0)
                last_uid = max(uids)
                break
            if time.monotonic() - t0 > 30:
                raise RuntimeError(f"latency: no acknowledgement for request {i} within 30 s")
            time.sleep(0.005)
        time.sleep(0.02)
    s.quit()
    watch.logout()
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": n, "p50_s": statistics.median(samples), "p95_s": q[94], "p99_s": q[98],
            "max_s": max(samples), "min_s": min(samples)}


# ---------------------------------------------------------------------------------------------
# Report

def fmt(v, spec=".0f", unit="") -> str:
    return "—" if v is None else f"{v:{spec}}{unit}"


def verdict(key: str, v) -> str:
    if key.startswith(("scale:", "soak:")):  # judged by their rows: "scale:<ok|MISS|>:<goal text>"
        return key.split(":")[1]
    if key not in GOALS or v is None:
        return ""
    op, goal = GOALS[key]
    ok = v >= goal if op == ">=" else v < goal
    return "ok" if ok else "MISS"


def scaling_rows(res: dict, sizes: list[int]) -> list[tuple[str, str, object, str]]:
    """Rows of the scaling runs: each size's figure, judged against the empty database's
    (within 10 %), and the sweep against 250 ms on PostgreSQL."""
    sc = res.get("scaling", {})
    empty = sc.get("0", {})

    def get(size: int, run: str, key: str):
        return sc.get(str(size), {}).get(run, {}).get(key)

    def judged(size: int, run: str, key: str, higher_better: bool, limit: float | None = None) -> str:
        v, e = get(size, run, key), get(0, run, key)
        if v is None:
            return "scale::"
        ok = True
        if size and e:
            ok = v >= 0.9 * e if higher_better else v <= 1.1 * e
        if limit is not None:
            ok = ok and v < limit
        goal = (">= 0.9x" if higher_better else "<= 1.1x") if size else ""
        if limit is not None:
            goal = (goal + " <" if goal else "< ") + f"{limit:.0f}"
        return f"scale:{'ok' if ok else 'MISS'}:{goal}"

    pg = res.get("database") == "postgres"
    out = []
    for size in sizes:
        at = f"at {size:,} tickets"
        out += [
            (f"scaling {at}: requests msgs/s", judged(size, "requests", "msgs_per_s", True),
             get(size, "requests", "msgs_per_s"), fmt(get(size, "requests", "msgs_per_s"))),
            (f"scaling {at}: requests daemon CPU (s)", judged(size, "requests", "cpu_s", False),
             get(size, "requests", "cpu_s"), fmt(get(size, "requests", "cpu_s"), ".2f")),
            (f"scaling {at}: replies msgs/s", judged(size, "replies", "msgs_per_s", True),
             get(size, "replies", "msgs_per_s"), fmt(get(size, "replies", "msgs_per_s"))),
            (f"scaling {at}: replies daemon CPU (s)", judged(size, "replies", "cpu_s", False),
             get(size, "replies", "cpu_s"), fmt(get(size, "replies", "cpu_s"), ".2f")),
            (f"scaling {at}: sweep, 1,000 due (ms)",
             judged(size, "sweep", "sweep_ms", False, 250.0 if pg else None),
             get(size, "sweep", "sweep_ms"), fmt(get(size, "sweep", "sweep_ms"))),
            (f"scaling {at}: sweep CPU of its process (ms)", "", get(size, "sweep", "sweep_cpu_ms"),
             fmt(get(size, "sweep", "sweep_cpu_ms"))),
            (f"scaling {at}: sweep CPU of the PostgreSQL server (ms)", "",
             get(size, "sweep", "sweep_pg_cpu_ms"), fmt(get(size, "sweep", "sweep_pg_cpu_ms"))),
            (f"scaling {at}: filling / writing it to disk (s)", "", None,
             "/".join(fmt(sc.get(str(size), {}).get(k), ".1f") for k in ("fill_s", "sync_s"))),
            (f"scaling {at}: load average before/after", "", None,
             "/".join(f"{x[0]:.1f}" for x in (sc.get(str(size), {}).get("loadavg_before"),
                                              sc.get(str(size), {}).get("loadavg_after")) if x) or "—"),
        ]
    return out


def cpu_rows(run: str, until: str, r: dict) -> list[tuple[str, str, object, str]]:
    """The machine's CPU from the run's start until its goal's figure, by program."""
    cpu, wall = r.get("cpu_until_first") or {}, r.get("cpu_until_first_wall_s")
    rows = [(f"{run}: until {until}, machine busy (cores)", "", None,
             fmt(cpu["machine"] / wall, ".2f") if cpu and wall else "—")]
    for group in ("daemon", "postgresql", "postfix", "dovecot", "harness"):
        rows.append((f"{run}: until {until}, CPU of {group} (s)", "", cpu.get(group),
                     fmt(cpu.get(group), ".2f") if cpu else "—"))
    return rows


def rows_for(res: dict) -> list[tuple[str, str, object, str]]:
    """(label, key for goals, value, formatted) per line."""
    c, rq, rp, lat, big = (res.get(k, {}) for k in ("ceiling", "requests", "replies", "latency", "big"))
    ceil = min(c["in_msgs_per_s"], c["out_accept_msgs_per_s"]) if c else None
    out = [
        ("ceiling: SMTP in -> IMAP visible (msgs/s)", "", c.get("in_msgs_per_s"), fmt(c.get("in_msgs_per_s"))),
        ("ceiling: SMTP accept outgoing (msgs/s)", "", c.get("out_accept_msgs_per_s"), fmt(c.get("out_accept_msgs_per_s"))),
        ("ceiling: machine busy while taking mail in (cores)", "", None,
         fmt(c["in_cpu_s"]["machine"] / c["in_s"], ".2f") if c.get("in_cpu_s") else "—"),
        ("requests: msgs/s (start -> all acks sent)", "requests_msgs_per_s", rq.get("msgs_per_s"), fmt(rq.get("msgs_per_s"))),
        ("requests: ratio to ceiling", "", None, fmt(rq["msgs_per_s"] / ceil, ".2f") if rq.get("msgs_per_s") and ceil else "—"),
        ("requests: inbox emptied after (s)", "", rq.get("drained_s"), fmt(rq.get("drained_s"), ".2f")),
        ("requests: every queued mail out after (s)", "", rq.get("all_out_s"), fmt(rq.get("all_out_s"), ".2f")),
        ("requests: mails out per request", "", rq.get("mails_out_per_request"), fmt(rq.get("mails_out_per_request"), ".2f")),
        ("requests: daemon CPU (s)", "", rq.get("cpu_s"), fmt(rq.get("cpu_s"), ".2f")),
        *cpu_rows("requests", "acknowledged", rq),
        ("replies: msgs/s (start -> all threaded)", "", rp.get("msgs_per_s"), fmt(rp.get("msgs_per_s"))),
        ("replies: ratio to ceiling", "", None, fmt(rp["msgs_per_s"] / ceil, ".2f") if rp.get("msgs_per_s") and ceil else "—"),
        ("replies: every queued mail out after (s)", "", rp.get("all_out_s"), fmt(rp.get("all_out_s"), ".2f")),
        ("replies: mails out per reply", "", rp.get("mails_out_per_reply"), fmt(rp.get("mails_out_per_reply"), ".2f")),
        ("replies: wrongly opened tickets", "", rp.get("new_tickets"), fmt(rp.get("new_tickets"), "d")),
        *cpu_rows("replies", "threaded", rp),
        ("latency p50 (ms)", "", lat.get("p50_s"), fmt(lat["p50_s"] * 1000) if lat else "—"),
        ("latency p95 (ms)", "latency_p95_s", lat.get("p95_s"), fmt(lat["p95_s"] * 1000) if lat else "—"),
        ("latency p99 (ms)", "", lat.get("p99_s"), fmt(lat["p99_s"] * 1000) if lat else "—"),
        ("memory idle VmRSS (MiB)", "rss_idle_mb", res.get("rss_idle_mb"), fmt(res.get("rss_idle_mb"), ".1f")),
        ("memory peak, request run VmHWM (MiB)", "hwm_requests_mb", rq.get("hwm_mb"), fmt(rq.get("hwm_mb"), ".1f")),
        ("memory idle after the request run VmRSS (MiB)", "rss_after_burst_mb", rq.get("rss_after_mb"), fmt(rq.get("rss_after_mb"), ".1f")),
        ("memory peak, one 25 MB message VmHWM (MiB)", "hwm_25mb_mb", big.get("hwm_mb"), fmt(big.get("hwm_mb"), ".1f")),
        ("ready, fresh database (ms)", "", rq.get("ready_ms"), fmt(rq.get("ready_ms"))),
        ("ready, existing database (ms, median)", "ready_ms", res.get("ready_warm_ms"), fmt(res.get("ready_warm_ms"))),
    ]
    return out


def print_table(results: dict, meta: dict) -> str:
    import soak  # here, not at the top: it imports this module (as `bench`) for its helpers

    backends = [b for b in ("sqlite", "postgres") if b in results]
    goal_text = {
        "requests_msgs_per_s": ">= 250", "latency_p95_s": "< 1000", "rss_idle_mb": "< 20", "rss_after_burst_mb": "< 25",
        "hwm_requests_mb": "< 100", "hwm_25mb_mb": "< 100", "ready_ms": "< 200",
    }
    sizes = sorted({int(k) for b in backends for k in results[b].get("scaling", {})})
    soaked = any("soak" in results[b] for b in backends)
    per = {b: (([] if results[b].get("main_skipped") else rows_for(results[b])) + scaling_rows(results[b], sizes)
               + (soak.rows(results[b]) if soaked else []))
           if "skipped" not in results[b] else None for b in backends}
    labels = next((r for r in per.values() if r), None) or rows_for({})
    w = max(len(r[0]) for r in labels)
    head = f"{'':{w}}  " + "  ".join(f"{b:>12}" for b in backends) + f"  {'goal':>8}"
    lines = [f"mesayuda bench  {meta['timestamp']}  commit {meta['commit']}  cores {meta['cores']}  n={meta['n']}",
             head, "-" * len(head)]
    for idx, (label, key, _, _) in enumerate(labels):
        cells, marks = [], []
        for b in backends:
            if per[b] is None:
                cells.append(f"{'skipped':>12}")
                continue
            _, bkey, value, text = per[b][idx]
            mark = verdict(bkey, value)
            cells.append(f"{text + (' !' if mark == 'MISS' else ''):>12}")
            marks.append(mark)
        goal = key.split(":")[2] if key.startswith(("scale:", "soak:")) else goal_text.get(key, "")
        lines.append(f"{label:{w}}  " + "  ".join(cells) + f"  {goal:>8}")
    for b in backends:
        if "error" in results[b]:
            lines.append(f"{b}: {results[b]['error']}")
        if "skipped" in results[b]:
            lines.append(f"{b}: skipped: {results[b]['skipped']}")
    lines.append("'!' marks a missed goal. Ratio = msgs/s / min(ceiling in, ceiling out).")
    lb, la = meta.get("loadavg_before") or [0], meta.get("loadavg_after") or [0]
    lines.append(f"load average before {lb[0]:.1f}, after {la[0]:.1f} on {meta['cores']} cores"
                 + ("  (busy machine: wall-clock figures are pessimistic)" if max(lb[0], la[0]) > (meta["cores"] or 1) else ""))
    text = "\n".join(lines)
    print(text)
    return text


def loadavg() -> list[float]:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def machine() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "mem_mib": mem, "kernel": platform.release()}


def git_commit() -> str:
    r = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main() -> int:
    import soak  # see print_table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "mesayuda")
    ap.add_argument("--db", choices=["both", "sqlite", "postgres"], default="both")
    ap.add_argument("-n", type=int, default=1000, help="requests and replies per run (default 1000)")
    ap.add_argument("--latency-n", type=int, default=200, help="requests in the latency run (default 200)")
    ap.add_argument("--big-mb", type=int, default=25, help="size of the large message (default 25)")
    ap.add_argument("--daemon-env", action="append", default=[], metavar="K=V",
                    help="environment of every daemon start (allocator settings: MALLOC_ARENA_MAX=2, "
                         "LD_PRELOAD=..., MALLOC_CONF=...); repeat for several")
    ap.add_argument("--idle-wait", type=float, default=2.0, help="seconds idle before measuring idle RSS")
    ap.add_argument("--timeout", type=float, default=300.0, help="per run, seconds")
    ap.add_argument("--pg", default="127.0.0.1:5432", help="PostgreSQL host:port (user postgres, trust)")
    ap.add_argument("--max-connections", type=int, default=0,
                    help="database.max_connections for the daemon (default: the daemon's default)")
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--pg-params", default="",
                    help="query string added to the daemon's PostgreSQL URL, e.g. sslmode=disable")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--skip", type=lambda v: set(v.split(",")), default=set(),
                    help="comma-separated runs to leave out: replies, latency, big")
    ap.add_argument("--wrap", default="",
                    help="profiling: command prefix for the daemon of the request run, e.g. "
                         "'perf record -F 999 -g -o /tmp/perf-{db}.data --'")
    ap.add_argument("--wrap-run", choices=["requests", "big"], default="requests",
                    help="the run whose daemon --wrap applies to (default requests)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory (logs, databases)")
    ap.add_argument("--prefill", type=lambda v: [int(x) for x in v.split(",")], default=[],
                    help="scaling runs: tickets already stored, e.g. 100000,1000000 (the empty database is "
                         "measured too); --skip main leaves the other runs out")
    ap.add_argument("--prefill-bin", type=Path, default=None,
                    help="the bench_prefill example (default: examples/bench_prefill beside --bin)")
    ap.add_argument("--sweep-due", type=int, default=1000, help="due thresholds per scaling sweep (default 1000)")
    ap.add_argument("--soak", action="store_true",
                    help="the soak run (issue 13 item 5), after the others; --skip main leaves those out")
    ap.add_argument("--soak-minutes", type=float, default=30.0, help="length of the soak's traffic (default 30)")
    ap.add_argument("--soak-rate", type=float, default=20.0, help="the soak's mails a second (default 20)")
    ap.add_argument("--soak-mix", default="40,30,15,15",
                    help="the soak's %% of new requests, replies, approval answers, agent commands (default 40,30,15,15)")
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("bench: must run as root (the loopback mail server starts Dovecot and Postfix)", file=sys.stderr)
        return 2
    if not args.bin.is_file():
        print(f"bench: no binary at {args.bin} (bench/run.sh builds it)", file=sys.stderr)
        return 2
    args.bin = args.bin.resolve()
    if args.prefill_bin is None:
        args.prefill_bin = args.bin.parent / "examples" / "bench_prefill"
    if args.prefill and not args.prefill_bin.is_file():
        print(f"bench: no bench_prefill at {args.prefill_bin} (bench/run.sh --prefill builds it)", file=sys.stderr)
        return 2
    # Short: the mail server's unix sockets live below it.
    state = Path(tempfile.mkdtemp(prefix="msb-", dir="/tmp"))
    os.chmod(state, 0o755)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tag = f"b{stamp}"
    meta = {"timestamp": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "commit": git_commit(),
            "binary": str(args.bin), "daemon_env": args.daemon_env, "n": args.n, "latency_n": args.latency_n, "big_mb": args.big_mb,
            "loadavg_before": loadavg(), **machine()}
    log(f"state in {state}; {meta['cores']} cores; binary {args.bin}")
    results: dict = {}
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    ms = MailServer(state)
    try:
        for b in backends:
            if b == "sqlite":
                db = Sqlite(state)
            else:
                host, _, port = args.pg.partition(":")
                why = Postgres.available(host, int(port or 5432), args.pg_user)
                if why:
                    log(f"postgres skipped: {why}")
                    results[b] = {"skipped": why}
                    continue
                db = Postgres(state, host, int(port or 5432), args.pg_user, args.pg_params)
            log(f"{b}: starting a fresh mail server")
            ms.start()
            results[b] = {}
            try:
                if "main" in args.skip:
                    results[b].update(database=db.name, main_skipped=True)
                else:
                    bench_backend(args, db, ms, state, f"{tag}-{b}", results[b])
                if args.prefill:
                    scaling(args, db, ms, state, f"{tag}-{b}", results[b])
                if args.soak:
                    soak.run(args, db, ms, state, f"{tag}-{b}", results[b])
            except Exception as e:  # noqa: BLE001 - reported in the table, the other backend still runs
                log(f"{b}: FAILED: {e}")
                results[b]["error"] = str(e)
            finally:
                if isinstance(db, Postgres) and not args.keep:
                    try:
                        db.drop()
                    except subprocess.CalledProcessError:
                        pass
    finally:
        ms.stop()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
        else:
            log(f"state kept in {state}")
    meta["loadavg_after"] = loadavg()
    print()
    table = print_table(results, meta)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{stamp}.json"
    out.write_text(json.dumps({"meta": meta, "goals": {k: {"op": o, "value": v} for k, (o, v) in GOALS.items()},
                               "results": results, "table": table}, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    failed = any("error" in r for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
