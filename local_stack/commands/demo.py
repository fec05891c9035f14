"""`make demo`: start the local stack and walk through every pattern over real HTTP.

Each chapter calls the API the way a client would, checks what came back, and says where
to look. The run exits 0 only if every check held.
"""

import base64
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
import requests

from local_stack.commands.cli import messages_not_tracebacks
from local_stack.commands.server import OUTPUTS_FILE, RunningStack, running_stack
from local_stack.commands.sync import sync
from local_stack.services import data_api, mysql
from local_stack.services.partner_feed import Fault, PartnerFeed, sample_rows

_COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _paint(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _COLOR else text


BOLD, DIM, GREEN, RED, CYAN = "1", "2", "32", "31", "36"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Demo:
    running: RunningStack
    checks: int = 0
    failures: list[str] = field(default_factory=list)

    # -- output -------------------------------------------------------------------------

    def chapter(self, number: int, title: str, what: str) -> None:
        print()
        print(_paint(BOLD, f"{number}. {title}"))
        print(_paint(DIM, f"   {what}"))

    def say(self, text: str) -> None:
        print(f"   {text}")

    def look(self, text: str) -> None:
        print(_paint(CYAN, f"   where to look: {text}"))

    def check(self, ok: bool, text: str) -> bool:
        self.checks += 1
        mark = _paint(GREEN, "ok  ") if ok else _paint(RED, "FAIL")
        print(f"     {mark} {text}")
        if not ok:
            self.failures.append(text)
        return ok

    # -- HTTP -----------------------------------------------------------------------------

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> Reply:
        url = self.running.api_url + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (local URL)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        shown = f" {json.dumps(body)}" if body is not None else ""
        print(_paint(DIM, f"   > {method} {path}{'?' + urlencode(query) if query else ''}{shown}"))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        parsed = json.loads(raw) if raw else None
        summary = json.dumps(parsed)[:110] if parsed is not None else "(empty body)"
        print(_paint(DIM, f"   < {status} {summary}"))
        return Reply(status, headers, parsed)

    def event_types(self, customer_path: str, expected: int, timeout_s: float = 15) -> list[str]:
        """The customer's audit trail once it holds `expected` events (consumers are async)."""
        items: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(items) < expected:
            time.sleep(0.3)
            items = self.call("GET", f"{customer_path}/events").body["items"]
        return [item["type"] for item in items]


# -- chapters ---------------------------------------------------------------------------


def customers_dynamodb(demo: Demo) -> None:
    demo.chapter(
        1,
        "Customers on DynamoDB",
        "API Gateway -> Lambda (Powertools resolver) -> DynamoDB, email uniqueness by transaction",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST",
        "/dynamodb/customers",
        {"name": "  Ada Lovelace ", "email": f"Ada.{suffix}@Example.com"},
    )
    demo.check(created.status == 201, "201 Created")
    customer = created.body or {}
    demo.check(
        created.headers.get("Location") == f"/dynamodb/customers/{customer.get('id')}",
        "Location header points at the new customer",
    )
    demo.check(
        customer.get("email") == f"ada.{suffix}@example.com"
        and customer.get("name") == "Ada Lovelace",
        "name trimmed, email lower-cased",
    )
    path = f"/dynamodb/customers/{customer.get('id')}"
    demo.check(demo.call("GET", path).body == customer, "GET returns what POST stored")
    twin = demo.call(
        "POST", "/dynamodb/customers", {"name": "Twin", "email": f"ADA.{suffix}@example.com"}
    )
    demo.check(twin.status == 409, "same email in other case: 409 (the uniqueness item won)")
    bad = demo.call("POST", "/dynamodb/customers", {"name": "", "email": "nope", "id": "mine"})
    demo.check(
        bad.status == 422 and "details" in (bad.body or {}), "invalid body: 422 with details"
    )

    demo.say("Pagination: a page of 2, then the opaque token (HMAC-signed, key in Secrets Manager)")
    for i in range(3):
        demo.call(
            "POST",
            "/dynamodb/customers",
            {"name": f"Reader {i}", "email": f"r{i}.{suffix}@example.com"},
        )
    first = demo.call("GET", "/dynamodb/customers", query={"limit": "2"})
    token = (first.body or {}).get("nextToken")
    demo.check(
        first.status == 200 and len(first.body["items"]) == 2 and bool(token),
        "first page + nextToken",
    )
    second = demo.call("GET", "/dynamodb/customers", query={"limit": "2", "nextToken": str(token)})
    demo.check(second.status == 200, "the token brings the next page")
    forged = demo.call("GET", "/dynamodb/customers", query={"nextToken": (token or "")[:-2] + "xx"})
    demo.check(forged.status == 400, "an edited token: 400, never a query built from it")

    updated = demo.call(
        "PUT", path, {"name": "Ada King", "email": f"ada.king.{suffix}@example.com"}
    )
    demo.check(
        updated.status == 200
        and updated.body["updatedAt"] > customer.get("updatedAt", "")
        and updated.body["createdAt"] == customer.get("createdAt"),
        "PUT: updatedAt advances, createdAt kept",
    )
    demo.check(demo.call("DELETE", path).status == 204, "DELETE: 204")
    demo.check(demo.call("GET", path).status == 404, "then GET: 404")
    demo.check(demo.call("PATCH", "/dynamodb/customers").status == 405, "wrong method: 405")
    demo.look(
        'make api, then make aws ARGS="dynamodb scan --table-name <its CustomersTableName>"'
        " (this demo's stack stops when the demo ends)"
    )


def customer_events(demo: Demo) -> None:
    demo.chapter(
        2,
        "Customer events: stream -> SNS -> SQS fan-out -> consumers",
        "every create/update/delete is one event; audit gets all, notifications only creations",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST",
        "/dynamodb/customers",
        {"name": "Grace Hopper", "email": f"grace.{suffix}@example.com"},
    ).body
    path = f"/dynamodb/customers/{created['id']}"
    demo.call("PUT", path, {"name": "Rear Admiral Hopper", "email": f"grace.{suffix}@example.com"})
    demo.call("DELETE", path)
    demo.say("The publisher reads the table's stream; the audit consumer fills the trail...")
    demo.check(
        demo.event_types(path, 3) == ["CustomerCreated", "CustomerUpdated", "CustomerDeleted"],
        "GET .../events lists created, updated, deleted, oldest first",
    )
    demo.look(
        'make api, then make aws ARGS="dynamodb scan --table-name <its NotificationsTableName>"'
        " (the welcome email, a dry run: no WelcomeSenderEmail set)"
    )


def rotate_and_end_sessions(demo: Demo) -> None:
    """A new password in MySQL and then in the secret, as the rotation Lambda sets them, and
    every session of the stack's database user ended (a restart, wait_timeout)."""
    secret_id = demo.running.outputs["DatabaseSecretArn"]
    client = boto3.client("secretsmanager", region_name="us-east-1")
    secret = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    rotated = secrets.token_urlsafe(24)
    with mysql.server().connect() as admin, admin.cursor() as cursor:
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (secret["username"], rotated))
    client.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps(secret | {"password": rotated})
    )
    mysql.kill_sessions(secret["username"])


def customers_rds(demo: Demo) -> None:
    demo.chapter(
        3,
        "Customers on RDS MySQL",
        "the same API on MySQL (pymysql): one connection per environment, secret cached",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST", "/rds/customers", {"name": "Edgar Codd", "email": f"codd.{suffix}@example.com"}
    )
    demo.check(created.status == 201, "201 Created, row in MySQL")
    path = f"/rds/customers/{(created.body or {}).get('id')}"
    twin = demo.call(
        "POST", "/rds/customers", {"name": "Twin", "email": f"CODD.{suffix}@example.com"}
    )
    demo.check(twin.status == 409, "same email: 409 (the UNIQUE index said no)")
    demo.call(
        "POST",
        "/rds/customers",
        {"name": "x'); DROP TABLE customers;--", "email": f"bobby.{suffix}@example.com"},
    )
    first = demo.call("GET", "/rds/customers", query={"limit": "1"})
    demo.check(
        bool((first.body or {}).get("nextToken")), "keyset page + signed token; the table survived"
    )
    secret = json.loads(
        boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
            SecretId=demo.running.outputs["DatabaseSecretArn"]
        )["SecretString"]
    )
    killed = mysql.kill_sessions(secret["username"])
    demo.say(f"MySQL ends the stack user's {killed} open session(s) between two requests...")
    demo.check(demo.call("GET", path).status == 200, "...and the next request still succeeds")

    demo.say("Credentials come from Secrets Manager (RDS format), cached in the environment:")
    stack = demo.running.stack

    def reads() -> int:  # as the local AWS endpoint saw them: the function's own calls
        return len(stack.calls("CustomersRdsFunction", "secretsmanager:GetSecretValue"))

    before = reads()
    sessions = mysql.session_ids(secret["username"])
    for _ in range(5):
        demo.call("GET", path)
    demo.check(
        reads() == before and sessions <= mysql.session_ids(secret["username"]),
        "5 warm requests: 0 Secrets Manager calls, the same MySQL session",
    )
    demo.say("Rotation: a new password in MySQL and in the secret, as the rotation Lambda does...")
    rotate_and_end_sessions(demo)
    after = demo.call("GET", path)
    demo.check(
        after.status == 200 and reads() == before + 1,
        "...next request: access denied (1045), one forced secret read, reconnect, 200",
    )
    demo.look(
        "make api, then the `mysql` line it prints: this demo's throwaway MySQL server stops "
        "when the demo ends"
    )


def rds_events(demo: Demo) -> None:
    demo.chapter(
        4,
        "MySQL changes, events without a dual write",
        "the change and its event commit together (outbox); a relay publishes to the same topic",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST",
        "/rds/customers",
        {"name": "Barbara Liskov", "email": f"liskov.{suffix}@example.com"},
    ).body
    path = f"/rds/customers/{created['id']}"
    demo.call("DELETE", path)
    demo.check(
        demo.event_types(path, 2) == ["CustomerCreated", "CustomerDeleted"],
        "the outbox relay published both; the audit consumer stored them once each",
    )


def documents(demo: Demo) -> None:
    demo.chapter(
        5,
        "Documents on S3: presigned upload and download",
        "the file never passes through Lambda; the URLs are SigV4, short-lived and pinned",
    )
    content = b"%PDF-1.4 quarterly report, generated by the demo\n" * 40
    created = demo.call(
        "POST", "/documents", {"filename": "Q3 report.pdf", "contentType": "application/pdf"}
    )
    upload = (created.body or {}).get("upload", {})
    demo.check(created.status == 201 and "url" in upload, "201 with a presigned POST")
    conditions = json.loads(base64.b64decode(upload.get("fields", {}).get("policy", "e30="))).get(
        "conditions", []
    )
    demo.check(
        any(isinstance(c, list) and c[0] == "content-length-range" for c in conditions),
        "its policy pins the key, the type and a size range",
    )
    demo.say("upload: a multipart form straight to S3 (moto here), as a browser would")
    posted = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("Q3 report.pdf", content, "application/pdf")},
        timeout=30,
    )
    demo.check(posted.status_code == 204, f"S3 accepted the upload ({posted.status_code})")
    document = demo.call("GET", f"/documents/{created.body['id']}").body
    download = requests.get(document["download"]["url"], timeout=30)
    demo.check(download.content == content, "the presigned GET returns the exact bytes")
    demo.check(
        "attachment" in download.headers.get("Content-Disposition", ""),
        "as an attachment named after the upload",
    )
    refused = demo.call(
        "POST", "/documents", {"filename": "../../etc/passwd", "contentType": "text/plain"}
    )
    demo.check(refused.status == 422, "a path-traversal filename: 422")


def partner_sync(demo: Demo) -> None:
    demo.chapter(
        6,
        "Scheduled partner sync: schedule -> fetcher -> SQS -> writer -> MySQL",
        "the fetcher runs outside the VPC (no NAT gateway), the writer inside it, capped",
    )
    feed = PartnerFeed(rows=sample_rows(120)).start()
    feed.rows[7]["email"] = "not-an-email"
    feed.fail_next(Fault(status=503))
    try:
        fetcher = demo.running.stack.function("PartnerFetcherFunction")
        url = f"{feed.url}?_page=1&_limit=50"
        demo.say(f"the partner ({url}) answers 503 first; urllib3 retries with backoff")
        run = lambda event: fetcher.invoke(event).result  # noqa: E731 - the schedule's invoke
        first = sync(run, demo.running.outputs, demo.running.aws_endpoint_url, url)
        demo.check(
            (first.fetch["fetched"], first.fetch["valid"], first.fetch["rejected"])
            == (120, 119, 1),
            f"{first.fetch['pages']} pages, 119 valid rows queued, 1 rejected by validation",
        )
        demo.check(first.partner_customers == 119, "the writer upserted 119 partner customers")
        second = sync(run, demo.running.outputs, demo.running.aws_endpoint_url, url)
        demo.check(second.partner_customers == 119, "a second run changes nothing: still 119")
    finally:
        feed.stop()
    demo.look("make sync PARTNER_URL=<url>  (one run on the running `make api` stack)")


def customers_aurora(demo: Demo) -> None:
    demo.chapter(
        7,
        "Customers on Aurora Serverless v2 through the RDS Data API",
        "the same API again: SQL over HTTPS, no VPC, no connection; a paused cluster resumes",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST", "/aurora/customers", {"name": "Jim Gray", "email": f"gray.{suffix}@example.com"}
    )
    demo.check(
        created.status == 201, "201 Created: row and outbox event in one Data API transaction"
    )
    path = f"/aurora/customers/{(created.body or {}).get('id')}"
    twin = demo.call(
        "POST", "/aurora/customers", {"name": "Twin", "email": f"GRAY.{suffix}@example.com"}
    )
    demo.check(twin.status == 409, "same email: 409 (the UNIQUE index, through the Data API)")
    demo.call(
        "POST", "/aurora/customers", {"name": "Reader", "email": f"reader.{suffix}@example.com"}
    )
    first = demo.call("GET", "/aurora/customers", query={"limit": "1"})
    demo.check(
        bool((first.body or {}).get("nextToken")), "keyset page + signed token (scope aurora)"
    )
    stack = demo.running.stack

    def data_api_calls() -> int:  # as the local AWS endpoint saw them
        return len(stack.calls("CustomersAuroraFunction", "rds-data:ExecuteStatement"))

    cluster = data_api.cluster(demo.running.outputs["AuroraClusterArn"])
    demo.say("The cluster pauses at 0 ACU (here: a 2 s resume); the next request wakes it...")
    cluster.pause(resume_seconds=2)
    before = data_api_calls()
    resumed = demo.call("GET", path)
    demo.check(
        resumed.status == 200 and data_api_calls() - before > 1,
        f"...200 after {data_api_calls() - before} calls: DatabaseResumingException was retried",
    )
    demo.call("DELETE", path)
    demo.check(
        demo.event_types(path, 2) == ["CustomerCreated", "CustomerDeleted"],
        "each write published its own event after COMMIT; no relay had to poll the cluster",
    )
    demo.look(
        'make api, then make aws ARGS="rds-data execute-statement --resource-arn '
        "<its AuroraClusterArn> --secret-arn <its AuroraSecretArn> --database customers "
        "--sql 'SELECT COUNT(*) FROM customers'\""
    )


def customers_django(demo: Demo) -> None:
    demo.chapter(
        8,
        "The same API on Django REST Framework",
        "the notes' Django question: DRF views, Django's ORM, the same MySQL table and outbox",
    )
    suffix = str(int(time.time() * 1000))
    created = demo.call(
        "POST",
        "/django/customers",
        {"name": " Grace Hopper ", "email": f"Hopper.{suffix}@Example.com"},
    )
    customer = created.body or {}
    demo.check(
        created.status == 201 and customer.get("email") == f"hopper.{suffix}@example.com",
        "201 from Django: name trimmed, email lower-cased, by the contract's rules",
    )
    path = f"/django/customers/{customer.get('id')}"
    demo.check(
        demo.call("GET", f"/rds/customers/{customer.get('id')}").body == customer,
        "the RDS API reads the same row: one table, two frameworks",
    )
    twin = demo.call("POST", "/rds/customers", {"name": "Twin", "email": customer.get("email")})
    demo.check(twin.status == 409, "its email is taken for the RDS API too: 409")
    bad = demo.call("POST", "/django/customers/", {"name": "Ada", "email": "a@b.c", "id": "x"})
    demo.check(
        bad.status == 422 and "details" in (bad.body or {}),
        "a trailing slash is no redirect, an unknown field no silent drop: 422 with details",
    )
    wrong = demo.call("PATCH", "/django/customers")
    demo.check(
        wrong.status == 405 and "message" in (wrong.body or {}),
        "wrong method: Django answers the contract's JSON 405, not an HTML page",
    )
    demo.call("PUT", path, {"name": "Grace Hopper", "email": f"grace.{suffix}@example.com"})
    demo.call("DELETE", path)
    demo.check(
        demo.event_types(path, 3) == ["CustomerCreated", "CustomerUpdated", "CustomerDeleted"],
        "each change wrote its outbox event in the same transaction.atomic; the relay sent them",
    )
    stack = demo.running.stack

    def reads() -> int:  # of the database secret (the page token key is read once too)
        arn = demo.running.outputs["DatabaseSecretArn"]
        calls = stack.calls("CustomersDjangoFunction", "secretsmanager:GetSecretValue")
        return sum(1 for call in calls if call.resource == arn)

    before = reads()
    rotate_and_end_sessions(demo)
    demo.say("Rotation again, and MySQL ends every session of the stack's user...")
    listed = demo.call("GET", "/django/customers", query={"limit": "1"})
    demo.check(
        listed.status == 200 and reads() == before + 1,
        "...Django's health check finds its connection dead, 1045 forces one secret read, 200",
    )
    demo.look("docs/customers-django.md: what Django brings, what it costs, when to pick it")


CHAPTERS: list[Callable[[Demo], None]] = [
    customers_dynamodb,
    customer_events,
    customers_rds,
    rds_events,
    documents,
    partner_sync,
    customers_aurora,
    customers_django,
]


@messages_not_tracebacks("make demo")
def main() -> int:
    started = time.monotonic()
    os.environ.setdefault("LOCAL_API_QUIET", "1")
    print(_paint(BOLD, "Customer platform: every pattern, end to end, on this machine"))
    print(_paint(DIM, "Starting moto, deploying template.yaml into it, serving the API..."))
    port = int(os.environ["PORT"]) if os.environ.get("PORT") else None
    with running_stack(port=port, record_as="demo") as running:
        print(f"   API {running.api_url}   AWS endpoint {running.aws_endpoint_url}")
        print(f"   outputs in {OUTPUTS_FILE}")
        demo = Demo(running)
        for chapter in CHAPTERS:
            try:
                chapter(demo)
            except Exception as error:  # noqa: BLE001 - a crashed chapter is a failed check
                demo.check(False, f"{chapter.__name__} crashed: {error!r}")
    elapsed = time.monotonic() - started
    print()
    if demo.failures:
        print(
            _paint(RED, f"{len(demo.failures)} of {demo.checks} checks failed in {elapsed:.1f}s:")
        )
        for failure in demo.failures:
            print(_paint(RED, f"  - {failure}"))
        return 1
    print(_paint(GREEN, f"All {demo.checks} checks passed in {elapsed:.1f}s."))
    print("Next: `make api` to keep the stack running, `make test` for the full suite.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
