"""Where incidents live: the Store interface (base), the TinyDB default and the team server store."""

from .base import (
    CorruptDataError,
    FollowUp,
    LockTimeoutError,
    OfflineError,
    OpenChanges,
    Store,
    StoreError,
    UnknownIncidentError,
    is_server_url,
    masked,
    open_store,
)

__all__ = [
    "CorruptDataError",
    "FollowUp",
    "LockTimeoutError",
    "OfflineError",
    "OpenChanges",
    "Store",
    "StoreError",
    "UnknownIncidentError",
    "is_server_url",
    "masked",
    "open_store",
]
