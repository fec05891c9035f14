"""Property: whatever a client sends to the documents API, it never gets a 5xx, every error
carries a JSON `message`, and every accepted upload slot names a key inside its prefix."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.assembly.stack import LocalStack

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
document_like = st.fixed_dictionaries(
    {},
    optional={
        "filename": st.one_of(st.text(max_size=300), json_values),
        "contentType": st.one_of(
            st.sampled_from(["application/pdf", "IMAGE/PNG", "text/csv", "text/html"]),
            st.text(max_size=40),
            json_values,
        ),
        "size": st.integers(),
    },
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_values.map(json.dumps),
    document_like.map(json.dumps),
    st.binary(max_size=64),  # not necessarily UTF-8
    document_like.map(
        lambda body: json.dumps(body, ensure_ascii=False).encode("latin-1", "replace")
    ),
)
segment = st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s)
paths = st.lists(segment, max_size=2).map(
    lambda parts: "/documents" + "".join("/" + s for s in parts)
)
queries = st.dictionaries(
    st.one_of(st.sampled_from(["limit", "nextToken"]), st.text(max_size=10)),
    st.text(max_size=80),
    max_size=3,
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=methods, path=paths, query=queries, body=bodies)
def test_no_request_makes_the_documents_api_fail(
    stack: LocalStack, method: str, path: str, query: dict[str, str], body: str | bytes | None
):
    response = stack.api.request(method, path, query=query, body=body)

    assert response.status < 500, (response.status, response.body, response.logs[-2000:])
    if response.status >= 400:
        payload = response.json()
        assert isinstance(payload, dict)
        assert isinstance(payload.get("message"), str)
    if response.status == 201:
        slot = response.json()
        assert slot["upload"]["fields"]["key"].startswith(f"documents/{slot['id']}/")
