"""TLS to MySQL: required by the server, verified by every client.

Deployed, the parameter group requires secure transport and the functions verify the RDS
certificate against the root CAs the layer ships. Locally the throwaway MariaDB serves TLS
with a certificate of a CA made at its start (local_stack/network/tls.py), requires it, and the
local build of the layer trusts that CA on the same verification path.
"""

import datetime
import hashlib
import re
import ssl
from importlib.resources import files

import pymysql
import pytest
from cryptography import x509

from customer_platform import certs
from customer_platform.database import Credentials, Database, tls_context
from customer_platform.errors import Unavailable
from local_stack.assembly.stack import LocalStack
from local_stack.network.tls import issue
from local_stack.services.mysql import ServerAddress
from local_stack.template.transform import load_yaml
from tests.support.customers import CustomersClient

BUNDLE = files("customer_platform.certs").joinpath("database-ca-bundle.pem")


def test_a_plaintext_connection_is_refused(mysql_server: ServerAddress):
    """Catches: --require-secure-transport dropped from the local server (so a client that
    skipped TLS would pass locally and fail on RDS, or worse, send its password in clear)."""
    with pytest.raises(pymysql.OperationalError) as refused:  # PyMySQL would prefer TLS
        mysql_server.connect(ssl=None, ssl_disabled=True).close()

    # MariaDB refuses it as access denied (1045); MySQL 8.4 on RDS answers 3159,
    # ER_SECURE_TRANSPORT_REQUIRED. Either way no session opens.
    assert refused.value.args[0] == 1045


def test_the_functions_refuse_a_server_whose_ca_the_layer_does_not_ship(
    mysql_server: ServerAddress,
):
    """The functions' own path (Database with its default context, the layer's bundle as
    shipped, without the local CA the local build adds) meets the local server, whose
    certificate no RDS or Amazon root signed: refused before any login.
    Catches: verification turned off in tls_context (CERT_NONE, or no CA given)."""
    credentials = Credentials(
        mysql_server.host, mysql_server.port, mysql_server.user, mysql_server.password, "mysql"
    )
    database = Database(lambda _force: credentials)

    with pytest.raises(Unavailable) as refused:
        database.run(lambda cursor: cursor.execute("SELECT 1"))

    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__)
    assert database.connections_opened == 0


def test_a_server_whose_certificate_the_client_does_not_trust_is_refused(
    mysql_server: ServerAddress, tmp_path
):
    """A client holding another CA (here a second local one) is refused by the local
    server's certificate. Catches: the local server serving no certificate at all."""
    stranger = ssl.create_default_context(cafile=str(issue(tmp_path).ca_file))

    with pytest.raises(pymysql.OperationalError) as refused:
        mysql_server.connect(ssl=stranger).close()

    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def test_the_functions_connect_over_verified_tls(stack: LocalStack):
    """Every RDS request is proof (the server refuses anything else); this one names it.
    Catches: the layer's bundle not trusting the local CA (the request would be a 503)."""
    customers = CustomersClient(stack.api, "rds")
    created = customers.create()

    assert customers.call("GET", f"/{created['id']}").status == 200


def test_the_layer_trusts_the_rds_and_amazon_roots_only():
    """The bundle the functions verify RDS (and RDS Proxy) with: the 2021 Amazon RDS G1 roots
    and Amazon Root CA 1-4; every one self-signed and unexpired, none of the retired 2019 CA.
    Catches: a bundle swapped for the 2019 one, or an expired or foreign certificate."""
    pem = BUNDLE.read_bytes()
    certificates = x509.load_pem_x509_certificates(pem)
    now = datetime.datetime.now(datetime.UTC)
    names = []
    for certificate in certificates:
        (name,) = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        names.append(str(name.value))
        assert certificate.subject == certificate.issuer, name.value
        assert certificate.not_valid_after_utc > now, name.value
    rds = [name for name in names if name.startswith("Amazon RDS ")]
    assert all(name.endswith(" G1") for name in rds), [n for n in rds if not n.endswith(" G1")]
    assert not [name for name in names if "2019" in name]
    assert sorted(set(names) - set(rds)) == [f"Amazon Root CA {n}" for n in range(1, 5)]
    assert "Amazon RDS us-east-1 Root CA RSA2048 G1" in rds
    assert len(rds) >= 3 * 32  # three key types in each of at least 32 regions


def test_the_rds_roots_are_the_snapshot_whose_checksum_the_layer_pins():
    """The bundle's RDS part (its leading certificates, up to Amazon Root CA 1) is byte for
    byte the global bundle whose sha256 certs/__init__.py names. Catches: a bundle edited
    or replaced (a 2019 copy, a partial download) without the pinned checksum changing."""
    pinned = re.search(r"sha256 ([0-9a-f]{64})", certs.__doc__ or "")
    pem = BUNDLE.read_bytes()
    ends = [match.end() for match in re.finditer(rb"-----END CERTIFICATE-----\n", pem)]
    subjects = [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(pem)]
    leading_rds = next(i for i, subject in enumerate(subjects) if "Amazon RDS" not in subject)

    assert pinned, "certs/__init__.py names the sha256 of the RDS bundle it holds"
    assert hashlib.sha256(pem[: ends[leading_rds - 1]]).hexdigest() == pinned.group(1)
    assert not [s for s in subjects[leading_rds:] if "Amazon RDS" in s], "RDS roots lead"


def test_one_tls_context_per_execution_environment(monkeypatch: pytest.MonkeyPatch):
    """Building one loads a hundred roots (tens of milliseconds); every connection of the
    environment, of every Database in it, is handed the same one.
    Catches: a context built per connect (or per Database)."""
    handed: list[object] = []

    def connect(**options: object) -> None:
        handed.append(options["ssl"])
        raise pymysql.OperationalError(2003, "no server in this test")

    monkeypatch.setattr(pymysql, "connect", connect)
    credentials = Credentials("db.invalid", 3306, "app", "secret", "customers")
    for database in (Database(lambda _force: credentials), Database(lambda _force: credentials)):
        for _ in range(2):
            with pytest.raises(Unavailable):
                database.run(lambda cursor: None)

    assert len(handed) == 4
    assert all(context is tls_context() for context in handed)
    assert tls_context().verify_mode == ssl.CERT_REQUIRED
    assert tls_context().check_hostname


def test_the_deployed_database_requires_tls_on_mysql_8_4():
    resources = load_yaml()["Resources"]
    group = resources["DatabaseParameterGroup"]["Properties"]
    database = resources["Database"]["Properties"]

    assert group["Family"] == "mysql8.4"
    assert group["Parameters"]["require_secure_transport"] == "1"
    assert database["DBParameterGroupName"] == {"Ref": "DatabaseParameterGroup"}
    assert database["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert load_yaml()["Parameters"]["DatabaseEngineVersion"]["Default"] == "8.4"
