"""A fake ``tensorrt`` module and cuda-python runtime that record what the builder is asked to do.

The fake parses the ONNX file with ``onnx`` (inputs, outputs, QuantizeLinear layers), "builds" a plan that
is JSON of the network's I/O and the builder settings, and, when an INT8 calibrator is set, behaves as
TensorRT does: reads the calibration cache first and, only when there is none, pulls every batch with
``get_batch`` (copying the device bytes back to check the data) and writes a cache.
"""

from __future__ import annotations

import ctypes
import json
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx


@dataclass
class Build:
    """One ``build_serialized_network`` call."""

    model: str
    flags: set[str]
    workspace: int
    profiles: list[dict[str, tuple[list[int], list[int], list[int]]]]
    calibration_profile: dict[str, tuple[list[int], list[int], list[int]]] | None
    calibrator: bool
    cache_read: bool = False
    batches: list[np.ndarray] = field(default_factory=list)
    batch_size: int | None = None


@dataclass
class Recorder:
    """What the fakes saw."""

    builds: list[Build] = field(default_factory=list)
    loads: int = 0
    device: dict[int, bytes] = field(default_factory=dict)


class _Tensor:
    def __init__(self, name: str, shape: list[int]) -> None:
        self.name, self.shape = name, shape


def _dims(vi: Any) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim]


def make_module(rec: Recorder) -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.99.0-fake"  # type: ignore[attr-defined]

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class BuilderFlag:
        FP16 = "FP16"
        INT8 = "INT8"

    class MemoryPoolType:
        WORKSPACE = "WORKSPACE"

    class LayerType:
        QUANTIZE = "QUANTIZE"
        OTHER = "OTHER"

    class TensorIOMode:
        INPUT = "INPUT"
        OUTPUT = "OUTPUT"

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            pass

    class Network:
        def __init__(self) -> None:
            self.inputs: list[_Tensor] = []
            self.outputs: list[_Tensor] = []
            self.layers: list[str] = []
            self.name = ""

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, i: int) -> _Tensor:
            return self.inputs[i]

        @property
        def num_layers(self) -> int:
            return len(self.layers)

        def get_layer(self, i: int) -> Any:
            return types.SimpleNamespace(type=self.layers[i])

    class OnnxParser:
        def __init__(self, network: Network, logger: Logger) -> None:
            self.network = network
            self.num_errors = 0

        def parse(self, data: bytes) -> bool:
            try:
                model = onnx.load_from_string(data)
            except Exception:
                self.num_errors = 1
                return False
            g = model.graph
            inits = {i.name for i in g.initializer}
            self.network.name = g.name
            self.network.inputs = [_Tensor(v.name, _dims(v)) for v in g.input if v.name not in inits]
            self.network.outputs = [_Tensor(v.name, _dims(v)) for v in g.output]
            self.network.layers = [
                LayerType.QUANTIZE if n.op_type == "QuantizeLinear" else LayerType.OTHER for n in g.node
            ]
            return True

        def get_error(self, i: int) -> str:
            return "not an ONNX model"

    class Profile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[list[int], list[int], list[int]]] = {}

        def set_shape(self, name: str, lo: list[int], opt: list[int], hi: list[int]) -> None:
            self.shapes[name] = (list(lo), list(opt), list(hi))

    class Config:
        def __init__(self) -> None:
            self.flags: set[str] = set()
            self.workspace = 0
            self.profiles: list[Profile] = []
            self.calibration_profile: Profile | None = None
            self.int8_calibrator: Any = None

        def set_memory_pool_limit(self, pool: str, size: int) -> None:
            self.workspace = size

        def set_flag(self, flag: str) -> None:
            self.flags.add(flag)

        def add_optimization_profile(self, p: Profile) -> int:
            self.profiles.append(p)
            return len(self.profiles) - 1

        def set_calibration_profile(self, p: Profile) -> None:
            self.calibration_profile = p

    class Builder:
        def __init__(self, logger: Logger) -> None:
            pass

        def create_network(self, flags: int) -> Network:
            return Network()

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Config) -> bytes:
            build = Build(
                model=network.name,
                flags=set(config.flags),
                workspace=config.workspace,
                profiles=[p.shapes for p in config.profiles],
                calibration_profile=config.calibration_profile.shapes if config.calibration_profile else None,
                calibrator=config.int8_calibrator is not None,
            )
            rec.builds.append(build)
            cal = config.int8_calibrator
            if cal is not None:
                if cal.read_calibration_cache() is not None:
                    build.cache_read = True
                else:
                    build.batch_size = cal.get_batch_size()
                    names = [t.name for t in network.inputs]
                    prof = build.calibration_profile
                    shape = prof[names[0]][1] if prof else network.inputs[0].shape
                    while (ptrs := cal.get_batch(names)) is not None:
                        raw = rec.device[ptrs[0]]
                        build.batches.append(np.frombuffer(raw, np.float32).reshape(shape).copy())
                    cal.write_calibration_cache(b"FAKE-CALIB:" + network.name.encode())
            profile = config.profiles[0].shapes if config.profiles else {}
            io = [(t.name, t.shape, "INPUT", profile.get(t.name)) for t in network.inputs]
            io += [(t.name, t.shape, "OUTPUT", None) for t in network.outputs]
            return json.dumps({"io": io, "flags": sorted(config.flags)}).encode()

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.addresses: dict[str, int] = {}

        def set_tensor_address(self, name: str, ptr: int) -> None:
            self.addresses[name] = ptr

    class Engine:
        def __init__(self, plan: dict[str, Any]) -> None:
            self.io = plan["io"]
            self.flags = plan["flags"]

        @property
        def num_io_tensors(self) -> int:
            return len(self.io)

        def get_tensor_name(self, i: int) -> str:
            return str(self.io[i][0])

        def _row(self, name: str) -> Any:
            return next(r for r in self.io if r[0] == name)

        def get_tensor_dtype(self, name: str) -> str:
            return "float32"

        def get_tensor_shape(self, name: str) -> list[int]:
            return list(self._row(name)[1])

        def get_tensor_mode(self, name: str) -> str:
            return str(self._row(name)[2])

        def get_tensor_profile_shape(self, name: str, index: int) -> list[list[int]]:
            return list(self._row(name)[3])

        def create_execution_context(self) -> Context:
            return Context(self)

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            pass

        def deserialize_cuda_engine(self, plan: bytes) -> Engine | None:
            rec.loads += 1
            try:
                return Engine(json.loads(plan))
            except ValueError:
                return None

    for name, obj in list(locals().items()):
        if isinstance(obj, type):
            setattr(trt, name, obj)
    trt.nptype = lambda dtype: np.float32  # type: ignore[attr-defined]
    return trt


def make_cudart(rec: Recorder) -> Any:
    """cuda-python's runtime calls used by the engine and the calibrator; memory is real host memory."""
    keep: dict[int, Any] = {}

    def malloc_host(n: int) -> tuple[int, int]:
        buf = ctypes.create_string_buffer(int(n))
        keep[ctypes.addressof(buf)] = buf
        return 0, ctypes.addressof(buf)

    def malloc(n: int) -> tuple[int, int]:
        ptr = 0x1000 + len(rec.device) * 0x100
        rec.device[ptr] = bytes(int(n))
        return 0, ptr

    def memcpy(dst: int, src: int, n: int, kind: str) -> tuple[int]:
        rec.device[dst] = ctypes.string_at(src, n)
        return (0,)

    return types.SimpleNamespace(
        cudaGetDeviceProperties=lambda i: (0, types.SimpleNamespace(name=b"Fake Orin Nano")),
        cudaStreamCreate=lambda: (0, 7),
        cudaStreamDestroy=lambda s: (0,),
        cudaMallocHost=malloc_host,
        cudaFreeHost=lambda p: (0,),
        cudaMalloc=malloc,
        cudaFree=lambda p: (0,),
        cudaMemcpy=memcpy,
        cudaMemcpyKind=types.SimpleNamespace(cudaMemcpyHostToDevice="h2d", cudaMemcpyDeviceToHost="d2h"),
    )
