"""The exception tree of broadcaster.

Every error a user can meet carries a stable machine ``code`` (for API clients and scripts)
and a Vietnamese ``message`` (for people). Families keep their own subclasses next to their
base module, but all of them derive from here::

    BroadcasterError
    ├── InvalidInput            bad text, bad file, bad option: the caller must change something
    │   ├── text.EmptyText, text.TextTooLong, text.NothingToSpeak, ...
    │   └── audio.UnreadableAudio
    ├── NotFound                a thing that does not exist (or is not yours to see)
    ├── Conflict                a state change that the current state forbids
    ├── PermissionDenied        the role is too low
    ├── NotAuthenticated        no token, or a bad one
    └── ServiceFailure          something on our side or upstream failed; retrying may help
        ├── StorageFull         a disk is full (503 storage_full, Retry-After)
        ├── DatabaseBusy        the database is locked by another writer (503 database_busy, Retry-After)
        ├── tts.EngineError     an engine could not speak (tts.EngineUnavailable, ...)
        └── audio.AudioProcessingError

``retry_after_s``, when set, tells a client when to try again (the API sends it as Retry-After).
"""

from __future__ import annotations


class BroadcasterError(Exception):
    """Base of every broadcaster error: a stable ``code`` and a Vietnamese ``message``."""

    code: str = "error"
    status: int = 500  # the HTTP status the API maps this family to
    retry_after_s: int | None = None  # sent as Retry-After when set

    def __init__(self, message: str, *, code: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        # ``detail`` is for logs and developers (English, technical); never shown as the message.
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class InvalidInput(BroadcasterError):
    """The caller sent something we cannot use; the message says what."""

    code = "invalid_input"
    status = 422


class NotFound(BroadcasterError):
    """The object does not exist, or belongs to a commune the caller cannot see."""

    code = "not_found"
    status = 404


class Conflict(BroadcasterError):
    """The requested change is not allowed in the object's current state."""

    code = "conflict"
    status = 409


class PermissionDenied(BroadcasterError):
    """The caller's role does not allow this action."""

    code = "forbidden"
    status = 403


class NotAuthenticated(BroadcasterError):
    """No credentials, or credentials we do not accept."""

    code = "not_authenticated"
    status = 401


class ServiceFailure(BroadcasterError):
    """A failure on our side or upstream; the same request may succeed later."""

    code = "service_failure"
    status = 503


class StorageFull(ServiceFailure):
    """A disk the service writes to is full: nothing was stored; retry once space is freed."""

    code = "storage_full"
    retry_after_s = 60


class DatabaseBusy(ServiceFailure):
    """Another writer held the database lock for longer than we wait: nothing was stored; retry shortly."""

    code = "database_busy"
    retry_after_s = 5
