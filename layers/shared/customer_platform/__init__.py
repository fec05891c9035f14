"""Shared code of the customer platform stack, shipped to every function in the shared layer."""

# SnapStart: the runtime hooks that keep a restored environment's connections, secrets and
# random state its own (customer_platform/snapstart.py). Registered on import, before any
# snapshot, whichever function imports the package.
from customer_platform import snapstart  # noqa: F401
