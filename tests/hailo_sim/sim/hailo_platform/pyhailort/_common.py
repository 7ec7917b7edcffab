"""Exceptions, enums and job records of the simulated ``hailo_platform`` (names and messages as in HailoRT 5.x)."""

from __future__ import annotations

from enum import Enum

# -- exceptions: pyhailort.py's classes, and ExceptionWrapper.create_exception_from_status's messages -------


class HailoRTException(Exception):
    pass


class HailoRTCustomException(HailoRTException):  # _pyhailort's, e.g. "Format order has no shape"
    pass


class HailoRTTimeout(HailoRTException):
    pass


class HailoRTStreamAborted(HailoRTException):
    pass


class HailoRTInvalidOperationException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoRTNotFoundException(HailoRTException):
    pass


class HailoRTInvalidHEFException(HailoRTException):
    pass


class HailoRTHEFNotCompatibleWithDevice(HailoRTException):
    pass


class HailoRTDriverOperationFailedException(HailoRTException):
    pass


class HailoCommunicationClosedException(HailoRTException):
    pass


class SimulatedProcessAbort(BaseException):
    """Where the real process would have died in std::terminate (see ``SIM.crashed``)."""


_BY_STATUS = {
    4: lambda: HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred"),
    6: lambda: HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information"),
    61: lambda: HailoRTNotFoundException("Item not found. See hailort.log for more information"),
    62: lambda: HailoCommunicationClosedException("Communication closed failure. Check server-client connection"),
    63: lambda: HailoRTStreamAborted("Stream was aborted"),
    36: lambda: HailoRTDriverOperationFailedException(
        "Failure in hailort driver ioctl. run 'dmesg | grep hailo' for more information"),
}


def status_error(code: int, name: str) -> HailoRTException:
    """What pyhailort raises for a HAILO_STATUS: its dedicated class, else the generic HailoRTException."""
    if code in _BY_STATUS:
        return _BY_STATUS[code]()
    return HailoRTException(f"libhailort failed with error: {code} ({name})")


# -- enums ---------------------------------------------------------------------------------


class FormatType(Enum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class FormatOrder(Enum):
    NHWC = 1
    NHCW = 2
    FCR = 3
    HAILO_NMS_BY_CLASS = 22
    HAILO_NMS_WITH_BYTE_MASK = 23
    HAILO_NMS_BY_SCORE = 24


class HailoSchedulingAlgorithm(Enum):
    NONE = 0
    ROUND_ROBIN = 1


class DeviceArchitectureTypes(Enum):
    HAILO8 = 1
    HAILO8L = 2
    HAILO10H = 6


class AsyncInferCompletionInfo:
    def __init__(self, exception):
        self._exception = exception

    @property
    def exception(self):
        return self._exception


class AsyncInferJob:
    def __init__(self, job):
        self._job = job

    def wait(self, timeout_ms):
        self._job.wait(timeout_ms)
