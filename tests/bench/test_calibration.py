"""The latency proxy's calibration reaches the round trip asked where the machine allows it.

The model stands in for a loaded machine: the added round trip measured grows faster than
the proxy's setting (sleeps overshoot more as they get longer) on top of a fixed cost of
forwarding. Never a timing: the measurement is the model's.
"""

from bench.warm import Network
from local_stack.network.tcp_proxy import TcpProxy


def test_the_calibration_converges_on_a_machine_whose_delays_overshoot():
    """Mutation caught: a single correction step (setting = asked - (measured - asked)),
    which lands 31% short here, or keeping the last setting instead of the closest."""
    with TcpProxy(("127.0.0.1", 9)) as proxy:

        def measure() -> float:
            return 0.06 + 1.5 * proxy.latency * 1000

        measured = Network._calibrate(proxy, 0.5, measure)

        assert abs(measured - 0.5) <= 0.025
        assert abs(measure() - measured) < 1e-9, "the proxy keeps the setting reported"


def test_the_calibration_reports_what_it_reached_when_the_floor_is_above_the_ask():
    """Where forwarding alone costs more than the round trip asked (a loaded machine), the
    proxy adds no delay and the figure reported is the floor, never the RTT asked."""
    with TcpProxy(("127.0.0.1", 9)) as proxy:

        def measure() -> float:
            return 0.8 + proxy.latency * 1000

        assert Network._calibrate(proxy, 0.5, measure) == 0.8
        assert proxy.latency == 0.0
