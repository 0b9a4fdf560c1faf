"""The tests' name for `harness.browser`, which the benchmarks share."""

from harness.browser import BASE_ARGS as BASE_ARGS
from harness.browser import CHROMIUM as CHROMIUM
from harness.browser import JITLESS_ARGS as JITLESS_ARGS
from harness.browser import launch_chromium as launch_chromium
