"""Pull a window of log entries from Google Cloud Logging (``entries.list``): every page, within quota.

Transport: HTTP/JSON (``_use_grpc=False``) everywhere. It passes proxies and firewalls that break gRPC's
HTTP/2, needs no grpcio at run time, honours ``client_options["api_endpoint"]`` as a plain URL, and it is
what the loopback fake in the tests speaks, so the tested path is the shipped one.

Paging: ``Client.list_entries`` returns a plain generator that hides page boundaries and page tokens
(googleapis/python-logging#136), so after a 429 it could only start again from the first page. This module
builds the page iterator ``list_entries`` builds itself (api_core ``HTTPIterator``, ``POST /entries:list``)
on the client's logging API and keeps the token of the next page: on 429 / RESOURCE_EXHAUSTED (which the
HTTP path does not retry), 500, 502, 503 or 504, and on a connection dropped once the API has answered (not a
wrong endpoint; not a timeout either, which already waited a minute), it backs off with jitter and starts a new
iterator at that token (the read is idempotent). An empty page that carries a token is followed like any other.
Requests are paced below the quota of 60 ``entries.list`` calls per minute per project.

Entries are kept as the API returned them (camelCase LogEntry JSON): ``LogEntry.to_api_repr()`` would drop
``receiveTimestamp``, ``errorGroups`` and the other fields the client's LogEntry does not model, and
``--save-raw`` writes exactly what a replay needs.
"""

from __future__ import annotations

import configparser
import json
import os
import random
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import orjson

from ..errors import SourceError
from ..redact import MASK, redact, redact_with
from . import TRUNCATED_KEY, Record, RecordStream, Truncated

PAGE_SIZE = 1000  # the API's maximum
REQUEST_TIMEOUT = 60  # seconds, as the client library waits
ENDPOINT_ENV = "TRIAGE_LOGGING_ENDPOINT"
DEFAULT_ENDPOINT = "https://logging.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/logging.read"
LOGIN_HINT = "run `gcloud auth application-default login`"
PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


@dataclass(frozen=True)
class Pull:
    """One ``entries.list`` query: which project, which filter, how many entries at most."""

    project: str
    filter: str
    max_entries: int | None = None

    @property
    def order_by(self) -> str:
        """Oldest first; newest first under a cap, which then keeps the latest entries (where an outage is going on)."""
        return "timestamp asc" if self.max_entries is None else "timestamp desc"

    @property
    def page_size(self) -> int:
        return min(PAGE_SIZE, self.max_entries) if self.max_entries else PAGE_SIZE


class RequestPacer:
    """A token bucket: at most ``burst + per_minute`` requests in any minute (the quota is 60)."""

    def __init__(self, per_minute: float = 50, burst: int = 5, clock=time.monotonic, sleep=time.sleep):
        self._rate = per_minute / 60.0
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Block until one more request fits in the budget, then spend it."""
        now = self._clock()
        if self._last is not None:
            self._tokens = min(self._capacity, self._tokens + max(0.0, now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            delay = (1 - self._tokens) / self._rate
            self._sleep(delay)
            self._tokens, self._last = 1.0, now + delay
        self._tokens -= 1


class Backoff:
    """Exponential backoff with jitter: retry ``n`` waits between half and all of ``min(cap, base * 2**n)``."""

    def __init__(self, base: float = 1.0, cap: float = 32.0, retries: int = 6, rng: random.Random | None = None,
                 sleep=time.sleep):
        self.retries = retries
        self._base, self._cap = base, cap
        self._rng = rng or random.Random()
        self._sleep = sleep

    def pause(self, retry: int) -> None:
        ceiling = min(self._cap, self._base * 2**retry)
        self._sleep(ceiling / 2 + self._rng.uniform(0, ceiling / 2))


def default_project(environ: Mapping[str, str] = os.environ) -> str | None:
    """``GOOGLE_CLOUD_PROJECT``, ``CLOUDSDK_CORE_PROJECT``, else the active gcloud configuration's project.

    The gcloud configuration is read from its file (``$CLOUDSDK_CONFIG`` or ``~/.config/gcloud``); gcloud
    itself is never run.
    """
    for name in PROJECT_ENV:
        if environ.get(name, "").strip():
            return environ[name].strip()
    config_dir = Path(environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    active = environ.get("CLOUDSDK_ACTIVE_CONFIG_NAME") or _read_text(config_dir / "active_config") or "default"
    ini = configparser.ConfigParser()
    try:
        ini.read(config_dir / "configurations" / f"config_{active}.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return ini.get("core", "project", fallback="").strip() or None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def endpoint(environ: Mapping[str, str] = os.environ) -> str:
    """The API endpoint: ``$TRIAGE_LOGGING_ENDPOINT`` (an http or https URL with a host) or Google's."""
    url = (environ.get(ENDPOINT_ENV) or "").strip() or DEFAULT_ENDPOINT
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceError(  # its value is not shown: it may hold a password in a shape that cannot be cut out
            f"{ENDPOINT_ENV} is not an http:// or https:// URL with a host (such as {DEFAULT_ENDPOINT})")
    return url.rstrip("/")


def _plain_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() == "http"


def find_credentials(environ: Mapping[str, str] = os.environ, project: str | None = None) -> Any:
    """Application Default Credentials with the logging read scope; :class:`SourceError` when there are none or
    they cannot be used (one line, never the file's content: a decoding error's text holds the bytes it read).

    ``project`` (the one the scan reads) is given to the lookup as ``GOOGLE_CLOUD_PROJECT`` when that is unset:
    google.auth otherwise asks the network which project workload-identity credentials belong to. google.auth's
    warnings here are not shown (two lines of Python source on every scan): the one about user credentials
    without a quota project predicts a 403 that gets its own one-line hint (see :func:`_denied`).
    """
    import warnings

    import google.auth
    from google.auth import exceptions as auth_errors

    named = (environ.get("GOOGLE_APPLICATION_CREDENTIALS") or "").strip()
    where = "GOOGLE_APPLICATION_CREDENTIALS: " if named else ""
    try:
        with warnings.catch_warnings(), _project_for_lookup(project):
            warnings.filterwarnings("ignore", category=UserWarning, module=r"google\.auth")
            credentials, _ = google.auth.default(scopes=[READ_SCOPE])
    except auth_errors.DefaultCredentialsError as err:
        said = _safe_message(err)
        if not named and (not said or said.startswith("Your default credentials were not found")):
            raise SourceError(f"no Google Cloud credentials found: {LOGIN_HINT}") from None
        raise SourceError(f"{where or 'application-default credentials: '}{said or 'unusable'}") from None
    except OSError as err:  # a directory, a file that cannot be read
        path = err.filename or named or "the credentials file"
        raise SourceError(f"{where}cannot read {path}: {err.strerror or type(err).__name__}") from None
    except (AttributeError, TypeError, ValueError, KeyError):  # JSON, but no object of credentials (a list, a number)
        raise SourceError(f"{where}{named or 'the application-default credentials file'} holds no credentials "
                          "(a JSON object with a \"type\")") from None
    except auth_errors.GoogleAuthError as err:  # a workload-identity token exchange that failed, …
        raise SourceError(_auth_failure(err, environ)) from None
    return credentials


@contextmanager
def _project_for_lookup(project: str | None) -> Iterator[None]:
    """``GOOGLE_CLOUD_PROJECT`` set to ``project`` while google.auth looks the credentials up (when unset)."""
    if not project or any(os.environ.get(name, "").strip() for name in PROJECT_ENV):
        yield
        return
    os.environ["GOOGLE_CLOUD_PROJECT"] = project
    try:
        yield
    finally:
        os.environ.pop("GOOGLE_CLOUD_PROJECT", None)


def _safe_message(err: BaseException) -> str:
    """The first line of a google.auth error's own message, and a word on its cause; never the repr of the
    cause (a ``UnicodeDecodeError``'s holds the file's bytes, private key included)."""
    said = next((arg for arg in err.args if isinstance(arg, str)), "")
    said = _first_line(said).rstrip(".") if said.strip() else ""
    cause = err.__cause__ or next((arg for arg in err.args if isinstance(arg, BaseException)), None)
    if isinstance(cause, UnicodeError):
        data = getattr(cause, "object", b"")
        utf16 = isinstance(data, bytes) and data[:2] in (b"\xff\xfe", b"\xfe\xff")
        said += " (not UTF-8 text: saved as UTF-16?)" if utf16 else " (not UTF-8 text)"
    elif isinstance(cause, ValueError) and hasattr(cause, "lineno") and hasattr(cause, "msg"):  # json's
        said += f" ({cause.msg} at line {cause.lineno} column {cause.colno})"
    elif cause is not None:
        missing = re.search(r"missing fields? [\w, ]+", str(cause.args[0]) if cause.args else "")
        if missing:
            said += f" ({missing.group(0).rstrip(', ')})"
    return said


def _auth_hint(environ: Mapping[str, str] = os.environ) -> str:
    named = (environ.get("GOOGLE_APPLICATION_CREDENTIALS") or "").strip()
    return f"check the credentials GOOGLE_APPLICATION_CREDENTIALS names ({named})" if named else LOGIN_HINT


def _auth_failure(err: Exception, environ: Mapping[str, str] = os.environ) -> str:
    """One line for a google.auth failure to get a token: refused (expired, revoked, a workload-identity token
    the token service rejects) or not reached."""
    from google.auth import exceptions as auth_errors

    if isinstance(err, auth_errors.TransportError):
        return f"cannot reach Google's token service to refresh the credentials: {_network_reason(err)}"
    said = next((arg for arg in err.args if isinstance(arg, str) and arg.strip()), "")
    return f"Google Cloud credentials were refused ({_refusal(said) if said else type(err).__name__}): {_auth_hint(environ)}"


EXCERPT = 100  # characters of an answer's text shown at most


def _refusal(said: str) -> str:
    """What google.auth says of a refusal: OAuth's ``error: description``, or, for an answer that is no OAuth JSON,
    the token service's body as it came (a proxy's page may echo the POSTed form: a signed JWT assertion, a refresh
    token, a client secret). An HTML page is named, not shown; other text is redacted and cut to a short excerpt."""
    if said.lstrip().startswith("<"):
        return "the token service answered with an HTML page, not OAuth's JSON (a proxy's?)"
    return _excerpt(redact(_first_line(said).rstrip(".")))


def _excerpt(text: str) -> str:
    """``text`` cut to about :data:`EXCERPT` characters (at a word when one ends in the second half; never inside
    a :data:`~triage.redact.MASK`), with "…"."""
    if len(text) <= EXCERPT:
        return text
    cut = text[:EXCERPT]
    mask = cut.rfind(MASK[0])
    if mask >= 0 and text.startswith(MASK, mask):
        cut = text[: mask + len(MASK)]
    word = cut.rpartition(" ")[0]
    return f"{word if len(word) >= EXCERPT // 2 else cut}…"


def make_client(project: str, environ: Mapping[str, str] = os.environ, credentials_finder=find_credentials) -> Any:
    """A ``google.cloud.logging.Client`` on the HTTP transport; an ``http://`` endpoint gets anonymous credentials."""
    url = endpoint(environ)
    if _plain_http(url):  # a test server or emulator: a token never travels in the clear
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    else:
        credentials = credentials_finder(environ, project)
    from google.cloud import logging

    options = {"api_endpoint": url} if url != DEFAULT_ENDPOINT else None
    return logging.Client(project=project, credentials=credentials, _use_grpc=False, client_options=options)


def pull(
    request: Pull,
    client: Any,
    *,
    pacer: RequestPacer | None = None,
    backoff: Backoff | None = None,
    raw_out: IO[bytes] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
    api_url: str = DEFAULT_ENDPOINT,
) -> RecordStream:
    """Stream the entries of ``request`` as :class:`Record` s, then a :class:`Truncated` if ``max_entries`` cut it.

    ``raw_out`` receives every entry as one JSON line as it arrives (and a last line ``{TRUNCATED_KEY: reason}`` when
    ``max_entries`` cut the pull); ``on_page(entries, pages)`` is called
    after each page, ``on_retry(what)`` before each backoff (a quota or server error: a wait of up to a minute).
    Any failure raises :class:`SourceError` saying how many entries had been fetched.
    """
    import requests
    from google.api_core import exceptions as api_errors

    secrets = _userinfo_secrets(api_url)
    api_url = _without_userinfo(api_url)  # it is shown in error messages

    def failure(err: Exception) -> str:  # the token as it is now: credentials refresh during a long pull
        return _scrubbed(_failure(err, request.project, api_url, api_errors), secrets + _access_token(client))

    pacer = pacer or RequestPacer()
    backoff = backoff or Backoff()
    fetched = pages = retry = 0
    token: str | None = None
    where = f"gcp:{request.project}"
    passing = (api_errors.TooManyRequests, api_errors.InternalServerError, api_errors.BadGateway,
               api_errors.ServiceUnavailable, api_errors.GatewayTimeout)
    dropped = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
    try:
        while True:
            pacer.wait()
            iterator = _page_iterator(client, request, token)
            try:
                page = next(iterator.pages)
                items = list(page)
            except (passing + dropped if pages else passing) as err:  # a dropped connection, once the API answered
                if isinstance(err, requests.Timeout):  # a connect timeout is a ConnectionError too: it waited already
                    raise
                if retry >= backoff.retries:
                    raise SourceError(f"{failure(err)}; gave up after {retry} retries") from None
                if on_retry is not None:
                    on_retry(f"Cloud Logging {_retry_reason(err)}: retrying ({retry + 1} of {backoff.retries})")
                backoff.pause(retry)
                retry += 1
                continue
            retry = 0
            pages += 1
            token = iterator.next_page_token or None  # an empty token would start the query over
            kept = items if request.max_entries is None else items[: request.max_entries - fetched]
            for item in kept:
                fetched += 1
                if raw_out is not None:
                    _write_raw(raw_out, orjson.dumps(item) + b"\n")
                yield Record(where, fetched, item, "#")
            if raw_out is not None:
                _write_raw(raw_out)
            if on_page is not None:
                on_page(fetched, pages)
            if request.max_entries is not None and fetched >= request.max_entries:
                if token is not None or len(items) > len(kept):
                    reason = f"stopped at --max-entries {request.max_entries} (the newest); more entries match"
                    if raw_out is not None:  # its replay says so too
                        _write_raw(raw_out, orjson.dumps({TRUNCATED_KEY: f"{where} {reason}"}) + b"\n")
                        _write_raw(raw_out)
                    yield Truncated(where, reason)
                return
            if token is None:
                return
    except SourceError as err:
        raise SourceError(f"{err}{_fetched(fetched, pages)}") from None
    except Exception as err:  # transport, auth and API failures, mapped below
        raise SourceError(failure(err) + _fetched(fetched, pages)) from None


def _retry_reason(err: Exception) -> str:
    """``answered 429 (quota exceeded)``, ``answered 503``, or ``dropped the connection``."""
    code = getattr(err, "code", None)
    if not isinstance(code, int):
        return "dropped the connection"
    return f"answered {code}" + (" (quota exceeded)" if code == 429 else "")


def _write_raw(raw_out: IO[bytes], line: bytes | None = None) -> None:
    """Write ``line`` to the ``--save-raw`` copy (flush it without one)."""
    try:
        if line is None:
            raw_out.flush()
        else:
            raw_out.write(line)
    except OSError as err:
        raise SourceError(f"cannot write the raw entries: {err.strerror or err}") from None


def _page_iterator(client: Any, request: Pull, token: str | None) -> Any:
    """The iterator ``Client.list_entries`` builds, starting at ``token``, with its pages and next token in reach."""
    from google.api_core import page_iterator

    iterator = page_iterator.HTTPIterator(
        client=client,
        api_request=_api_request(client),
        path="/entries:list",
        item_to_value=lambda _iterator, item: item,
        items_key="entries",
        page_token=token,
        extra_params={
            "resourceNames": [f"projects/{request.project}"],
            "filter": request.filter,
            "orderBy": request.order_by,
            "pageSize": request.page_size,
        },
    )
    iterator._HTTP_METHOD = "POST"  # entries.list is a POST with the parameters in the body
    return iterator


class NotTheApi(Exception):
    """A 2xx answer that is no page of entries: a proxy's page or JSON, or nothing at all."""


def _api_request(client: Any) -> Callable[..., Any]:
    """``api_request`` for the page iterator: the client's connection (its URL, credentials and session), but an
    error answer is told by its HTTP status alone. The client's own ``api_request`` reads the body as Google's
    ``{"error": {"message": …}}`` and crashes (AttributeError) on any other shape a gateway or proxy sends
    (``{"error": "forbidden"}``, a bare JSON string), so a 502 would not be retried; and it puts the request's
    URL, ``user:password@`` included, in the message. Here the message is the body's error text only."""
    connection = getattr(client, "_connection", None)
    if not callable(getattr(connection, "_make_request", None)):
        return client.logging_api.api_request  # a stand-in client
    from google.api_core import exceptions as api_errors

    def api_request(method: str, path: str, query_params: Any = None, data: Any = None, **_: Any) -> dict:
        url = connection.build_api_url(path=path, query_params=query_params)
        body, content_type = (json.dumps(data), "application/json") if isinstance(data, dict) else (data, None)
        response = connection._make_request(method=method, url=url, data=body, content_type=content_type,
                                            timeout=REQUEST_TIMEOUT)
        if not 200 <= response.status_code < 300:
            raise _api_error(response, api_errors)
        payload = response.json() if response.content else None  # not JSON: requests' JSONDecodeError
        if not isinstance(payload, dict) or not _a_page(payload):
            raise NotTheApi(type(payload).__name__)
        return payload

    return api_request


def _a_page(payload: dict) -> bool:
    """Whether a 2xx answer is a page of entries.list: its entries (objects) and next page token, or ``{}`` (a page
    of none); not a proxy's or gateway's JSON (``{"error": …}``, ``{"message": …}``), which must not read as no
    entries (an all-clear)."""
    entries, token = payload.get("entries", []), payload.get("nextPageToken", "")
    if not isinstance(entries, list) or not isinstance(token, str) or "error" in payload:
        return False
    if payload and "entries" not in payload and "nextPageToken" not in payload:
        return False
    return all(isinstance(entry, dict) for entry in entries)


def _api_error(response: Any, api_errors: Any) -> Exception:
    """The api_core error of ``response``'s status, with the error text of its body, whatever the body's shape."""
    message, details, errors = "", [], []
    try:
        payload = response.json()
    except ValueError:  # text or HTML
        payload = None
        text = response.text.strip()
        message = "an HTML page" if text.startswith("<") else text
    if isinstance(payload, list):  # an answer to a batch
        payload = next((item for item in payload if isinstance(item, dict)), None)
    error = payload.get("error") if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        details = [d for d in error.get("details") or () if isinstance(d, dict)] if isinstance(
            error.get("details"), list) else []
        errors = [e for e in error.get("errors") or () if isinstance(e, dict)] if isinstance(
            error.get("errors"), list) else []
    elif isinstance(error, str):  # OAuth's and many gateways' shape, or a bare JSON string
        description = payload.get("error_description") if isinstance(payload, dict) else None
        message = f"{error}: {description}" if isinstance(description, str) and description.strip() else error
    info = next((d for d in details if d.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo"), None)
    return api_errors.from_http_status(response.status_code, message.strip(), errors=errors, details=details,
                                       response=response, error_info=info)


def _userinfo_secrets(url: str) -> tuple[str, ...]:
    """The password of ``url``'s ``user:password@`` (as written and decoded), which no message may show; and the
    base64 of the decoded ``user:password`` that requests sends as ``Authorization: Basic …`` (a proxy may echo the
    request's headers in its error page)."""
    import base64
    from urllib.parse import unquote

    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    secrets = {userinfo, password, unquote(userinfo), unquote(password)}
    if userinfo:  # as requests builds it (latin-1; UTF-8 for what latin-1 cannot hold)
        pair = f"{unquote(user)}:{unquote(password)}"
        for encoding in ("latin-1", "utf-8"):
            try:
                secrets.add(base64.b64encode(pair.encode(encoding)).decode("ascii"))
            except UnicodeEncodeError:
                pass
    return tuple(sorted({p for p in secrets if len(p) >= 3}, key=len, reverse=True))


def _access_token(client: Any) -> tuple[str, ...]:
    """The access token the client's credentials hold now, whatever its shape: it goes out as ``Authorization:
    Bearer …`` on every request over https, and a proxy or gateway may echo the request's headers in its answer."""
    token = getattr(getattr(client, "_credentials", None), "token", None)
    return (token,) if isinstance(token, str) and len(token) >= 8 else ()


def _scrubbed(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without the ``user:password@`` of any URL in it, with every secret :func:`~triage.redact.redact`
    knows (bearer tokens, JWTs, Google OAuth tokens, client secrets …) and each of ``secrets`` masked."""
    return redact_with(_URL_USERINFO.sub(r"\1", text), frozenset(secrets))


def _without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}" if sep else url


def _fetched(entries: int, pages: int) -> str:
    if not entries and not pages:
        return ""
    return f" (after {counted(entries, 'entry', 'entries')} in {counted(pages, 'page')}; no partial report)"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1 (``1 page``, ``2,000 entries``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def _failure(err: Exception, project: str, api_url: str, api_errors: Any) -> str:
    """One line for a failed request (not yet scrubbed of secrets); anything unexpected is re-raised."""
    import requests
    from google.auth import exceptions as auth_errors

    if isinstance(err, api_errors.GoogleAPICallError):  # its text comes from the answer: it may echo the URL
        return _describe(err, project, api_url)
    if isinstance(err, auth_errors.InvalidOperation) and _plain_http(api_url):  # anonymous ones
        return f"Cloud Logging at {api_url} asks for credentials (401), which triage never sends to an http:// endpoint"
    if isinstance(err, requests.Timeout):
        return f"Cloud Logging at {api_url} did not answer in time"
    if isinstance(err, auth_errors.GoogleAuthError):  # refreshing the credentials, before the API is asked:
        return _auth_failure(err)  # refused (RefreshError, a workload-identity OAuthError …) or not reached
    if isinstance(err, requests.ConnectionError):
        return f"cannot reach Cloud Logging at {api_url}: {_network_reason(err)}"
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return f"the answer of Cloud Logging at {api_url} was cut short"
    if isinstance(err, (requests.exceptions.JSONDecodeError, NotTheApi)):
        return f"Cloud Logging at {api_url} answered with something other than the API's JSON (a proxy's page?)"
    if isinstance(err, requests.RequestException):  # its text may hold the URL: only its kind is shown
        return f"the request to Cloud Logging at {api_url} failed ({type(err).__name__})"
    if isinstance(err, (TypeError, LookupError, AttributeError, ValueError)) and _raised_in_google_auth(err):
        # google.auth reads a 200 answer of the token service as OAuth's JSON without a check: a proxy's page
        return "Google's token service answered with something other than OAuth's JSON (a proxy's page?)"
    raise err


def _raised_in_google_auth(err: Exception) -> bool:
    """Whether ``err`` was raised inside google.auth or google.oauth2 (the innermost frame of its traceback)."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return module.startswith(("google.auth.", "google.oauth2."))


def _describe(err: Any, project: str, api_url: str) -> str:
    code = getattr(err, "code", None)
    detail = _HTTP_PREFIX.sub("", _first_line(getattr(err, "message", None) or "")).rstrip(".") or "no details"  # drop "POST url: "
    if not _the_apis_own(err):
        return _not_the_apis(code, _excerpt(detail), api_url)
    if code == 403:
        return _denied(err, project, detail)
    if code == 404:
        return f"project {project} not found by Cloud Logging (404): {detail}"
    if code == 400:
        return f"Cloud Logging rejected the query (400): {detail} (--show-filter prints it)"
    if code == 401:
        return f"Cloud Logging refused the credentials (401): {detail}; {LOGIN_HINT}"
    if code == 429:
        return f"Cloud Logging quota exhausted for project {project} (429): {detail}"
    return f"Cloud Logging at {api_url} failed ({code}): {detail}"


def _the_apis_own(err: Any) -> bool:
    """Whether the error answer is the API's own JSON error (``{"error": {"code": <the status>, "message": …}}``),
    which alone tells a missing project or role; not a proxy's, gateway's or front end's page. An error raised
    without an answer (a stand-in client, the client library's own path) is taken as the API's."""
    response = getattr(err, "response", None)
    if response is None or not hasattr(response, "json"):
        return True
    try:
        payload = response.json()
    except ValueError:
        return False
    if isinstance(payload, list):  # an answer to a batch
        payload = next((item for item in payload if isinstance(item, dict)), None)
    error = payload.get("error") if isinstance(payload, dict) else None
    return isinstance(error, dict) and error.get("code") == response.status_code and isinstance(error.get("message"), str)


def _not_the_apis(code: Any, detail: str, api_url: str) -> str:
    """A failure answered by something other than the API: its status and a short excerpt, and the likely cause."""
    path = urlsplit(api_url).path.rstrip("/")
    cause = (f"{ENDPOINT_ENV} has a path ({path}), which it must not have (such as {DEFAULT_ENDPOINT})"
             if code == 404 and path else "a proxy or gateway in between?")
    return f"Cloud Logging at {api_url} answered {code} ({detail}), not with the API's own error: {cause}"


def _denied(err: Any, project: str, detail: str) -> str:
    """A 403: a missing role, or, told by the error's reason or text, an API that is disabled in the project the
    request is billed to, or a quota project that is missing or may not be used (user credentials of gcloud)."""
    reason = getattr(err, "reason", None) or ""
    quota_fix = f"`gcloud auth application-default set-quota-project {project}`"
    if reason == "USER_PROJECT_DENIED" or "requires a quota project" in detail:
        return (f"Cloud Logging refused the request's quota project (403): {detail} ({quota_fix}; using a project "
                "as the quota project needs roles/serviceusage.serviceUsageConsumer on it)")
    if reason in ("SERVICE_DISABLED", "API_DISABLED") or "has not been used in project" in detail or (
            "is disabled" in detail and "API" in detail):
        return (f"the Cloud Logging API is disabled in the project the request is billed to (403): {detail} (enable "
                f"logging.googleapis.com there, or, with user credentials, {quota_fix})")
    return f"permission denied on the logs of project {project} (403): {detail} (needs roles/logging.viewer)"


_HTTP_PREFIX = re.compile(r"^[A-Z]+ \S+:(?:\s+|$)")  # also with nothing after it (a blank body)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
_NETWORK_REASONS = (
    (re.compile(r"Connection refused|ECONNREFUSED", re.I), "connection refused"),
    (re.compile(r"Name or service not known|nodename nor servname|getaddrinfo failed|Temporary failure in name "
                r"resolution|NameResolutionError", re.I), "DNS lookup failed"),
    (re.compile(r"timed out", re.I), "timed out"),
    (re.compile(r"SSL|certificate", re.I), "TLS handshake failed"),
)


def _network_reason(err: Exception) -> str:
    text = str(err)
    for pattern, reason in _NETWORK_REASONS:
        if pattern.search(text):
            return reason
    return "network error"


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else "no details"
