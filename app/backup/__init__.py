"""`intake backup` and `intake restore`: a consistent copy of the database and
the blob store, safe to keep off-site.

A backup holds what the server holds and nothing more: ciphertext (blobs,
replies), signed manifests, signed receipts and the bookkeeping rows (random
ids, sizes, hour-rounded times, and the mailbox id of each reply waiting:
submissions hold none since migration 0003). No key that opens anything ever
reaches the server, so none is in a backup: whoever steals one learns what a
seized server would tell them.

Consistency while the server runs and takes uploads:

- Every table is read inside ONE read-only transaction: REPEATABLE READ on
  PostgreSQL, a deferred `BEGIN` on SQLite (in WAL mode a reader keeps the
  snapshot its first read saw). Rows committed later are not in the backup;
  rows the snapshot saw are all there, whole.
- Blobs are copied by the digests that snapshot names. With the `db` backend
  their rows are read in the same transaction, so blobs and tables agree
  exactly. With the `fs` backend a blob file only ever changes by an atomic
  rename (rewrap) or an unlink, so each copy is old or new, never a mix; a
  blob the snapshot names but that is gone now was released by a receipt (or
  purge) after the snapshot, and its submission is left out of the backup,
  which then shows the state just after that deletion.
- The server records an envelope's digest before it moves the bytes from the
  upload's partial to the blob name, so a blob missing under its name is
  looked for in that partial too (and taken only if its digest matches).

The archive is an uncompressed tar (ciphertext does not compress):

    blobs/<hex payload digest>   the stored envelope bytes, one member per blob
    tables/<table>.jsonl         one JSON object per row (bytes and times tagged)
    MANIFEST.json                last: format, schema revision, and the size and
                                 SHA-256 of every other member

Every blob copied is read back from the archive and its keyless payload
digest checked against its name, so a backup that was written is one that
restores. Restore checks every member against MANIFEST.json and every blob
against its name before it touches the target, refuses a target that holds
anything, and checks the manifest chain against `INTAKE_TRUST_ROOT` when set.
A backup restores into either blob backend and either database.
"""

from __future__ import annotations

from app.backup.archive import FORMAT, FORMAT_VERSION, MANIFEST_NAME
from app.backup.errors import ArchiveInvalid, BackupError, StoreDamaged, TargetNotEmpty
from app.backup.restoring import RestoreReport, restore
from app.backup.write import BackupReport, backup

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ArchiveInvalid",
    "BackupError",
    "BackupReport",
    "RestoreReport",
    "StoreDamaged",
    "TargetNotEmpty",
    "backup",
    "restore",
]
