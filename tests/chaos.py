#!/usr/bin/env python3
"""mesayuda chaos run (issue 16; started by tests/chaos.sh, which says how to run it).

Mixed traffic at about --rate messages/s (new requests, requests that need approval, replies,
approvers' answers, agents' commands) into a private loopback Dovecot + Postfix, while a random
fault every 20-60 s hits the daemon or what it depends on. Invariants are checked every 15 s and
at the end; a table of faults, recovery times, duplicates and losses is printed at the end.

Modes: `postgres` (two instances on one private PostgreSQL cluster: its restart disturbs nobody
else on the machine) and `sqlite` (one instance; its database on a small tmpfs that a fault
fills up). Only the Python 3.11 standard library is used (and bench/bench.py's helpers).
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, str(REPO / "bench"))
import bench as B  # noqa: E402  (the bench's mail builder, mail server, databases and daemon)
from traffic import AGENT, APPROVER, USERS, Ledger, Smtp, generator, request_outcomes, responder  # noqa: E402  (shared with the soak)

DOMAIN = B.DOMAIN
HELPDESK = B.HELPDESK
PROBE = f"sonda@{DOMAIN}"
RECOVERY_GOAL_S = 10.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The parts: a private PostgreSQL cluster, a SQLite file on a small tmpfs, loopback shaping


class PgCluster:
    """A private cluster owned by `postgres`, on its own port: restarting it is a fault of this
    run only, never of the machine's cluster other tests use."""

    def __init__(self, state: Path):
        self.dir = state / "pg"
        self.port = B.free_ports(1)[0]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/mesayuda"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              check=check, cwd="/")

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir.parent, 0o755)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
                  "--no-sync")
        self.start()
        self._run(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d",
                  "postgres", "-c", "CREATE DATABASE mesayuda")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", opts,
                  "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", mode, "-w", "stop", check=False)

    def query_db(self) -> SafeDb:
        def make() -> B.Postgres:
            db = B.Postgres(self.dir, "127.0.0.1", self.port, "postgres")
            db.db = "mesayuda"
            db.base = db.base + ["-v", "ON_ERROR_STOP=0"]
            return db
        return SafeDb(make)


class SafeDb:
    """A database handle whose query returns None instead of raising while the database is
    restarted (psql exits when its connection is lost; it is opened again)."""

    def __init__(self, make):
        self.make = make
        self.inner = make()

    @property
    def path(self):
        return self.inner.path

    def query(self, sql: str):
        try:
            return self.inner.query(sql)
        except Exception:  # noqa: BLE001 - psql gone, database locked: try again next time
            try:
                self.inner.close()
            except Exception:  # noqa: BLE001
                pass
            self.inner = self.make()
            return None

    def close(self) -> None:
        self.inner.close()


class Tmpfs:
    """A small tmpfs for the SQLite file; a filler file makes it full."""

    def __init__(self, state: Path, size_mb: int):
        self.dir = state / "disk"
        self.size_mb = size_mb
        self.mounted = False

    def mount(self) -> str | None:
        self.dir.mkdir(parents=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0700", "tmpfs",
                            str(self.dir)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"cannot mount a tmpfs ({r.stderr.strip()})"
        self.mounted = True
        return None

    def fill(self) -> None:
        with open(self.dir / "filler", "wb") as f:
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass

    def free(self) -> None:
        (self.dir / "filler").unlink(missing_ok=True)

    def umount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.dir)], capture_output=True)


def shaping_kind() -> str | None:
    """`netem` where the kernel has it, else `tbf` (a slow loopback: delay under load, no loss),
    else None. Only inside a network namespace of our own (chaos.sh makes one)."""
    if os.environ.get("MESAYUDA_CHAOS_NETNS") != "1":
        return None
    for kind, args in (("netem", ["netem", "delay", "1ms"]),
                       ("tbf", ["tbf", "rate", "100mbit", "burst", "64kb", "latency", "50ms"])):
        r = subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", *args], capture_output=True)
        if r.returncode == 0:
            subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True)
            return kind
    return None


# ---------------------------------------------------------------------------------------------
# Instances and faults


class Instance(B.Daemon):
    def __init__(self, name: str, binary: Path, config: Path, logfile: Path):
        super().__init__(binary, config, logfile)
        self.name = name
        self.stopped = False  # SIGSTOP in effect

    def _read_log(self, proc: subprocess.Popen) -> None:
        # As the bench's, but line by line to the file: the run reads the logs while it goes.
        with open(self.logfile, "ab", buffering=0) as f:
            f.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            for line in proc.stderr:  # type: ignore[union-attr]
                # A standby never watches the mailbox; both say they are ready.
                if self.t_ready is None and b"ready: " in line:
                    self.t_ready = time.monotonic()
                    self.ready.set()
                f.write(line)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)  # type: ignore[union-attr]

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def is_reader(self) -> bool:
        """From its log: the last lease line says it reads (PostgreSQL) — approximate."""
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return False
        acquired = text.rfind("mailbox lease acquired")
        lost = max(text.rfind("mailbox lease lost"), text.rfind("--- start"))
        return acquired > lost


def write_config(path: Path, db_url: str, ms: B.MailServer, lease: tuple[int, int]) -> None:
    path.write_text(f"""# Written by tests/chaos.py
[database]
url = "{db_url}"

[imap]
host = "127.0.0.1"
port = {ms.imap_port}
security = "none"
username = "{HELPDESK}"
password = "{B.PASSWORD}"

[smtp]
host = "127.0.0.1"
port = {ms.smtp_port}
security = "none"
from = "Servicios Tecnológicos <{B.NOTIFY_FROM}>"
reply_to = "Mesa de Ayuda <{HELPDESK}>"

[paths]
templates = "{REPO / 'templates'}"
catalog = "{REPO / 'deploy' / 'catalog.toml'}"
directory = "{REPO / 'deploy' / 'directory.toml'}"

[ingest]
max_new_tickets_per_sender_per_hour = 1000000

[http]
listen = ""

[lease]
renew_secs = {lease[0]}
expiry_secs = {lease[1]}
""")


class Fault:
    def __init__(self, kind: str, target: str, start: float):
        self.kind, self.target, self.start = kind, target, start
        self.end = start
        self.probe_at = start
        self.recovery: float | None = None
        self.probe_subject = ""
        # Where recovery is counted from: the fault's start or its end (see `Run.inject`).
        self.start_measure = start


class Run:
    def __init__(self, args, mode: str, state: Path):
        self.args, self.mode, self.state = args, mode, state
        self.rng = random.Random(args.seed)
        self.ms = B.MailServer(state)
        self.instances: list[Instance] = []
        self.faults: list[Fault] = []
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.violations: list[str] = []
        self.notes: list[str] = []
        self.pg: PgCluster | None = None
        self.disk: Tmpfs | None = None
        self.shaping = shaping_kind()
        self.db = None
        self.probe_n = 0
        self.deck: list[str] = []

    # -- set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        self.ms.start()
        if self.mode == "postgres":
            self.pg = PgCluster(self.state)
            self.pg.init()
            url = self.pg.url
            self.db = self.pg.query_db()
            count = 2
        else:
            self.disk = Tmpfs(self.state, self.args.disk_mb)
            why = self.disk.mount()
            if why:
                self.notes.append(f"disk-full fault left out: {why}")
                self.disk = None
                base = self.state
            else:
                base = self.disk.dir
            sq = B.Sqlite(base)
            url, self.db = sq.url, SafeDb(lambda: B.Sqlite(base))
            count = 1
        if self.shaping is None:
            self.notes.append("loopback delay/loss left out: not in a network namespace of our own, or the "
                              "kernel has neither netem nor tbf")
        elif self.shaping == "tbf":
            self.notes.append("this kernel has no netem (tc: 'Specified qdisc kind is unknown'): the network "
                              "fault is a slow loopback (tbf rate limit, delay under load, no loss)")
        for k in range(count):
            name = "ab"[k]
            cfg = self.state / f"{name}.toml"
            write_config(cfg, url, self.ms, self.args.lease)
            inst = Instance(name, self.args.bin, cfg, self.state / f"daemon-{name}.log")
            inst.start()
            # Listed first, so that a failed start is stopped by the teardown too.
            self.instances.append(inst)
            inst.wait_ready(60)
        log(f"{self.mode}: {count} instance(s) ready; lease renew {self.args.lease[0]} s, "
            f"expiry {self.args.lease[1]} s")

    def teardown(self) -> None:
        for i in self.instances:
            if i.stopped:
                i.signal(signal.SIGCONT)
            i.stop()
        if self.db is not None:
            self.db.close()
        if self.shaping:
            subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True)
        self.ms.stop()
        if self.pg:
            self.pg.stop("immediate")
        if self.disk:
            self.disk.umount()

    # -- probes -----------------------------------------------------------------------------

    def probe(self, f: Fault) -> None:
        """A new request right after the fault began (instance faults) or ended (dependency
        faults); its acknowledgement's arrival ends the fault's recovery."""
        self.probe_n += 1
        f.probe_subject = f"Sonda {self.probe_n} {f.kind}"
        rng = random.Random(self.probe_n)
        raw = B.build_mail(rng=rng, msgid=f"<chaos-probe-{self.args.seed}-{self.probe_n}@{DOMAIN}>", name="Sonda",
                           addr=PROBE, to=HELPDESK, subject=f.probe_subject,
                           text="Necesito que instalen la impresora de la dependencia en mi equipo.\n"
                                "Número de equipo: MHCP-00001\nUbicación: oficina 101, piso 2")
        smtp = Smtp(self.ms)
        t0 = time.time()
        while not smtp.send(PROBE, [HELPDESK], raw):
            if time.time() - t0 > 60:
                self.violations.append(f"probe after {f.kind}: SMTP refused it for 60 s")
                return
            time.sleep(0.2)
        self.ledger.add_request(f"chaos-probe-{self.args.seed}-{self.probe_n}@{DOMAIN}", PROBE, False)
        f.probe_at = time.time()

        def wait() -> None:
            deadline = time.time() + 300
            while time.time() < deadline:
                try:
                    c = self.ms.imap(PROBE)
                    c.select("INBOX")
                    typ, data = c.search("UTF-8", "SUBJECT", f'"{f.probe_subject}"'.encode())
                    c.logout()
                    if typ == "OK" and data and data[0].split():
                        f.recovery = time.time() - f.start_measure
                        return
                except (OSError, imaplib.IMAP4.error):
                    pass
                time.sleep(0.1)

        threading.Thread(target=wait, daemon=True).start()

    # -- faults -----------------------------------------------------------------------------

    def kinds(self) -> list[str]:
        ks = ["sigkill", "sigterm", "sigstop", "imap-restart", "smtp-restart"]
        if self.mode == "postgres":
            ks.append("postgresql-restart")
        if self.shaping:
            ks.append(f"loopback-{self.shaping}")
        if self.disk:
            ks.append("disk-full")
        if self.args.faults:
            unknown = set(self.args.faults) - set(ks)
            note = f"fault kinds not available here, left out: {', '.join(sorted(unknown))}"
            if unknown and note not in self.notes:
                self.notes.append(note)
            chosen = [k for k in ks if k in self.args.faults]
            if not chosen:
                # Not silently every kind: the run would not be the one asked for.
                raise SystemExit(f"chaos: none of --faults {','.join(self.args.faults)} is a fault "
                                 f"kind here; kinds: {', '.join(ks)}")
            ks = chosen
        return ks

    def inject(self) -> Fault:
        # Every kind once, in random order, then again: a short run still meets each.
        if not self.deck:
            self.deck = self.kinds()
            self.rng.shuffle(self.deck)
        kind = self.deck.pop()
        inst = self.rng.choice(self.instances)
        target = inst.name
        if kind in ("sigkill", "sigterm", "sigstop") and self.mode == "postgres":
            target = f"{inst.name} ({'reader' if inst.is_reader() else 'standby'})"
        f = Fault(kind, target if kind.startswith("sig") else "-", time.time())
        hold = self.rng.uniform(5, 20)
        log(f"fault: {kind} {f.target}")
        # Instance faults on PostgreSQL: the other instance must answer meanwhile, so recovery is
        # counted from the fault. Anything else: from its end (nothing can answer during it).
        during = kind in ("sigkill", "sigterm", "sigstop") and self.mode == "postgres"
        f.start_measure = f.start
        if during:
            threading.Thread(target=self.probe, args=(f,), daemon=True).start()
        if kind == "sigkill":
            inst.kill()
            time.sleep(self.rng.uniform(1, 3))
            inst.start()
        elif kind == "sigterm":
            inst.stop()
            time.sleep(self.rng.uniform(1, 3))
            inst.start()
        elif kind == "sigstop":
            inst.signal(signal.SIGSTOP)
            inst.stopped = True
            time.sleep(hold)
            inst.signal(signal.SIGCONT)
            inst.stopped = False
        elif kind == "imap-restart":
            subprocess.run([str(B.MAILSERVER), "stop-imap", str(self.ms.dir)], capture_output=True)
            time.sleep(hold)
            subprocess.run([str(B.MAILSERVER), "start-imap", str(self.ms.dir)], capture_output=True)
        elif kind == "smtp-restart":
            subprocess.run([str(B.MAILSERVER), "stop-smtp", str(self.ms.dir)], capture_output=True)
            time.sleep(hold)
            subprocess.run([str(B.MAILSERVER), "start-smtp", str(self.ms.dir)], capture_output=True)
        elif kind == "postgresql-restart":
            assert self.pg
            self.pg.stop(self.rng.choice(["fast", "immediate"]))
            time.sleep(self.rng.uniform(2, 8))
            self.pg.start()
        elif kind.startswith("loopback-"):
            args = (["netem", "delay", "200ms", "50ms", "loss", "5%"] if self.shaping == "netem"
                    else ["tbf", "rate", "2mbit", "burst", "32kb", "latency", "300ms"])
            subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", *args], capture_output=True)
            time.sleep(hold)
            subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True)
        elif kind == "disk-full":
            assert self.disk
            self.disk.fill()
            time.sleep(hold)
            self.disk.free()
        f.end = time.time()
        if not during:
            f.start_measure = f.end
            threading.Thread(target=self.probe, args=(f,), daemon=True).start()
        self.faults.append(f)
        return f

    # -- invariants -------------------------------------------------------------------------

    def check(self, final: bool) -> dict:
        db = self.db
        out = request_outcomes(db, self.ledger, 0 if final else 180)
        if out is None:
            return {"unreadable": True}
        decided = db.query("SELECT ticket_id, COUNT(*) FROM events WHERE kind IN ('aprobado', 'rechazado') "
                           "GROUP BY ticket_id HAVING COUNT(*) > 1") or []
        out["decided_twice"] = [int(r[0]) for r in decided]
        states = db.query("SELECT id, status, close_reason FROM tickets") or []
        allowed = {"registrado", "pendiente_por_usuario", "pendiente_aprobacion", "trabajo_en_progreso",
                   "resuelto", "cerrado"}
        reasons = {"resuelto", "cambio", "rechazado", "sin_respuesta_usuario", "cancelado", "incidente"}
        bad = []
        for tid, status, reason in states:
            reason = reason or ""
            if status not in allowed or (status == "cerrado") != (reason != "") or (reason and reason not in reasons):
                bad.append(f"REQ-{tid} {status} {reason}")
        out["bad_states"] = bad
        appr = db.query("SELECT a.ticket_id, a.status, t.status FROM approvals a JOIN tickets t ON t.id = a.ticket_id "
                        "WHERE a.status = 'pendiente' AND t.status NOT IN ('pendiente_aprobacion')") or []
        out["approval_state_mismatch"] = [f"REQ-{r[0]} approval {r[1]} ticket {r[2]}" for r in appr]
        return out

    def report_violations(self, c: dict, final: bool) -> None:
        if c.get("unreadable"):
            return
        for key in ("double_tickets", "decided_twice", "bad_states", "approval_state_mismatch"):
            if c[key]:
                msg = f"{key}: {c[key][:5]}"
                if msg not in self.violations:
                    self.violations.append(msg)
                    log("VIOLATION " + msg)
        if final:
            for key in ("lost", "no_ack"):
                if c[key]:
                    self.violations.append(f"{key}: {len(c[key])} {c[key][:5]}")
        elif c["lost"] or c["no_ack"]:
            log(f"late (3 min): {len(c['lost'])} requests without ticket, {len(c['no_ack'])} tickets without ack")

    # -- the run ----------------------------------------------------------------------------

    def go(self) -> dict:
        self.setup()
        # The kinds asked for are checked before any traffic (a wrong name stops the run here);
        # the deck itself is drawn at the first fault, as before, so a seed replays the same run.
        self.kinds()
        threads = [
            threading.Thread(target=generator, args=(self.ms, self.mode_db(), self.ledger, self.args.rate, self.stop,
                                                     self.args.seed), daemon=True),
            threading.Thread(target=responder, args=(self.ms, self.ledger, self.stop, self.args.seed), daemon=True),
        ]
        for t in threads:
            t.start()
        t_end = time.time() + self.args.minutes * 60
        next_fault = time.time() + self.rng.uniform(20, 60)
        next_check = time.time() + 15
        while time.time() < t_end:
            if time.time() >= next_fault:
                self.inject()
                next_fault = time.time() + self.rng.uniform(20, 60)
            if time.time() >= next_check:
                self.report_violations(self.check(False), False)
                next_check = time.time() + 15
            for i in self.instances:
                if not i.alive() and not i.stopped:
                    self.violations.append(f"instance {i.name} exited by itself (code "
                                           f"{i.proc.returncode if i.proc else '?'}); restarted")
                    log("VIOLATION " + self.violations[-1])
                    i.start()
            time.sleep(0.5)
        log("traffic stops; waiting for the help desk to finish")
        self.stop.set()
        for t in threads:
            t.join(timeout=30)
        self.drain()
        final = self.check(True)
        self.report_violations(final, True)
        res = self.summary(final)
        self.teardown()
        return res

    def mode_db(self):
        """A second connection for the generator's reads (psql is one process per handle)."""
        if self.mode == "postgres":
            assert self.pg
            return self.pg.query_db()
        base = Path(self.db.path).parent
        return SafeDb(lambda: B.Sqlite(base))

    def drain(self) -> None:
        deadline = time.time() + 600
        inbox = None
        while time.time() < deadline:
            try:
                inbox = inbox or self.ms.imap(HELPDESK)
                n = self.ms.count(inbox)
            except (OSError, imaplib.IMAP4.error):
                inbox, n = None, -1
            due = self.db.query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            pending_probes = [f for f in self.faults if f.probe_subject and f.recovery is None]
            if n == 0 and due and int(due[0][0]) == 0 and not pending_probes:
                return
            time.sleep(1)
        self.violations.append("the help desk did not finish within 10 minutes after the traffic stopped")

    # -- results ----------------------------------------------------------------------------

    def duplicates(self) -> tuple[int, int]:
        """(mails delivered twice, mails delivered) over every mailbox the help desk writes to."""
        twice = total = 0
        for who in USERS + [AGENT, APPROVER, PROBE]:
            try:
                c = self.ms.imap(who)
                c.select("INBOX")
                typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                c.logout()
            except (OSError, imaplib.IMAP4.error):
                continue
            ids = [re.sub(rb"\s+", b"", part[1]).lower() for part in data or [] if isinstance(part, tuple)]
            total += len(ids)
            twice += len(ids) - len(set(ids))
        return twice, total

    def errors(self) -> dict:
        """ERROR lines per instance, and those outside a dependency outage or beyond one per
        outage and instance."""
        outages = [f for f in self.faults if not f.kind.startswith("sig")]
        lines = []
        for i in self.instances:
            for line in i.logfile.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) > 1 and parts[1] == "ERROR":
                    lines.append((i.name, line))
        per_outage: dict[tuple[str, int], int] = {}
        unexpected = []
        for name, line in lines:
            ts = parse_ts(line.split()[0])
            hit = None
            for k, f in enumerate(outages):
                if ts is not None and f.start - 1 <= ts <= f.end + 30:
                    hit = k
            if hit is None:
                unexpected.append(f"{name}: {line}")
            else:
                per_outage[(name, hit)] = per_outage.get((name, hit), 0) + 1
        over = [(k, n) for k, n in per_outage.items() if n > 1]
        return {"total": len(lines), "outages": len(outages), "unexpected": unexpected,
                "more_than_one": [f"{outages[k[1]].kind} on {k[0]}: {n} lines" for k, n in over]}

    def answering_again(self, f: Fault) -> float | None:
        """Seconds from the fault's measure point until the help desk acknowledged (SMTP
        accepted the acknowledgement of) a request it took in after that point. The database
        keeps seconds, so this is to the second."""
        # Tickets created in the second after the point's: one created earlier in the same
        # second would count as an answer given before the fault (errs by up to 1 s, late).
        t = int(f.start_measure) + 1
        rows = self.db.query(
            "SELECT MIN(o.sent_at) FROM outbox o JOIN tickets t ON t.id = o.ticket_id "
            f"WHERE o.kind = 'acuse' AND o.status = 'sent' AND t.created_at >= {t}")
        if not rows or not rows[0] or rows[0][0] in ("", None):
            return None
        return max(0.0, float(rows[0][0]) - f.start_measure)

    def summary(self, final: dict) -> dict:
        twice, delivered = self.duplicates()
        kinds: dict[str, list[tuple[float | None, float | None]]] = {}
        each = []
        t0 = self.faults[0].start if self.faults else 0.0
        for f in self.faults:
            again = self.answering_again(f)
            kinds.setdefault(f.kind, []).append((again, f.recovery))
            # One row per fault: a long tail can then be told from the backlog of the fault before.
            each.append({"at_s": round(f.start - t0, 1), "kind": f.kind, "target": f.target,
                         "lasted_s": round(f.end - f.start, 1), "answer_s": again, "probe_s": f.recovery})
        table = {}

        def stats(xs: list[float | None]) -> tuple[float | None, float | None, int]:
            got = sorted(x for x in xs if x is not None)
            return (statistics.median(got) if got else None, max(got) if got else None, len(xs) - len(got))

        for k, rs in sorted(kinds.items()):
            a50, amax, never = stats([a for a, _ in rs])
            p50, pmax, _ = stats([p for _, p in rs])
            table[k] = {
                "count": len(rs),
                "answer_p50_s": a50,
                "answer_max_s": amax,
                "over_goal": sum(1 for a, _ in rs if a is not None and a > RECOVERY_GOAL_S),
                "never": never,
                "probe_p50_s": p50,
                "probe_max_s": pmax,
            }
        errs = self.errors()
        return {
            "mode": self.mode, "minutes": self.args.minutes, "rate": self.args.rate, "seed": self.args.seed,
            "lease": list(self.args.lease), "faults": table, "each_fault": each,
            "requests": len(self.ledger.requests), "replies": self.ledger.replies,
            "approval_requests": len(self.ledger.approval_requests),
            "approval_answers": self.ledger.approval_answers, "double_answers": self.ledger.double_answers,
            "agent_commands": self.ledger.agent_commands, "tickets": final.get("tickets"),
            "lost": len(final.get("lost", [])), "no_ack": len(final.get("no_ack", [])),
            "double_tickets": len(final.get("double_tickets", [])),
            "decided_twice": len(final.get("decided_twice", [])), "bad_states": len(final.get("bad_states", [])),
            "mails_delivered": delivered, "mails_twice": twice, "errors": errs,
            "violations": self.violations, "notes": self.notes,
        }


def parse_ts(s: str) -> float | None:
    try:
        s = s.rstrip("Z")
        base, _, frac = s.partition(".")
        t = time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - time.timezone
        return t + (float("0." + frac) if frac else 0.0)
    except ValueError:
        return None


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def print_table(r: dict) -> str:
    out = [f"## chaos run: {r['mode']}, {r['minutes']} min, {r['rate']} msgs/s, seed {r['seed']}, "
           f"lease {r['lease'][0]}/{r['lease'][1]} s", "",
           "| fault | count | answering again p50 (s) | max (s) | over 10 s | probe answered p50 (s) | max (s) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for k, v in r["faults"].items():
        out.append(f"| {k} | {v['count']} | {fmt(v['answer_p50_s'], '.0f')} | {fmt(v['answer_max_s'], '.0f')} | "
                   f"{v['over_goal']} | {fmt(v['probe_p50_s'])} | {fmt(v['probe_max_s'])} |")
    out += ["", "| # | at (s) | fault | target | lasted (s) | answering again (s) | probe answered (s) |",
            "|---:|---:|---|---|---:|---:|---:|"]
    for n, f in enumerate(r["each_fault"], 1):
        out.append(f"| {n} | {f['at_s']:.0f} | {f['kind']} | {f['target']} | {f['lasted_s']:.0f} | "
                   f"{fmt(f['answer_s'], '.0f')} | {fmt(f['probe_s'])} |")
    e = r["errors"]
    out += ["", "| traffic and invariants | |", "|---|---:|",
            f"| requests sent (probes included) | {r['requests']} |",
            f"| replies | {r['replies']} |",
            f"| requests needing approval / approvers' answers (of which sent twice) | "
            f"{r['approval_requests']} / {r['approval_answers']} ({r['double_answers']}) |",
            f"| agents' commands | {r['agent_commands']} |",
            f"| tickets | {r['tickets']} |",
            f"| lost (request without ticket) | {r['lost']} |",
            f"| tickets without acknowledgement | {r['no_ack']} |",
            f"| requests with two tickets | {r['double_tickets']} |",
            f"| approvals decided twice | {r['decided_twice']} |",
            f"| tickets in a state the procedure does not allow | {r['bad_states']} |",
            f"| mails delivered / delivered twice (same Message-ID) | {r['mails_delivered']} / {r['mails_twice']} |",
            f"| ERROR lines / dependency outages | {e['total']} / {e['outages']} |",
            f"| ERROR lines outside an outage / beyond one per outage and instance | "
            f"{len(e['unexpected'])} / {len(e['more_than_one'])} |"]
    for n in r["notes"]:
        out.append(f"\nNote: {n}")
    for v in r["violations"]:
        out.append(f"\nVIOLATION: {v}")
    for u in e["unexpected"][:10] + e["more_than_one"][:10]:
        out.append(f"\nERROR line: {u}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--bin", type=Path, default=REPO / "target" / "debug" / "mesayuda")
    ap.add_argument("--lease", default="1:4", help="renew_secs:expiry_secs for the daemons (default 1:4)")
    ap.add_argument("--disk-mb", type=int, default=None,
                    help="size of the tmpfs under the SQLite file (default: room for the run's mail, "
                         "2 MB per minute and message/s, plus 64)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory (logs, database)")
    ap.add_argument("--faults", default="", help="only these fault kinds, comma-separated "
                    "(e.g. loopback-tbf,sigstop); default: every kind the machine allows")
    args = ap.parse_args()
    args.faults = [k for k in args.faults.split(",") if k]
    if args.disk_mb is None:
        # The database keeps every mail: about 10 MB a minute at 10 messages/s. A fixed 64 MB
        # filled up after 6 minutes, and the rest of a 30-minute run was one long disk-full.
        args.disk_mb = int(args.minutes * args.rate * 2) + 64
    args.lease = tuple(int(x) for x in args.lease.split(":"))
    modes = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    results = []
    status = 0
    for mode in modes:
        state = Path(tempfile.mkdtemp(prefix=f"mesayuda-chaos-{mode}-"))
        # Postfix, Dovecot and PostgreSQL run as their own users and must enter it.
        os.chmod(state, 0o755)
        log(f"{mode}: state in {state}, seed {args.seed}")
        run = Run(args, mode, state)
        try:
            r = run.go()
        except BaseException:
            run.teardown()
            raise
        results.append(r)
        text = print_table(r)
        print(text, flush=True)
        (state / "result.json").write_text(json.dumps(r, indent=2))
        if r["violations"] or r["errors"]["unexpected"] or r["errors"]["more_than_one"]:
            status = 1
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
        else:
            log(f"kept {state}")
    return status


if __name__ == "__main__":
    sys.exit(main())
