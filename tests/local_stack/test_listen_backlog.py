"""Every local listening socket takes a burst of simultaneous connects without a reset.

A load test or a front end opening its pool connects many clients at once; API Gateway
and Lambda's endpoint accept them (or answer 429). A listening socket whose queue of
not-yet-accepted connections is short (socketserver's default, 5) resets the rest while
its accept loop is busy.

Catches: a server below listening with socketserver's default queue of 5 (LISTEN_BACKLOG
set to 5, on this 2-CPU machine: of 100 connects, 24 reset on the API, 12 on the Lambda
API, 16 on the AWS endpoint, 10 on the partner feed, 1 through the TCP proxy).
"""

from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from local_stack.assembly.stack import LocalStack
from local_stack.commands.server import _handler_for, _listen
from local_stack.network.tcp_proxy import TcpProxy
from local_stack.services import lambda_api
from local_stack.services.db_proxy import Relay
from local_stack.services.endpoint import AwsEndpoint
from local_stack.services.partner_feed import PartnerFeed
from tools.local_concurrency import CLIENTS, burst


@pytest.fixture(scope="module")
def feed() -> Iterator[PartnerFeed]:
    server = PartnerFeed().start()
    yield server
    server.stop()


def only_answers(outcomes: Counter[str], status: str) -> None:
    assert outcomes == {status: CLIENTS}, outcomes


def test_the_api_takes_a_burst_of_connects(stack: LocalStack):
    # Given the stack's API served as `make api` serves it
    server = _listen(0, _handler_for(stack.api), "127.0.0.1")
    try:
        # When 100 clients connect at once (to a path no function serves: API Gateway's 403)
        outcomes = burst(server.server_address[1], "/no-such-route")
    finally:
        server.shutdown()
        server.server_close()

    # Then each got its answer: no reset
    only_answers(outcomes, "403")


def test_the_lambda_api_takes_a_burst_of_connects():
    server = lambda_api.serve(lambda_api.LambdaApi(lambda_api.Catalog(functions={})))
    try:
        outcomes = burst(server.server_address[1], "/2015-03-31/functions")
    finally:
        server.shutdown()
        server.server_close()

    assert not {name for name in outcomes if not name.isdigit()}, outcomes
    assert sum(outcomes.values()) == CLIENTS


def test_the_aws_endpoint_takes_a_burst_of_connects(aws: AwsEndpoint):
    port = int(aws.url.rsplit(":", 1)[1])

    outcomes = burst(port, "/")

    assert not {name for name in outcomes if not name.isdigit()}, outcomes
    assert sum(outcomes.values()) == CLIENTS


def test_the_partner_feed_takes_a_burst_of_connects(feed: PartnerFeed):
    only_answers(burst(feed_port(feed), "/users"), "200")


Relayed = Callable[[PartnerFeed], tuple[int, Callable[[], None]]]


def feed_port(feed: PartnerFeed) -> int:
    return int(feed.url.split(":")[2].split("/")[0])


def _database_proxy(feed: PartnerFeed) -> tuple[int, Callable[[], None]]:
    relay = Relay(("127.0.0.1", feed_port(feed)))
    return int(relay.endpoint.rsplit(":", 1)[1]), relay.close


def _tcp_proxy(feed: PartnerFeed) -> tuple[int, Callable[[], None]]:
    proxy = TcpProxy(("127.0.0.1", feed_port(feed)))
    return proxy.port, proxy.close


@pytest.mark.parametrize("relay", [_database_proxy, _tcp_proxy], ids=["db-proxy", "tcp-proxy"])
def test_the_relays_take_a_burst_of_connects(feed: PartnerFeed, relay: Relayed):
    port, close = relay(feed)
    try:
        outcomes = burst(port, "/users")
    finally:
        close()

    only_answers(outcomes, "200")
