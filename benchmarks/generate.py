"""Synthetic Cloud Run log entries, shaped exactly like ``gcloud logging read --format=json`` output.

* :func:`scenario` — a fixed, hand-designed two-hour incident (the test fixtures and the README sample);
* :func:`generate` — N streaming entries of mostly healthy traffic with the same failure families
  recurring at bounded variety (the benchmarks);
* :func:`write_fixtures` — every input shape of ``fixtures/`` from ``scenario(FIXTURE_START)``.

Everything is fictional (project ``acme-staging``, documentation IP ranges) and deterministic.

CLI::

    python benchmarks/generate.py --n 200000 --format json|ndjson [--seed 0] [--ascending] --out FILE
    python benchmarks/generate.py --fixtures fixtures/
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

PROJECT = "acme-staging"
LOCATION = "us-central1"
FIXTURE_START = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
MALFORMED_503 = (
    "The request failed because either the HTTP response was malformed or connection to the instance had "
    "an error. Additional troubleshooting documentation can be found at: "
    "https://cloud.google.com/run/docs/troubleshooting#malformed-response-or-connection-error"
)
_US = timedelta(microseconds=1)


# ---------------------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Instance:
    """One Cloud Run container instance of a revision."""

    service: str
    revision: str
    id: str


def _hex(key: str, length: int) -> str:
    digest = ""
    while len(digest) < length:
        digest += hashlib.sha256(f"{key}/{len(digest)}".encode()).hexdigest()
    return digest[:length]


def instance(service: str, revision: str, name: str) -> Instance:
    """An instance with a long hex id derived from ``name``."""
    return Instance(service, revision, "00a7c3" + _hex(name, 74))


def _rfc3339(ts: datetime, digits: int = 6) -> str:
    fraction = f"{ts.microsecond:06d}" + "0" * (digits - 6)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + fraction[:digits] + "Z"


class EntryFactory:
    """Builds LogEntry dicts; a running sequence number keeps insert ids unique and ordered per instant."""

    def __init__(self) -> None:
        self.sequence = 0

    def entry(
        self,
        inst: Instance,
        ts: datetime,
        stream: str,
        *,
        text: str | None = None,
        payload: dict | None = None,
        severity: str | None = None,
        http: dict | None = None,
        trace: str | None = None,
    ) -> dict:
        """One LogEntry; ``stream`` is stdout, stderr, requests or varlog/system."""
        self.sequence += 1
        seconds = int(ts.timestamp())
        receive_delay = timedelta(microseconds=2000 + int(_hex(f"r{self.sequence}", 5), 16) % 400_000)
        entry: dict = {
            "insertId": f"{seconds:08x}{ts.microsecond:08x}{self.sequence % 0x10000:04x}{_hex(str(self.sequence), 4)}",
            "labels": {"instanceId": inst.id},
            "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{stream.replace('/', '%2F')}",
            "receiveTimestamp": _rfc3339(ts + receive_delay, 9),
            "resource": {
                "labels": {
                    "configuration_name": inst.service,
                    "location": LOCATION,
                    "project_id": PROJECT,
                    "revision_name": inst.revision,
                    "service_name": inst.service,
                },
                "type": "cloud_run_revision",
            },
            "timestamp": _rfc3339(ts),
        }
        if text is not None:
            entry["textPayload"] = text
        if payload is not None:
            entry["jsonPayload"] = payload
        if severity is not None:
            entry["severity"] = severity
        if http is not None:
            entry["httpRequest"] = http
        if trace is not None:
            entry["trace"] = f"projects/{PROJECT}/traces/{_hex(trace, 32)}"
            entry["spanId"] = _hex(trace + "/span", 16)
        return entry


# ------------------------------------------------------------------------------------- logging eras

_ANSI_LEVEL = {
    "INFO": "\x1b[1m", "WARNING": "\x1b[33m\x1b[1m", "ERROR": "\x1b[31m\x1b[1m", "CRITICAL": "\x1b[41m\x1b[1m",
}


def loguru(ts: datetime, level: str, where: str, message: str, *, ansi: bool = False) -> str:
    """Era 1 loguru line: ``2026-11-28 01:02:03.456 | ERROR    | module:function:42 | message``."""
    stamp = ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
    if not ansi:
        return f"{stamp} | {level:<8} | {where} | {message}"
    module, function, line = where.split(":")
    color = _ANSI_LEVEL[level]
    return (
        f"\x1b[32m{stamp}\x1b[0m | {color}{level:<8}\x1b[0m | \x1b[36m{module}\x1b[0m:\x1b[36m{function}\x1b[0m:"
        f"\x1b[36m{line}\x1b[0m | {color}{message}\x1b[0m"
    )


def stdlib(ts: datetime, logger: str, level: str, message: str) -> str:
    """Era 1 stdlib ``logging`` line: ``2026-11-28 01:02:03,456 - app.db - WARNING - message``."""
    return f"{ts:%Y-%m-%d %H:%M:%S},{ts.microsecond // 1000:03d} - {logger} - {level} - {message}"


def gunicorn(ts: datetime, pid: int, level: str, message: str) -> str:
    """Gunicorn's own log line: ``[2026-11-28 01:02:03 +0000] [1] [INFO] message``."""
    return f"[{ts:%Y-%m-%d %H:%M:%S} +0000] [{pid}] [{level}] {message}"


def uvicorn_access(ip: str, port: int, method: str, path: str, status: int) -> str:
    """A uvicorn access line as the app prints it on stdout."""
    return f'{ip}:{port} - "{method} {path} HTTP/1.1" {status}'


def json_line(ts: datetime, severity: str, where: str, message: str, *, error: dict | None = None) -> dict:
    """Era 2 one-line JSON on stderr (becomes ``jsonPayload``)."""
    module, function, line = where.split(":")
    payload = {
        "context": {"name": module},
        "labels": {"function": function, "line": line, "module": module},
        "message": message,
        "severity": severity,
        "timestamp": ts.isoformat(),
    }
    if error is not None:
        payload["error"] = error
    return payload


def stdout_json(ts: datetime, message: str, **fields) -> dict:
    """Era 3 stdout JSON: an ordinary INFO line that carries ``error: {"message": "Missing field"}``."""
    return {"error": {"message": "Missing field"}, "message": message, "severity": "INFO",
            "time": ts.isoformat(), **fields}


def http_request(method: str, url: str, status: int, latency_s: float, ip: str, *, size: int = 512) -> dict:
    return {
        "latency": f"{latency_s:.6f}s",
        "protocol": "HTTP/1.1",
        "remoteIp": ip,
        "requestMethod": method,
        "requestSize": str(300 + size % 900),
        "requestUrl": url,
        "responseSize": str(size),
        "serverIp": "198.51.100.10",
        "status": status,
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
    }


# ------------------------------------------------------------------------------------ failure texts

REDIS_HOST = "redis-cache.acme-staging.internal"
USERS = tuple(f"demo-user-{n:03d}" for n in range(1, 13))
CLIENT_IPS = tuple(f"203.0.113.{n}" for n in (7, 19, 42, 58, 77, 101, 133, 164, 201, 230))
HOSTS = {
    "api-backend": "https://api.acme-staging.example",
    "web-frontend": "https://app.acme-staging.example",
    "auth-service": "https://auth.acme-staging.example",
}
API_PATHS = ("/api/threads", "/api/threads/42/messages", "/api/agents", "/api/usage", "/health", "/api/me")
WEB_PATHS = ("/", "/dashboard", "/threads/42", "/_next/static/chunks/main.js", "/settings")
AUTH_PATHS = ("/auth/session", "/auth/token/refresh", "/auth/callback", "/health")

IMPORT_TRACEBACK = """Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/gunicorn/arbiter.py", line 609, in spawn_worker
    worker.init_process()
  File "/usr/local/lib/python3.12/site-packages/uvicorn/workers.py", line 75, in init_process
    super().init_process()
  File "/usr/local/lib/python3.12/site-packages/gunicorn/workers/base.py", line 134, in init_process
    self.load_wsgi()
  File "/usr/local/lib/python3.12/site-packages/gunicorn/workers/base.py", line 146, in load_wsgi
    self.wsgi = self.app.wsgi()
  File "/app/api/main.py", line 17, in <module>
    from api.routes import billing
  File "/app/api/routes/billing.py", line 8, in <module>
    from api.services.invoice_export import InvoiceExporter
ModuleNotFoundError: No module named 'api.services.invoice_export'"""

CHAINED_TRACEBACK = (
    """Traceback (most recent call last):
  File "/app/api/db/session.py", line 38, in open_session
    await conn.execute("SELECT 1")
  File "/usr/local/lib/python3.12/site-packages/asyncpg/connection.py", line 350, in execute
    return await self._protocol.query(query, timeout)
ConnectionResetError: [Errno 104] Connection reset by peer""",
    """Traceback (most recent call last):
  File "/app/api/db/session.py", line 44, in open_session
    await session.rollback()
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/ext/asyncio/session.py", line 1009, in rollback
    await greenlet_spawn(self.sync_session.rollback)
sqlalchemy.exc.InterfaceError: (sqlalchemy.dialects.postgresql.asyncpg.InterfaceError) connection is closed""",
    """Traceback (most recent call last):
  File "/app/api/routes/threads.py", line 71, in list_threads
    async with open_session(user) as session:
  File "/app/api/db/session.py", line 49, in open_session
    raise DatabaseUnavailable(f"no database session for {user}")
api.errors.DatabaseUnavailable: no database session for demo-user-004""",
)
CHAINED_GLUE = "During handling of the above exception, another exception occurred:"

SPLIT_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/app/auth/routes/token.py", line 58, in refresh',
    "    return await tokens.refresh_access_token(body.refresh_token)",
    '  File "/app/auth/tokens.py", line 112, in refresh_access_token',
    '    signing_key = keyset[header["kid"]]',
    "KeyError: 'key-2026-11'",
)

ATTRIBUTE_ERRORS = (
    ("api.agents.runner:dispatch_tool:211", "UserContext", "tenant_id"),
    ("api.ws.hub:broadcast:96", "NoneType", "send_json"),
)


def attribute_error(ts: datetime, which: int) -> dict:
    where, cls, attr = ATTRIBUTE_ERRORS[which]
    value = f"'{cls}' object has no attribute '{attr}'"
    module, function, line = where.split(":")
    traceback = (
        f'Traceback (most recent call last):\n  File "/app/{module.replace(".", "/")}.py", line {line}, '
        f"in {function}\n    ...\nAttributeError: {value}"
    )
    return json_line(ts, "ERROR", where, f"Unhandled error in {function}: {value}",
                     error={"traceback": traceback, "type": "AttributeError", "value": value})


def redis_dns(ts: datetime, ansi: bool) -> str:
    message = f"Redis reconnect failed: Error -3 connecting to {REDIS_HOST}:6379. Temporary failure in name resolution."
    if ansi:
        message = f"<red>{message}</red>"
    return loguru(ts, "ERROR", "api.cache.redis_pool:reconnect:87", message, ansi=ansi)


def redis_refused(ts: datetime) -> str:
    return loguru(ts, "ERROR", "api.cache.redis_pool:get_client:52",
                  "Redis unavailable: Error 111 connecting to 10.20.0.5:6379. Connection refused.")


def redis_timeout(ts: datetime) -> str:
    return stdlib(ts, "api.cache", "WARNING", "Redis command GET session:* timed out after 5.0s; serving without cache")


def slow_query(ts: datetime, seconds: float, table: str) -> str:
    return stdlib(ts, "api.db", "WARNING", f"Slow query took {seconds:.1f}s: SELECT * FROM {table} WHERE owner_id = $1")


def db_session_failed(ts: datetime, user: str) -> dict:
    return json_line(ts, "ERROR", "api.db.session:open_session:49",
                     f"Failed to open database session for {user}: pool exhausted (size=10, overflow=5, timeout=30s)")


def ws_not_accepted(ts: datetime, user: str) -> dict:
    return json_line(ts, "ERROR", "api.ws.hub:send_event:140", f"Cannot deliver agent_started to {user}: "
                     'WebSocket is not connected. Need to call "accept" first.')


def ws_closed_1011(ts: datetime, user: str) -> str:
    return loguru(ts, "ERROR", "api.ws.endpoint:websocket_endpoint:203",
                  f"WebSocket closed with code 1011 (internal error) for {user} after handshake")


def ws_rejected(ts: datetime, user: str) -> dict:
    return json_line(ts, "WARNING", "api.ws.auth:authenticate:64",
                     f"WebSocket connection rejected for {user}: no valid credentials in subprotocol header")


def race(ts: datetime, component: str, state: str, seconds: int) -> str:
    return loguru(ts, "CRITICAL", "api.startup:wait_for:131",
                  f"RACE CONDITION DETECTED: {component} did not reach {state} within {seconds}s")


def jwt_failed(ts: datetime) -> dict:
    return json_line(ts, "ERROR", "auth.tokens:verify:77",
                     "JWT=REDACTED verification failed: signature matches no key in the current keyset")


def oauth_missing(ts: datetime) -> dict:
    return json_line(ts, "ERROR", "auth.oauth:load_provider:33",
                     "OAuth provider 'google' misconfigured: OAUTH_CLIENT_ID is not set for environment staging")


def session_middleware(ts: datetime) -> dict:
    return json_line(ts, "WARNING", "logging:callHandlers:1737",
                     "Could not read session (is the middleware installed?): "
                     "SessionMiddleware must be installed to access request.session")


def sentry_missing(ts: datetime, service: str) -> str:
    return loguru(ts, "WARNING", f"{service.split('-')[0]}.observability:init_sentry:22",
                  "Sentry SDK not installed - error reporting disabled (pip install 'sentry-sdk[fastapi]')")


def config_sanitized(ts: datetime) -> str:
    return stdlib(ts, "api.config", "WARNING", "Config value REDIS_URL sanitized: stripped trailing newline")


def env_missing(ts: datetime, variable: str, default: str) -> str:
    return stdlib(ts, "api.config", "WARNING", f"Environment variable {variable} is not set; using default {default}")


# ------------------------------------------------------------------------------------------- scenario


def scenario(start: datetime) -> list[dict]:
    """The fixture incident: ~2 hours, 3 services, 6 instances, 4 revisions; newest entry first."""
    return _Scenario(start).build()


class _Scenario:
    """The incident timeline; minutes are relative to ``start``."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(timezone.utc)
        self.rng = random.Random(20261128)
        self.factory = EntryFactory()
        self.entries: list[tuple[datetime, int, dict]] = []
        self.api = instance("api-backend", "api-backend-00041-kx7", "api-a")
        self.api_new = [instance("api-backend", "api-backend-00042-q9d", f"api-{n}") for n in "cde"]
        self.auth = instance("auth-service", "auth-service-00023-t4p", "auth-a")
        self.web = instance("web-frontend", "web-frontend-00017-b2m", "web-a")

    def at(self, minutes: float, micro: int = 0) -> datetime:
        return self.start + timedelta(minutes=minutes, microseconds=micro)

    def add(self, inst: Instance, ts: datetime, stream: str, **fields) -> None:
        entry = self.factory.entry(inst, ts, stream, **fields)
        self.entries.append((ts, self.factory.sequence, entry))

    def err(self, inst: Instance, ts: datetime, text: str, severity: str | None = None) -> None:
        """A plain stderr line: no severity unless the logging agent set one."""
        self.add(inst, ts, "stderr", text=text, severity=severity)

    def out(self, inst: Instance, ts: datetime, text: str) -> None:
        self.add(inst, ts, "stdout", text=text)

    def structured(self, inst: Instance, ts: datetime, payload: dict, stream: str = "stderr") -> None:
        """A JSON line; Cloud Logging lifts its ``severity`` onto the entry."""
        self.add(inst, ts, stream, payload=payload, severity=payload.get("severity", "INFO"))

    def build(self) -> list[dict]:
        self.boot(self.api, 0.5, healthy=True)
        self.boot(self.auth, 1.5, healthy=True)
        self.traffic()
        self.redis_outage()
        self.attribute_errors()
        self.websocket_trouble()
        self.database_trouble()
        self.auth_trouble()
        self.config_warnings()
        self.chained_traceback(52)
        self.split_traceback(47)
        self.startup_race(57)
        self.crash_loop()
        self.empty_messages()
        self.entries.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [entry for _, _, entry in self.entries]

    def boot(self, inst: Instance, minutes: float, *, healthy: bool, pid: int = 12, attempt: int = 0) -> datetime:
        """Gunicorn start and the benign warnings every start prints; returns when the worker is up."""
        t = self.at(minutes)
        self.err(inst, t, gunicorn(t, 1, "INFO", "Starting gunicorn 23.0.0"))
        self.err(inst, t + 900 * _US, gunicorn(t, 1, "INFO", "Listening at: http://0.0.0.0:8080 (1)"))
        self.err(inst, t + 1400 * _US, gunicorn(t, 1, "INFO", "Using worker: uvicorn.workers.UvicornWorker"))
        self.err(inst, t + 5200 * _US, gunicorn(t, pid, "INFO", f"Booting worker with pid: {pid}"))
        up = t + timedelta(milliseconds=640 + 37 * attempt)
        self.err(inst, up, sentry_missing(up, inst.service))
        if inst.service == "api-backend":
            self.err(inst, up + 310 * _US, config_sanitized(up))
        if healthy:
            ready = up + timedelta(milliseconds=420)
            self.out(inst, ready, loguru(ready, "INFO", "logging:handle:978", "Application startup complete."))
            self.out(inst, ready + 20 * _US, loguru(ready, "INFO", "logging:handle:978",
                                                    "Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)"))
            probe = ready + timedelta(milliseconds=15)
            self.add(inst, probe, "varlog/system", severity="INFO", text=(
                f'Default STARTUP TCP probe succeeded after 1 attempt for container "{inst.service}-1" on port 8080.'))
        return up

    def request(self, inst: Instance, t: datetime, path: str, status: int, latency: float, *,
                text: str | None = None) -> None:
        """A request log (severity from the status, as Cloud Run sets it), sometimes with the app's access line."""
        severity = "INFO" if status < 400 else "WARNING" if status < 500 else "ERROR"
        http = http_request("POST" if "refresh" in path else "GET", HOSTS[inst.service] + path, status, latency,
                            self.rng.choice(CLIENT_IPS), size=self.rng.randrange(90, 9000))
        self.add(inst, t, "requests", severity=severity, http=http, trace=f"{inst.id}{t.isoformat()}{path}", text=text)
        if inst.service == "api-backend" and status < 500 and self.rng.random() < 0.35:
            port = self.rng.randrange(30000, 60000)
            before = t - timedelta(microseconds=int(latency * 1e6) // 2)
            self.out(inst, before, uvicorn_access(self.rng.choice(CLIENT_IPS), port, "GET", path, status))

    def traffic(self) -> None:
        """Healthy background: request logs, INFO chatter and stdout JSON with a harmless error field."""
        cadence = ((self.api, API_PATHS, 3.1), (self.web, WEB_PATHS, 6.0), (self.auth, AUTH_PATHS, 9.0))
        for inst, paths, every in cadence:
            minutes = 2.0 + self.rng.random()
            while minutes < 119:
                t = self.at(minutes, self.rng.randrange(1_000_000))
                self.request(inst, t, self.rng.choice(paths), 200, round(self.rng.uniform(0.004, 0.4), 6))
                minutes += every * self.rng.uniform(0.6, 1.4)
        for minutes in range(4, 119, 7):
            t = self.at(minutes, self.rng.randrange(1_000_000))
            user = self.rng.choice(USERS)
            self.structured(self.api, t, stdout_json(t, f"Thread list served for {user}", user=user), "stdout")
            t2 = t + timedelta(seconds=13)
            self.out(self.api, t2, loguru(t2, "INFO", "api.agents.runner:run:88",
                                          f"Agent run finished for {user} in 2.{minutes % 10}s"))
            if minutes % 3 == 0:
                t3 = t + timedelta(seconds=29)
                self.out(self.auth, t3, stdlib(t3, "auth.sessions", "INFO", f"Session refreshed for {user}"))
            if minutes % 5 == 0:
                t4 = t + timedelta(seconds=41)
                self.structured(self.web, t4, {"message": "rendered /dashboard", "ms": 40 + minutes}, "stdout")

    def redis_outage(self) -> None:
        for n, minutes in enumerate((10, 10.5, 11.2, 12, 13.5, 15, 18)):
            t = self.at(minutes, 1234 * n)
            self.err(self.api, t, redis_dns(t, ansi=n % 2 == 1))
        for n, minutes in enumerate((19, 19.4, 21, 24)):
            t = self.at(minutes, 777 * n)
            self.err(self.api, t, redis_refused(t))
        for minutes in (25, 27.5, 31):
            t = self.at(minutes)
            self.err(self.api, t, redis_timeout(t))

    def attribute_errors(self) -> None:
        for which, minutes in ((0, 22), (0, 22.3), (1, 34), (0, 40), (1, 41.7)):
            t = self.at(minutes, 4321)
            self.structured(self.api, t, attribute_error(t, which))

    def websocket_trouble(self) -> None:
        for n, minutes in enumerate((30, 30.2, 30.9, 33, 36)):
            t = self.at(minutes, 555 * n)
            self.structured(self.api, t, ws_not_accepted(t, USERS[n % 3]))
        for n, minutes in enumerate((30.1, 31, 37)):
            t = self.at(minutes, 99 * n)
            self.err(self.api, t, ws_closed_1011(t, USERS[3 + n]))
        for n, minutes in enumerate((29, 29.5, 35, 38)):
            t = self.at(minutes, 31 * n)
            self.structured(self.api, t, ws_rejected(t, USERS[6 + n]))
            self.request(self.api, t + timedelta(milliseconds=3), "/ws", 403, 0.0031)

    def database_trouble(self) -> None:
        for minutes, seconds, table in ((44, 5.2, "threads"), (45, 7.9, "messages"), (49, 5.6, "threads"),
                                        (63, 12.4, "usage_events")):
            t = self.at(minutes, 8080)
            self.err(self.api, t, slow_query(t, seconds, table))
        for minutes, user in ((50, USERS[4]), (51, USERS[5]), (53, USERS[4])):
            t = self.at(minutes, 2024)
            self.structured(self.api, t, db_session_failed(t, user))
            self.request(self.api, t + timedelta(milliseconds=4), "/api/threads", 500, 30.01)

    def auth_trouble(self) -> None:
        for minutes in (42, 42.4, 46, 58):
            t = self.at(minutes, 606)
            self.structured(self.auth, t, jwt_failed(t))
            self.request(self.auth, t + timedelta(milliseconds=2), "/auth/session", 401, 0.012)
        t = self.at(1.5, 900_000)
        self.structured(self.auth, t, oauth_missing(t))
        for minutes in (26, 39, 66):
            t = self.at(minutes, 1717)
            self.structured(self.web, t, session_middleware(t))

    def config_warnings(self) -> None:
        for minutes, variable, default in ((0.52, "CLICKHOUSE_URL", "clickhouse://localhost:8123"),
                                           (61.1, "FEATURE_FLAGS_PATH", "/app/flags.yaml")):
            t = self.at(minutes, 3)
            self.err(self.api, t, env_missing(t, variable, default))

    def chained_traceback(self, minutes: float) -> None:
        """Three ERROR tracebacks joined by DEFAULT glue lines, all at one instant on one instance."""
        t = self.at(minutes, 404_404)
        for n, traceback in enumerate(CHAINED_TRACEBACK):
            if n:
                self.err(self.api, t, CHAINED_GLUE)
            self.err(self.api, t, traceback, severity="ERROR")

    def split_traceback(self, minutes: float) -> None:
        """A traceback that reached Cloud Logging one line per entry, microseconds apart."""
        t = self.at(minutes, 250_000)
        for n, line in enumerate(SPLIT_TRACEBACK):
            self.err(self.auth, t + n * 3 * _US, line)

    def startup_race(self, minutes: float) -> None:
        for n, (component, state, seconds) in enumerate((("websocket_hub", "ready", 10),
                                                         ("redis_pool", "connected", 5))):
            t = self.at(minutes + n * 0.1)
            self.err(self.api, t, race(t, component, state, seconds))

    def crash_loop(self) -> None:
        """Revision 00042 ships without a module: every start on every instance dies the same way."""
        c, d, e = self.api_new
        starts = ((c, 62, 12), (d, 62.3, 14), (c, 63.4, 13), (e, 64, 17), (d, 65.2, 12), (e, 67, 15))
        for attempt, (inst, minutes, pid) in enumerate(starts):
            up = self.boot(inst, minutes, healthy=False, pid=pid, attempt=attempt)
            crash = up + timedelta(milliseconds=380)
            self.err(inst, crash, gunicorn(crash, pid, "ERROR", "Exception in worker process\n" + IMPORT_TRACEBACK))
            self.err(inst, crash + 900 * _US, gunicorn(crash, pid, "INFO", f"Worker exiting (pid: {pid})"))
            down = crash + timedelta(milliseconds=260)
            self.err(inst, down, gunicorn(down, 1, "ERROR", f"Worker (pid:{pid}) exited with code 3"))
            self.err(inst, down + 400 * _US, gunicorn(down, 1, "ERROR", "Shutting down: Master"))
            self.err(inst, down + 800 * _US, gunicorn(down, 1, "ERROR", "Reason: Worker failed to boot."))
            exited = down + timedelta(milliseconds=310)
            self.add(inst, exited, "varlog/system", text="Container called exit(3).", severity="WARNING")
            if attempt == 0:
                self.add(inst, exited + timedelta(milliseconds=2), "varlog/system", severity="ERROR", text=(
                    f'Default STARTUP TCP probe failed 1 time consecutively for container "{inst.service}-1" '
                    "on port 8080. The instance was not started.\nConnection failed with status CANCELLED."))
            for n in range(1 + attempt % 2):
                path = self.rng.choice(API_PATHS[:4])
                self.request(inst, exited + timedelta(milliseconds=40 + 70 * n), path, 503, 0.0021 + n / 1000,
                             text=MALFORMED_503)

    def empty_messages(self) -> None:
        """Entries with an empty message, as seen in real exports."""
        t = self.at(70, 1)
        self.structured(self.api, t, json_line(t, "WARNING", "api.agents.runner:run:95", ""))
        t = self.at(88, 2)
        self.err(self.web, t, "", severity="ERROR")


# ----------------------------------------------------------------------------------------- generate

_HEALTHY_WEIGHT = 85


def generate(n: int, seed: int = 0, start: datetime = FIXTURE_START, *, descending: bool = False,
             step_ms: float = 20.0) -> Iterator[dict]:
    """Yield exactly ``n`` entries, one every ``step_ms`` on average, in constant memory.

    ~85% healthy request logs and INFO chatter; the rest are the scenario's failure families with
    bounded variety, so the number of distinct failures stops growing with ``n``.
    """
    rng = random.Random(seed)
    factory = EntryFactory()
    fleet = [instance("api-backend", "api-backend-00041-kx7", f"bench-api-{k}") for k in range(3)]
    fleet += [instance("api-backend", "api-backend-00042-q9d", "bench-api-new"),
              instance("web-frontend", "web-frontend-00017-b2m", "bench-web"),
              instance("auth-service", "auth-service-00023-t4p", "bench-auth")]
    step = timedelta(milliseconds=step_ms)
    for index in range(n):
        slot = n - 1 - index if descending else index
        ts = start + slot * step + timedelta(microseconds=rng.randrange(int(step_ms * 1000)))
        inst = fleet[rng.randrange(len(fleet))]
        if rng.randrange(100) < _HEALTHY_WEIGHT:
            yield _healthy(factory, rng, inst, ts)
        else:
            yield _failure(factory, rng, inst, ts)


def _healthy(factory: EntryFactory, rng: random.Random, inst: Instance, ts: datetime) -> dict:
    kind = rng.randrange(10)
    path = rng.choice({"api-backend": API_PATHS, "web-frontend": WEB_PATHS, "auth-service": AUTH_PATHS}[inst.service])
    if kind < 5:
        http = http_request("GET", HOSTS[inst.service] + path, 200, rng.uniform(0.003, 0.5), rng.choice(CLIENT_IPS),
                            size=rng.randrange(90, 9000))
        return factory.entry(inst, ts, "requests", severity="INFO", http=http, trace=f"{ts.isoformat()}{path}")
    if kind < 7:
        access = uvicorn_access(rng.choice(CLIENT_IPS), rng.randrange(30000, 60000), "GET", path, 200)
        return factory.entry(inst, ts, "stdout", text=access)
    user = rng.choice(USERS)
    if kind < 8:
        return factory.entry(inst, ts, "stdout", severity="INFO",
                             payload=stdout_json(ts, f"Thread list served for {user}", user=user))
    if kind < 9:
        took = f"{rng.randrange(1, 9)}.{rng.randrange(10)}s"
        return factory.entry(inst, ts, "stdout", text=loguru(ts, "INFO", "api.agents.runner:run:88",
                                                              f"Agent run finished for {user} in {took}"))
    return factory.entry(inst, ts, "stdout", text=stdlib(ts, "auth.sessions", "INFO", f"Session refreshed for {user}"))


def _text(text: str, severity: str | None = None) -> dict:
    return {"text": text, "severity": severity}


def _json(payload: dict) -> dict:
    return {"payload": payload, "severity": payload["severity"]}


# The scenario's failure families, each (rng, ts, service, user) -> stderr entry fields; variety stays bounded.
_FAILURES = (
    lambda rng, ts, service, user: _text(redis_dns(ts, ansi=rng.random() < 0.5)),
    lambda rng, ts, service, user: _text(redis_refused(ts)),
    lambda rng, ts, service, user: _text(redis_timeout(ts)),
    lambda rng, ts, service, user: _json(attribute_error(ts, rng.randrange(2))),
    lambda rng, ts, service, user: _json(ws_not_accepted(ts, user)),
    lambda rng, ts, service, user: _text(ws_closed_1011(ts, user)),
    lambda rng, ts, service, user: _json(ws_rejected(ts, user)),
    lambda rng, ts, service, user: _text(slow_query(ts, rng.randrange(50, 150) / 10,
                                                    rng.choice(("threads", "messages", "usage_events")))),
    lambda rng, ts, service, user: _json(db_session_failed(ts, user)),
    lambda rng, ts, service, user: _json(jwt_failed(ts)),
    lambda rng, ts, service, user: _json(session_middleware(ts)),
    lambda rng, ts, service, user: _text(sentry_missing(ts, service)),
    lambda rng, ts, service, user: _text(config_sanitized(ts)),
    lambda rng, ts, service, user: _text(race(ts, *rng.choice((("websocket_hub", "ready", 10),
                                                                ("redis_pool", "connected", 5))))),
    lambda rng, ts, service, user: _text(gunicorn(ts, 1, "ERROR",
                                                  f"Worker (pid:{rng.randrange(11, 40)}) exited with code 3")),
    lambda rng, ts, service, user: _text(rng.choice(CHAINED_TRACEBACK), "ERROR"),
    lambda rng, ts, service, user: _text(gunicorn(ts, rng.randrange(11, 40), "ERROR",
                                                  "Exception in worker process\n" + IMPORT_TRACEBACK)),
)


def _failure(factory: EntryFactory, rng: random.Random, inst: Instance, ts: datetime) -> dict:
    user = rng.choice(USERS)
    kind = rng.randrange(len(_FAILURES) + 1)
    if kind == len(_FAILURES):  # the platform's 503 for a crashed instance
        http = http_request("GET", HOSTS[inst.service] + rng.choice(API_PATHS), 503, 0.002, rng.choice(CLIENT_IPS),
                            size=99)
        return factory.entry(inst, ts, "requests", severity="ERROR", http=http, text=MALFORMED_503,
                             trace=f"{ts.isoformat()}503")
    return factory.entry(inst, ts, "stderr", **_FAILURES[kind](rng, ts, inst.service, user))


# ------------------------------------------------------------------------------------------ shapes


def to_json(entries: list[dict]) -> str:
    """gcloud ``--format=json``: a 2-space indented array with sorted keys."""
    return json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_ndjson_line(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def to_client_entry(entry: dict) -> dict:
    """A google-cloud-logging ``LogEntry`` dumped field by field: snake_case keys, None for absent ones."""
    http = entry.get("httpRequest")
    dumped = {
        "log_name": entry["logName"],
        "resource": entry["resource"],
        "labels": entry["labels"],
        "insert_id": entry["insertId"],
        "severity": entry.get("severity"),
        "timestamp": entry["timestamp"].replace("Z", "+00:00"),
        "receive_timestamp": entry["receiveTimestamp"][:26] + "+00:00",
        "trace": entry.get("trace"),
        "span_id": entry.get("spanId"),
        "http_request": {_snake(key): value for key, value in http.items()} if http else None,
    }
    if "textPayload" in entry:
        dumped["text_payload"] = entry["textPayload"]
    if "jsonPayload" in entry:
        dumped["json_payload"] = entry["jsonPayload"]
    return dumped


_COLUMNS = (("TIMESTAMP", "timestamp"), ("SEVERITY", "severity"), ("TEXT_PAYLOAD", "textPayload"))


def to_table(entries: list[dict]) -> str:
    """gcloud ``table(timestamp,severity,textPayload)``: columns padded to the widest cell plus two spaces,
    trailing blanks trimmed, further lines of a multi-line cell indented to that cell's column."""
    rows = [[label for label, _ in _COLUMNS]] + [[entry.get(key, "") for _, key in _COLUMNS] for entry in entries]
    widths = [max(len(row[i].split("\n")[0]) for row in rows) + 2 for i in range(len(_COLUMNS) - 1)]
    indent = " " * sum(widths)
    lines = []
    for row in rows:
        first, *rest = row[-1].split("\n")
        lines.append("".join(cell.ljust(width) for cell, width in zip(row, widths)) + first)
        lines.extend(indent + line for line in rest)
    return "".join(line.rstrip() + "\n" for line in lines)


def to_value(entries: list[dict]) -> str:
    """gcloud ``value(timestamp,severity,textPayload)``: tab-separated, absent fields empty, no quoting."""
    return "".join("\t".join(entry.get(key, "") for _, key in _COLUMNS) + "\n" for entry in entries)


def to_plain_log(entries: list[dict]) -> str:
    """The app's own stdout/stderr text, oldest first; later lines of an entry always start with whitespace."""
    lines = []
    for entry in reversed(entries):
        text = entry.get("textPayload")
        if not text or entry["logName"].endswith(("requests", "system")):
            continue
        first, *rest = text.split("\n")
        lines.append(first)
        lines.extend(line if line[:1].isspace() else "  " + line for line in rest)
    return "".join(line + "\n" for line in lines)


# ------------------------------------------------------------------------------------------ fixtures

_BAD_NDJSON_GARBAGE = (b'{"insertId": "broken", "textPayload": "cut off\n', b"\xff\xfe not utf-8 \xc3\x28\n", b"\n",
                       b'["an", "array", "not", "an", "object"]\n', b"42\n")


def write_fixtures(directory: Path) -> list[Path]:
    """(Re)write every fixture from ``scenario(FIXTURE_START)``; return the paths written."""
    directory = Path(directory)
    (directory / "bad").mkdir(parents=True, exist_ok=True)
    entries = scenario(FIXTURE_START)
    ndjson = "".join(to_ndjson_line(entry) for entry in entries)
    gcloud_json = to_json(entries)
    files: dict[str, bytes] = {
        "sample.json": gcloud_json.encode(),
        "sample.ndjson": ndjson.encode(),
        "sample.ndjson.gz": _gzip(ndjson.encode()),
        "sample.client.json": _client_dump(entries).encode(),
        "sample.table.txt": to_table(entries).encode(),
        "sample.value.txt": to_value(entries).encode(),
        "sample.log": to_plain_log(entries).encode(),
        "bad/truncated.json": _truncated(to_json(entries[:6]).encode()),
        "bad/junk.bin": bytes(random.Random(7).randrange(256) for _ in range(2048)),
        "bad/mixed.ndjson": _mixed_ndjson(entries),
        "bad/empty.json": b"",
        "bad/empty_array.json": b"[]\n",
    }
    written = []
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


def _client_dump(entries: list[dict]) -> str:
    """``{"project": …, "entries": [...]}`` with one client entry per line."""
    lines = ",\n".join(json.dumps(to_client_entry(entry), ensure_ascii=False) for entry in entries)
    return f'{{"project": "{PROJECT}", "entries": [\n{lines}\n]}}\n'


def _truncated(array: bytes) -> bytes:
    """The array cut inside its last entry, as when an export is interrupted."""
    return array[: array.rindex(b'"resource"') + 40]


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _mixed_ndjson(entries: list[dict]) -> bytes:
    good = [to_ndjson_line(entry).encode() for entry in entries[:8]]
    lines = []
    for n, line in enumerate(good):
        lines.append(line)
        if n < len(_BAD_NDJSON_GARBAGE):
            lines.append(_BAD_NDJSON_GARBAGE[n])
    return b"".join(lines)


# ----------------------------------------------------------------------------------------------- CLI


def _write_stream(path: Path, n: int, seed: int, fmt: str, descending: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        entries = generate(n, seed, descending=descending)
        if fmt == "ndjson":
            for entry in entries:
                out.write(to_ndjson_line(entry))
            return
        out.write("[")
        for index, entry in enumerate(entries):
            out.write(",\n" if index else "\n")
            out.write(_indented(entry))
        out.write("\n]\n" if n else "]\n")


def _indented(entry: dict) -> str:
    return "  " + json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n  ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, help="rewrite every fixture into this directory and exit")
    parser.add_argument("--n", type=int, default=200_000, help="entries to generate (default 200000)")
    parser.add_argument("--format", choices=("json", "ndjson"), default="json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ascending", action="store_true", help="oldest first (default: newest first, like gcloud)")
    parser.add_argument("--out", type=Path, help="output file")
    args = parser.parse_args(argv)
    if args.fixtures:
        for path in write_fixtures(args.fixtures):
            print(f"{path} ({path.stat().st_size} bytes)", file=sys.stderr)
        return 0
    if args.out is None:
        parser.error("--out is required unless --fixtures is given")
    _write_stream(args.out, args.n, args.seed, args.format, descending=not args.ascending)
    print(f"wrote {args.n} entries to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
