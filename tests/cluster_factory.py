"""Clusters and scan results with fixed timestamps, for the drafts, state and worklog tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from triage.model import Cluster, Occurrence, Problem, Rule, Sample, ScanResult, Severity, Why, Window

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)
WINDOW = Window(T0, T0 + timedelta(hours=2))

REDIS_RULE = Rule(
    id="redis-dns-test",
    title="Redis host name does not resolve",
    priority="P0",
    category="redis",
    match={"regex": r"(?i)error (?P<errno>-[23]) connecting to (?P<host>[\w.\-]+):(?P<port>\d+)"},
    fingerprint=("host", "port"),
    five_whys=(
        Why("REDIS_HOST names a host that does not exist.", "gcloud run services describe SERVICE --format=yaml | grep -i redis"),
        Why("The revision has no VPC connector.", "Look for the vpc-access annotation on the revision."),
    ),
    remediation=("Point REDIS_HOST at the real instance and redeploy.", "Attach the VPC connector."),
    labels=("redis", "dns"),
    status="stable",
    role="cause",
    examples_match=("Error -2 connecting to cache.internal:6379.",),
    examples_no_match=("Error 111 connecting to localhost:6379.",),
    file="/somewhere/rules/redis.yaml",
    line=3,
)


def sample(minutes: int, message: str, service: str = "orders-api", instance: str = "inst-a") -> Sample:
    return Sample(T0 + timedelta(minutes=minutes), message, service, instance, f"{service}-00007-abc")


def rule_cluster() -> Cluster:
    messages = [(m, f"redis.exceptions.ConnectionError: Error -2 connecting to cache.internal:6379. Name or service not known. (attempt {m})")
                for m in (5, 17, 42)]
    return Cluster(
        fingerprint="a1b2c3d4e5f60718293a",
        title="Redis host name does not resolve (host=cache.internal, port=6379)",
        template="redis.exceptions.ConnectionError: Error <NUM> connecting to cache.internal:<NUM>. Name or service not known. (attempt <NUM>)",
        severity=Severity.ERROR,
        count=12,
        first_seen=T0 + timedelta(minutes=5),
        last_seen=T0 + timedelta(minutes=42),
        services={"orders-api": 10, "billing-worker": 2},
        revisions={"orders-api-00007-abc": 10, "billing-worker-00002-xyz": 2},
        samples=tuple(sample(m, text) for m, text in messages),
        rule=REDIS_RULE,
        captures={"host": "cache.internal", "port": "6379"},
        occurrences=tuple(Occurrence(T0 + timedelta(minutes=m), "inst-a", None, "orders-api-00007-abc") for m, _ in messages),
    )


def unmatched_cluster(fingerprint: str = "ffee00112233445566aa", messages: tuple[str, ...] | None = None) -> Cluster:
    messages = messages or (
        "Invoice 8812 export failed: upstream returned 502 after 3 retries",
        "Invoice 9001 export failed: upstream returned 502 after 3 retries",
        "Invoice 7310 export failed: upstream returned 502 after 2 retries",
        "Invoice 4242 export failed: upstream returned 502 after 3 retries",
    )
    samples = tuple(sample(60 + 10 * i, text, "invoices") for i, text in enumerate(messages))
    return Cluster(
        fingerprint=fingerprint,
        title="Invoice <NUM> export failed: upstream returned <NUM> after <NUM> retries",
        template="Invoice <NUM> export failed: upstream returned <NUM> after <NUM> retries",
        severity=Severity.WARNING,
        count=len(messages),
        first_seen=samples[0].timestamp,
        last_seen=samples[-1].timestamp,
        services={"invoices": len(messages)},
        revisions={"invoices-00007-abc": len(messages)},
        samples=samples,
    )


def long_traceback(cart: int, frames: int = 60, secret: str = "") -> str:
    """A Python traceback of ``frames`` framework frames (60: about 5.9 KB) ending in the app's own frame and its
    exception, whose line names the ``cart`` (and ends with ``secret``, when given)."""
    lines = ["Traceback (most recent call last):"]
    for i in range(frames):
        lines += [f'  File "/srv/lib/framework/layer_{i:02d}.py", line {100 + i}, in dispatch', "    return self.inner(request)"]
    lines += ['  File "/app/api/handlers/orders.py", line 88, in place_order', "    share = total / len(cart.items)",
              f"ZeroDivisionError: division by zero (cart {cart}){secret}"]
    return "\n".join(lines)


def scan_result(*clusters: Cluster, scanned_at: datetime = T0 + timedelta(hours=2, minutes=1)) -> ScanResult:
    return ScanResult(
        window=WINDOW,
        sources=("exports/orders.ndjson",),
        entries_read=1500,
        entries_skipped=2,
        skipped_examples=(Problem("exports/orders.ndjson:17", "not JSON"),),
        entries_in_window=1400,
        clusters=clusters or (rule_cluster(), unmatched_cluster()),
        scanned_at=scanned_at,
        warnings=("rule x: regex timed out",),
    )


# --- an incident: a crash loop that link_incidents links into one chain --------------------------------------

ROOT_FP = "0a1b2c3d4e5f60718293"
BOOT_FP = "1b2c3d4e5f6071829304"
HTTP503_FP = "2c3d4e5f607182930415"
CASCADE_INSTANCES = ("inst-1", "inst-2", "inst-3")
HTTP503_RULE = Rule(id="cloud-run-503", title="Cloud Run answered 503", priority="P1", category="platform", match={}, role="symptom")


def cascade_clusters(
    fingerprints: tuple[str, str, str] = (ROOT_FP, BOOT_FP, HTTP503_FP),
    instances: tuple[str, ...] = CASCADE_INSTANCES,
    start: datetime = T0 + timedelta(minutes=10),
) -> tuple[Cluster, Cluster, Cluster]:
    """Four worker boots per instance, 5 minutes apart from ``start``: the import error, 0.1 s later the boot
    failure, and on every other boot a 503 0.5 s later. Returns (root, boot failure, 503)."""
    root_fp, boot_fp, http503_fp = fingerprints
    events: dict[str, list[Occurrence]] = {root_fp: [], boot_fp: [], http503_fp: []}
    for number, instance in enumerate(instances):
        for boot in range(4):
            t = start + timedelta(minutes=5 * boot, seconds=number)
            events[root_fp].append(Occurrence(t, instance, None, "orders-api-00008-new"))
            events[boot_fp].append(Occurrence(t + timedelta(seconds=0.1), instance, None, "orders-api-00008-new"))
            if boot % 2:
                events[http503_fp].append(Occurrence(t + timedelta(seconds=0.5), instance, None, "orders-api-00008-new"))
    kinds = {
        root_fp: ("ModuleNotFoundError: No module named 'orders.pricing'", Severity.ERROR, None),
        boot_fp: ("[ERROR] Worker (pid:<NUM>) failed to boot", Severity.ERROR, None),
        http503_fp: ("Cloud Run answered 503 (malformed response)", Severity.ERROR, HTTP503_RULE),
    }
    clusters = []
    for fp, occurrences in events.items():
        title, severity, rule = kinds[fp]
        occurrences.sort(key=lambda o: o.timestamp)
        last = occurrences[-1]
        clusters.append(Cluster(
            fingerprint=fp, title=title, template=title, severity=severity, count=len(occurrences),
            first_seen=occurrences[0].timestamp, last_seen=last.timestamp,
            services={"orders-api": len(occurrences)}, revisions={"orders-api-00008-new": len(occurrences)},
            samples=(Sample(last.timestamp, title.replace("<NUM>", "12"), "orders-api", last.instance, last.revision),),
            rule=rule, occurrences=tuple(occurrences),
        ))
    return tuple(clusters)
