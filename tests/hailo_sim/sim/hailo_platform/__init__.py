"""Simulated ``hailo_platform`` (tests only): see ``pyhailort/pyhailort.py``."""

from hailo_platform.pyhailort.pyhailort import (HEF, SIM, AsyncInferJob, Device, FormatOrder, FormatType,  # noqa: F401
                                                HailoRTException, HailoSchedulingAlgorithm, VDevice)

__version__ = "5.1.1"
