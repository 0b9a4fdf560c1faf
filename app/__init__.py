"""Intake server: FastAPI app holding ciphertext only."""
