"""Where incidents live: the Store interface (base), the TinyDB default and the team server store."""

from .base import (
    CorruptDataError,
    FollowUp,
    LockTimeoutError,
    Store,
    StoreError,
    UnknownIncidentError,
    is_server_url,
    open_store,
)

__all__ = [
    "CorruptDataError",
    "FollowUp",
    "LockTimeoutError",
    "Store",
    "StoreError",
    "UnknownIncidentError",
    "is_server_url",
    "open_store",
]
