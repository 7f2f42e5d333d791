"""Exceptions raised by the sattn package.

Every failure of the C library becomes a SattnError carrying the sattn_status code (.status), its name (.status_name)
and, as the message, the thread-local detail from sattn_last_error(). Statuses with an obvious Python counterpart get
a subclass that also derives from it, so `except ValueError` or `except NotImplementedError` catch them too.
"""

# Values of the sattn_status enum in include/sattn.h.
STATUS_OK = 0
STATUS_INVALID_ARGUMENT = 1
STATUS_NOT_SUPPORTED = 2
STATUS_OUT_OF_MEMORY = 3
STATUS_WORKSPACE_TOO_SMALL = 4
STATUS_BACKEND_UNAVAILABLE = 5
STATUS_DEVICE = 6
STATUS_INTERNAL = 7
STATUS_VERSION_MISMATCH = 8

STATUS_NAMES = {
    STATUS_OK: "SATTN_OK",
    STATUS_INVALID_ARGUMENT: "SATTN_ERROR_INVALID_ARGUMENT",
    STATUS_NOT_SUPPORTED: "SATTN_ERROR_NOT_SUPPORTED",
    STATUS_OUT_OF_MEMORY: "SATTN_ERROR_OUT_OF_MEMORY",
    STATUS_WORKSPACE_TOO_SMALL: "SATTN_ERROR_WORKSPACE_TOO_SMALL",
    STATUS_BACKEND_UNAVAILABLE: "SATTN_ERROR_BACKEND_UNAVAILABLE",
    STATUS_DEVICE: "SATTN_ERROR_DEVICE",
    STATUS_INTERNAL: "SATTN_ERROR_INTERNAL",
    STATUS_VERSION_MISMATCH: "SATTN_ERROR_VERSION_MISMATCH",
}

# Not a sattn_status: the package could not load the C library at all.
STATUS_LIBRARY_NOT_FOUND = -1


class SattnError(Exception):
    """A libsattn failure. .status is the sattn_status code, .status_name its name."""

    def __init__(self, message, status=STATUS_INTERNAL, status_name=None):
        super().__init__(message)
        self.status = int(status)
        self.status_name = status_name or STATUS_NAMES.get(self.status, f"SATTN_STATUS_{self.status}")


class SattnInvalidArgument(SattnError, ValueError):
    """A descriptor field, tensor or pointer is wrong (SATTN_ERROR_INVALID_ARGUMENT)."""

    def __init__(self, message, status=STATUS_INVALID_ARGUMENT, status_name=None):
        super().__init__(message, status, status_name)


class SattnNotSupported(SattnError, NotImplementedError):
    """Valid, but not implemented (SATTN_ERROR_NOT_SUPPORTED); also the backward pass (training=True)."""

    def __init__(self, message, status=STATUS_NOT_SUPPORTED, status_name=None):
        super().__init__(message, status, status_name)


class SattnOutOfMemory(SattnError, MemoryError):
    """A host or device allocation failed (SATTN_ERROR_OUT_OF_MEMORY)."""

    def __init__(self, message, status=STATUS_OUT_OF_MEMORY, status_name=None):
        super().__init__(message, status, status_name)


class SattnLibraryNotFound(SattnError, OSError):
    """libsattn.so could not be found or loaded; the message lists every place that was tried."""

    def __init__(self, message, status=STATUS_LIBRARY_NOT_FOUND, status_name="SATTN_LIBRARY_NOT_FOUND"):
        super().__init__(message, status, status_name)


_CLASS_OF_STATUS = {
    STATUS_INVALID_ARGUMENT: SattnInvalidArgument,
    STATUS_NOT_SUPPORTED: SattnNotSupported,
    STATUS_OUT_OF_MEMORY: SattnOutOfMemory,
}


def error_from_status(status, message, status_name=None):
    """The exception to raise for a failed sattn_status."""
    cls = _CLASS_OF_STATUS.get(int(status), SattnError)
    return cls(message, status, status_name)
