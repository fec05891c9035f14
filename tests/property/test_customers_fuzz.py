"""Property: whatever a client sends to the customers API, on any backend, it never gets
a 5xx, and every error carries a JSON `message`."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.assembly.stack import LocalStack

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
customer_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=120), json_values),
        "email": st.one_of(st.emails(), st.text(max_size=300), json_values),
        "id": st.text(max_size=10),
    },
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_values.map(json.dumps),
    customer_like.map(json.dumps),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.binary(max_size=64),  # not necessarily UTF-8
    customer_like.map(lambda body: json.dumps(body, ensure_ascii=False).encode("utf-16")),
)
segment = st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s)
suffixes = st.lists(segment, max_size=3).map(lambda parts: "".join("/" + s for s in parts))
queries = st.dictionaries(
    st.one_of(st.sampled_from(["limit", "nextToken"]), st.text(max_size=10)),
    st.text(max_size=80),
    max_size=3,
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@pytest.mark.parametrize("backend", ["dynamodb", "rds", "aurora", "django"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=methods, suffix=suffixes, query=queries, body=bodies)
def test_no_request_makes_the_api_fail(
    stack: LocalStack,
    backend: str,
    *,
    method: str,
    suffix: str,
    query: dict[str, str],
    body: str | bytes | None,
):
    path = f"/{backend}/customers{suffix}"

    response = stack.api.request(method, path, query=query, body=body)

    assert response.status < 500, (response.status, response.body, response.logs[-2000:])
    if response.status >= 400:
        payload = response.json()
        assert isinstance(payload, dict)
        assert isinstance(payload.get("message"), str)
