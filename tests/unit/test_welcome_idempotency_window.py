"""A dead-lettered welcome event can be redriven at any time without a second email."""

from customer_platform.events.welcome import IDEMPOTENCY_TTL_SECONDS
from local_stack.template.transform import load_yaml


def test_the_idempotency_record_outlives_the_dead_letter_queue():
    """Catches: the old one-day TTL (a redrive on day two would send the email again)."""
    resources = load_yaml()["Resources"]
    dlq_retention = int(
        resources["NotificationsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    )
    queue_retention = int(resources["NotificationsQueue"]["Properties"]["MessageRetentionPeriod"])

    assert dlq_retention < IDEMPOTENCY_TTL_SECONDS
    assert queue_retention < IDEMPOTENCY_TTL_SECONDS
