"""docs/openapi.json against the running code and template.yaml.

Three views of the routes must agree: what the document lists, what each function's
resolver serves (its Powertools routes), and what template.yaml sends to each function
(its Api events, `ANY` standing for the methods the function's code serves on that path).
Then real responses of the local stack are checked against the document's schemas.
"""

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from local_stack.assembly.stack import LocalStack
from tests.support.customers import unique_email

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads((ROOT / "docs" / "openapi.json").read_text())
OPERATIONS = {"get", "put", "post", "delete", "patch"}

Route = tuple[str, str]  # (METHOD, path with every parameter written "{}")


def normalized(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def matches(pattern: str, path: str) -> bool:
    """`path` (literal segments and {}) is one of the paths `pattern` ({} = any segment) has."""
    left, right = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(left) == len(right) and all(a in ("{}", b) for a, b in zip(left, right, strict=True))


_LIST_ROUTES = """
import json, re
import app
# a Powertools resolver (built on first use where the function serves more than an API)
resolver = app.api() if hasattr(app, "api") else getattr(app, "app", None)
if resolver is not None:  # its compiled routes
    compiled = resolver._static_routes + resolver._dynamic_routes
    routes = {(r.method.upper(), r.path) for r in compiled}
else:  # Django (customers_django): each URL pattern, and the methods its view serves
    from django.urls import get_resolver
    routes = set()
    for pattern in get_resolver().url_patterns:
        path = re.sub(r"\\(\\?P<(\\w+)>[^)]*\\)", r"<\\1>", pattern.pattern.regex.pattern)
        path = "/" + path.removeprefix("^").removesuffix("$").removesuffix("/?")
        view = pattern.callback.view_class
        routes |= {(method.upper(), path) for method in view.http_method_names}
print(json.dumps(sorted(routes)))
"""


def code_routes(stack: LocalStack, function_id: str) -> set[Route]:
    """What the function's resolver serves (its Powertools routes, or its Django URLs): its
    handler module imported by the function's own interpreter, in its built folder and
    environment."""
    spec = stack.function(function_id).pool.spec
    listed = subprocess.run(  # noqa: S603 - the function's interpreter, fixed code
        [str(spec.interpreter), "-S", "-c", _LIST_ROUTES],
        cwd=spec.task_dir,
        env=spec.environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {(method, normalized(path)) for method, path in json.loads(listed.stdout)}


def api_functions(stack: LocalStack) -> dict[str, set[Route]]:
    """function -> the (METHOD, path) pairs of its Api events in template.yaml."""
    routed: dict[str, set[Route]] = {}
    for function_id, source in stack.template.functions.items():
        for event in source.events.values():
            if event["Type"] == "Api":
                method, path = event["Properties"]["Method"].upper(), event["Properties"]["Path"]
                routed.setdefault(function_id, set()).add((method, normalized(path)))
    return routed


def document_routes() -> set[Route]:
    """The document's operations, enumerated path parameters (the backend) expanded."""
    routes = set()
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method not in OPERATIONS:
                continue
            concrete = [path]
            for parameter in operation.get("parameters", []):
                values = parameter["schema"].get("enum")
                if parameter["in"] == "path" and values:
                    token = "{" + parameter["name"] + "}"
                    concrete = [p.replace(token, value) for p in concrete for value in values]
            routes |= {(method.upper(), normalized(p)) for p in concrete}
    return routes


def test_template_code_and_document_route_the_same_requests(stack: LocalStack):
    # Given each function's Api events and the routes its code serves
    routed = api_functions(stack)
    served = {function_id: code_routes(stack, function_id) for function_id in routed}

    # When ANY is expanded to what the function serves on that path
    expanded: set[Route] = set()
    for function_id, events in routed.items():
        for method, path in events:
            here = {(m, p) for m, p in served[function_id] if matches(p, path)}
            methods = {m for m, _ in here}
            assert methods, f"{function_id} serves nothing on {path}"
            if method != "ANY":
                assert method in methods, f"{method} {path} reaches {function_id}, which lacks it"
            expanded |= {(m, path) for m in methods if method in ("ANY", m)}
        # Then every route of the code is reachable through one of its events
        for method, pattern in served[function_id]:
            assert any(
                matches(pattern, path) and event_method in ("ANY", method)
                for event_method, path in events
            ), f"{function_id} serves {method} {pattern}, no event routes it"

    # And the document lists exactly these routes
    assert document_routes() == expanded


# -- responses of the local stack against the document's schemas -------------------------------


def _operation(method: str, path: str) -> dict[str, Any]:
    for template, item in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            operation: dict[str, Any] = item[method]
            return operation
    raise AssertionError(f"{method.upper()} {path} is not in docs/openapi.json")


def assert_documented(method: str, path: str, status: int, body: Any) -> None:
    """`body` is what the document says `method path` answers with `status`."""
    responses = _operation(method.lower(), path)["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, undocumented"
    response = responses[str(status)]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    if "content" not in response:
        assert body is None
        return
    schema = response["content"]["application/json"]["schema"] | {
        "components": DOCUMENT["components"]
    }
    Draft202012Validator(schema).validate(body)


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
def test_customer_responses_have_the_documented_shapes(stack: LocalStack, backend: str):
    api = stack.api
    base = f"/{backend}/customers"

    def call(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        raw = kwargs.pop("raw", None)
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        response = api.request(method, path, body=payload, **kwargs)
        assert_documented(method, path, response.status, response.json())
        return response

    created = call("POST", base, {"name": "Ada", "email": unique_email()})
    item = f"{base}/{created.json()['id']}"
    assert created.status == 201
    assert call("GET", item).status == 200
    assert call("GET", base, query={"limit": "1"}).status == 200
    assert call("PUT", item, {"name": "Ada L.", "email": unique_email()}).status == 200
    assert call("GET", f"{item}/events").status == 200
    assert call("POST", base, {"name": "Ada"}).status == 422
    assert call("POST", base, raw="not json").status == 400
    assert call("GET", base, query={"nextToken": "forged"}).status == 400
    assert call("DELETE", item).status == 204
    assert call("GET", item).status == 404
    assert call("GET", f"{base}/{uuid.uuid4()}").status == 404


def test_document_responses_have_the_documented_shapes(stack: LocalStack):
    api = stack.api

    slot = api.request(
        "POST",
        "/documents",
        body=json.dumps({"filename": "a.pdf", "contentType": "application/pdf"}),
    )
    listing = api.request("GET", "/documents", query={"limit": "2"})
    missing = api.request("GET", f"/documents/{uuid.uuid4()}")

    assert_documented("POST", "/documents", slot.status, slot.json())
    assert_documented("GET", "/documents", listing.status, listing.json())
    assert_documented("GET", "/documents/x", missing.status, missing.json())
    assert (slot.status, listing.status, missing.status) == (201, 200, 404)


def test_a_wrong_method_answers_the_documented_405(stack: LocalStack):
    response = stack.api.request("PATCH", "/dynamodb/customers")

    assert response.status == 405
    assert "Allow" in response.headers
    schema = DOCUMENT["components"]["responses"]["405"]["content"]["application/json"]["schema"]
    Draft202012Validator(schema | {"components": DOCUMENT["components"]}).validate(response.json())
