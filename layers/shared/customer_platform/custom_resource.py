"""CloudFormation custom resources: run the work, then always answer CloudFormation.

CloudFormation invokes the function and waits for a PUT of the outcome to the presigned S3
`ResponseURL` in the event. A handler that raises, or returns without answering, leaves
the stack waiting until the resource's ServiceTimeout, so every path here ends in exactly
one response: SUCCESS with the work's data, or FAILED with a reason that points at the
logs (never the exception text, which could carry connection details).

Delete is deliberately a no-op for the resources of this stack (a schema lives and dies
with its database). Inside a VPC without NAT the PUT reaches S3 through the S3 gateway
endpoint, because the presigned URL's bucket is in the stack's region.
"""

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(child=True)

SUCCESS = "SUCCESS"
FAILED = "FAILED"
_ATTEMPTS = 3
_TIMEOUT_S = 10


def handle(
    event: Mapping[str, Any],
    context: LambdaContext,
    on_create_or_update: Callable[[], dict[str, str]],
    physical_id: str,
) -> dict[str, Any]:
    """Run `on_create_or_update` for Create/Update, nothing for Delete; answer either way."""
    request_type = event["RequestType"]
    status, reason, data = SUCCESS, f"{request_type} done", {}
    try:
        if request_type in ("Create", "Update"):
            data = on_create_or_update()
    except Exception:
        logger.exception("custom resource failed", extra={"request_type": request_type})
        status = FAILED
        reason = f"{request_type} failed; see log stream {context.log_stream_name}"
    response = {
        "Status": status,
        "Reason": reason,
        # Stable across updates: a new id would make CloudFormation delete the old one.
        "PhysicalResourceId": event.get("PhysicalResourceId") or physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }
    send(event["ResponseURL"], response)
    return response


def send(url: str, response: Mapping[str, Any]) -> None:
    """PUT `response` to the presigned URL, retrying transient network errors."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError("ResponseURL must be an http(s) URL")
    body = json.dumps(response).encode()
    # The presigned URL signs an empty Content-Type: sending any other value is a 403.
    request = Request(  # noqa: S310 - scheme checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with urlopen(request, timeout=_TIMEOUT_S) as reply:  # noqa: S310 - scheme checked
                logger.info("answered CloudFormation", extra={"status": reply.status})
                return
        except URLError:
            if attempt == _ATTEMPTS:
                logger.exception("could not answer CloudFormation")
                raise
            time.sleep(attempt)
