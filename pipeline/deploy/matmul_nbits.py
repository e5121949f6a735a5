"""ONNX Runtime's `com.microsoft.MatMulNBits` (4- or 8-bit block-quantized MatMul weights) written from
integer weights that were already chosen elsewhere (torchao PTQ or QAT), so the deployed model uses the
very numbers the torch model was evaluated with.

Layout (onnxruntime ContribOperators.md): B is uint8 (N, blocks, block_size * bits / 8), each column
of the (K, N) weight split into blocks along K, 4-bit values two per byte, low nibble first; values are
unsigned with the zero point `2^(bits-1)` when no zero points are given; `scales` is (N * blocks).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_BLOCK = 16


def block_size_for(group: int | None, k: int) -> int:
    """MatMulNBits block size for a group size (None = one block per column, rounded up to a power of 2)."""
    if group is not None:
        return max(MIN_BLOCK, group)
    size = MIN_BLOCK
    while size < k:
        size *= 2
    return size


def pack_matmul_nbits(
    qvalues: np.ndarray, scales: np.ndarray, zero_points: np.ndarray | None, bits: int, block_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Pack signed integer weights for MatMulNBits.

    Args:
        qvalues: (N, K) signed integers (torch layout: one row per output), in [-2^(bits-1), 2^(bits-1) - 1].
        scales: (N, K / block_size) float scales (one per block of a row).
        zero_points: (N, K / block_size) signed zero points, or None for symmetric weights (zero point 0).
        bits: 4 or 8.
        block_size: Elements of a row sharing a scale (a power of two >= 16).

    Returns:
        (B as uint8 (N, blocks, blob), scales flattened (N * blocks), packed uint8 zero points or None).
    """
    n, k = qvalues.shape
    blocks = -(-k // block_size)
    offset = 1 << (bits - 1)
    unsigned = np.full((n, blocks * block_size), offset, dtype=np.uint8)  # padding dequantizes to 0
    unsigned[:, :k] = (qvalues.astype(np.int32) + offset).astype(np.uint8)
    if bits == 4:
        pairs = unsigned.reshape(n, blocks, block_size // 2, 2)
        packed = (pairs[..., 0] | (pairs[..., 1] << 4)).astype(np.uint8)
    else:
        packed = unsigned.reshape(n, blocks, block_size)
    scales = np.ascontiguousarray(scales, dtype=np.float32).reshape(n, blocks)
    if zero_points is None:
        return packed, scales.reshape(-1), None
    zero_unsigned = (np.asarray(zero_points, dtype=np.int32).reshape(n, blocks) + offset).astype(np.uint8)
    if bits == 4:
        if blocks % 2:
            zero_unsigned = np.concatenate([zero_unsigned, np.full((n, 1), offset, np.uint8)], axis=1)
        pairs = zero_unsigned.reshape(n, -1, 2)
        zero_packed = (pairs[..., 0] | (pairs[..., 1] << 4)).astype(np.uint8).reshape(-1)
    else:
        zero_packed = zero_unsigned.reshape(-1)
    return packed, scales.reshape(-1), zero_packed


def unpack_matmul_nbits(
    packed: np.ndarray, zero_points: np.ndarray | None, k: int, n: int, bits: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(unsigned values (N, K), their zero points broadcast to (N, K)) of a MatMulNBits weight."""
    blocks = -(-k // block_size)
    packed = packed.reshape(n, blocks, -1)
    if bits == 4:
        values = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, blocks * block_size)
    else:
        values = packed.reshape(n, blocks * block_size)
    offset = 1 << (bits - 1)
    if zero_points is None:
        zero = np.full((n, blocks), offset, dtype=np.uint8)
    elif bits == 4:
        zp = zero_points.reshape(n, -1)
        zero = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)[:, :blocks]
    else:
        zero = zero_points.reshape(n, blocks)
    zero_full = np.repeat(zero, block_size, axis=1)
    return values[:, :k], zero_full[:, :k]


def replace_matmul_with_nbits(
    model: onnx.ModelProto,
    node_name: str,
    qvalues: np.ndarray,
    scales: np.ndarray,
    zero_points: np.ndarray | None,
    *,
    bits: int,
    group: int | None,
    accuracy_level: int,
) -> None:
    """Swap one float MatMul (constant B of shape (K, N)) for MatMulNBits holding the given integers.

    `qvalues`, `scales` and `zero_points` use torch's (N, K) row layout; per-channel or per-tensor
    weights (group None) become one block per column. `accuracy_level` 4 computes with int8 activations
    quantized at run time (ONNX Runtime's "int8 dynamic activation" path); 0 computes in float.
    """
    graph = model.graph
    node = next((n for n in graph.node if n.name == node_name and n.op_type == "MatMul"), None)
    if node is None:
        raise ValueError(f"no MatMul node named {node_name!r} to replace")
    inits = {t.name: t for t in graph.initializer}
    weight = inits[node.input[1]]
    k, n = weight.dims
    block = block_size_for(group, k)
    blocks = -(-k // block)
    scales = np.asarray(scales, dtype=np.float32).reshape(n, -1)
    if scales.shape[1] != blocks:  # per-tensor / per-row scales repeated over the blocks of a row
        scales = np.repeat(scales[:, :1], blocks, axis=1) if scales.shape[1] == 1 else scales
    if zero_points is not None:
        zero_points = np.asarray(zero_points).reshape(n, -1)
        if zero_points.shape[1] != blocks and zero_points.shape[1] == 1:
            zero_points = np.repeat(zero_points, blocks, axis=1)
    packed, flat_scales, packed_zero = pack_matmul_nbits(qvalues, scales, zero_points, bits, block)
    prefix = f"{node_name}.nbits"
    new_inits = [
        numpy_helper.from_array(packed, f"{prefix}.B"),
        numpy_helper.from_array(flat_scales, f"{prefix}.scales"),
    ]
    inputs = [node.input[0], f"{prefix}.B", f"{prefix}.scales"]
    if packed_zero is not None:
        new_inits.append(numpy_helper.from_array(packed_zero, f"{prefix}.zero_points"))
        inputs.append(f"{prefix}.zero_points")
    replacement = helper.make_node(
        "MatMulNBits",
        inputs,
        list(node.output),
        name=node_name,
        domain="com.microsoft",
        K=k,
        N=n,
        bits=bits,
        block_size=block,
        accuracy_level=accuracy_level,
    )
    position = list(graph.node).index(node)
    graph.node.remove(node)
    graph.node.insert(position, replacement)
    graph.initializer.extend(new_inits)
    still_used = any(weight.name in other.input for other in graph.node)
    if not still_used:
        graph.initializer.remove(weight)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
