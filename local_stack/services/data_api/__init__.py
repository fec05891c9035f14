"""The RDS Data API, locally: an HTTPS-style endpoint (REST-JSON on the local AWS endpoint)
that runs statements on Aurora clusters made of databases on the local MySQL server.

* `service`: the WSGI middleware that the local AWS endpoint puts behind the IAM gate,
  answering ExecuteStatement, BatchExecuteStatement and Begin/Commit/RollbackTransaction.
* `cluster`: a cluster's connections, transactions, time limits and fault switches
  (`cluster(arn).pause(seconds)` makes it answer DatabaseResumingException, as a paused
  Serverless v2 writer does).
* `types`: parameters and results as the Data API maps them.
* `resources`: the template's AWS::RDS::DBCluster and its Aurora DBInstance, and
  provisioning the stack's application user.
"""

from local_stack.services.data_api.cluster import LocalCluster, cluster
from local_stack.services.data_api.resources import MIGRATIONS_FUNCTION, LocalAurora, provision
from local_stack.services.data_api.service import DataApiService

__all__ = [
    "MIGRATIONS_FUNCTION",
    "DataApiService",
    "LocalAurora",
    "LocalCluster",
    "cluster",
    "provision",
]
