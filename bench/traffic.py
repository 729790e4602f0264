"""Mixed help-desk traffic, shared by the chaos run (tests/chaos.py) and the soak (bench/soak.py).

New service requests from 200 requesters (some naming an approver), replies by the requesters to
their own open tickets, the approver's answers to approval requests and the agent's commands
(`#nota`, `#asignar`, `#resolver`) answering new-work notices. What was sent is kept in a
`Ledger` for the end-of-run checks (`request_outcomes`, `inbound_lost`).

Two ways to send the answers: the chaos run lets `responder` send them as it finds them; the soak
gives `responder` a `Pending` queue and `generator` sends them at its own pace, so that the total
rate and the proportions of the mix are the configured ones.
"""

from __future__ import annotations

import collections
import email
import email.policy
import email.utils
import imaplib
import random
import re
import smtplib
import threading
import time

import bench as B

DOMAIN = B.DOMAIN
HELPDESK = B.HELPDESK
AGENT = f"laura.rojas@{DOMAIN}"
APPROVER = f"luisa.martinez@{DOMAIN}"  # subdirector: may approve jefe_inmediato services
USERS = [f"usuario{k:03d}@{DOMAIN}" for k in range(200)]

# The chaos run's mix: 30 % replies, 15 % requests needing approval, the rest plain requests;
# answers and commands come on top, as the responder finds them.
CHAOS_MIX = {"reply": 0.30, "approval_request": 0.15, "approval_answer": 0.0, "command": 0.0}


class Ledger:
    """What the run sent, for the invariants."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, tuple[str, float]] = {}  # Message-ID (bare) -> (requester, sent at)
        self.approval_requests: set[str] = set()
        self.replies = 0
        self.approval_answers = 0
        self.double_answers = 0
        self.agent_commands = 0
        self.send_failures = 0
        # Every mail the SMTP server accepted for the help desk (bare Message-IDs).
        self.accepted: set[str] = set()

    def add_request(self, msgid: str, who: str, needs_approval: bool) -> None:
        with self.lock:
            self.requests[msgid.strip("<>")] = (who, time.time())
            if needs_approval:
                self.approval_requests.add(msgid.strip("<>"))

    def answer_sent(self, kind: str, msgid: str) -> None:
        """An approver's answer or an agent's command left: counted by kind."""
        self.sent(msgid)
        with self.lock:
            if kind == "command":
                self.agent_commands += 1
            else:
                self.approval_answers += 1

    def sent(self, msgid: str) -> None:
        with self.lock:
            self.accepted.add(msgid.strip("<>"))


class Smtp:
    """One SMTP connection, reopened after a failure (the server is restarted by faults)."""

    def __init__(self, ms: B.MailServer):
        self.ms = ms
        self.conn: smtplib.SMTP | None = None

    def send(self, sender: str, rcpts: list[str], raw: bytes) -> bool:
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = smtplib.SMTP("127.0.0.1", self.ms.smtp_port, local_hostname="chaos.example.test",
                                             timeout=10)
                self.conn.sendmail(sender, rcpts, raw)
                return True
            except (OSError, smtplib.SMTPException):
                try:
                    if self.conn is not None:
                        self.conn.close()
                except OSError:
                    pass
                self.conn = None
        return False


class Pending:
    """Answers the responder found, waiting for the generator to send them at its pace."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queues: dict[str, collections.deque] = {"approval_answer": collections.deque(),
                                                     "command": collections.deque()}

    def put(self, kind: str, item: tuple[str, str, str, bytes]) -> None:
        with self.lock:
            self.queues[kind].append(item)

    def take(self, kind: str) -> tuple[str, str, str, bytes] | None:
        """(sender, recipient, Message-ID, raw) of the oldest answer of `kind` waiting."""
        with self.lock:
            q = self.queues[kind]
            return q.popleft() if q else None

    def waiting(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.queues.values())


VPN_BODY = ("Necesito acceso remoto por VPN para trabajar desde casa durante el cierre.\n"
            "Justificación: cierre contable de fin de año\nNúmero de equipo: PC-{n:04d}\n"
            "Fecha de finalización: 2026-12-31\nAprobador: " + APPROVER + "\n")


def generator(ms: B.MailServer, db, ledger: Ledger, rate: float, stop: threading.Event, seed: int,
              mix: dict[str, float] | None = None, pending: Pending | None = None) -> None:
    """`rate` mails a second: new requests (some needing approval), replies to the requesters'
    own open tickets and, with `pending`, the answers the responder queued. A draw of a kind
    with nothing to send (no open ticket yet, no answer waiting) sends a new request instead."""
    mix = mix or CHAOS_MIX
    rng = random.Random(seed)
    smtp = Smtp(ms)
    i = 0
    known: list[tuple[int, str, str]] = []  # (ticket, requester, subject)
    next_refresh = 0.0
    t_next = time.monotonic()
    edges = []  # cumulative shares, in a fixed order
    acc = 0.0
    for kind in ("reply", "approval_answer", "command", "approval_request"):
        acc += mix.get(kind, 0.0)
        edges.append((acc, kind))
    while not stop.is_set():
        t_next += 1.0 / rate
        delay = t_next - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -1.0:
            t_next = time.monotonic()  # far behind (SMTP down): do not burst to catch up
        if stop.is_set():
            break
        if time.monotonic() > next_refresh:
            rows = db.query("SELECT id, requester, subject FROM tickets WHERE status <> 'cerrado' "
                            "ORDER BY id DESC LIMIT 300")
            if rows:
                known = [(int(r[0]), r[1], r[2]) for r in rows]
            next_refresh = time.monotonic() + 5
        i += 1
        roll = rng.random()
        kind = next((k for edge, k in edges if roll < edge), "request")
        if kind in ("approval_answer", "command") and pending is not None:
            item = pending.take(kind)
            if item is not None:
                who, rcpt, msgid, raw = item
                if smtp.send(who, [rcpt], raw):
                    ledger.answer_sent(kind, msgid)
                else:
                    ledger.send_failures += 1
                continue
            kind = "request"
        # As a requester does: an answer to the help desk's latest mail about the ticket, to its
        # Reply-To (the personal token that proves the sender, when it has one). A ticket whose
        # first mail has not reached its requester yet (the database is read ahead of the
        # inboxes) gets no reply: one sent to the plain address, without the token, is refused
        # as unverified while the ticket waits on its requester, and its WARN line counted
        # against the run (the one unexplained WARN of the first 30-minute SQLite soak).
        parent = None
        if kind == "reply" and known:
            ticket, who, subject = rng.choice(known)
            parent = latest_about(ms, who, ticket)
        if parent is not None:
            msgid = f"<chaos-reply-{seed}-{i}@{DOMAIN}>"
            to = reply_to_of(parent)
            irt = parent.get("Message-ID")
            refs = " ".join(x for x in (parent.get("References"), irt) if x) or None
            raw = B.build_mail(rng=rng, msgid=msgid, name="Usuario", addr=who, to=to,
                               subject=f"RE: [REQ-{ticket}] {subject}",
                               text=B.body_text(rng, B.RESPUESTAS, 1), in_reply_to=irt, references=refs)
            if smtp.send(who, [to], raw):
                ledger.sent(msgid)
                with ledger.lock:
                    ledger.replies += 1
            else:
                ledger.send_failures += 1
            continue
        who = rng.choice(USERS)
        msgid = f"<chaos-req-{seed}-{i}@{DOMAIN}>"
        approval = kind == "approval_request"
        if approval:
            subject, text = f"Acceso VPN para teletrabajo ({i})", VPN_BODY.format(n=i % 10000)
        else:
            subject, text = B.request_text(rng, i)
            subject = f"{subject} ({i})"
        raw = B.build_mail(rng=rng, msgid=msgid, name="Usuario", addr=who, to=HELPDESK, subject=subject,
                           text=text)
        if smtp.send(who, [HELPDESK], raw):
            ledger.sent(msgid)
            ledger.add_request(msgid, who, approval)
        else:
            ledger.send_failures += 1


def latest_about(ms: B.MailServer, who: str, ticket: int) -> email.message.Message | None:
    """The headers of the latest mail in `who`'s inbox tagged `[REQ-<ticket>]`, if any."""
    try:
        c = ms.imap(who)
        try:
            c.select("INBOX", readonly=True)
            typ, data = c.uid("SEARCH", None, "SUBJECT", f'"[REQ-{ticket}]"')
            uids = [int(u) for u in (data[0] or b"").split()] if typ == "OK" else []
            if not uids:
                return None
            typ, got = c.uid("FETCH", str(max(uids)), "(BODY.PEEK[HEADER])")
            if typ != "OK" or not got or not isinstance(got[0], tuple):
                return None
            return email.message_from_bytes(got[0][1], policy=email.policy.default)
        finally:
            c.logout()
    except (OSError, imaplib.IMAP4.error):
        return None


def reply_to_of(m: email.message.Message) -> str:
    rt = m.get("Reply-To") or HELPDESK
    return email.utils.parseaddr(rt)[1] or HELPDESK


def responder(ms: B.MailServer, ledger: Ledger, stop: threading.Event, seed: int,
              command_share: float = 0.25, double_share: float = 0.1, pending: Pending | None = None) -> None:
    """Every 2 s: the approver answers every approval request (`double_share` of them twice: it
    must count once); the agent answers `command_share` of the new-work notices with a command.
    Sent at once, or queued in `pending` for the generator."""
    rng = random.Random(seed + 1)
    smtp = Smtp(ms)
    last_uid: dict[str, int] = {AGENT: 0, APPROVER: 0}

    def send(who: str, rcpt: str, kind: str, raw: bytes, msgid: str) -> bool:
        if pending is not None:
            pending.put(kind, (who, rcpt, msgid, raw))
            return True
        if not smtp.send(who, [rcpt], raw):
            return False
        ledger.answer_sent(kind, msgid)
        return True

    while not stop.wait(2.0):
        for who in (APPROVER, AGENT):
            try:
                c = ms.imap(who)
                c.select("INBOX")
                typ, data = c.uid("SEARCH", None, f"UID {last_uid[who] + 1}:*")
                # `n:*` always matches the highest UID, even an old one.
                uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last_uid[who])
                for uid in uids[:200]:
                    last_uid[who] = uid
                    typ, got = c.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
                    if typ != "OK" or not got or not isinstance(got[0], tuple):
                        continue
                    m = email.message_from_bytes(got[0][1], policy=email.policy.default)
                    subject = str(m.get("Subject", ""))
                    tag = re.search(r"\[REQ-(\d+)\]", subject)
                    if not tag:
                        continue
                    if who == APPROVER and "Aprobación requerida" in subject:
                        word = rng.choice(["APROBAR", "APROBAR", "RECHAZAR"])
                        times = 2 if rng.random() < double_share else 1
                        for _ in range(times):
                            raw, msgid = answer(m, who, subject, f"{word}\n\nCordialmente,\nLuisa Martínez")
                            send(who, reply_to_of(m), "approval_answer", raw, msgid)
                        if times == 2:
                            ledger.double_answers += 1
                    elif who == AGENT and "Nueva solicitud" in subject and rng.random() < command_share:
                        cmd = rng.choice([
                            "#nota Revisando el caso con el proveedor.",
                            f"#asignar {AGENT}",
                            "#resolver Quedó atendido; por favor confirme.",
                        ])
                        raw, msgid = answer(m, who, subject, cmd)
                        send(who, reply_to_of(m), "command", raw, msgid)
                c.logout()
            except (OSError, imaplib.IMAP4.error):
                continue


def answer(parent: email.message.Message, who: str, subject: str, body: str) -> tuple[bytes, str]:
    """(raw, Message-ID) of `who`'s answer to `parent`, to its Reply-To."""
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    msgid = email.utils.make_msgid(domain=DOMAIN)
    m["From"] = who
    m["To"] = reply_to_of(parent)
    m["Subject"] = f"RE: {subject}"
    m["Message-ID"] = msgid
    if parent.get("Message-ID"):
        m["In-Reply-To"] = parent["Message-ID"]
        m["References"] = parent["Message-ID"]
    m["Date"] = email.utils.formatdate(localtime=True)
    m.set_content(body + "\n")
    return m.as_bytes(), msgid


def request_outcomes(db, ledger: Ledger, grace: float) -> dict | None:
    """Of the requests sent more than `grace` seconds ago: those without a ticket (lost), those
    with two, and tickets without an acknowledgement queued. None while the database does not
    answer."""
    rows = db.query("SELECT root_message_id, COUNT(*) FROM tickets GROUP BY root_message_id")
    if rows is None:
        return None
    tickets_by_root = {r[0].strip("<>"): int(r[1]) for r in rows}
    with ledger.lock:
        requests = dict(ledger.requests)
    now = time.time()
    # NOT IN over the acknowledged tickets, built once: a correlated NOT EXISTS scanned the
    # outbox once per ticket (no index on ticket_id), and on SQLite, which runs in this
    # process, the 30-minute chaos run spent more CPU here than the daemon did.
    no_ack = db.query(
        "SELECT t.id FROM tickets t WHERE t.created_at < "
        f"{int(now - grace)} AND t.id NOT IN "
        "(SELECT o.ticket_id FROM outbox o WHERE o.kind = 'acuse' AND o.ticket_id IS NOT NULL)") or []
    return {
        "lost": [m for m, (_, t) in requests.items() if tickets_by_root.get(m, 0) == 0 and now - t > grace],
        "double_tickets": [m for m, n in tickets_by_root.items() if n > 1],
        "no_ack": [int(r[0]) for r in no_ack],
        "tickets": sum(tickets_by_root.values()),
    }


def inbound_lost(db, ledger: Ledger) -> list[str]:
    """Message-IDs the SMTP server accepted for the help desk that it never stored."""
    rows = db.query("SELECT message_id FROM messages WHERE direction = 'in'")
    if rows is None:
        raise RuntimeError("the database did not answer")
    stored = {r[0].strip("<>") for r in rows}
    with ledger.lock:
        return sorted(ledger.accepted - stored)
