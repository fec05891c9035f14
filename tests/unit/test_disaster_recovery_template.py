"""What docs/disaster-recovery.md says each store keeps holds in template.yaml and
samconfig.toml: point-in-time recovery on every table, automated backups of the instance, a
snapshot when the stack deletes it, Multi-AZ and deletion protection in prod."""

from typing import Any

from local_stack.template.transform import load_yaml
from tools.connection_budget import samconfig_parameters


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in load_yaml()["Resources"].items()
        if resource["Type"] == kind
    }


def test_every_dynamodb_table_has_point_in_time_recovery():
    """Catches: a table added (or PITR switched off) without the restore window the page
    promises for every table."""
    tables = _resources("AWS::DynamoDB::Table")

    without = {
        logical_id
        for logical_id, table in tables.items()
        if not table["Properties"]
        .get("PointInTimeRecoverySpecification", {})
        .get("PointInTimeRecoveryEnabled")
    }

    assert len(tables) >= 5
    assert not without, without


def test_the_database_keeps_backups_and_a_final_snapshot():
    """Catches: BackupRetentionPeriod dropped (no point-in-time restore) or the final
    snapshot on delete removed."""
    database = _resources("AWS::RDS::DBInstance")["Database"]
    retention = load_yaml()["Parameters"]["DatabaseBackupRetentionDays"]

    assert database["Properties"]["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    assert retention["Default"] >= 1
    assert database["DeletionPolicy"] == "Snapshot"


def test_prod_is_multi_az_with_deletion_protection():
    """Catches: prod losing its synchronous standby (an AZ failure would then lose the
    database until a restore) or the protection against deleting its data."""
    prod = samconfig_parameters()["prod"]

    assert prod["DatabaseMultiAZ"] == "true"
    assert prod["DatabaseDeletionProtection"] == "true"
    assert prod["TableDeletionProtection"] == "true"
