"""ARCHITECTURE: the HTTP contract of ../shared/API.md, row by row, for every backend.

Given/When/Then in each test; data is unique per test so tests share one stack.
"""

import base64
import json
from datetime import datetime

import pytest

from tests.support.customers import CustomersClient, unique_email
from tests.support.polling import rounds

MISSING_ID = "00000000-0000-4000-8000-00000000beef"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_error(response, status: int) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body.get("message"), str)
    assert body["message"]


# -- create -------------------------------------------------------------------------------


def test_create_returns_201_with_location_and_normalised_fields(customers: CustomersClient):
    email = unique_email("Ada").replace("example.com", "Example.COM")

    response = customers.call("POST", body={"name": "  Ada Lovelace  ", "email": email})

    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "name", "email", "createdAt", "updatedAt"}
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == email.lower()
    assert body["createdAt"] == body["updatedAt"]
    assert body["createdAt"].endswith("Z")
    assert response.headers["Location"] == f"/{customers.backend}/customers/{body['id']}"


def test_created_customer_is_readable_at_its_location(customers: CustomersClient):
    created = customers.create()

    response = customers.call("GET", f"/{created['id']}")

    assert response.status == 200
    assert response.json() == created


def test_duplicate_email_is_409_case_insensitively(customers: CustomersClient):
    email = unique_email()
    customers.create(email=email)

    response = customers.call("POST", body={"name": "Twin", "email": email.upper()})

    assert_error(response, 409)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "invalid JSON"),
        ("", "empty body"),
        ("[1, 2]", "an array"),
        ('"text"', "a string"),
        ("42", "a number"),
        ("null", "null"),
        ("[" * 100_000, "nested deeper than the parser recurses"),
        ('{"name": ' + "1" * 5_000 + "}", "an integer beyond Python's int_max_str_digits"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(customers: CustomersClient, raw: str, why: str):
    response = customers.call("POST", raw=raw)

    assert_error(response, 400)


NOT_UTF8 = [
    pytest.param(b'{"name": "Ada \xff", "email": "ada@example.com"}', id="latin-1-byte"),
    pytest.param(b'{"name": "\xc3\x28", "email": "ada@example.com"}', id="broken-sequence"),
    pytest.param(b'{"name": "\xed\xa0\x80", "email": "ada@example.com"}', id="encoded-surrogate"),
    pytest.param(b"\xff\xfe{\x00}\x00", id="utf-16"),
]


@pytest.mark.parametrize("raw", NOT_UTF8)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_that_is_not_utf8_is_400_and_changes_nothing(
    customers: CustomersClient, method: str, raw: bytes
):
    # Given a customer, and a body whose bytes are not UTF-8 text
    existing = customers.create()
    path = customers.base + ("" if method == "POST" else f"/{existing['id']}")

    # When it is sent to create or to update
    response = customers.api.request(method, path, body=raw)

    # Then the client hears why (a 400 with a JSON message, never a 500) and nothing changed
    assert_error(response, 400)
    assert response.json() == {"message": "request body must be UTF-8 encoded JSON"}
    assert customers.call("GET", f"/{existing['id']}").json() == existing


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"name": "Ada"},
        {"name": "", "email": "a@example.com"},
        {"name": "   ", "email": "a@example.com"},
        {"name": "x" * 101, "email": "a@example.com"},
        {"name": 42, "email": "a@example.com"},
        {"name": "Ada", "email": "not-an-email"},
        {"name": "Ada", "email": ("x" * 250) + "@example.com"},
        {"name": "Ada", "email": None},
        {"name": "Ada", "email": "a@example.com", "id": "mine"},
        {"name": "Ada", "email": "a@example.com", "createdAt": "2020-01-01T00:00:00Z"},
    ],
    ids=[
        "no-name",
        "no-email",
        "empty-name",
        "blank-name",
        "long-name",
        "numeric-name",
        "bad-email",
        "long-email",
        "null-email",
        "client-id",
        "client-createdAt",
    ],
)
def test_invalid_body_is_422_with_details(customers: CustomersClient, body: dict[str, object]):
    response = customers.call("POST", body=body)

    assert_error(response, 422)
    assert isinstance(response.json().get("details"), list)


def test_name_of_100_characters_after_trimming_is_accepted(customers: CustomersClient):
    response = customers.call("POST", body={"name": " " + "n" * 100 + " ", "email": unique_email()})

    assert response.status == 201
    assert response.json()["name"] == "n" * 100


# -- get ----------------------------------------------------------------------------------


@pytest.mark.parametrize("customer_id", [MISSING_ID, "not-a-uuid", "x" * 3000, "%00"])
def test_unknown_customer_is_404(customers: CustomersClient, customer_id: str):
    assert_error(customers.call("GET", f"/{customer_id}"), 404)


# -- list ---------------------------------------------------------------------------------


def test_list_defaults_to_20_items(customers: CustomersClient):
    for _ in range(21):
        customers.create()

    response = customers.call("GET")

    assert response.status == 200
    page = response.json()
    assert set(page) == {"items", "nextToken"}
    assert len(page["items"]) == 20
    assert isinstance(page["nextToken"], str)


def test_following_next_token_returns_every_customer_exactly_once(customers: CustomersClient):
    mine = {customers.create()["id"] for _ in range(7)}

    seen = [item["id"] for item in customers.list_all(limit=3)]

    assert len(seen) == len(set(seen)), "a customer appeared twice"
    assert mine <= set(seen)


def test_last_page_has_null_next_token(customers: CustomersClient):
    customers.create()

    page = customers.call("GET", query={"limit": "100"}).json()
    for _ in rounds("a page without nextToken"):
        if page["nextToken"] is None:
            break
        page = customers.call("GET", query={"limit": "100", "nextToken": page["nextToken"]}).json()

    assert page["nextToken"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_out_of_range_limit_is_422(customers: CustomersClient, limit: str):
    assert_error(customers.call("GET", query={"limit": limit}), 422)


def test_limit_of_100_is_accepted(customers: CustomersClient):
    assert customers.call("GET", query={"limit": "100"}).status == 200


def _valid_token(customers: CustomersClient) -> str:
    customers.create()
    customers.create()
    token: str = customers.call("GET", query={"limit": "1"}).json()["nextToken"]
    assert token
    return token


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("mangle", ["garbage", "truncated", "payload-edited", "mac-edited", "long"])
def test_malformed_or_tampered_token_is_400(customers: CustomersClient, mangle: str):
    token = _valid_token(customers)
    payload, mac = token.split(".")
    forged_payload = base64.urlsafe_b64encode(
        b'{"v":1,"s":"' + customers.backend.encode() + b'/customers","a":"x"}'
    ).decode()
    bad = {
        "garbage": "not-a-token",
        "truncated": token[:-3],
        "payload-edited": f"{forged_payload}.{mac}",
        "mac-edited": f"{payload}.{_flip(mac, 2)}",
        "long": token * 20,
    }[mangle]

    assert_error(customers.call("GET", query={"nextToken": bad}), 400)


# -- update -------------------------------------------------------------------------------


def test_update_replaces_fields_advances_updated_at_and_keeps_created_at(
    customers: CustomersClient,
):
    created = customers.create()
    new_email = unique_email("new")

    response = customers.call("PUT", f"/{created['id']}", {"name": "Ada K", "email": new_email})

    assert response.status == 200
    body = response.json()
    assert body["name"] == "Ada K"
    assert body["email"] == new_email
    assert body["createdAt"] == created["createdAt"]
    assert parse_time(body["updatedAt"]) > parse_time(created["updatedAt"])
    assert customers.call("GET", f"/{created['id']}").json() == body


def test_update_keeping_own_email_is_allowed(customers: CustomersClient):
    created = customers.create()

    response = customers.call(
        "PUT", f"/{created['id']}", {"name": "Renamed", "email": created["email"].upper()}
    )

    assert response.status == 200
    assert response.json()["email"] == created["email"]


def test_update_to_an_email_taken_by_another_customer_is_409(customers: CustomersClient):
    first, second = customers.create(), customers.create()

    response = customers.call("PUT", f"/{second['id']}", {"name": "x", "email": first["email"]})

    assert_error(response, 409)
    assert customers.call("GET", f"/{second['id']}").json() == second


def test_update_releases_the_old_email(customers: CustomersClient):
    created = customers.create()
    customers.call("PUT", f"/{created['id']}", {"name": "x", "email": unique_email()})

    response = customers.call("POST", body={"name": "Heir", "email": created["email"]})

    assert response.status == 201


def test_update_of_unknown_customer_is_404(customers: CustomersClient):
    response = customers.call("PUT", f"/{MISSING_ID}", {"name": "x", "email": unique_email()})

    assert_error(response, 404)


def test_update_with_invalid_body_is_422(customers: CustomersClient):
    created = customers.create()

    response = customers.call("PUT", f"/{created['id']}", {"name": "x"})

    assert_error(response, 422)


# -- delete -------------------------------------------------------------------------------


def test_delete_is_204_with_empty_body_and_the_customer_is_gone(customers: CustomersClient):
    created = customers.create()

    response = customers.call("DELETE", f"/{created['id']}")

    assert response.status == 204
    assert response.body == b""
    assert_error(customers.call("GET", f"/{created['id']}"), 404)
    assert_error(customers.call("DELETE", f"/{created['id']}"), 404)


def test_delete_releases_the_email(customers: CustomersClient):
    created = customers.create()
    customers.call("DELETE", f"/{created['id']}")

    assert customers.call("POST", body={"name": "Again", "email": created["email"]}).status == 201


def test_delete_of_unknown_customer_is_404(customers: CustomersClient):
    assert_error(customers.call("DELETE", f"/{MISSING_ID}"), 404)


# -- routes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", ""), ("DELETE", ""), ("PUT", ""), ("POST", f"/{MISSING_ID}"), ("PATCH", "/x")],
)
def test_existing_route_with_other_method_is_405(
    customers: CustomersClient, method: str, path: str
):
    response = customers.call(method, path)

    assert_error(response, 405)
    assert "Allow" in response.headers


def test_unknown_route_is_an_api_gateway_error_with_json_message(customers: CustomersClient):
    response = customers.api.request("GET", f"/{customers.backend}/nothing-here/at/all")

    assert response.status == 403
    assert response.json() == {"message": "Missing Authentication Token"}


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/json"]
)
def test_a_json_body_is_read_as_json_whatever_the_content_type_says(
    customers: CustomersClient, content_type: str
):
    body = json.dumps({"name": "Curl User", "email": unique_email()})

    response = customers.api.request(
        "POST", customers.base, body=body, headers={"Content-Type": content_type}
    )

    assert response.status == 201, response.body
