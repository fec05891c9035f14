"""Domain errors: the few ways a request can fail on purpose.

Routes raise these and never build error responses themselves; `customer_platform.http`
maps each class to its HTTP status in one place.
"""


class DomainError(Exception):
    """Base class. `message` is safe to show a client: no SQL, table names or ARNs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The resource does not exist (404)."""


class Forbidden(DomainError):
    """The caller is known but its role does not allow this (403)."""


class Conflict(DomainError):
    """The change would break a uniqueness rule or lost a race with another writer (409)."""


class BadRequest(DomainError):
    """The request is malformed in a way validation cannot express, e.g. a tampered token (400)."""


class Unavailable(DomainError):
    """A dependency is unreachable or overloaded right now; the client may retry (503)."""
