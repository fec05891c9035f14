"""Least privilege, enforced on the laptop: every AWS call a function makes locally is
authorized against its role in template.yaml, the way AWS would authorize it, before it
reaches moto. Nothing here lives in function code; it sits in front of moto's server.

Modules
-------
effective   each function's effective policy and the resource policies, from the transformed
            template: `load_effective_policies(template.transformed, resolve)` ->
            `EffectivePolicies` (functions, schedules, roles, `ResourcePolicies`)
evaluate    AWS's same-account evaluation logic: `evaluate(AccessRequest) -> Decision`
policy      policy documents -> statements that know their source (`StatementSource.id`:
            "<role or resource>/<policy name or managed ARN>/<Sid or #index>"); `Principal`
conditions  the condition operators; patterns: wildcard and ARN matching (compiled, cached)
requests    raw HTTP request -> `ParsedRequest` (credentials, service, operation, params),
            read with botocore's service models
actions     `ActionMapper.requirements(ParsedRequest)` -> IAM action(s), resource ARN(s),
            condition keys, and the implicit KMS requirements of encrypted resources;
            `NoLocalRule` for anything it cannot authorize (the gate denies it)
facts       `ResourceFacts` (queue ARN from URL, KMS key of a queue/topic/table/secret/
            bucket/object, ...) and `MotoFacts`, which reads moto's in-process backends
errors      AWS's error answers per protocol (codes, HTTP status, message shape)
gate        `Gate` (WSGI middleware in front of moto), `CredentialRegistry`,
            fault injection; local_stack.services.endpoint.AwsEndpoint serves moto behind it
records     `DecisionRecord`, `DecisionLog` (memory + optional JSONL file)
deliveries  `Deliveries`: SNS->SQS, S3/API Gateway->Lambda, schedule->function, checked
            against resource policies and the scheduler's role
report      `python -m local_stack.iam.report`: used vs granted per function

How the local stack uses it
---------------------------
local_stack.services.endpoint.AwsEndpoint serves moto behind a `Gate` with one `CredentialRegistry`
and one `DecisionLog`; each deployed LocalStack (local_stack.assembly.stack) loads its template's
`EffectivePolicies`, attaches its resource policies to the endpoint, issues each function
the credentials of its role (`registry.issue(function.principal())`), and gives its service
emulators a `Deliveries` to ask before acting as a service.

What runs with which credentials (as in AWS):
* a function's code, its SQS and stream event-source mappings (receive, delete, stream
  reads), its asynchronous-invoke dead-letter queue and on-failure destination sends: the
  function's credentials (the role Lambda uses for them);
* service deliveries (SNS->SQS, S3->Lambda, API Gateway->Lambda, schedules): ask
  `Deliveries` first, then perform them with the admin key;
* local-only shortcuts AWS does not take (the SQS poller's ChangeMessageVisibility to 0 for
  a quick retry, GetQueueUrl at setup): the admin key; the functions' roles do not grant
  them, because AWS never needs them.
"""

from local_stack.iam.actions import ActionMapper, NoLocalRule, Requirement
from local_stack.iam.deliveries import Deliveries, DeliveryDecision
from local_stack.iam.effective import (
    EffectivePolicies,
    FunctionIdentity,
    ResourcePolicies,
    load_effective_policies,
    symbolic,
)
from local_stack.iam.evaluate import AccessRequest, Decision, evaluate
from local_stack.iam.facts import MotoFacts, ResourceFacts
from local_stack.iam.gate import CredentialRegistry, Gate, IssuedCredentials
from local_stack.iam.policy import Policy, Principal
from local_stack.iam.records import DecisionLog, DecisionRecord, read_records
from local_stack.iam.requests import ParsedRequest, RawRequest, RequestParser

__all__ = [
    "AccessRequest",
    "ActionMapper",
    "CredentialRegistry",
    "Decision",
    "DecisionLog",
    "DecisionRecord",
    "Deliveries",
    "DeliveryDecision",
    "EffectivePolicies",
    "FunctionIdentity",
    "Gate",
    "IssuedCredentials",
    "MotoFacts",
    "NoLocalRule",
    "ParsedRequest",
    "Policy",
    "Principal",
    "RawRequest",
    "RequestParser",
    "Requirement",
    "ResourceFacts",
    "ResourcePolicies",
    "evaluate",
    "load_effective_policies",
    "read_records",
    "symbolic",
]
