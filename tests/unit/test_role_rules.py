"""The role rules on their own: groups from claims, and which group may use which method."""

import pytest

from customer_platform.authorization import ALLOWED_GROUPS, authorize, groups_of
from customer_platform.errors import Forbidden


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        ("readers", {"readers"}),
        ("readers,writers", {"readers", "writers"}),  # REST API: comma-separated
        ("[readers writers]", {"readers", "writers"}),  # HTTP API JWT authorizer
        (["admins"], {"admins"}),
        ("", set()),
        (None, set()),
    ],
)
def test_groups_come_from_the_claim_in_every_shape_api_gateway_uses(claim, groups):
    claims = {} if claim is None else {"cognito:groups": claim}

    assert groups_of(claims) == groups


def context(groups: str | None) -> dict[str, object]:
    claims = {"sub": "u-1"} | ({} if groups is None else {"cognito:groups": groups})
    return {"authorizer": {"claims": claims}}


@pytest.mark.parametrize(
    ("method", "allowed"),
    [
        ("GET", {"readers", "writers", "admins"}),
        ("POST", {"writers", "admins"}),
        ("PUT", {"writers", "admins"}),
        ("DELETE", {"admins"}),
    ],
)
def test_each_method_is_open_to_exactly_its_groups(method: str, allowed: set[str]):
    for group in ("readers", "writers", "admins", "someone-else"):
        if group in allowed:
            authorize(method, context(group))
        else:
            with pytest.raises(Forbidden):
                authorize(method, context(group))


def test_a_method_nobody_was_given_is_refused_to_everyone():
    assert "TRACE" not in ALLOWED_GROUPS
    with pytest.raises(Forbidden):
        authorize("TRACE", context("admins,writers,readers"))


def test_a_caller_in_no_group_is_refused_even_reading():
    with pytest.raises(Forbidden, match="GET needs membership of admins or readers or writers"):
        authorize("GET", context(None))


def test_without_a_cognito_authorizer_in_front_nothing_is_checked_here():
    # IAM (the edge decides), NONE and the open local API: no claims in the request context
    authorize("DELETE", {"identity": {"sourceIp": "127.0.0.1"}})
    authorize("DELETE", {"authorizer": None})
