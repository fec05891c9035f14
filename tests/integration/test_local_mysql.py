"""How the local stack and the tests find MySQL: MYSQL_* variables, else a throwaway
mariadbd in a temporary directory, else an error that names the package to install.
(The throwaway path itself runs for every session that sets no MYSQL_HOST.)"""

from pathlib import Path

import pytest

from local_stack.services import mysql


def test_without_mariadb_installed_the_error_names_the_package(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(mysql, "_SEARCH_PATH", ())
    server = mysql.ThrowawayMariaDB()

    with pytest.raises(mysql.MySQLUnavailable, match="mariadb-server"):
        server.start()
    server.stop()


def test_a_configured_server_that_refuses_is_an_error_not_a_fallback(
    monkeypatch: pytest.MonkeyPatch, mysql_server: mysql.ServerAddress, tmp_path: Path
):
    ca = tmp_path / "ca.pem"
    ca.write_text(mysql_server.ca_pem)
    monkeypatch.setenv("MYSQL_HOST", "127.0.0.1")
    monkeypatch.setenv("MYSQL_PORT", "1")
    monkeypatch.setenv("MYSQL_CA", str(ca))

    with pytest.raises(mysql.MySQLUnavailable, match=r"MYSQL_HOST=127\.0\.0\.1"):
        mysql._from_environment()


def test_a_configured_server_needs_its_ca_for_the_functions_to_verify_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MYSQL_HOST", "db.example.com")
    monkeypatch.delenv("MYSQL_CA", raising=False)

    with pytest.raises(mysql.MySQLUnavailable, match="MYSQL_CA"):
        mysql._from_environment()


def test_configured_variables_are_used_as_given(
    monkeypatch: pytest.MonkeyPatch, mysql_server: mysql.ServerAddress, tmp_path: Path
):
    ca = tmp_path / "ca.pem"
    ca.write_text(mysql_server.ca_pem)
    monkeypatch.setenv("MYSQL_CA", str(ca))
    monkeypatch.setenv("MYSQL_HOST", mysql_server.host)
    monkeypatch.setenv("MYSQL_PORT", str(mysql_server.port))
    monkeypatch.setenv("MYSQL_USER", mysql_server.user)
    monkeypatch.setenv("MYSQL_PASSWORD", mysql_server.password)

    assert mysql._from_environment() == mysql_server


def test_without_variables_the_environment_names_no_server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MYSQL_HOST", raising=False)

    assert mysql._from_environment() is None
