"""What a backup or a restore can fail with (the CLI turns each into a message)."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore failed. A failed backup leaves no archive behind; a
    failed restore has changed nothing unless it says otherwise."""


class ArchiveInvalid(BackupError):
    """The archive is damaged, altered, incomplete or not an intake backup."""


class TargetNotEmpty(BackupError):
    """Restore only fills an empty database and an empty blob store."""


class StoreDamaged(BackupError):
    """The live database names a blob the store does not hold intact."""
