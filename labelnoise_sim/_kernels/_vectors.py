"""8-lane vectors and their five primitives, and the decorators every kernel takes (``_kernel``, ``_inner``).

Each primitive is an intrinsic when numba compiles and an ordinary NumPy function of 8-element arrays under
``NUMBA_DISABLE_JIT=1``."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config as numba_config
from numba import njit, types
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic, models, register_model


#: Lanes of a vector: one zmm register with AVX-512, two ymm registers with AVX2.
LANES = 8


# 8-lane vectors -----------------------------------------------------------


class _VectorType(types.Type):
    def __init__(self):
        super().__init__(name=f"float64x{LANES}")


#: numba type of an LLVM vector of 8 doubles; in plain Python, an ndarray of 8.
vector = _VectorType()


@register_model(_VectorType)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.DoubleType(), LANES))


def _lanes_at(context, builder, array_type, array, i):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [i]), ir.VectorType(ir.DoubleType(), LANES).as_pointer())


def _is_c_float_array(a):
    return isinstance(a, types.Array) and a.layout == "C" and a.dtype == types.float64


@intrinsic
def _vload(typingctx, a, i):
    def codegen(context, builder, sig, args):
        return builder.load(_lanes_at(context, builder, sig.args[0], args[0], args[1]), align=8)

    return (vector(a, i), codegen) if _is_c_float_array(a) else None


@intrinsic
def _vstore(typingctx, a, i, v):
    def codegen(context, builder, sig, args):
        builder.store(args[2], _lanes_at(context, builder, sig.args[0], args[0], args[1]), align=8)
        return context.get_dummy_value()

    return (types.void(a, i, vector), codegen) if _is_c_float_array(a) else None


@intrinsic
def _vbroadcast(typingctx, x):
    def codegen(context, builder, sig, args):
        lanes = ir.VectorType(ir.DoubleType(), LANES)
        first = builder.insert_element(ir.Constant(lanes, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(first, first, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))

    return vector(types.float64), codegen


@intrinsic
def _vmul(typingctx, u, v):
    return vector(vector, vector), lambda context, builder, sig, args: builder.fmul(*args)


@intrinsic
def _vadd(typingctx, u, v):
    return vector(vector, vector), lambda context, builder, sig, args: builder.fadd(*args)


# The same five operations on 8-element NumPy arrays, for NUMBA_DISABLE_JIT=1.


def _vload_numpy(a, i):
    """Elements i..i+7 of the C-contiguous float64 array ``a`` (flat index), as a vector."""
    return a.reshape(-1)[i : i + LANES].copy()


def _vstore_numpy(a, i, v):
    """Write the vector ``v`` to elements i..i+7 of the C-contiguous array ``a`` (flat index)."""
    a.reshape(-1)[i : i + LANES] = v


def _vbroadcast_numpy(x):
    """The scalar ``x`` in every lane."""
    return np.full(LANES, x, dtype=np.float64)


def _vmul_numpy(u, v):
    """Lane-wise product, rounded once per lane."""
    return u * v


def _vadd_numpy(u, v):
    """Lane-wise sum, rounded once per lane."""
    return u + v


# The primitives the kernels call: the intrinsics when numba compiles, the
# NumPy definitions when it does not. (An overload of the NumPy functions
# would serve both, but numba types an overload anew at every call site and
# that made the first compilation several times slower.)
if numba_config.DISABLE_JIT:
    vload, vstore, vbroadcast, vmul, vadd = _vload_numpy, _vstore_numpy, _vbroadcast_numpy, _vmul_numpy, _vadd_numpy
else:
    vload, vstore, vbroadcast, vmul, vadd = _vload, _vstore, _vbroadcast, _vmul, _vadd


def _kernel(**options):
    """``njit`` as every kernel here takes it: cached on disk; ``error_model="numpy"`` (no kernel divides by
    zero: every divisor is a size >= 1, a positive parameter or guarded, and the ZeroDivisionError paths
    would only lengthen the compilation); no C wrapper (nothing takes a kernel's address), one function less
    for LLVM to optimise and emit on a process's first call."""
    return njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, **options)


def _inner(**options):
    """``_kernel`` for a kernel that only other kernels call: no CPython wrapper either. Called from Python,
    such a kernel raises TypeError (without the wrapper, the call would jump to address 0)."""

    def decorate(function):
        dispatcher = _kernel(no_cpython_wrapper=True, **options)(function)
        if not numba_config.DISABLE_JIT:
            try:
                dispatcher.__class__ = _InnerDispatcher
            except TypeError:  # a numba whose dispatchers take no new class: the guard is lost, not the kernel
                pass
        return dispatcher

    return decorate


class _InnerDispatcher(CPUDispatcher):
    """The dispatcher of an ``_inner`` kernel: kernels call it as any other; Python may not."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__name__} has no CPython wrapper: only kernels call it")


# A kernel called from a kernel is compiled once per tuple of argument types, and a constant argument (0, True)
# has a literal type of its own; a loop counter that starts at a constant is typed first as that literal, which
# is enough to compile the callee for it. Hence ``np.int64(0)`` and ``np.bool_(...)`` in such places: one
# compilation of the callee instead of two or four.
