"""What tests and benchmarks share to run the real thing: the server as a
process, fresh databases, Debian's Chromium, the demo organisation.

Benchmarks import no test code (an import contract in pyproject.toml says
so); what both need lives here, once.
"""
