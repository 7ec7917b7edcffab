"""HailoRT failures as one actionable line each, and the checks that run before HailoRT is touched.

Class names and messages are pyhailort's (``ExceptionWrapper.create_exception_from_status``
in ``hailo_platform/pyhailort/pyhailort.py``): a status without a class of its own comes as
``HailoRTException("libhailort failed with error: <code> (<HAILO_STATUS name>)")``; codes are
``HAILO_STATUS__X`` in ``hailort/libhailort/include/hailo/hailort.h``. Names and status
texts are matched, never imported, so this module works without ``hailo_platform``.
"""

from __future__ import annotations

import glob
import os

from ..errors import ModelLoadError

DEVICE_NODES = "/dev/hailo*"

# Who may share the device (HailoRT 5.1.1): on a Hailo-10H, processes whose VDevices use the same group, not
# UNIQUE (hailort_server.cpp 62-75); on a Hailo-8 without HailoRT's multi-process service, one process only,
# whatever the group (vdevice.cpp 120-126 shares within a process, 539 marks the device used).
BUSY = ("the Hailo device is busy: another process holds it (find it with `lsof /dev/hailo0`; on a Hailo-10H "
        "give both processes the same hailo.group_id, not UNIQUE; a Hailo-8 serves one process at a time)")
BUSY_BY_CHIP = {
    "hailo10h": ("the Hailo device is busy: another process holds it in another scheduler group or in group UNIQUE "
                 "(find it with `lsof /dev/hailo0`; stop it, or give both processes the same hailo.group_id, "
                 "not UNIQUE)"),
    "hailo8": ("the Hailo device is busy: another process holds it, and a Hailo-8 serves one process at a time "
               "whatever hailo.group_id says (find it with `lsof /dev/hailo0` and stop it)"),
}


def chip_key(arch: str) -> str:
    """The :data:`BUSY_BY_CHIP` key of a device architecture name (``hailo10h``, ``hailo8l``...), or ""."""
    arch = arch.lower()
    return "hailo10h" if "10" in arch else "hailo8" if arch.startswith("hailo8") else ""


def import_hailo_platform():
    """The HailoRT Python binding, or a one-line ModelLoadError saying how to get it."""
    try:
        import hailo_platform
    except ImportError as exc:
        if "does not match" in str(exc):  # hailo_platform's own _pyhailort/pyhailort version check
            raise ModelLoadError(f"HailoRT Python binding is inconsistent ({exc}): reinstall hailo-h10-all") from None
        raise ModelLoadError("hailo_platform is not installed: on the Pi install Hailo's apt package "
                             "hailo-h10-all and create the venv with --system-site-packages") from None
    return hailo_platform


def _hef_line(name: str, text: str, model_path: str) -> str | None:
    if name == "HailoRTHEFNotCompatibleWithDevice":
        return (f"{model_path} was compiled for a different Hailo chip than the one installed: "
                "use the HEF built for hailo10h "
                "(hailo-apps installs it under /usr/local/hailo/resources/models/hailo10h/)")
    if name == "HailoRTInvalidHEFException":  # HailoRT 4.x: bad magic, unknown extensions and parse errors alike
        return (f"{model_path} is not a valid HEF for this HailoRT (corrupt, or compiled by a Dataflow Compiler "
                "newer than the installed HailoRT): download it again or update hailo-h10-all")
    if "HAILO_HEF_NOT_SUPPORTED" in text:  # 92 in HailoRT 5.x: wrong magic, or extensions it does not know
        return (f"{model_path} is not a HEF this HailoRT supports (not a HEF at all, or compiled by a Dataflow "
                "Compiler newer than the installed HailoRT): compare `hailortcli parse-hef` with `hailortcli "
                "--version`, then use a HEF built for this HailoRT or update hailo-h10-all")
    if "HAILO_HEF_FILE_CORRUPTED" in text:  # 91: size or checksum mismatch, unparsable contents
        return f"{model_path} is corrupted (a truncated or damaged copy): download it again"
    return None


def explain(exc: BaseException, model_path: str, chip: str = "") -> str:
    """One actionable line for a HailoRT failure at start-up; ``chip`` ("hailo10h", "hailo8" or "") picks
    the advice on a busy device."""
    name, text = type(exc).__name__, str(exc)
    hef_line = _hef_line(name, text, model_path)
    if hef_line:
        return hef_line
    if "HAILO_OUT_OF_PHYSICAL_DEVICES" in text or "HAILO_DEVICE_IN_USE" in text:
        return BUSY_BY_CHIP.get(chip, BUSY)
    if "HAILO_INVALID_DRIVER_VERSION" in text or "different from library version" in text:
        return ("the hailo1x_pci kernel driver and the HailoRT library have different versions: install matching "
                "versions (`sudo apt install --reinstall hailo-h10-all`) and reboot")
    if name in ("HailoRTDriverOperationFailedException", "HailoRTPCIeDriverException") or "PERMISSION" in text.upper():
        return ("cannot use /dev/hailo0 (driver operation failed; often a permission problem): run the service as a "
                "user in the group that owns /dev/hailo0, and check `dmesg | grep hailo`")
    if name == "HailoCommunicationClosedException":
        return "the Hailo device closed the connection: check `dmesg | grep hailo`; the service retries automatically"
    if name == "HailoRTTimeout":
        return "the Hailo device did not answer in time: check `dmesg | grep hailo`"
    return f"HailoRT failed: {name}: {text}"


def check_device_nodes(pattern: str = DEVICE_NODES) -> None:
    """Fail early, and clearly, when the device nodes exist but this user may not open them."""
    for node in sorted(glob.glob(pattern)):
        if not os.access(node, os.R_OK | os.W_OK):
            raise ModelLoadError(f"no permission on {node}: run the service as a user in the group that owns it "
                                 f"(`ls -l {node}`), e.g. `sudo usermod -aG $(stat -c %G {node}) hailo-scrfd`")
