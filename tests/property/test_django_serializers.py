"""Property: the Django backend's serializer accepts exactly the customer bodies the other
backends accept, normalised the same way, and refuses the same fields.

The reference is the contract's pydantic model (customer_platform.customers.models), which
the Powertools backends validate with. The serializer runs in-process (Django set up once,
with this function's settings): validation needs no database.
"""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from customer_platform.customers.models import CustomerInput
from tests.support.django_project import django_project


@pytest.fixture(scope="module")
def serializers() -> Iterator[ModuleType]:
    with django_project():
        import django_customers.serializers as module  # noqa: PLC0415

        yield module


def contract(body: Any) -> tuple[dict[str, str] | None, set[str]]:
    """What the other backends make of `body`: the validated fields, or the failing ones."""
    try:
        valid = CustomerInput.model_validate(body)
    except ValidationError as error:
        return None, {str(e["loc"][0]) for e in error.errors() if e["loc"]}
    return valid.model_dump(), set()


def django(serializers: ModuleType, body: Any) -> tuple[dict[str, str] | None, set[str]]:
    serializer = serializers.CustomerInputSerializer(data=body)
    if serializer.is_valid():
        return dict(serializer.customer_input().model_dump()), set()
    return None, set(serializer.errors)


# Edges of the rules: blanks of every kind (U+001C-U+001F are blanks to str.strip() but
# not to the contract), NUL, lone surrogates, numbers, nulls, and the addresses where
# Django's EmailValidator and email-validator disagree.
blank = st.sampled_from([" ", "\t", "\n", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000"])
names = st.one_of(
    st.text(max_size=110),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(blank, max_size=3),
        st.text(max_size=101),
        st.text(blank, max_size=3),
    ),
    st.sampled_from(["", "Ada\x00", "\ud800", "n" * 100, "n" * 101]),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)
emails = st.one_of(
    st.emails(),
    st.emails().map(str.upper),
    st.emails().map(lambda e: f" {e} "),
    st.emails().map(lambda e: f"Ada <{e}>"),
    st.sampled_from(
        [
            '"ab"@example.com',
            '"a b"@example.com',
            "a@localhost",
            "a@[127.0.0.1]",
            "é@exämple.com",
            "a@b",
            "x" * 250 + "@example.com",
            "not-an-email",
            "",
        ]
    ),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "name": names,
            "email": emails,
            "id": st.text(max_size=5),
            "createdAt": st.text(max_size=5),
        },
    ),
    st.fixed_dictionaries({"name": names, "email": emails}),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_the_serializer_decides_every_body_as_the_contract_does(
    serializers: ModuleType, body: dict[str, Any]
):
    """Catches: DRF's CharField for the name (it turns 42 into "42", refuses NUL, strips
    U+001C-U+001F) or EmailField for the email (Django's EmailValidator), the unknown-field
    check removed, or the email not lower-cased."""
    # Given any body a client could send
    # When the Django serializer and the contract's model each validate it
    ours, theirs = django(serializers, body), contract(body)

    # Then both accept it with the same values, or both refuse the same fields
    assert ours == theirs, json.dumps(body, ensure_ascii=True)


DRF_FIELDS_DISAGREE = [
    ({"name": 42, "email": "ada@example.com"}, "a number for a name"),
    ({"name": "Ada\x00", "email": "ada@example.com"}, "a NUL in a name"),
    ({"name": "\x1cAda\x1c", "email": "ada@example.com"}, "separators around a name"),
    ({"name": "Ada", "email": "a@localhost"}, "a host without a dot"),
    ({"name": "Ada", "email": '"ab"@example.com'}, "a quoted local part"),
    ({"name": "Ada", "email": "Ada@Example.com"}, "upper case"),
    ({"name": "Ada", "email": "Ada <ada@example.com>"}, "a display name"),
]


@pytest.mark.parametrize(
    ("body", "why"), DRF_FIELDS_DISAGREE, ids=[w for _, w in DRF_FIELDS_DISAGREE]
)
def test_drf_own_fields_would_disagree_where_the_docs_say(
    serializers: ModuleType, body: dict[str, Any], why: str
):
    """What docs/customers-django.md says of DRF's CharField and EmailField, computed: a
    serializer written with them decides these bodies differently from the contract, and
    the backend's serializer decides them as the contract does."""
    from rest_framework import serializers as drf  # noqa: PLC0415

    class Naive(drf.Serializer):  # type: ignore[type-arg]
        name = drf.CharField(max_length=100)
        email = drf.EmailField(max_length=254)

    naive = Naive(data=body)
    naive_outcome = (
        (dict(naive.validated_data), set()) if naive.is_valid() else (None, set(naive.errors))
    )

    assert naive_outcome != contract(body), why
    assert django(serializers, body) == contract(body), why
