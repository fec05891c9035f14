"""The environment variables of an execution environment: what Lambda sets, and nothing else.

Built from an empty environment (never from this process's), so a variable missing from
template.yaml is missing locally too, and one function never sees another's. The list
follows Lambda's documented runtime variables
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
and SAM CLI's `samcli/local/lambdafn/env_vars.py`; the paths are this machine's stand-ins
for /var/task, /opt and /var/runtime.
"""

from dataclasses import dataclass, field
from pathlib import Path

# Lambda refuses these as function environment variables (reserved by the runtime).
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class Credentials:
    """The temporary credentials of a function's execution role."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class FunctionConfig:
    """A function's configuration as the transformed template resolves it."""

    logical_id: str
    name: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    variables: dict[str, str]
    log_group: str
    tracing: bool
    reserved_concurrency: int | None
    role_arn: str
    layer_ids: tuple[str, ...]


def lambda_environment(
    config: FunctionConfig,
    *,
    region: str,
    credentials: Credentials,
    endpoint_url: str,
    task_dir: Path,
    layer_dirs: list[Path],
    runtime_dir: Path,
    interpreter: Path,
) -> dict[str, str]:
    """Every variable the function's process starts with."""
    clashes = sorted(RESERVED & config.variables.keys())
    if clashes:
        raise ValueError(
            f"{config.logical_id}: Lambda reserves {', '.join(clashes)}; rename the variable"
        )
    version = config.runtime.removeprefix("python")
    python_path = [str(task_dir)]
    for layer in layer_dirs:  # each layer's python/ (and its site-packages), as under /opt
        python_path += [
            str(layer / "python" / "lib" / f"python{version}" / "site-packages"),
            str(layer / "python"),
        ]
    python_path.append(str(runtime_dir))
    environment = {
        **config.variables,
        "_HANDLER": config.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        # Not set by Lambda itself: the RIE reads it to enforce the function's timeout.
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(config.timeout_s),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "LAMBDA_TASK_ROOT": str(task_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": f"{interpreter.parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": ":".join(python_path),
        # Where the SDK sends every call: the local AWS endpoint (moto behind the IAM check).
        "AWS_ENDPOINT_URL": endpoint_url,
    }
    if config.tracing:
        # Lambda passes each invocation's trace header to the runtime; the RIE that SAM CLI
        # ships does not, so the X-Ray SDK would drop every subsegment with a warning. It
        # is switched off with its own documented setting (the one variable Lambda would
        # not set; docs/local-runtime.md). The SDK is still imported, as on AWS.
        environment["AWS_XRAY_SDK_ENABLED"] = "false"
    return environment
