"""The customer-event path has a place for every message SNS cannot deliver, and an alarm
on every way it can stall, in template.yaml as CloudFormation receives it.

Sources: SNS dead-letter queues and their queue policy (sns-dead-letter-queues,
sns-configure-dead-letter-queue in the SNS developer guide); NumberOfNotificationsFailed
counts an SQS delivery once, when SNS stops trying (sns-monitoring-using-cloudwatch).
"""

from typing import Any

from local_stack.template.transform import load_template

ALARM_TOPIC = {"Ref": "AlarmTopic"}


def resources() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_template().transformed["Resources"]
    return found


def alarms(metric: str, dimension: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in resources().values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"]["MetricName"] == metric
        and dimension in resource["Properties"].get("Dimensions", [])
    ]


def queue_name(logical_id: str) -> dict[str, Any]:
    return {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id, "QueueName"]}}


def sqs_subscriptions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources().items()
        if resource["Type"] == "AWS::SNS::Subscription"
        and resource["Properties"]["Protocol"] == "sqs"
    }


def queue_policy_statements(queue: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in resources().values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
        and {"Ref": queue} in resource["Properties"]["Queues"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_every_sqs_subscription_dead_letters_into_an_alarmed_queue_sns_may_send_to():
    """Catches: a subscription without RedrivePolicy (SNS drops what a deleted queue or a
    broken policy refuses), a DLQ whose queue policy does not let the topic send (the
    dead-lettering fails too), an unencrypted DLQ, or one nobody is told about."""
    subscriptions = sqs_subscriptions()
    assert set(subscriptions) == {"AuditSubscription", "NotificationsSubscription"}
    for logical_id, subscription in subscriptions.items():
        target = subscription["RedrivePolicy"]["deadLetterTargetArn"]
        dlq = target["Fn::GetAtt"][0]
        assert target == {"Fn::GetAtt": [dlq, "Arn"]}, logical_id
        assert dlq != subscription["Endpoint"]["Fn::GetAtt"][0], "its own DLQ, not the queue"
        queue = resources()[dlq]["Properties"]
        assert queue["KmsMasterKeyId"] == {"Ref": "AppKey"}
        assert queue["MessageRetentionPeriod"] == 1209600  # 14 days, as SNS advises
        allowed = [
            statement
            for statement in queue_policy_statements(dlq)
            if statement["Effect"] == "Allow"
            and statement["Action"] == "sqs:SendMessage"
            and {"Fn::GetAtt": [dlq, "Arn"]} in statement["Resource"]
            and statement["Condition"]["ArnEquals"]["aws:SourceArn"] == subscription["TopicArn"]
        ]
        assert len(allowed) == 1, f"{dlq}: SNS may not send to it"
        (alarm,) = alarms("ApproximateNumberOfMessagesVisible", queue_name(dlq))
        assert (alarm["Threshold"], alarm["AlarmActions"]) == (1, [ALARM_TOPIC])


def test_sns_giving_up_on_any_delivery_raises_an_alarm():
    """Catches: no alarm on NumberOfNotificationsFailed, the one metric that also counts a
    message whose dead-letter queue refused it (lost for good)."""
    topic = {"Name": "TopicName", "Value": {"Fn::GetAtt": ["CustomerEventsTopic", "TopicName"]}}
    (alarm,) = alarms("NumberOfNotificationsFailed", topic)

    assert alarm["Namespace"] == "AWS/SNS"
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
    assert alarm["AlarmActions"] == [ALARM_TOPIC]


def test_a_subscribed_queue_whose_consumer_stalls_raises_an_alarm():
    """Catches: a consumer that stopped (or cannot keep up) with no alarm until the
    retention period silently deletes its events."""
    for subscription in sqs_subscriptions().values():
        queue = subscription["Endpoint"]["Fn::GetAtt"][0]
        (alarm,) = alarms("ApproximateAgeOfOldestMessage", queue_name(queue))
        retention = resources()[queue]["Properties"]["MessageRetentionPeriod"]
        assert 0 < alarm["Threshold"] < retention
        assert (alarm["Statistic"], alarm["AlarmActions"]) == ("Maximum", [ALARM_TOPIC])


def test_the_outbox_relay_failure_alarm_watches_the_relays_powertools_metric():
    """The alarm must match the metric's namespace and every dimension Powertools sets
    (the `service` dimension from POWERTOOLS_SERVICE_NAME), or it watches nothing. The
    metric itself is read from the relay's log in tests/integration/test_fanout.py."""
    variables = load_template().source["Globals"]["Function"]["Environment"]["Variables"]
    service = {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
    (alarm,) = alarms("OutboxPublishFailures", service)

    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [service]
    assert alarm["AlarmActions"] == [ALARM_TOPIC]
