"""Failed asynchronous invocations are kept, not discarded.

EventBridge Scheduler and S3 invoke Lambda asynchronously: once Lambda has queued the event,
a function error is retried by Lambda (twice by default) and then discarded unless the
function has a dead-letter queue or an on-failure destination. A schedule's own retry
policy and DLQ only cover deliveries Scheduler could not make.
"""

from local_stack.template.transform import load_yaml

ASYNC_EVENTS = {"ScheduleV2", "Schedule", "S3", "SNS", "EventBridgeRule"}


def test_every_asynchronously_invoked_function_keeps_its_failed_events():
    """Catches: the partner fetcher or the outbox relay without its on-failure destination
    (a failed run would be dropped after Lambda's retries, the schedule's DLQ never seeing
    it)."""
    resources = load_yaml()["Resources"]
    dropped = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        events = {event["Type"] for event in properties.get("Events", {}).values()}
        if not events & ASYNC_EVENTS:
            continue
        on_failure = properties.get("EventInvokeConfig", {}).get("DestinationConfig", {})
        if "DeadLetterQueue" not in properties and "OnFailure" not in on_failure:
            dropped.append(logical_id)

    assert dropped == []
