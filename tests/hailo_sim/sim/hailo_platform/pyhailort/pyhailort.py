"""A simulated Hailo-10H or Hailo-8 behind the subset of ``hailo_platform`` that hailo-scrfd uses.

Test double only. Names, signatures, exception classes, messages and status codes follow
HailoRT 5.x (``hailo-ai/hailort``): ``hailo_platform/pyhailort/pyhailort.py`` (the Python
wrapper), ``bindings/python/src/infer_model_api.cpp`` and ``pyhailort.cpp`` (the binding),
``net_flow/pipeline/configured_infer_model_hrpc_client.cpp`` (Hailo-10H) and
``infer_model.cpp`` (Hailo-8), ``hef/hef.cpp`` and ``include/hailo/hailort.h``. Where the
chips differ, :data:`SIM.arch <_sim.SimState>` picks the behaviour (see ``_sim.py``).

The "device" runs the SCRFD ONNX model named in the simulated HEF with ONNX Runtime on
the raw uint8 input bytes (the HEF's normalisation runs "on chip") and writes the HEF's
nine NHWC outputs, quantized per tensor or per channel with the HEF's parameters, or
dequantized when the output's format type is FLOAT32. Like HailoRT:

* ``set_buffer`` checks only C-contiguity; the byte size is checked at ``run_async``
  (HAILO_INVALID_OPERATION), and the bytes are reinterpreted, never converted;
* ``ConfiguredInferModel.__exit__`` only drops the wrapper's reference; the native
  object shuts down when the last reference goes (a thread inside one of its calls
  keeps it alive), which may be after ``VDevice.release()``;
* the binding creates its callback thread on the first ``run_async`` without a lock:
  two threads making that first call together end the process (here: ``SIM.crashed``);
* a vstream with on-chip NMS has no ``shape``; per-channel quantization reads
  ``quant_info`` {0, 0, 0, 0} (INVALID_QUANT_INFO), the real values are in
  ``InferModel.output(name).quant_infos``.
"""

from __future__ import annotations

import json
import os
import weakref
from types import SimpleNamespace

import numpy as np

from ._common import (AsyncInferCompletionInfo, AsyncInferJob, DeviceArchitectureTypes,  # noqa: F401
                      FormatOrder, FormatType, HailoCommunicationClosedException, HailoRTCustomException,
                      HailoSchedulingAlgorithm,
                      HailoRTDriverOperationFailedException, HailoRTException, HailoRTHEFNotCompatibleWithDevice,
                      HailoRTInvalidArgumentException, HailoRTInvalidHEFException, HailoRTInvalidOperationException,
                      HailoRTNotFoundException, HailoRTStreamAborted, HailoRTTimeout, SimulatedProcessAbort,
                      status_error)
from . import _sim_groups as _groups
from ._sim import SIM, rpc
from ._sim_device import ConfiguredInferModel, NativeConfiguredInferModel


class QuantInfo:
    def __init__(self, qp_zp: float = 0.0, qp_scale: float = 0.0, limvals_min: float = 0.0,
                 limvals_max: float = 0.0):
        self.qp_zp, self.qp_scale, self.limvals_min, self.limvals_max = qp_zp, qp_scale, limvals_min, limvals_max


INVALID_QUANT_INFO = QuantInfo(0.0, 0.0, 0.0, 0.0)  # hailort.h: "there are multiple quant_infos"


def _quant_infos(spec: dict) -> list[QuantInfo]:
    scale, zp = spec["scale"], spec["zero_point"]
    if isinstance(scale, list):
        return [QuantInfo(z, s) for s, z in zip(scale, zp, strict=True)]
    return [QuantInfo(zp, scale)]


class VStreamInfo:
    """``_pyhailort.VStreamInfo``: ``shape`` raises for NMS orders that have none (pyhailort.cpp)."""

    def __init__(self, spec: dict, network: str, is_input: bool):
        self._spec = spec
        self.name = spec["name"]
        self.network_name = network
        order = FormatOrder[spec.get("order", "NHWC")]
        if not is_input and order == FormatOrder.NHWC and os.environ.get("HAILO_DISABLE_PP") == "1":
            # post-processing disabled (common/utils.hpp 370): the vstream keeps the layer's hardware order
            # and shape (hef/layer_info.hpp 322-323, hef.cpp 2135-2136), and the bytes come in that order
            order = FormatOrder.NHCW
        self.format = SimpleNamespace(type=FormatType[spec.get("type", "UINT8")], order=order)
        infos = [QuantInfo(0.0, 1.0)] if is_input else _quant_infos(spec)
        self.quant_info = infos[0] if len(infos) == 1 else INVALID_QUANT_INFO
        self.quant_infos = infos

    @property
    def shape(self):
        if self.format.order in (FormatOrder.HAILO_NMS_BY_SCORE, FormatOrder.HAILO_NMS_WITH_BYTE_MASK):
            raise HailoRTCustomException("Format order has no shape")
        if self.format.order == FormatOrder.HAILO_NMS_BY_CLASS:
            return (1, 5, 100)
        return tuple(self._spec["shape"])


# -- HEF ----------------------------------------------------------------------------------

SUPPORTED_EXTENSIONS = {"periph_calculation_in_hailort"}


class HEF:
    """``HEF(path)`` parses at once, with hef.cpp's status codes (HailoRT 5.x)."""

    def __init__(self, hef_source):
        if not isinstance(hef_source, str):
            raise ValueError("HEF can only be created from a file path (str) or a buffer (bytes)")
        try:
            with open(hef_source, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise status_error(13, "HAILO_OPEN_FILE_FAILURE") from None
        if not raw.startswith(b'{\n "sim_hef": 1'):
            raise status_error(92, "HAILO_HEF_NOT_SUPPORTED")  # "HEF magic does not match"
        try:
            spec = json.loads(raw)
        except ValueError:
            raise status_error(91, "HAILO_HEF_FILE_CORRUPTED") from None  # "Failed parsing HEF file"
        if set(spec.get("extensions", ())) - SUPPORTED_EXTENSIONS:
            raise status_error(92, "HAILO_HEF_NOT_SUPPORTED")  # compiled by a newer Dataflow Compiler
        self._spec = spec
        self._path = hef_source

    @property
    def path(self):
        return self._path

    def get_network_group_names(self):
        return [self._spec["network"]]

    def get_input_vstream_infos(self, name=None):
        return [VStreamInfo(self._spec["input"], self._spec["network"], True)]

    def get_output_vstream_infos(self, name=None):
        return [VStreamInfo(o, self._spec["network"], False) for o in self._spec["outputs"]]


# -- devices ------------------------------------------------------------------------------

class Device:
    @classmethod
    def scan(cls):
        SIM.sync()
        return list(SIM.device_ids)

    def __init__(self, device_id=None):
        SIM.sync()
        if device_id is None:
            if not SIM.device_ids:
                raise HailoRTException("HailoRT device not found in the system")
            device_id = SIM.device_ids[0]
        if device_id not in SIM.device_ids:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        self._device_id = device_id
        self.control = SimpleNamespace(identify=self._identify)

    def _identify(self):
        arch = DeviceArchitectureTypes[SIM.arch.upper()]
        return SimpleNamespace(firmware_version=f"{SIM.firmware} (release,app)", device_architecture=arch,
                               board_name="Hailo-10H" if arch == DeviceArchitectureTypes.HAILO10H else "Hailo-8",
                               serial_number="SIM0001", product_name="simulated")

    @property
    def device_id(self):
        return self._device_id

    def release(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.release()
        return False


class VDevice:
    def __init__(self, params=None, *, device_ids=None):
        SIM.sync()
        self._params = params or VDevice.create_params()
        self._released = True
        if getattr(self._params, "multi_process_service", False) and SIM.arch == "hailo10h":
            # vdevice.cpp validate_params: "Hailo-10H supports multi-process functionality without requiring a service"
            raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        error, SIM.vdevice_error = SIM.vdevice_error, None
        if error is not None:
            raise error
        if not SIM.device_ids:
            raise status_error(74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
        group = str(getattr(self._params, "group_id", _groups.UNIQUE))
        rpc("VDEVICE__CREATE")
        if not _groups.may_open(group):
            # a device in use is skipped unless the caller named it (vdevice.cpp 539, vdevice_hrpc_client.cpp 60-71)
            raise status_error(73, "HAILO_DEVICE_IN_USE") if device_ids else status_error(
                74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
        self._registration = _groups.register(group)
        self._released = False
        self._using_service = bool(getattr(self._params, "multi_process_service", False))
        self._natives: weakref.WeakSet[NativeConfiguredInferModel] = weakref.WeakSet()
        with SIM.lock:
            SIM.vdevices_created += 1
            SIM.open_vdevices += 1

    @staticmethod
    def create_params():
        return SimpleNamespace(scheduling_algorithm=HailoSchedulingAlgorithm.ROUND_ROBIN, group_id="UNIQUE",
                               multi_process_service=False, device_count=1)

    def get_physical_devices_ids(self):
        return list(SIM.device_ids)

    def create_infer_model(self, hef_source, name=""):
        if self._released:
            raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        hef = HEF(hef_source)
        if hef._spec["arch"] != SIM.arch:
            raise HailoRTHEFNotCompatibleWithDevice(
                "HEF file is not compatible with device. See hailort.log for more information")
        return InferModel(self, hef)

    @property
    def released(self) -> bool:
        return self._released

    def release(self):
        if self._released:
            return
        self._released = True
        SIM.event("release")
        for native in list(self._natives):
            native.on_vdevice_released()
        with SIM.lock:
            SIM.open_vdevices -= 1
        _groups.unregister(self._registration)
        for what in ("INFER_MODEL__DESTROY", "VDEVICE__DESTROY"):  # ~InferModelHrpcClient, ~VDeviceHrpcClient
            try:
                rpc(what)
            except HailoRTTimeout:
                pass  # a destructor only logs its failure

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.release()
        return False


# -- InferModel ---------------------------------------------------------------------------

class InferModel:
    class InferStream:
        def __init__(self, info: VStreamInfo):
            self._info = info
            self._type = info.format.type

        @property
        def name(self):
            return self._info.name

        @property
        def shape(self):
            return list(self._info.shape)

        @property
        def format(self):
            return SimpleNamespace(type=self._type, order=self._info.format.order)

        @property
        def quant_infos(self):
            return list(self._info.quant_infos)

        def is_nms(self):
            return "NMS" in self._info.format.order.name

        def set_format_type(self, type):
            if not isinstance(type, FormatType):
                raise HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")
            self._type = type

        def frame_size(self) -> int:
            if self.is_nms():
                return int(self._info._spec.get("frame_size", 0))
            itemsize = {FormatType.UINT8: 1, FormatType.UINT16: 2, FormatType.FLOAT32: 4}[self._type]
            return int(np.prod(self._info.shape)) * itemsize

    def __init__(self, vdevice: VDevice, hef: HEF):
        self._vdevice = vdevice
        self._hef = hef
        self._batch_size = 0
        self._input = self.InferStream(hef.get_input_vstream_infos()[0])
        self._outputs = {i.name: self.InferStream(i) for i in hef.get_output_vstream_infos()}

    @property
    def hef(self):
        return self._hef

    @property
    def input_names(self):
        return [self._input.name]

    @property
    def output_names(self):
        return list(self._outputs)

    @property
    def inputs(self):
        return [self._input]

    @property
    def outputs(self):
        return list(self._outputs.values())

    def set_batch_size(self, batch_size):
        if batch_size < 1:
            raise HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")
        self._batch_size = batch_size

    def input(self, name=""):
        if name not in ("", self._input.name):
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        return self._input

    def output(self, name=""):
        if name == "" and len(self._outputs) != 1:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        try:
            return self._outputs[name] if name else next(iter(self._outputs.values()))
        except KeyError:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information") from None

    def configure(self):
        if self._vdevice.released:
            raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        native = NativeConfiguredInferModel(self, self._vdevice)
        self._vdevice._natives.add(native)
        return ConfiguredInferModel(native, self)


__all__ = ["HEF", "Device", "VDevice", "InferModel", "ConfiguredInferModel", "AsyncInferJob",
           "AsyncInferCompletionInfo", "FormatType", "FormatOrder", "HailoSchedulingAlgorithm", "QuantInfo",
           "SIM", "SimulatedProcessAbort", "status_error"]
