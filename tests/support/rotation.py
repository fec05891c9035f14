"""The alternating-users rotation of the application's secret, step by step, on the local
stack: what Secrets Manager's hosted MySQLMultiUser function does in AWS, which cannot run
here (the hosted rotation is expanded by the AWS::SecretsManager transform in AWS only).

The steps follow the function's published code
(github.com/aws-samples/aws-secrets-manager-rotation-lambdas,
SecretsManagerRDSMySQLRotationMultiUser/lambda_function.py):

* createSecret: AWSPENDING = the current secret with the *other* user's name
  (`<name>` <-> `<name>_clone`) and a new password;
* setSecret: as an administrator, create that user if missing, replay the current user's
  grants (`SHOW GRANTS`) on it, and set its password;
* testSecret: log in with AWSPENDING;
* finishSecret: make AWSPENDING's value the AWSCURRENT one.

The current user's password never changes, so whatever a function cached stays valid.
The local master user may create users but not read other users' grants on the shared
server, so setSecret runs as the server's administrator here (RDS's master user may).
"""

import contextlib
import json
import uuid
from typing import Any

from customer_platform.migrations.application_user import alternating_users
from local_stack.assembly.stack import LocalStack
from local_stack.services.mysql import ServerAddress, connect_with, server
from tests.support.mysql import APPLICATION_SECRET, admin


class AlternatingRotation:
    def __init__(self, stack: LocalStack, server: ServerAddress) -> None:
        self.server = server
        self.client = stack.cloud.client("secretsmanager")
        self.arn = stack.cloud.physical_id(APPLICATION_SECRET)
        self.token = str(uuid.uuid4())

    def _document(self, stage: str) -> dict[str, Any]:
        extra = {"VersionId": self.token} if stage == "AWSPENDING" else {}
        value = self.client.get_secret_value(SecretId=self.arn, VersionStage=stage, **extra)
        document: dict[str, Any] = json.loads(value["SecretString"])
        return document

    def create_secret(self) -> dict[str, Any]:
        current = self._document("AWSCURRENT")
        base, clone = alternating_users(current["username"])
        pending = current | {
            "username": clone if current["username"] == base else base,
            "password": uuid.uuid4().hex,
        }
        self.client.put_secret_value(
            SecretId=self.arn,
            ClientRequestToken=self.token,
            SecretString=json.dumps(pending),
            VersionStages=["AWSPENDING"],
        )
        return pending

    def set_secret(self) -> None:
        current, pending = self._document("AWSCURRENT"), self._document("AWSPENDING")
        with admin(self.server) as cursor:
            cursor.execute("SELECT User FROM mysql.user WHERE User = %s", (pending["username"],))
            if cursor.rowcount == 0:
                cursor.execute(
                    "CREATE USER %s@'%%' IDENTIFIED BY %s",
                    (pending["username"], pending["password"]),
                )
            cursor.execute("SHOW GRANTS FOR %s@'%%'", (current["username"],))
            for (grant,) in cursor.fetchall():
                privileges = grant.split(" TO ")[0].replace("%", "%%")
                cursor.execute(f"{privileges} TO %s@'%%'", (pending["username"],))
            cursor.execute(
                "ALTER USER %s@'%%' IDENTIFIED BY %s", (pending["username"], pending["password"])
            )

    def test_secret(self) -> None:
        pending = self._document("AWSPENDING")
        connection = connect_with(pending, server().tls_context())
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute("SELECT NOW()")

    def finish_secret(self) -> None:
        # Secrets Manager moves the AWSCURRENT label to the pending version
        # (UpdateSecretVersionStage). moto's implementation of that call leaves a plain
        # GetSecretValue (no stage, what the functions send) on the old version, so the
        # pending value is put again as a new current version: what readers of AWSCURRENT
        # get is the same.
        self.client.put_secret_value(
            SecretId=self.arn, SecretString=json.dumps(self._document("AWSPENDING"))
        )

    def run(self) -> None:
        self.create_secret()
        self.set_secret()
        self.test_secret()
        self.finish_secret()
