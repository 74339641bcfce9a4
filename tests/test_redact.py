import dataclasses

import pytest

from triage.redact import MASK, redact, redact_cluster
from cluster_factory import sample, unmatched_cluster

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        ("calling upstream with bearer s3cr3tT0ken/+=", "s3cr3tT0ken"),
        (f"token rejected: {JWT} expired", JWT),
        ("connect redis://:hunter2@10.0.0.5:6379/0", "hunter2"),
        ("db url postgresql://app:p%40ssw0rd@db.internal/orders", "p%40ssw0rd"),
        ("connect to postgres://app:p@ssw0rd@db.internal:5432/app failed", "ssw0rd"),
        ("GET /v1/items?api_key=AKIA1234567890&page=2", "AKIA1234567890"),
        ("retry with secret=topsecret-value and more", "topsecret-value"),
        ("login password='correct horse' failed", "correct horse"),
        ('config {"token": "tok_live_123", "user": "ana"}', "tok_live_123"),
        ("{'client_secret': 'abc\\'def'}", "abc\\'def"),
        (r'payload="{\"refresh_token\": \"rt-9f8e7d\"}"', "rt-9f8e7d"),
        ("env DB_PASSWORD=pa55 SERVICE_KEY=k3y", "pa55"),
        ("password: hunter2", "hunter2"),
        ("X-Api-Key: abcd1234efgh", "abcd1234efgh"),
        ("{'password': b'hunter2'}", "hunter2"),
    ],
)
def test_secret_is_masked(text, secret):
    out = redact(text)
    assert secret not in out
    assert MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "KeyError: 'tenant_id'",
        '    signing_key = keys[header["kid"]]',
        "if token == expected:",
        "http://api.internal:8080/health returned 503",
        "JWT=REDACTED verification failed",
        "opentelemetry.instrumentation.fastapi not installed",
        "token: 401 - Unauthorized",
        "jwt_secret: No JWT secret config",
    ],
)
def test_ordinary_text_is_kept(text):
    assert redact(text) == text


def test_masking_twice_changes_nothing():
    once = redact(f"token={JWT} api_key=abc")
    assert redact(once) == once == f"token={MASK} api_key={MASK}"


def test_cluster_text_is_redacted_everywhere():
    cluster = unmatched_cluster(messages=("upload failed for https://bob:pw123@files.example.com/x",))
    cluster = dataclasses.replace(
        cluster, title="fail token=abc123", captures={"auth": "Bearer zzz999"},
        samples=cluster.samples + (sample(1, "password=pw123 rejected"),),
    )
    safe = redact_cluster(cluster)
    everything = repr((safe.title, safe.template, safe.samples, safe.captures))
    for secret in ("pw123", "abc123", "zzz999"):
        assert secret not in everything
