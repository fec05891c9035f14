"""The database connection budget holds in every environment samconfig.toml deploys.

Each function in the VPC holds one MySQL connection per execution environment, so the
reserved concurrencies add up to the most connections the stack can open
(tools/connection_budget.py, docs/customers-backends.md for the arithmetic).
"""

import pytest

from local_stack.template.transform import load_yaml
from tools.connection_budget import budget, samconfig_parameters, vpc_functions


@pytest.mark.parametrize("environment", sorted(samconfig_parameters()))
def test_every_environment_fits_half_the_instance_connection_ceiling(environment: str):
    """Catches: CustomersRdsMaxConcurrency back to 0 (uncapped) or raised past the budget,
    and a new function in the VPC without reserved concurrency."""
    result = budget(environment, samconfig_parameters()[environment])

    assert result.fits, f"{environment}: {result.demand} connections of {result.allowed}"


def test_both_environments_exist_and_the_vpc_functions_are_the_known_ones():
    assert set(samconfig_parameters()) == {"default", "prod"}
    assert set(vpc_functions(load_yaml())) == {
        "CustomersRdsFunction",
        "CustomersDjangoFunction",
        "PartnerWriterFunction",
        "OutboxRelayFunction",
        "DatabaseMigrationsFunction",
    }


def test_the_ceiling_is_rds_mysqls_default_formula():
    # db.t4g.micro: 1 GiB / 12,582,880 bytes per connection
    result = budget("what-if", {"DatabaseInstanceClass": "db.t4g.micro"})

    assert result.ceiling == 85
    assert result.allowed == 42


def test_an_uncapped_api_function_never_fits():
    result = budget("what-if", {"CustomersRdsMaxConcurrency": "0"})

    assert result.demand is None
    assert not result.fits


def test_rotation_adds_a_connection_per_rotation_schedule():
    """Catches: rotation counted as one connection while the template has two schedules (the
    master's single-user and the application's alternating-users), whose hosted functions
    can run at the same time, each holding a connection during a step."""
    # Given the template's rotation schedules
    schedules = {
        logical_id
        for logical_id, resource in load_yaml()["Resources"].items()
        if resource["Type"] == "AWS::SecretsManager::RotationSchedule"
    }

    # When rotation is off, then on
    off = budget("what-if", {"DatabaseSecretRotationDays": "0"})
    on = budget("what-if", {"DatabaseSecretRotationDays": "30"})

    # Then each schedule adds one connection, and only with rotation on
    assert schedules == {"DatabaseSecretRotation", "DatabaseAppSecretRotation"}
    assert on.demand is not None
    assert off.demand is not None
    assert on.demand == off.demand + len(schedules)
    assert schedules <= {line.who for line in on.lines}
    assert not schedules & {line.who for line in off.lines}


def test_with_rds_proxy_the_pool_replaces_the_proxied_functions():
    """Catches: the budget counting the proxied functions' reserved concurrency against
    MySQL (they connect to the proxy) or leaving out the proxy's own pool, which can take
    MaxConnectionsPercent of max_connections whatever the functions' concurrency."""
    direct = budget("what-if", {"EnableDatabaseProxy": "false"})
    proxied = budget("what-if", {"EnableDatabaseProxy": "true"})
    names = {line.who for line in proxied.lines}

    assert "DatabaseProxy" not in {line.who for line in direct.lines}
    assert {"CustomersRdsFunction", "PartnerWriterFunction"} <= {line.who for line in direct.lines}
    assert "CustomersRdsFunction" not in names
    assert "PartnerWriterFunction" not in names
    pool = next(line for line in proxied.lines if line.who == "DatabaseProxy")
    assert pool.connections == proxied.ceiling * 80 // 100
    assert proxied.allowed == proxied.ceiling
    assert proxied.demand is not None
    assert proxied.fits
    # A pool of all of max_connections leaves nothing for the relay, migrations and people.
    greedy = budget("what-if", {"EnableDatabaseProxy": "true"}, template=_pool_percent(100))
    assert not greedy.fits


def _pool_percent(percent: int) -> dict[str, object]:
    template = load_yaml()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::RDS::DBProxyTargetGroup":
            resource["Properties"]["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"] = (
                percent
            )
    return template
