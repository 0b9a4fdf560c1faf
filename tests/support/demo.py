"""The tests' name for `harness.demo`, which the benchmarks share."""

from harness.demo import DEMO_PASSPHRASE as DEMO_PASSPHRASE
