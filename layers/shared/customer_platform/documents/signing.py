"""Presigned URLs that work for as long as they say: signed by a role session whose end is
known, and never past it.

A presigned URL acts with the credentials that signed it, and S3 refuses it once those
expire, whatever `X-Amz-Expires` says ("If you created a presigned URL using a temporary
token, then the URL expires when the token expires"). A Lambda function's own credentials
are temporary and Lambda does not say when they expire (AWS: services that assume a role,
"such as the AWS Lambda execution role, don't necessarily comply with the role's session
duration settings"; boto/boto3#2392: a 7-day URL signed in Lambda died after 12 hours).

So the documents function signs with a session it opens itself: `sts:AssumeRole` on the
URL-signer role returns credentials *with* their expiry. Because the caller is already a
role session, that is role chaining, which AWS caps at one hour (SESSION_SECONDS). The
session is kept per execution environment and renewed before a URL signed with it could
outlive it, so each URL gets the whole configured lifetime, which is capped at
MAX_URL_EXPIRY_SECONDS (half a session: a session then signs for half an hour or more
before it is renewed). `expiresIn` in the API's answer is what `usable_seconds` says: the
time the URL really works. Longer-lived download links are CloudFront signed URLs (the
EnableDocumentsCdn option), which are signed with a key pair and do not expire with any
session (docs/documents.md).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

# Role chaining: a role session opened with another role's credentials lasts at most 1 hour.
SESSION_SECONDS = 3600
# Kept back from a session's end: the signing and the client's use of the URL are judged by
# clocks (Lambda's, STS's, S3's) that may disagree by a little.
CLOCK_MARGIN_SECONDS = 60
# The longest URL the API signs; longer links are CloudFront signed URLs.
MAX_URL_EXPIRY_SECONDS = SESSION_SECONDS // 2


def utc_now() -> datetime:
    return datetime.now(UTC)


def usable_seconds(wanted: int, session_ends: datetime, now: datetime) -> int:
    """How long a URL signed `now` for `wanted` seconds really works: `wanted`, or less if
    the signing session ends first (less the clock margin); 0 if it is too late."""
    left = int((session_ends - now).total_seconds()) - CLOCK_MARGIN_SECONDS
    return max(0, min(wanted, left))


@dataclass(frozen=True)
class SigningSession:
    client: "S3Client"  # signs with the session's credentials
    ends: datetime


MakeClient = Callable[[dict[str, Any]], "S3Client"]


class SessionSigner:
    """The execution environment's signing session for `role_arn`, renewed as needed.

    `make_client` turns AssumeRole's `Credentials` into an S3 client; `clock` is the time
    used to judge sessions (injectable for tests)."""

    def __init__(
        self,
        sts: "STSClient",
        role_arn: str,
        make_client: MakeClient,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._make_client = make_client
        self._clock = clock
        self._session: SigningSession | None = None
        self._lock = threading.Lock()
        self.sessions_opened = 0  # for logs and tests

    def _open(self) -> SigningSession:
        credentials = self._sts.assume_role(
            RoleArn=self._role_arn,
            RoleSessionName="documents-url-signer",
            DurationSeconds=SESSION_SECONDS,
        )["Credentials"]
        self.sessions_opened += 1
        return SigningSession(
            client=self._make_client(dict(credentials)), ends=credentials["Expiration"]
        )

    def signing_client(self, wanted: int) -> tuple["S3Client", int]:
        """A client whose URLs work for `wanted` seconds, and for how long they really do
        (less than `wanted` only if even a new session ends sooner)."""
        with self._lock:
            session = self._session
            if session is None or usable_seconds(wanted, session.ends, self._clock()) < wanted:
                session = self._session = self._open()
            return session.client, usable_seconds(wanted, session.ends, self._clock())
