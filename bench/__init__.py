"""Benchmarks: `python -m bench` (`make bench`) measures the browser, the server
and the verifier, each side by side with a baseline in the same run, and
writes docs/PERFORMANCE.md. Not part of the wheel: a development tool that
drives the real components (Chromium, `intake serve`, `intake-verifier`).
"""
