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
        ("login with password: 'hunter2 secret'", "hunter2 secret"),
        ("db_password: hunter2secret", "hunter2secret"),
        ("api_key: 'AbCd1234EfGh'", "AbCd1234EfGh"),
        ('secret: "topsecretvalue1"', "topsecretvalue1"),
        ("AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI'", "wJalrXUtnFEMI"),
        ("openai call failed for key sk-proj-AbCdEfGhIjKlMnOpQrSt0123456789: 401", "sk-proj-AbCdEfGhIjKlMnOpQrSt0123456789"),
        ("OpenAI(api_key=None) fell back to sk-AbCdEfGhIjKlMnOpQrStUv0123456789ab", "sk-AbCdEfGhIjKlMnOpQrStUv0123456789ab"),
        ("anthropic: invalid x-api-key sk-ant-api03-abcdefghijklmnopqrst0123456789", "sk-ant-api03-abcdefghijklmnopqrst0123456789"),
        (f"token rejected: {JWT.rsplit('.', 1)[0]} (cut)", JWT.rsplit(".", 1)[0]),
        ("request headers: Cookie: sessionid=Q2xvdWRSdW5TZXNzaW9uMTIzNDU2Nzg5; csrftoken=x1", "Q2xvdWRSdW5TZXNzaW9u"),
        ("Set-Cookie: sid=abc123def456; Path=/; HttpOnly", "abc123def456"),
        ("metadata server gave ya29.a0AfH6SMC-x1y2z3AbCdEfGhIjKlMn for the run SA", "ya29.a0AfH6SMC-x1y2z3AbCdEfGhIjKlMn"),
        ("oauth client GOCSPX-AbCdEfGhIjKlMnOpQrStUvWx12 rejected", "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWx12"),
        ("exec migrate --db-pass Sup3rS3cret2 --host db", "Sup3rS3cret2"),
        ("GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=AbC%2Bdef123XYZ%3D0a9b8c7d&se=2026", "AbC%2Bdef123XYZ"),
        ('signed request {"signature": "a1b2c3d4e5f6a7b8c9d0e1f2"} refused', "a1b2c3d4e5f6a7b8c9d0e1f2"),
        ("upstream said x-goog-signature: 9f8e7d6c5b4a39281706abc", "9f8e7d6c5b4a39281706abc"),
        ("GET /oauth/cb?code=4%2F0AX4XfWh1234567890abcdefGHIJ&scope=email 500", "0AX4XfWh1234567890abcdefGHIJ"),
        ("GET /b/o?X-Goog-Credential=sa%40p.iam&X-Goog-Signature=9f8e7d6c5b4a39281706 403", "9f8e7d6c5b4a39281706"),
        ("GET /oauth/callback?state=xyz&code=4/0AX4XfWh1234567890abcdefGHIJ&scope=email 500", "4/0AX4XfWh1234567890abcdefGHIJ"),
        ("login failed: invalid password 'Zx9!Qw8@Er7#' for user ana", "Zx9!Qw8@Er7#"),
        # header maps printed as lists of values: Go's http.Header, Java's Map, JSON
        ("headers=map[Authorization:[Bearer 8f14e45fceea167a] User-Agent:[Go-http-client/1.1]]", "8f14e45fceea167a"),
        ("{Authorization=[Bearer c9f0f895fb98ab91], Accept=[application/json]}", "c9f0f895fb98ab91"),
        ('{"authorization": ["Token abc123def456"]}', "abc123def456"),
        # camelCase names as Node prints an object; AWS's credentials file; a Ruby hash
        ("{ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMIbPxRfiCY' }", "wJalrXUtnFEMIbPxRfiCY"),
        ("{ clientSecret: 'Zk9xQ2abcdefgh', region: 'eu' }", "Zk9xQ2abcdefgh"),
        ("{ refreshToken: '1//0gLkabcdefghijk' }", "1//0gLkabcdefghijk"),
        ("{ dbPassword: 'Tr0ub4dor3xyz' }", "Tr0ub4dor3xyz"),
        ("aws_secret_access_key = je7MtGbClwBF2Zp9Utk", "je7MtGbClwBF2Zp9Utk"),
        ('Parameters: {"user"=>{"email"=>"a@b.c", "password"=>"CorrectHorse9Battery"}}', "CorrectHorse9Battery"),
        ("Rejected session_token = f3a9c1e7b2d4: signature mismatch", "f3a9c1e7b2d4"),
        ("GCS credentials = svc-reader:Xy12abcd9Q loaded", "Xy12abcd9Q"),
        ("retry with api_key = AIzb!9x7Qw8Er6 failed", "AIzb!9x7Qw8Er6"),
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
        "cache key: 'user:123' evicted",
        "Could not read session cookie: expired",
        "signal=SIGTERM received, design=v2",
        "--passes 3 done",
        "the password 'reset' link expired",
        "failed to access secret 'projects/123/secrets/stripe-api-key/versions/latest': permission denied",
        "Password 'min_length' rule violated",
        "webhook rejected: sig=mismatch; Stripe signature mismatch",
        "upstream cookie: session=; rest status=502 path=/checkout",
        "--compass north --bypass true",
        "see docs at https://example.com/v1/4/0Apage",
    ],
)
def test_ordinary_text_is_kept(text):
    assert redact(text) == text


PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"failed private_key=-----BEGIN PRIVATE KEY-----{PEM_BODY}", f"failed private_key={MASK}"),
        ("failed private_key=-----BEGIN PRIVATE <ID>", f"failed private_key={MASK}"),  # a masked template
        (f"bad key:\n-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY}==\n-----END RSA PRIVATE KEY-----\nat load()",
         f"bad key:\n{MASK}\nat load()"),
        (f"ValueError: -----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY}", f"ValueError: {MASK}"),
        (f"cut: -----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F2A\n\n{PEM_BODY}",
         f"cut: {MASK}"),
        ("failed PASSWORD = plain_spaced_16 (spaces)", f"failed PASSWORD = {MASK} (spaces)"),
        ("db_secret =s3cr3t, retrying", f"db_secret ={MASK}, retrying"),
        ("failed --password pw_flag_18 cli", f"failed --password {MASK} cli"),
        ("run --api-key abc123 --verbose", f"run --api-key {MASK} --verbose"),
        ("GitHub call failed with token ghp_abcdefghijklmnopqrstuvwxyz0123456789 401",
         f"GitHub call failed with token {MASK} 401"),
        ("push as github_pat_11ABCDEFG0123456789_abcdefghijklmnop denied", f"push as {MASK} denied"),
        ("gho_16C7e42F292c6912E7710c838347Ae178B4a, ghs_16C7e42F292c6912E7710c838347Ae178B4a",
         f"{MASK}, {MASK}"),
        ("stripe error sk_live_51HxxxxxxxxxxxxxxxX invalid", f"stripe error {MASK} invalid"),
        ("keys rk_live_abcdefghij12 sk_test_4eC39HqLyjWDarjtT1zdp7dc", f"keys {MASK} {MASK}"),
        ("slack xoxb-1234567890-abcdefghijkl failed", f"slack {MASK} failed"),
        ("POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX: 404",
         f"POST https://hooks.slack.com/services/{MASK}: 404"),
        ("as AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", f"as {MASK} and {MASK}"),
        ("key AIzaSyA-1234567890abcdefghijklmnopqrstu rejected", f"key {MASK} rejected"),
        ("Error: curl -u user:p4ssw0rd https://api", f"Error: curl -u user:{MASK} https://api"),
        ("curl -s --user=admin:hunter2 http://x", f"curl -s --user=admin:{MASK} http://x"),
        ("Error Basic dXNlcjpwYXNzd29yZA== rejected", f"Error Basic {MASK} rejected"),
        ("Error sending mail SMTP auth PASS=topsecret99", f"Error sending mail SMTP auth PASS={MASK}"),
        ("env SMTP_PASS=pw1 bypass=yes", f"env SMTP_PASS={MASK} bypass=yes"),
        ("client_secret: mysecretvalue123 was rejected", f"client_secret: {MASK} was rejected"),
        ("token: abc123secretvalue in yaml", f"token: {MASK} in yaml"),
        ("X-Auth-Token: 9f8e7d6c5b4a3210", f"X-Auth-Token: {MASK}"),
    ],
)
def test_secret_is_replaced_exactly(text, expected):
    assert redact(text) == expected
    assert redact(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Basic auth failed",
        "Basic authentication failed for user ana",
        "commit 3f9a2b7c4d5e6f708192a3b4c5d6e7f8091a2b3c not found",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "    password = settings.PASSWORD",
        "    password = request.form['password']",
        "if password == expected:",
        "token: expired",
        "--password-file /run/secrets/db",
        "docker run -u 1000:1000 app",
        "ghp_ prefix is reserved",
        "Asia/Kolkata offset +05:30",
        "-----BEGIN CERTIFICATE-----MIIC",
        "compass=north",
        "Could not get event name for stream/token: com.apple.xpc.activity/4505: 132: Request for stale data",
        "Bad activity token: android.os.BinderProxy@2bd79ce",
        "task-runner-7f9c desk-booking-service-2024-11-28-release failed",
        "sk-learn model sk-classifier-v2 loaded",
        "deployed sk-payments-gateway-00042-x to europe-west1",
        "cacheKey: 'users:42' missed",  # camelCase, but not a kept name
        "    token = request.headers.get('authorization')",  # a traceback's code line
        "{Accept=[application/json], Host=[api.example.com]}",
        # a kept name followed by a value that is no secret
        "token = None", "maxToken = 4096", "csrfToken = missing", "access_token = expired",
    ],
)
def test_ordinary_text_is_kept_by_the_new_forms(text):
    assert redact(text) == text


def test_masking_twice_changes_nothing():
    once = redact(f"token={JWT} api_key=abc")
    assert redact(once) == once == f"token={MASK} api_key={MASK}"
    header_map = redact("headers map[Authorization:[Bearer 8f14e45fceea167a] Accept:[*/*]]")  # stored, then drafted
    assert redact(header_map) == header_map == f"headers map[Authorization:[{MASK}] Accept:[*/*]]"
    assert redact("Authorization: [] empty") == "Authorization: [] empty"
    for header, masked in [("Authorization: Bearer abc.def", "Authorization: "), ("authorization=Token x1y2z3", "authorization="),
                           ("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: ")]:
        assert redact(redact(header)) == redact(header) == masked + MASK


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


def test_a_secret_found_in_a_sample_is_masked_where_it_stands_without_context():
    """A key's first line, taken for a traceback's exception type, shows up in the title without its PEM header."""
    line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    message = f"ValueError: bad key -----BEGIN RSA PRIVATE KEY-----\n{line}\n-----END RSA PRIVATE KEY-----"
    cluster = dataclasses.replace(unmatched_cluster(messages=(message,)), title=f"{line} in app/k.py:load",
                                  template=f"{line} in app/k.py:load", captures={"type": line})
    safe = redact_cluster(cluster)
    assert (safe.title, safe.template, safe.captures, safe.samples[0].message) == (
        f"{MASK} in app/k.py:load", f"{MASK} in app/k.py:load", {"type": MASK}, f"ValueError: bad key {MASK}")


# --- a secret found in context is masked wherever it shows in the cluster (review §2) -----------------------

def _everything(cluster) -> str:
    return repr((cluster.title, cluster.template, cluster.samples, cluster.captures))


@pytest.mark.parametrize(
    ("context", "secret"),
    [
        ("login failed: password=Sup3rS3cretValue", "Sup3rS3cretValue"),  # the value joined to its name
        ("running curl -sf -u admin:Adm1nPassw0rd https://api.internal/health", "Adm1nPassw0rd"),
        ("cannot connect to postgres://app:Hunt3rHunt3r@db.internal:5432/orders", "Hunt3rHunt3r"),
        ('config {"client_secret": "pass phrase 42"}', "pass phrase 42"),
        ("call with Authorization: Bearer tok.Abc123xyz", "tok.Abc123xyz"),
    ],
)
def test_a_secret_found_in_context_is_masked_where_it_stands_bare(context, secret):
    """The value alone is recorded, not ``password=value``, and masked as a substring: bare, in brackets, joined."""
    cluster = dataclasses.replace(
        unmatched_cluster(messages=(context,)),
        title=f"{secret} is wrong", template=f"retrying with ({secret}) x={secret}", captures={"value": secret},
        samples=(sample(0, context), sample(1, f"second attempt with {secret}")),
    )
    safe = redact_cluster(cluster)
    assert secret not in _everything(safe)
    assert (safe.title, safe.template, safe.captures) == (
        f"{MASK} is wrong", f"retrying with ({MASK}) x={MASK}", {"value": MASK})
    assert safe.samples[1].message == f"second attempt with {MASK}"


def test_a_secret_bare_and_in_context_in_the_same_sample_is_masked_in_both_places():
    token = "dXNlcjpwYXNzd29yZA9x"
    message = f"login rejected for {token}\nAuthorization: Basic {token}"
    cluster = dataclasses.replace(unmatched_cluster(messages=(message,)), title=f"login rejected for {token}",
                                  template=f"login rejected for {token}")
    safe = redact_cluster(cluster)
    assert token not in _everything(safe)
    assert safe.samples[0].message == f"login rejected for {MASK}\nAuthorization: {MASK}"


def test_a_short_or_common_value_is_masked_in_context_only():
    """``password=secret`` masks its value, but "secret" elsewhere is kept: short values are not looked for."""
    cluster = dataclasses.replace(unmatched_cluster(messages=("password=secret rejected",)),
                                  title="client_secret missing", template="client_secret missing")
    safe = redact_cluster(cluster)
    assert (safe.title, safe.samples[0].message) == ("client_secret missing", f"password={MASK} rejected")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("password=Sup3rS3cretValue", {"Sup3rS3cretValue"}),
        ("curl -u admin:Adm1nPassw0rd https://x", {"Adm1nPassw0rd"}),
        ("postgres://app:Hunt3rHunt3r@db/x", {"Hunt3rHunt3r"}),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA9x", {"dXNlcjpwYXNzd29yZA9x"}),
        (f"token {JWT} expired", {JWT}),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0\nabc\n-----END RSA PRIVATE KEY-----",
         {"MIIEvQIBADANBgkqhkiG9w0"}),
        ("password=short", set()),
        ("nothing to see here", set()),
    ],
)
def test_redact_found_reports_the_values_it_masked(text, values):
    from triage.redact import redact_found

    masked, found = redact_found(text)
    assert masked == redact(text)
    assert found == values
