"""The demo organisation of `intake-admin demo`: its passphrase is public by design."""

DEMO_PASSPHRASE = "demo-only-not-secret"
