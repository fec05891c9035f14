"""Property: a client that generates requests from docs/openapi.json generates only
requests the API accepts.

Candidates come from the document's own patterns (`from_regex`), from the generator of
`format: email` that schema-driven tools use (`emails()`), and from arbitrary text; each
one the committed document's schema allows (checked with jsonschema, as a validating
client would) is sent to the running stack and must be accepted. A rule the code enforces
but the document does not declare (a content-type allow-list, a length, a pattern) shows
up here as a 422 for a request the schema allowed.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from local_stack.assembly.stack import LocalStack
from tests.support.customers import CustomersClient

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
OPENAPI: dict[str, Any] = json.loads(DOCUMENT.read_text())
FORMATS = FormatChecker()
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def body_schema(path: str, method: str) -> dict[str, Any]:
    operation = OPENAPI["paths"][path][method]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = OPENAPI["components"]["schemas"][reference.rsplit("/", 1)[1]]
    return schema


def query_schema(path: str, name: str) -> dict[str, Any]:
    (parameter,) = [p for p in OPENAPI["paths"][path]["get"]["parameters"] if p["name"] == name]
    schema: dict[str, Any] = parameter["schema"]
    return schema


def allowed(schema: dict[str, Any], value: Any) -> bool:
    return bool(Draft202012Validator(schema, format_checker=FORMATS).is_valid(value))


def strings(field: dict[str, Any], max_size: int) -> st.SearchStrategy[str]:
    """Arbitrary text, the edges a careless schema misses (blanks only; long text of
    multi-byte characters), and the field's own values: its enum, text from its pattern."""
    blanks = st.text(st.characters(categories=["Zs"]) | st.sampled_from("\t\n\r"), min_size=1)
    wide = st.characters(min_codepoint=0x800)  # 3 or 4 bytes in UTF-8
    candidates = [
        st.text(max_size=max_size),
        st.text(st.characters(max_codepoint=0x24F)),
        blanks,
        st.text(wide, min_size=max_size // 4, max_size=max_size),
    ]
    if "enum" in field:
        candidates.append(st.sampled_from(field["enum"]))
    if "pattern" in field:
        anchored = field["pattern"].startswith("^")
        candidates.append(st.from_regex(field["pattern"], fullmatch=anchored))
    return st.one_of(candidates).filter(is_unicode)


def is_unicode(text: str) -> bool:
    """No lone surrogate (U+D800-U+DFFF): JSON Schema's strings are Unicode text, and a
    body in UTF-8 cannot hold one. Python's json.dumps would send it escaped (`\\ud800`),
    which the API refuses as not a Unicode string (a 422, see the test below); negated
    classes of a pattern are where a generator draws one."""
    return not any(0xD800 <= ord(char) <= 0xDFFF for char in text)


CUSTOMER = body_schema("/dynamodb/customers", "post")
customer_bodies = st.fixed_dictionaries(
    {
        "name": strings(CUSTOMER["properties"]["name"], 120),
        # `format: email` is a valid address: drawn as schema-driven generators draw it
        "email": st.emails(),
    }
)
DOCUMENT_INPUT = body_schema("/documents", "post")
document_bodies = st.fixed_dictionaries(
    {
        "filename": strings(DOCUMENT_INPUT["properties"]["filename"], 300),
        "contentType": strings(DOCUMENT_INPUT["properties"]["contentType"], 20),
    }
)


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
def test_a_lone_surrogate_is_refused_as_the_clients_error(stack: LocalStack, backend: str):
    """Catches: a name that is not Unicode text reaching the store (a 500 from pymysql's
    or botocore's encoder) instead of the client's 422."""
    body = '{"name": "Ada \\ud800", "email": "ada.surrogate@example.com"}'

    response = stack.api.request("POST", f"/{backend}/customers", body=body)

    assert response.status == 422, response.body
    assert response.json()["details"][0]["loc"] == ["body", "name"]


def test_the_document_declares_the_bodies_these_tests_draw():
    assert body_schema("/rds/customers", "post") == CUSTOMER
    assert body_schema("/dynamodb/customers/{customer_id}", "put") == CUSTOMER
    assert set(CUSTOMER["required"]) == {"name", "email"}
    assert set(DOCUMENT_INPUT["required"]) == {"filename", "contentType"}


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
def test_a_customer_the_schema_allows_is_created(stack: LocalStack, backend: str):
    customers = CustomersClient(stack.api, backend)

    @EXAMPLES
    @given(body=customer_bodies)
    def create(body: dict[str, str]) -> None:
        assume(allowed(CUSTOMER, body))

        response = customers.call("POST", body=body)

        assert response.status == 201, (body, response.body)
        # the address is free again for the next example (uniqueness is state, not schema)
        assert customers.call("DELETE", f"/{response.json()['id']}").status == 204

    create()


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
def test_an_update_the_schema_allows_is_applied(stack: LocalStack, backend: str):
    customers = CustomersClient(stack.api, backend)
    target = customers.create()

    @EXAMPLES
    @given(body=customer_bodies)
    def update(body: dict[str, str]) -> None:
        assume(allowed(CUSTOMER, body))

        response = customers.call("PUT", f"/{target['id']}", body=body)

        assert response.status == 200, (body, response.body)

    try:
        update()
    finally:
        # its last address is free again: rds and django share one table, so the next
        # backend's examples may draw it
        customers.call("DELETE", f"/{target['id']}")


def test_a_document_the_schema_allows_gets_an_upload_slot(stack: LocalStack):
    @EXAMPLES
    @given(body=document_bodies)
    def create(body: dict[str, str]) -> None:
        assume(allowed(DOCUMENT_INPUT, body))

        response = stack.api.request("POST", "/documents", body=json.dumps(body))

        assert response.status == 201, (body, response.body)

    create()


@pytest.mark.parametrize(
    "path", ["/dynamodb/customers", "/rds/customers", "/aurora/customers", "/documents"]
)
def test_a_page_size_the_schema_allows_is_served(stack: LocalStack, path: str):
    schema = query_schema(path, "limit")

    @EXAMPLES
    @given(limit=st.integers(min_value=-5, max_value=200))
    def list_(limit: int) -> None:
        assume(allowed(schema, limit))

        response = stack.api.request("GET", path, query={"limit": str(limit)})

        assert response.status == 200, (limit, response.body)
        assert len(response.json()["items"]) <= limit

    list_()
