"""Offline command-line tools: intake-verifier, intake-admin, intake-courier.

They need PyNaCl, Click, Rich and segno only (no server code), so an
air-gapped laptop installs them from a small wheelhouse. There is no
configuration file and no default key path: every path is named on the
command line, as in age.
"""
