"""The tests' name for `harness.live_server`, which the benchmarks share."""

from harness.live_server import BIN as BIN
from harness.live_server import LiveServer as LiveServer
from harness.live_server import demo_server as demo_server
from harness.live_server import free_port as free_port
from harness.live_server import live_server as live_server
from harness.live_server import run_cli as run_cli
from harness.live_server import serve as serve
from harness.live_server import server_env as server_env
from harness.live_server import stop as stop
from harness.live_server import wait_for as wait_for
