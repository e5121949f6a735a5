"""The ocrq experiment store: TinyDB documents on disk, safe for many writers and lock-free readers.

Imports only the standard library, ``tinydb``, ``filelock`` and ``psutil`` (a test checks that no UI
library or ``pipeline`` is pulled in).
"""

from .errors import AmbiguousId, ExperimentNotFound, SchemaTooNew, StoreError, StudyNotFound
from .liveness import this_host
from .processes import looks_like_ocrq, process_alive, process_started, stop_process
from .recorder import StoreRecorder
from .storage import SCHEMA_VERSION
from .store import STATUSES, STORED_STATUSES, SUMMARY_FIELDS, Store
from .values import is_full_id

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "STORED_STATUSES",
    "SUMMARY_FIELDS",
    "AmbiguousId",
    "ExperimentNotFound",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreRecorder",
    "StudyNotFound",
    "is_full_id",
    "this_host",
    "looks_like_ocrq",
    "process_alive",
    "process_started",
    "stop_process",
]
