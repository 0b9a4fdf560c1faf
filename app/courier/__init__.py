"""Courier endpoints: signed requests moving ciphertext to and from the air gap."""
