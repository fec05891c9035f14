"""The IAM gate: a WSGI middleware in front of moto's server application.

Each request is parsed (`requests`), mapped to its IAM requirements (`actions`), and every
requirement is evaluated (`evaluate`) against the caller's identity-based policies and the
resource's policy (`effective.ResourcePolicies`). A denial is answered the way the service
answers it (`errors`) and never reaches moto; every decision is recorded (`records`).

Callers are told apart by access key id (`CredentialRegistry`):
* a key issued to a function (or a schedule's role) -> that principal, checked;
* an admin key (the local tools, the test suite) -> passed through unchecked;
* any other key -> AWS's invalid-token error; a key past its expiry -> `ExpiredToken`.
Unsigned requests count as anonymous and are denied, except CORS preflights (`OPTIONS`,
which S3 answers without credentials) and moto's own `/moto-api`. A presigned S3 request
(URL or POST form), an admin's too, is first verified as S3 verifies it (`presigned`: the
signature with the key's secret, which the registry keeps, its expiry, a POST's policy).

S3 detail: without `s3:ListBucket` on the bucket, S3 answers a GET or HEAD of a missing
key with 403 AccessDenied instead of 404 (S3 API Reference, GetObject/HeadObject,
"Permissions"); the gate does the same, and records the `s3:ListBucket` decision.
"""

import io
import logging
import secrets
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from local_stack.iam import errors, presigned
from local_stack.iam.actions import ActionMapper, NoLocalRule, Requirement
from local_stack.iam.effective import EffectivePolicies, ResourcePolicies
from local_stack.iam.evaluate import Decision
from local_stack.iam.policy import Policy, Principal
from local_stack.iam.records import DecisionLog, DecisionRecord
from local_stack.iam.requests import (
    ParsedRequest,
    RawRequest,
    RequestParser,
    UnreadableRequest,
    credentials_of,
    multipart_form,
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
logger = logging.getLogger(__name__)
STALL_LIMIT_S = 60.0  # a stalled call goes through at the latest after this


@dataclass(frozen=True)
class IssuedCredentials:
    """What a process needs to sign as a principal (the AWS_* environment variables)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime | None = None

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class CredentialRegistry:
    """Access key id -> principal, for keys the local stack issued; and the secret of each
    key it knows one for, to verify presigned S3 requests (`local_stack.iam.presigned`)."""

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, principal: Principal, expires_at: datetime | None = None) -> IssuedCredentials:
        """New temporary credentials for `principal` (key ids look like STS's: ASIA...)."""
        alphabet = string.ascii_uppercase + string.digits
        key = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        if expires_at is not None:
            principal = replace(principal, expires_at=expires_at)
        secret = secrets.token_urlsafe(30)[:40]
        self.register(key, principal, secret)
        return IssuedCredentials(
            access_key_id=key,
            secret_access_key=secret,
            session_token=secrets.token_urlsafe(96),
            expiration=expires_at,
        )

    def register(self, access_key_id: str, principal: Principal, secret: str | None) -> None:
        with self._lock:
            self._principals[access_key_id] = principal
            if secret is not None:
                self._secrets[access_key_id] = secret

    def know_secret(self, access_key_id: str, secret: str) -> None:
        """The secret of a key that is no issued principal's (the administrator's)."""
        with self._lock:
            self._secrets[access_key_id] = secret

    def secret(self, access_key_id: str) -> str | None:
        with self._lock:
            return self._secrets.get(access_key_id)

    def revoke(self, access_key_id: str) -> None:
        with self._lock:
            self._principals.pop(access_key_id, None)
            self._secrets.pop(access_key_id, None)

    def principal(self, access_key_id: str) -> Principal | None:
        with self._lock:
            return self._principals.get(access_key_id)


@dataclass
class Fault:
    """Make the next `remaining` calls of `action` by `principal` fail with an AWS error."""

    principal: str  # a function's logical id, a role ARN or a principal ARN
    action: str  # an IAM action ("sqs:SendMessage") or an API operation ("sqs:SendMessageBatch")
    code: str
    message: str
    status: int | None = None
    remaining: int = 1
    # A stall instead of an error: the call waits until `hold` is set (at most
    # STALL_LIMIT_S), then goes through; `held` counts the calls that waited.
    hold: threading.Event | None = None
    held: int = 0

    def matches(self, principal: Principal, parsed: ParsedRequest, actions: Iterable[str]) -> bool:
        who = self.principal in (principal.function, principal.role_arn, principal.arn)
        wanted = self.action.lower()
        what = wanted == f"{parsed.service}:{parsed.operation}".lower() or any(
            wanted == action.lower() for action in actions
        )
        return who and what


@dataclass(frozen=True)
class Outcome:
    """What the gate decided for one request: pass it on (error None) or answer `error`."""

    error: errors.AwsError | None = None
    parsed: ParsedRequest | None = None
    principal: Principal | None = None
    checked: bool = False  # False for admin keys, CORS preflights and moto's own API
    decisions: tuple[DecisionRecord, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return self.error is None


def _protocol_guess(raw: RawRequest) -> tuple[str, str]:
    """(service, protocol) for an error about a request that could not be parsed."""
    if raw.header("x-amz-target"):
        return "unknown", "json"
    if raw.method == "POST" and (raw.header("content-type") or "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return "unknown", "query"
    return "s3", "rest-xml"


class Gate:
    """WSGI middleware: `Gate(DomainDispatcherApplication(create_backend_app), ...)`."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        registry: CredentialRegistry,
        admin_keys: Iterable[str],
        mapper: ActionMapper,
        resources: ResourcePolicies,
        log: DecisionLog | None = None,
        parser: RequestParser | None = None,
        record_admin: bool = False,
        on_denial: Callable[[DecisionRecord], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        enforce: bool = True,
    ) -> None:
        self.app = app
        self.registry = registry
        self.admin_keys = frozenset(admin_keys)
        self.mapper = mapper
        self.resources = resources
        self.log = log or DecisionLog()
        self.parser = parser or RequestParser()
        self.record_admin = record_admin
        self.on_denial = on_denial
        self.clock = clock
        self.enforce = enforce  # False: decide and record, but let every request through
        # role ARN -> its identity policies, for the sessions sts:AssumeRole opens
        self.role_policies: Callable[[str], tuple[Policy, ...] | None] = lambda _arn: None
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()

    # -- faults ------------------------------------------------------------------------------

    def inject_fault(
        self,
        principal: str,
        action: str,
        code: str,
        message: str = "injected by the local stack",
        *,
        status: int | None = None,
        count: int = 1,
        hold: threading.Event | None = None,
    ) -> Fault:
        """The next `count` calls of `action` by `principal` (once authorized) fail with the
        AWS error `code`, shaped for the service's protocol; with `hold`, they wait for it
        instead and then go through (a service that answers late)."""
        fault = Fault(principal, action, code, message, status, count, hold)
        with self._faults_lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def _take_fault(
        self, principal: Principal, parsed: ParsedRequest, requirements: list[Requirement]
    ) -> Fault | None:
        actions = [requirement.action for requirement in requirements]
        with self._faults_lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(principal, parsed, actions):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- authorization -----------------------------------------------------------------------

    def evaluate(self, principal: Principal, requirement: Requirement, region: str) -> Decision:
        return self.resources.decide(principal, requirement, region, self.clock())

    def _record(self, record: DecisionRecord) -> DecisionRecord:
        self.log.record(record)
        if not record.allowed:
            logger.info("IAM denied: %s", record.message or record.reason)
            if self.on_denial is not None:
                self.on_denial(record)
        return record

    def load(self, policies: EffectivePolicies) -> "Gate":
        """Use the resource policies of the deployed template (known only after deploy)."""
        self.resources = policies.resources
        return self

    def authorize(self, raw: RawRequest) -> Outcome:
        """The verdict on one request (without forwarding it)."""
        outcome = self._verdict(raw)
        if outcome.error is not None and not self.enforce:
            return replace(outcome, error=None)
        return outcome

    def _verdict(self, raw: RawRequest) -> Outcome:  # noqa: PLR0911 - one exit per verdict
        if raw.path.startswith("/moto-api") or raw.method == "OPTIONS":
            return Outcome()
        if raw.method == "GET" and raw.path.endswith("/.well-known/jwks.json"):
            return Outcome()  # a user pool's public signing keys: Cognito serves them to anyone
        try:
            parsed = self.parser.parse(raw)
        except UnreadableRequest as error:
            credentials = credentials_of(raw, multipart_form(raw) if raw.method == "POST" else {})
            if credentials.access_key in self.admin_keys:
                return Outcome()
            service, protocol = _protocol_guess(raw)
            message = f"the local IAM check could not read this request: {error}"
            return Outcome(error=errors.access_denied(service, protocol, message), checked=True)
        key = parsed.credentials.access_key
        if parsed.service == "s3" and parsed.credentials.auth in ("query", "post"):
            refused = self._presigned_refusal(raw, parsed)
            if refused is not None:
                return Outcome(error=refused, parsed=parsed, checked=True)
        if key is not None and key in self.admin_keys and not self.record_admin:
            return Outcome(parsed=parsed)
        if key is None and self.parser.unauthenticated(parsed):
            return Outcome(parsed=parsed)  # public by design, e.g. a user pool's sign-in
        if key is None:
            message = "Access Denied" if parsed.service == "s3" else "anonymous access denied"
            return Outcome(
                error=errors.access_denied(parsed.service, parsed.protocol, message),
                parsed=parsed,
                checked=True,
            )
        principal = self.registry.principal(key)
        if principal is None:
            if key in self.admin_keys:
                return Outcome(parsed=parsed)
            return Outcome(
                error=errors.invalid_token(parsed.service, parsed.protocol),
                parsed=parsed,
                checked=True,
            )
        if principal.expires_at is not None and self.clock() >= principal.expires_at:
            return Outcome(
                error=errors.expired_token(parsed.service, parsed.protocol),
                parsed=parsed,
                principal=principal,
                checked=True,
            )
        return self._authorize(parsed, principal)

    def _presigned_refusal(self, raw: RawRequest, parsed: ParsedRequest) -> errors.AwsError | None:
        """S3's answer to a presigned request it would refuse (`presigned`), checked with
        the signer's secret. A key nobody issued is left to the invalid-key answer."""
        if presigned.is_sigv2(parsed, raw):
            return presigned.sigv2_refusal()
        key = str(parsed.credentials.access_key)
        secret = self.registry.secret(key)
        if secret is None:
            if key not in self.admin_keys and self.registry.principal(key) is None:
                return None
            message = f"the local IAM check does not know the secret of {key}: it cannot verify"
            return errors.access_denied("s3", "rest-xml", message + " this presigned request")
        region = self.mapper.region
        refused = presigned.refusal(raw, parsed, secret, region, self.clock())
        if refused is not None:
            logger.info("S3 refused a presigned request: %s", refused.message)
        return refused

    def _authorize(self, parsed: ParsedRequest, principal: Principal) -> Outcome:
        def record(**fields: Any) -> DecisionRecord:
            return self._record(
                DecisionRecord(
                    principal=principal.arn,
                    function=principal.function,
                    service=parsed.service,
                    operation=parsed.operation,
                    **fields,
                )
            )

        try:
            requirements = self.mapper.requirements(parsed)
        except NoLocalRule as gap:
            message = f"{gap}: the local IAM check denies what it cannot authorize"
            gap_record = record(
                action=f"{parsed.service}:{parsed.operation}",
                resource="*",
                allowed=False,
                reason="no-local-rule",
                message=message,
            )
            error = errors.access_denied(parsed.service, parsed.protocol, message)
            return Outcome(error, parsed, principal, True, (gap_record,))
        region = parsed.credentials.region or self.mapper.region
        decisions = []
        for requirement in requirements:
            decision = self.evaluate(principal, requirement, region)
            denial: str | None = None
            if not decision.allowed:
                denial = errors.not_authorized(
                    parsed.service,
                    principal.arn,
                    requirement.action,
                    requirement.resource,
                    decision.phrase("{action}"),
                )
            decisions.append(
                record(
                    action=requirement.action,
                    resource=requirement.resource,
                    allowed=decision.allowed,
                    reason=decision.reason,
                    statements=tuple(source.id for source in decision.statements),
                    via=requirement.via,
                    message=denial,
                )
            )
            if denial is not None:
                shape = errors.kms_denied if requirement.implicit else errors.access_denied
                error = shape(parsed.service, parsed.protocol, denial)
                return Outcome(error, parsed, principal, True, tuple(decisions))
        fault = self._take_fault(principal, parsed, requirements)
        if fault is not None and fault.hold is not None:
            with self._faults_lock:
                fault.held += 1
            fault.hold.wait(STALL_LIMIT_S)
        elif fault is not None:
            fault_record = record(
                action=requirements[0].action if requirements else parsed.operation,
                resource=requirements[0].resource if requirements else "*",
                allowed=False,
                reason="injected-fault",
                message=f"{fault.code}: {fault.message}",
            )
            error = errors.render(
                parsed.service, parsed.protocol, fault.code, fault.message, status=fault.status
            )
            return Outcome(error, parsed, principal, True, (*decisions, fault_record))
        return Outcome(None, parsed, principal, True, tuple(decisions))

    def may_list_bucket(self, principal: Principal, parsed: ParsedRequest) -> bool:
        """Whether `principal` holds s3:ListBucket on the request's bucket (recorded)."""
        bucket = str(parsed.params.get("Bucket", ""))
        requirement = Requirement("s3:ListBucket", f"arn:{self.mapper.partition}:s3:::{bucket}")
        decision = self.evaluate(principal, requirement, self.mapper.region)
        self.log.record(
            DecisionRecord(
                principal=principal.arn,
                function=principal.function,
                service=parsed.service,
                operation=parsed.operation,
                action=requirement.action,
                resource=requirement.resource,
                allowed=decision.allowed,
                reason=decision.reason,
                statements=tuple(source.id for source in decision.statements),
            )
        )
        return decision.allowed

    # -- WSGI --------------------------------------------------------------------------------

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        length = environ.get("CONTENT_LENGTH")
        if length:
            body: bytes = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    @staticmethod
    def _answer(
        error: errors.AwsError, start_response: Callable[..., Any], head: bool
    ) -> list[bytes]:
        headers = [*error.headers, ("Content-Length", "0" if head else str(len(error.body)))]
        start_response(error.status_line, headers)
        return [] if head else [error.body]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        body = self._read_body(environ)
        raw = RawRequest.from_environ(environ, body)
        outcome = self.authorize(raw)
        head = raw.method == "HEAD"
        if outcome.error is not None:
            return self._answer(outcome.error, start_response, head)
        parsed, principal = outcome.parsed, outcome.principal
        if parsed is not None and principal is not None and parsed.operation == "AssumeRole":
            return self._session_opened(environ, start_response, parsed)
        if (
            principal is None
            or parsed is None
            or parsed.service != "s3"
            or parsed.operation not in ("GetObject", "HeadObject")
        ):
            return self.app(environ, start_response)
        return self._missing_object_as_s3_answers(environ, start_response, parsed, principal, head)

    def _session_opened(
        self, environ: dict[str, Any], start_response: Callable[..., Any], parsed: ParsedRequest
    ) -> Iterable[bytes]:
        """sts:AssumeRole, allowed: STS (moto) issues the session's credentials; the gate
        learns them, so that calls signed with them act as the role, until they expire."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        if captured.get("status", "").startswith("200"):
            self._register_session(str(parsed.params.get("RoleArn", "")), body)
        start_response(captured["status"], captured["headers"], captured.get("exc_info"))
        return [body]

    def _register_session(self, role_arn: str, body: bytes) -> None:
        policies = self.role_policies(role_arn)
        if policies is None:  # not a role of a deployed stack: its sessions stay unknown
            return
        document = ElementTree.fromstring(body)  # noqa: S314 - moto's own response
        found = {element.tag.rsplit("}", 1)[-1]: element.text for element in document.iter()}
        session = str(found["Arn"]).rsplit("/", 1)[-1]
        expires = datetime.fromisoformat(str(found["Expiration"]).replace("Z", "+00:00"))
        principal = Principal.assumed_role(role_arn, session, policies, expires_at=expires)
        self.registry.register(str(found["AccessKeyId"]), principal, str(found["SecretAccessKey"]))

    def _missing_object_as_s3_answers(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        parsed: ParsedRequest,
        principal: Principal,
        head: bool,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None

        result = self.app(environ, capture)
        if captured.get("status", "").startswith("404") and not self.may_list_bucket(
            principal, parsed
        ):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            return self._answer(
                errors.access_denied("s3", "rest-xml", "Access Denied"), start_response, head
            )
        start_response(captured["status"], captured["headers"], captured.get("exc_info"))
        return result
