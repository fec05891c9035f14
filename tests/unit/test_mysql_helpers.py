"""Small pieces of the MySQL path that need no server: parsing the RDS-format secret,
quoting identifiers in provisioning code, and the custom resource's URL check."""

import json

import pytest

from customer_platform import custom_resource
from customer_platform.database import Credentials
from local_stack.services.mysql import quote_identifier

RDS_SECRET = {
    "engine": "mysql",
    "host": "db.example.internal",
    "port": 3306,
    "username": "customers_admin",
    "password": "s3cr3t-value",
    "dbname": "customers",
    "dbInstanceIdentifier": "customer-platform-database",
}


def test_an_rds_format_secret_becomes_credentials():
    credentials = Credentials.from_secret(json.dumps(RDS_SECRET))

    assert credentials == Credentials(
        host="db.example.internal",
        port=3306,
        username="customers_admin",
        password="s3cr3t-value",
        dbname="customers",
    )


def test_the_port_defaults_to_3306_and_may_be_a_string():
    without = {k: v for k, v in RDS_SECRET.items() if k != "port"}

    assert Credentials.from_secret(json.dumps(without)).port == 3306
    assert Credentials.from_secret(json.dumps(RDS_SECRET | {"port": "3307"})).port == 3307


def test_a_secret_without_required_keys_is_named_without_its_values():
    broken = {k: v for k, v in RDS_SECRET.items() if k not in ("host", "dbname")}

    with pytest.raises(ValueError, match="dbname, host") as raised:
        Credentials.from_secret(json.dumps(broken))

    assert "s3cr3t-value" not in str(raised.value)


def test_the_password_never_appears_in_the_credentials_repr():
    assert "s3cr3t-value" not in repr(Credentials.from_secret(json.dumps(RDS_SECRET)))


@pytest.mark.parametrize("name", ["cp_abc_123", "t_0123456789abcdef"])
def test_safe_identifiers_are_backquoted(name: str):
    assert quote_identifier(name) == f"`{name}`"


@pytest.mark.parametrize("name", ["", "a`b", "x; DROP DATABASE y", "Upper", "1abc", "a" * 33])
def test_unsafe_identifiers_are_refused(name: str):
    with pytest.raises(ValueError, match="not a safe identifier"):
        quote_identifier(name)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "no-scheme"])
def test_the_custom_resource_answers_only_to_http_urls(url: str):
    with pytest.raises(ValueError, match="http"):
        custom_resource.send(url, {"Status": "SUCCESS"})
