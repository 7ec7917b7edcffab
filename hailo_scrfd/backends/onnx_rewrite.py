"""In-memory rewrites of an SCRFD ONNX export: a uint8 image input, any input size, any batch.

:func:`with_uint8_input` moves the normalisation into the graph, so the backend feeds the
letterboxed uint8 canvas itself, as a HEF (which has it compiled in) takes it.

:func:`make_dynamic` frees the input's height and width when that is safe. SCRFD is fully
convolutional and its output Reshapes are ``[1, -1, C]``, so that is enough for exports that
compute their FPN upsampling sizes from the tensors. Exports whose ``Resize`` nodes carry
constant ``sizes`` (InsightFace's ``scrfd_2.5g_bnkps.onnx`` has two) get those turned into the
equivalent constant ``scales``, which is exact at the exported size and correct at every other.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

UINT8_INPUT = "image_uint8"


def with_uint8_input(model: onnx.ModelProto, mean: float, std: float) -> onnx.ModelProto:
    """A copy of ``model`` that takes a uint8 NHWC RGB image instead of the float NCHW tensor.

    Cast, transpose and ``(x - mean) / std`` run as the first nodes, inside the engine: the
    outputs are bit-identical to normalising in numpy, and the host skips a full-size float
    pass (and a GPU receives uint8 instead of float32, a quarter of the bytes).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]  # old IR versions list weights too
    dims = inputs[0].type.tensor_type.shape.dim if len(inputs) == 1 else []
    if len(dims) != 4 or dims[1].dim_value != 3 or inputs[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ValueError("expected one float NCHW input with 3 channels")
    old = inputs[0]
    shape = [d.dim_param or d.dim_value or None for d in (dims[0], dims[2], dims[3])]
    image = helper.make_tensor_value_info(UINT8_INPUT, TensorProto.UINT8, [*shape, 3])
    graph.initializer.extend([helper.make_tensor("input_mean", TensorProto.FLOAT, [], [mean]),
                              helper.make_tensor("input_scale", TensorProto.FLOAT, [], [1.0 / std])])
    for node in reversed([
        helper.make_node("Cast", [UINT8_INPUT], ["input_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["input_float"], ["input_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Sub", ["input_nchw", "input_mean"], ["input_centred"]),
        helper.make_node("Mul", ["input_centred", "input_scale"], [old.name]),
    ]):
        graph.node.insert(0, node)
    graph.input.remove(old)
    graph.input.append(image)
    return model


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


def with_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with a symbolic batch dimension, for dynamic batching.

    SCRFD's output Reshapes are ``[1, -1, C]``: the 1 becomes 0 (copy the batch from the input),
    so a batch of N gives ``(N, anchors, C)`` instead of folding the images into the anchors.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    shapes = {i.name: i for i in model.graph.initializer}
    shapes.update({n.output[0]: n.attribute[0].t for n in model.graph.node if n.op_type == "Constant"})
    for name in {n.input[1] for n in model.graph.node if n.op_type == "Reshape" and n.input[1] in shapes}:
        shape = numpy_helper.to_array(shapes[name])
        if shape.ndim == 1 and len(shape) == 3 and shape[0] == 1:
            shapes[name].CopyFrom(numpy_helper.from_array(np.array([0, *shape[1:]], np.int64), shapes[name].name))
    for value in (model.graph.input[0], *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return model


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
