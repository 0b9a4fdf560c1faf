"""Applicant mailboxes: replies fetched with a token."""
