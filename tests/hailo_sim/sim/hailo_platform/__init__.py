"""Simulated ``hailo_platform`` (tests only): see ``pyhailort/pyhailort.py``."""

from hailo_platform.pyhailort.pyhailort import (HEF, SIM, AsyncInferJob, Device, FormatOrder, FormatType,  # noqa: F401
                                                HailoRTException, HailoSchedulingAlgorithm, VDevice)

import os as _os

# The real package sets it to its release (hailo_platform/__init__.py 41, "5.1.1"), checked against
# _pyhailort.__version__; here $HAILO_SIM_VERSION picks the binding being simulated.
__version__ = _os.environ.get("HAILO_SIM_VERSION", "5.1.1")
