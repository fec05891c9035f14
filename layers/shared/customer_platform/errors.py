"""Domain errors: the few ways a request can fail on purpose.

Routes raise these and never build error responses themselves; each one's HTTP status is
`HTTP_STATUS` below, which every web layer answers with (`customer_platform.http` for the
Powertools resolvers, the Django backend's exception handler).
"""

from http import HTTPStatus


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


HTTP_STATUS: dict[type[DomainError], HTTPStatus] = {
    BadRequest: HTTPStatus.BAD_REQUEST,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def http_status(error: DomainError) -> HTTPStatus:
    """The status a client gets for `error`."""
    return next(status for cls, status in HTTP_STATUS.items() if isinstance(error, cls))
