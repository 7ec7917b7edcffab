"""Make an SCRFD ONNX export accept any input size (a multiple of 32), in memory, when that is safe.

SCRFD is fully convolutional and its output Reshapes are ``[1, -1, C]``, so freeing the
input's H and W is enough for exports that compute their FPN upsampling sizes from the
tensors. Exports whose ``Resize`` nodes carry constant ``sizes`` (InsightFace's
``scrfd_2.5g_bnkps.onnx`` has two) get those turned into the equivalent constant
``scales``, which is exact at the exported size and correct at every other one.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def make_dynamic(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of ``model`` with symbolic input height/width; returns (model, Resize nodes rewritten)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    inferred = shape_inference.infer_shapes(model)
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(inferred.graph.value_info) + list(inferred.graph.input)}
    initializers = {i.name: i for i in model.graph.initializer}
    constants = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    rewritten = 0
    for node in model.graph.node:
        if node.op_type != "Resize" or len(node.input) != 4 or not node.input[3]:
            continue
        source = node.input[3]
        if source in initializers:
            sizes = numpy_helper.to_array(initializers[source])
        elif source in constants:
            sizes = numpy_helper.to_array(constants[source].attribute[0].t)
        else:
            continue  # computed from shapes at run time: already dynamic
        in_shape = shapes.get(node.input[0])
        if not in_shape or len(in_shape) != len(sizes) or 0 in in_shape:
            raise ValueError(f"cannot infer the input shape of Resize node {node.name!r}")
        scales = numpy_helper.from_array((sizes / np.array(in_shape)).astype(np.float32), f"{node.name}_scales")
        model.graph.initializer.append(scales)
        node.input[2] = scales.name
        del node.input[3]
        rewritten += 1
    _drop_unused_initializers(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in model.graph.output:
        for dim in output.type.tensor_type.shape.dim[:-1]:
            if dim.dim_value > 1:
                dim.dim_param = "anchors"
    del model.graph.value_info[:]  # shapes inferred at the export size no longer hold
    return model, rewritten


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
