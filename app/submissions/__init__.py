"""Submissions: creation, resumable uploads, finalisation."""
