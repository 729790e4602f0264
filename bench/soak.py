"""The soak run (issue 13 item 5; `bench/run.sh --soak`, see bench/README.md).

One release daemon on a fresh database takes mixed traffic at `--soak-rate` mails a second for
`--soak-minutes` (new requests, some needing approval; replies by the requesters; the approver's
answers; the agent's commands, in the proportions of `--soak-mix`) while its sweep runs every
minute as shipped. Sampled: VmRSS every 10 s, the outbox's oldest queued mail every second (the
daemon's own gauge `mesayuda_outbox_oldest_age_seconds` on /metrics), the load average. Counted:
ERROR and WARN lines in its log. At the end, once the help desk has finished: every accepted mail
stored, every request with exactly one ticket and one acknowledgement sent.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import statistics
import threading
import time
import urllib.request
from pathlib import Path

import bench as B
import traffic as T

RSS_EVERY_S = 10.0
RSS_WINDOW_S = 60.0  # the warm-up's and the end's RSS: medians of this long
LAG_EVERY_S = 1.0
WARMUP_S = 300.0  # "RSS flat after the first 5 minutes"
DRAIN_LIMIT_S = 180.0
GOAL_GROWTH_MB = 2.0
GOAL_LAG_S = 1.0


def parse_mix(text: str) -> dict[str, float]:
    """`40,30,15,15`: percentages of new requests, replies, approval answers, agent commands."""
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 4 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise ValueError(f"--soak-mix wants four percentages, got {text!r}")
    req, reply, answer, command = (p / sum(parts) for p in parts)
    return {"request": req, "reply": reply, "approval_answer": answer, "command": command}


class SoakDaemon(B.Daemon):
    """The bench's daemon, counting its ERROR and WARN lines as they come."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.levels = {"ERROR": 0, "WARN": 0}
        self.bad_lines: list[str] = []
        self.sweeps = 0

    def _read_log(self, proc) -> None:
        with open(self.logfile, "ab", buffering=0) as f:
            f.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            for line in proc.stderr:
                if self.t_ready is None and B.READY_LINE in line:
                    self.t_ready = time.monotonic()
                    self.ready.set()
                parts = line.split(None, 2)
                level = parts[1].decode(errors="replace") if len(parts) > 1 else ""
                if level in self.levels:
                    self.levels[level] += 1
                    if len(self.bad_lines) < 10:
                        self.bad_lines.append(line.decode(errors="replace").rstrip())
                if b"sweep done" in line:
                    self.sweeps += 1
                f.write(line)


def outbox_age(port: int) -> float | None:
    """The daemon's gauge of the oldest queued mail's age (whole seconds), None if unreadable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r"^mesayuda_outbox_oldest_age_seconds (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def second_handle(db):
    """Another connection to `db` for the generator's thread (psql and sqlite3 handles are one
    per thread here)."""
    other = copy.copy(db)
    if hasattr(other, "proc"):
        other.proc = None
    if hasattr(other, "conn"):
        other.conn = None
    return other


def run(args, db, ms: B.MailServer, state: Path, tag: str, res: dict) -> None:
    """Fills `res["soak"]` as it goes."""
    r: dict = {"minutes": args.soak_minutes, "rate": args.soak_rate, "mix": args.soak_mix,
               "loadavg_before": B.loadavg()}
    res["soak"] = r
    duration = args.soak_minutes * 60
    warmup = min(WARMUP_S, duration / 2)
    r["warmup_s"] = warmup
    B.log(f"{db.name}: soak, {args.soak_minutes:g} min at {args.soak_rate:g} msgs/s; fresh mail server and database")
    ms.start()  # nothing of earlier runs in the mailboxes the responder reads
    db.reset()
    port = B.free_ports(1)[0]
    cfg = state / f"mesayuda-{db.name}-soak.toml"
    B.write_config(cfg, db.url, ms, args.bin,
                   f"max_connections = {args.max_connections}" if args.max_connections else "",
                   http_listen=f"127.0.0.1:{port}")
    daemon = SoakDaemon(args.bin, cfg, state / f"daemon-{db.name}-soak.log",
                        env=dict(kv.split("=", 1) for kv in args.daemon_env))
    mix = parse_mix(args.soak_mix)
    # Approval answers and commands answer mail the help desk sends: so many of the new
    # requests need approval that each can have its answer, and so many new-work notices get a
    # command that the commands make their share.
    approval_of_requests = min(1.0, mix["approval_answer"] / mix["request"]) if mix["request"] else 0.0
    gen_mix = {"reply": mix["reply"], "approval_answer": mix["approval_answer"], "command": mix["command"],
               "approval_request": mix["request"] * approval_of_requests}
    command_share = min(1.0, mix["command"] / (mix["request"] * (1 - approval_of_requests) or 1))
    ledger, pending, stop = T.Ledger(), T.Pending(), threading.Event()
    rss: list[tuple[float, float]] = []  # (seconds into the run, MiB)
    lag: list[tuple[float, float]] = []
    loads: list[float] = []
    scrape_failures = 0
    threads = []
    reader = second_handle(db)
    try:
        daemon.start()
        daemon.wait_ready(60)
        threads = [
            threading.Thread(target=T.generator, args=(ms, reader, ledger, args.soak_rate, stop, 1301,
                                                       gen_mix, pending), daemon=True),
            threading.Thread(target=T.responder, args=(ms, ledger, stop, 1301, command_share, 0.1, pending),
                             daemon=True),
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        next_rss = t0
        while True:
            now = time.monotonic()
            if daemon.proc is None or daemon.proc.poll() is not None:
                raise RuntimeError(f"soak: the daemon exited; see {daemon.logfile}")
            if now >= next_rss:
                rss.append((now - t0, daemon.status().get("VmRSS", 0.0)))
                loads.append(B.loadavg()[0])
                next_rss += RSS_EVERY_S
            age = outbox_age(port)
            if age is None:
                scrape_failures += 1
            else:
                lag.append((now - t0, age))
            if now - t0 >= duration:
                break
            time.sleep(max(0.0, LAG_EVERY_S - (time.monotonic() - now)))
        stop.set()
        for t in threads:
            t.join(timeout=30)
        B.log(f"{db.name}: soak traffic stopped; waiting for the help desk to finish")
        r["drain_s"] = drain(ms, db, daemon)
        r["cpu_s"] = daemon.status().get("cpu_s")
        final(db, ledger, r)
    finally:
        stop.set()
        daemon.stop()
        try:
            reader.close()
        except sqlite3.ProgrammingError:
            pass  # SQLite's handle belongs to the generator's thread and is closed with it
        db.close()
    # A sample can land in the middle of a batch (up to 2 MiB more for a moment): each end of
    # the comparison is the median of a minute's samples, so a spike is not read as growth.
    at_warmup = statistics.median([mb for t, mb in rss if warmup <= t < warmup + RSS_WINDOW_S] or [rss[-1][1]])
    at_end = statistics.median(mb for t, mb in rss if t >= rss[-1][0] - RSS_WINDOW_S)
    r.update({
        "rss_series": [(round(t), round(mb, 1)) for t, mb in rss],
        "rss_warmup_mb": at_warmup, "rss_warmup_at_s": warmup, "rss_end_mb": at_end,
        "rss_max_after_warmup_mb": max(mb for t, mb in rss if t >= warmup), "rss_growth_mb": at_end - at_warmup,
        "lag_max_s": max((a for _, a in lag), default=None),
        "lag_over_goal_samples": sum(1 for _, a in lag if a > GOAL_LAG_S), "lag_samples": len(lag),
        "metrics_unreadable": scrape_failures,
        "error_lines": daemon.levels["ERROR"], "warn_lines": daemon.levels["WARN"],
        "bad_lines": daemon.bad_lines, "sweeps_logged": daemon.sweeps,
        "sent": len(ledger.accepted) + ledger.send_failures, "accepted": len(ledger.accepted),
        "send_failures": ledger.send_failures, "requests": len(ledger.requests),
        "approval_requests": len(ledger.approval_requests), "replies": ledger.replies,
        "approval_answers": ledger.approval_answers, "agent_commands": ledger.agent_commands,
        "answers_left_unsent": pending.waiting(),
        "loadavg_mean": sum(loads) / len(loads) if loads else None, "loadavg_after": B.loadavg(),
    })
    r["msgs_per_s"] = r["accepted"] / duration
    B.log(f"{db.name}: soak: {r['accepted']} mails accepted ({r['msgs_per_s']:.1f}/s), RSS {r['rss_warmup_mb']:.1f} "
          f"-> {r['rss_end_mb']:.1f} MiB, outbox lag max {r['lag_max_s']} s, ERROR {r['error_lines']} WARN "
          f"{r['warn_lines']}, lost {r['lost']}, requests not exactly once {r['not_once']}")


def drain(ms: B.MailServer, db, daemon: B.Daemon) -> float | None:
    """Seconds until the inbox is empty and no mail is queued; None if not within the limit."""
    t0 = time.monotonic()
    inbox = ms.imap(B.HELPDESK)
    try:
        while time.monotonic() - t0 < DRAIN_LIMIT_S:
            queued = db.query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            if ms.count(inbox) == 0 and queued and int(queued[0][0]) == 0:
                return time.monotonic() - t0
            if daemon.proc is None or daemon.proc.poll() is not None:
                raise RuntimeError(f"soak: the daemon exited; see {daemon.logfile}")
            time.sleep(0.5)
    finally:
        inbox.logout()
    return None


def final(db, ledger: T.Ledger, r: dict) -> None:
    """Nothing lost: every accepted mail stored; every request with exactly one ticket and
    exactly one acknowledgement accepted by the SMTP server."""
    lost = T.inbound_lost(db, ledger)
    r["lost"] = len(lost)
    r["lost_examples"] = lost[:5]
    rows = db.query(
        # The acknowledgements are counted once per ticket first: `outbox` has no index on
        # `ticket_id` (the daemon never looks mail up by ticket), and a join per ticket read the
        # whole outbox again for each of 15,000 tickets (SQLite: hours).
        "SELECT t.root_message_id, COALESCE(a.n, 0) FROM tickets t "
        "LEFT JOIN (SELECT ticket_id, COUNT(*) AS n FROM outbox "
        "WHERE kind = 'acuse' AND status = 'sent' GROUP BY ticket_id) a ON a.ticket_id = t.id")
    if rows is None:
        raise RuntimeError("soak: the database did not answer")
    tickets: dict[str, list[int]] = {}
    for root, acks in rows:
        tickets.setdefault(root.strip("<>"), []).append(int(acks))
    with ledger.lock:
        requests = list(ledger.requests)
    bad = [m for m in requests if tickets.get(m, []) != [1]]
    r["tickets"] = sum(len(v) for v in tickets.values())
    r["not_once"] = len(bad)
    r["not_once_examples"] = [f"{m}: acks per ticket {tickets.get(m, [])}" for m in bad[:5]]


def rows(res: dict) -> list[tuple[str, str, object, str]]:
    """The soak's rows for the bench's table; keys `soak:<ok|MISS|>:<goal>` judge them."""
    s = res.get("soak", {})

    def judged(v, ok: bool, goal: str) -> str:
        return f"soak:{'' if v is None else ('ok' if ok else 'MISS')}:{goal}"

    def get(k):
        return s.get(k)

    growth, lag, errs = get("rss_growth_mb"), get("lag_max_s"), None
    if get("error_lines") is not None:
        errs = get("error_lines") + get("warn_lines")
    mix = "—"
    if get("accepted"):
        n = get("accepted")
        mix = "/".join(f"{100 * x / n:.0f}" for x in (get("requests"), get("replies"), get("approval_answers"),
                                                        get("agent_commands")))
    warm = f"{get('rss_warmup_at_s') / 60:.1f} min" if get("rss_warmup_at_s") is not None else "warm-up"
    loads = [x for x in (get("loadavg_before"), [get("loadavg_mean")] if get("loadavg_mean") else None,
                         get("loadavg_after")) if x]
    return [
        ("soak: minutes at msgs/s (asked)", "", None,
         f"{s['minutes']:g} @ {s['rate']:g}" if s else "—"),
        ("soak: mails sent / accepted by SMTP", "", get("accepted"),
         f"{get('sent')}/{get('accepted')}" if get("sent") is not None else "—"),
        ("soak: msgs/s accepted", "", get("msgs_per_s"), B.fmt(get("msgs_per_s"), ".1f")),
        ("soak: mix req/reply/approval/command (%)", "", None, mix),
        ("soak: VmRSS after warm-up, 1-min median (MiB)", "", get("rss_warmup_mb"), B.fmt(get("rss_warmup_mb"), ".1f")),
        ("soak: VmRSS at end, last minute's median (MiB)", "", get("rss_end_mb"), B.fmt(get("rss_end_mb"), ".1f")),
        ("soak: VmRSS max after warm-up (MiB)", "", get("rss_max_after_warmup_mb"),
         B.fmt(get("rss_max_after_warmup_mb"), ".1f")),
        ("soak: VmRSS growth after warm-up (MiB)", judged(growth, growth is not None and growth < GOAL_GROWTH_MB,
                                                          f"< {GOAL_GROWTH_MB:g}"),
         growth, B.fmt(growth, "+.1f")),
        # Never read (no /metrics) is a miss too: the goal cannot be shown met.
        ("soak: outbox max lag (s)", judged(1 if "sent" in s else None, lag is not None and lag <= GOAL_LAG_S,
                                            f"<= {GOAL_LAG_S:g}"),
         lag, "unread" if "sent" in s and lag is None else B.fmt(lag, ".0f")),
        ("soak: ERROR + WARN lines", judged(errs, errs == 0, "0"), errs, B.fmt(errs, "d")),
        ("soak: mails lost (accepted, not stored)", judged(get("lost"), get("lost") == 0, "0"), get("lost"),
         B.fmt(get("lost"), "d")),
        ("soak: requests without 1 ticket + 1 ack", judged(get("not_once"), get("not_once") == 0, "0"),
         get("not_once"), B.fmt(get("not_once"), "d")),
        ("soak: all answered after traffic stopped (s)",
         judged(1 if "sent" in s else None, get("drain_s") is not None, ""),
         get("drain_s"), "never" if "sent" in s and get("drain_s") is None else B.fmt(get("drain_s"), ".0f")),
        ("soak: daemon CPU (s)", "", get("cpu_s"), B.fmt(get("cpu_s"), ".0f")),
        ("soak: load average start/mean/end", "", None,
         "/".join(f"{x[0]:.1f}" for x in loads) if loads else "—"),
        ("soak: RSS baseline taken at", "", None, warm if s else "—"),
    ]
