"""The Django backend's project (functions/customers_django) set up in the test process.

Only what needs no database and no AWS runs in-process this way: serializers, models'
metadata. Everything else is tested through the local stack, where the function runs in
its own execution environments.
"""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "customers_django"
# What template.yaml sets; settings.py refuses to load without them (nothing is fetched).
ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "django_customers.settings",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
    "PAGE_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:page",
}


@contextlib.contextmanager
def django_project() -> Iterator[None]:
    """Django set up with the function's settings (once per process; later calls reuse it);
    import the project's modules inside the block."""
    import django  # noqa: PLC0415 - only the tests that use the project pay for it

    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    sys.path.insert(0, str(FUNCTION))
    try:
        django.setup()
        yield
    finally:
        sys.path.remove(str(FUNCTION))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
