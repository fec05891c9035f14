"""Presigned URLs never outlive the credentials that sign them: the expiry cap and the
signing session's renewal (customer_platform/documents/signing.py), on a clock and an STS
that the test controls."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from customer_platform.documents.signing import (
    CLOCK_MARGIN_SECONDS,
    MAX_URL_EXPIRY_SECONDS,
    SESSION_SECONDS,
    SessionSigner,
    usable_seconds,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Sts:
    """AssumeRole as STS answers it; `granted` caps the session (STS may give less)."""

    clock: Clock
    granted: int | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        seconds = min(request["DurationSeconds"], self.granted or request["DurationSeconds"])
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n}",
                "SecretAccessKey": "secret",
                "SessionToken": f"token-{n}",
                "Expiration": self.clock() + timedelta(seconds=seconds),
            }
        }


def signer(clock: Clock, sts: Sts) -> SessionSigner:
    # the "client" is the credentials themselves: enough to see which session signs
    return SessionSigner(sts, "arn:aws:iam::123456789012:role/signer", dict, clock)  # type: ignore[arg-type]


# -- the cap ---------------------------------------------------------------------------------


def test_a_url_works_as_long_as_asked_when_the_session_outlives_it():
    ends = T0 + timedelta(seconds=SESSION_SECONDS)

    assert usable_seconds(900, ends, T0) == 900
    assert usable_seconds(MAX_URL_EXPIRY_SECONDS, ends, T0) == MAX_URL_EXPIRY_SECONDS


def test_a_url_works_only_until_its_session_ends_less_the_clock_margin():
    """Mutation caught: reporting the configured expiry whatever the session allows."""
    ends = T0 + timedelta(seconds=600)

    assert usable_seconds(900, ends, T0) == 600 - CLOCK_MARGIN_SECONDS
    assert usable_seconds(900, ends, ends - timedelta(seconds=30)) == 0
    assert usable_seconds(900, ends, ends + timedelta(hours=1)) == 0


def test_the_cap_leaves_every_session_time_to_sign_before_its_renewal():
    assert MAX_URL_EXPIRY_SECONDS + CLOCK_MARGIN_SECONDS < SESSION_SECONDS
    assert SESSION_SECONDS == 3600, "role chaining: a role's session may assume one for 1 h"


# -- the signing session -------------------------------------------------------------------------


def test_one_session_signs_until_a_url_could_outlive_it_then_a_new_one_is_opened():
    """Mutation caught: a session kept until it expires (URLs signed in its last minutes
    would die early), or one opened per URL."""
    clock = Clock()
    sts = Sts(clock)
    urls = signer(clock, sts)

    # Given a first URL of 900 s: one session, asked for the longest role chaining allows
    first, seconds = urls.signing_client(900)
    assert seconds == 900
    assert sts.calls == [
        {
            "RoleArn": "arn:aws:iam::123456789012:role/signer",
            "RoleSessionName": "documents-url-signer",
            "DurationSeconds": SESSION_SECONDS,
        }
    ]

    # When time passes while the session still outlives a new URL by the margin
    clock.advance(SESSION_SECONDS - 900 - CLOCK_MARGIN_SECONDS)
    same, seconds = urls.signing_client(900)

    # Then the same session signs, for the full 900 s
    assert (same, seconds, len(sts.calls)) == (first, 900, 1)

    # When one more second passes, a URL signed with it would die early
    clock.advance(1)
    renewed, seconds = urls.signing_client(900)

    # Then a new session signs it, for the full 900 s
    assert renewed != first
    assert (seconds, len(sts.calls), urls.sessions_opened) == (900, 2, 2)


def test_a_session_shorter_than_the_url_gives_the_url_the_time_it_really_works():
    """The case a Lambda function's own credentials would be in every time: they expire
    sooner than the configured expiry. The answer's expiresIn is the shorter time.
    Mutation caught: returning the configured seconds."""
    clock = Clock()
    sts = Sts(clock, granted=900)  # e.g. a role whose MaxSessionDuration is lower
    urls = signer(clock, sts)

    _, seconds = urls.signing_client(MAX_URL_EXPIRY_SECONDS)

    assert seconds == 900 - CLOCK_MARGIN_SECONDS
    assert seconds < MAX_URL_EXPIRY_SECONDS


@pytest.mark.parametrize("wanted", [1, 900, MAX_URL_EXPIRY_SECONDS])
def test_every_configurable_expiry_is_signed_in_full(wanted: int):
    clock = Clock()
    urls = signer(clock, Sts(clock))

    for _ in range(3):
        _, seconds = urls.signing_client(wanted)
        assert seconds == wanted
        clock.advance(SESSION_SECONDS // 3)
