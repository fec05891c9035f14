"""Deliveries the local stack performs on behalf of AWS services, checked as AWS checks them.

* SNS -> SQS: SNS (the service principal `sns.amazonaws.com`) calls sqs:SendMessage on the
  queue, allowed only by the queue's policy, with `aws:SourceArn` = the topic and
  `aws:SourceAccount`; an encrypted queue also needs its key policy to let SNS use
  kms:GenerateDataKey and kms:Decrypt (SQS Developer Guide, "Enable compatibility between
  event sources from AWS services and encrypted queues").
* S3 -> Lambda: S3 calls lambda:InvokeFunction, allowed only by the function's resource
  policy (its `AWS::Lambda::Permission`s), with `aws:SourceArn` = the bucket and
  `aws:SourceAccount`.
* API Gateway -> Lambda: lambda:InvokeFunction by `apigateway.amazonaws.com`, allowed by
  the permission SAM adds per route, whose `SourceArn` names the API, stage, method, path.
* Schedule -> function: EventBridge Scheduler assumes the schedule's role and calls
  lambda:InvokeFunction with it (identity-based policy; the function's resource policy
  counts too), and sends a failed run to the schedule's dead-letter queue with the same role.

Event source mappings (SQS, DynamoDB streams), a function's asynchronous-invoke
dead-letter queue and on-failure destinations use the *function's* role in AWS: the
emulators make those calls through the gate with the function's credentials instead.
"""

from dataclasses import dataclass

from local_stack.iam.actions import Requirement
from local_stack.iam.effective import EffectivePolicies
from local_stack.iam.evaluate import Decision
from local_stack.iam.facts import ResourceFacts
from local_stack.iam.policy import Principal
from local_stack.iam.records import DecisionLog, DecisionRecord


@dataclass(frozen=True)
class DeliveryDecision:
    """Whether a delivery may happen; `reason` reads like AWS's access-denied message."""

    allowed: bool
    reason: str
    decisions: tuple[tuple[Requirement, Decision], ...]


class Deliveries:
    def __init__(
        self,
        policies: EffectivePolicies,
        facts: ResourceFacts,
        log: DecisionLog | None = None,
    ) -> None:
        self.policies = policies
        self.facts = facts
        self.log = log

    def _check(self, principal: Principal, requirements: list[Requirement]) -> DeliveryDecision:
        checked: list[tuple[Requirement, Decision]] = []
        for requirement in requirements:
            decision = self.policies.resources.decide(
                principal, requirement, self.policies.region, None
            )
            checked.append((requirement, decision))
            reason = (
                ""
                if decision.allowed
                else f"{principal.arn} is not authorized to perform: {requirement.action} on "
                f"resource: {requirement.resource} " + decision.phrase(requirement.action)
            )
            if self.log is not None:
                self.log.record(
                    DecisionRecord(
                        principal=principal.arn,
                        action=requirement.action,
                        resource=requirement.resource,
                        allowed=decision.allowed,
                        reason=decision.reason,
                        service="delivery",
                        statements=tuple(source.id for source in decision.statements),
                        via=requirement.via,
                        message=reason or None,
                    )
                )
            if not decision.allowed:
                return DeliveryDecision(False, reason, tuple(checked))
        target = requirements[0] if requirements else None
        summary = (
            f"{principal.arn} is allowed to perform: {target.action} on resource: {target.resource}"
            + (" (and to use its KMS key)" if len(requirements) > 1 else "")
            if target
            else "nothing to check"
        )
        return DeliveryDecision(True, summary, tuple(checked))

    def _source(self, source_arn: str) -> dict[str, str]:
        return {"aws:SourceArn": source_arn, "aws:SourceAccount": self.policies.account}

    def sns_to_sqs(self, topic_arn: str, queue_arn: str) -> DeliveryDecision:
        sns = Principal.service("sns.amazonaws.com", self.policies.account)
        requirements = [Requirement("sqs:SendMessage", queue_arn, self._source(topic_arn))]
        key = self.facts.queue_key(queue_arn)
        if key is not None:
            requirements += [
                Requirement(action, key, self._source(topic_arn), via="sqs")
                for action in ("kms:GenerateDataKey", "kms:Decrypt")
            ]
        return self._check(sns, requirements)

    def s3_to_lambda(self, bucket: str, function_arn: str) -> DeliveryDecision:
        s3 = Principal.service("s3.amazonaws.com", self.policies.account)
        context = self._source(f"arn:{self.policies.partition}:s3:::{bucket}")
        return self._check(s3, [Requirement("lambda:InvokeFunction", function_arn, context)])

    def api_to_lambda(
        self, api_id: str, stage: str, method: str, path: str, function_arn: str
    ) -> DeliveryDecision:
        """API Gateway invoking a route's function: the permission's SourceArn is
        arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>."""
        api = Principal.service("apigateway.amazonaws.com", self.policies.account)
        source = (
            f"arn:{self.policies.partition}:execute-api:{self.policies.region}:"
            f"{self.policies.account}:{api_id}/{stage}/{method.upper()}/{path.lstrip('/')}"
        )
        requirement = Requirement("lambda:InvokeFunction", function_arn, self._source(source))
        return self._check(api, [requirement])

    def schedule_to_function(self, schedule: str) -> DeliveryDecision:
        """`schedule`: the logical id of an `AWS::Scheduler::Schedule` of the template."""
        found = self.policies.schedules[schedule]
        return self._check(
            found.principal(), [Requirement("lambda:InvokeFunction", found.target_arn)]
        )

    def schedule_dead_letter(self, schedule: str) -> DeliveryDecision:
        """The schedule's role sending a failed run to its dead-letter queue."""
        found = self.policies.schedules[schedule]
        if found.dead_letter_arn is None:
            return DeliveryDecision(False, f"{schedule} has no dead-letter queue", ())
        requirements = [Requirement("sqs:SendMessage", found.dead_letter_arn)]
        key = self.facts.queue_key(found.dead_letter_arn)
        if key is not None:
            requirements += [
                Requirement(
                    action,
                    key,
                    {"kms:ViaService": f"sqs.{self.policies.region}.amazonaws.com"},
                    via="sqs",
                )
                for action in ("kms:GenerateDataKey", "kms:Decrypt")
            ]
        return self._check(found.principal(), requirements)
