"""Homework: exercises with automatic checks (``homework.check``).

Every notebook ends with a *Homework* section. Each exercise there is three cells:

1. the task (markdown): what to compute, with the formula of the lecture;
2. the solution cell: ``def name(...):`` whose body lies between nbgrader's markers
   ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (cell metadata ``nbgrader.solution``);
3. the check cell: ``homework.check("name", name)`` compares the function with stored expected
   values on fixed inputs and prints pass / fail with the largest error and where it is (cs231n's
   ``rel_error`` checks); an ``assert`` between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``
   makes the solved notebook fail loudly when a solution is wrong.

:func:`check` never stops the notebook because of the student's code: an exception, a missing
``return``, ``sys.exit()``, a ``KeyboardInterrupt`` or a test case that runs longer than its time limit
(an endless loop) each become a one-line report.

The student versions and the expected values (``data/homework/expected.pt``) are written by the
teachers' tool ``tools/homework_build.py`` (``make homework``), which recomputes the expected values
*from the solutions in the notebooks* on the fixed inputs of :data:`EXERCISES`. The checks read only
that file, so they work in the student versions, which contain no solution.

Teachers who use nbgrader can run it on the same notebooks: the markers and cell metadata follow
its conventions (solution cells, autograded test cells with hidden tests).
"""

from __future__ import annotations

import ctypes
import functools
import math
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_positive
from .exercises import ALGORITHM_EXERCISES
from .exercises.base import TIME_LIMIT, Exercise, Inputs, zoo
from .exercises.base import randn as _r

__all__ = ["Exercise", "EXERCISES", "CheckResult", "check", "rel_error", "TIME_LIMIT"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ROOT / "data" / "homework" / "expected.pt"
STUDENT_DIR = ROOT / "build" / "student"
BUILD_COMMAND = "make homework"  # (= python tools/homework_build.py build) in the course folder

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# what the solution cells may use without importing it themselves (the Homework section's first cell imports the same)
PRELUDE = "import math\nimport torch\nimport torch.nn.functional as F\n"


# ----------------------------------------------------------------------------- fixed inputs per exercise
def _unpool_inputs(g: torch.Generator) -> Inputs:
    x = _r(g, 2, 6, 8)
    pooled, switches = F.max_pool2d(x[None], 2, return_indices=True)
    return {"pooled": pooled[0], "switches": switches[0], "size": torch.tensor([6, 8])}


def _relu_rule_inputs(g: torch.Generator) -> Inputs:
    return {"grad_output": _r(g, 2, 3, 5, 5), "x": _r(g, 2, 3, 5, 5)}


def _cam_inputs(g: torch.Generator) -> Inputs:
    return {
        "features": _r(g, 6, 4, 5).relu(),
        "fc_weight": _r(g, 10, 6),
        "target": torch.randint(0, 10, (), generator=g),
    }


def _template_inputs(g: torch.Generator) -> Inputs:
    n = int(torch.randint(5, 9, (), generator=g))
    mu = torch.randint(0, n, (2,), generator=g)
    return {"n": torch.tensor(n), "mu": mu, "tau": torch.tensor(0.5 / n**2), "beta": torch.tensor(4.0)}


def _gradcam_inputs(g: torch.Generator) -> Inputs:
    return {"features": _r(g, 8, 5, 6).relu(), "gradients": _r(g, 8, 5, 6)}


def _tv_inputs(g: torch.Generator) -> Inputs:
    return {"x": _r(g, 1, 3, 7, 9), "beta": torch.tensor(float(torch.randint(1, 3, (), generator=g)))}


def _nn_inputs(g: torch.Generator) -> Inputs:
    return {"features": _r(g, 40, 12), "query": _r(g, 12), "k": torch.tensor(5)}


def _top_inputs(g: torch.Generator) -> Inputs:
    return {
        "activations": _r(g, 30, 8, 4, 4).relu(),
        "channel": torch.randint(0, 8, (), generator=g),
        "k": torch.tensor(4),
    }


def _occlusion_inputs(g: torch.Generator) -> Inputs:
    return {"image": _r(g, 3, 10, 12), "weight": _r(g, 3, 10, 12), "window": torch.tensor(4), "stride": torch.tensor(3)}


def _occlusion_call(fn: Callable, d: Inputs) -> object:
    w = d["weight"]

    def score(image: torch.Tensor) -> torch.Tensor:  # a small nonlinear "network": tanh of a linear read-out
        return torch.tanh((w * image).sum() / 10)

    return fn(score, d["image"], int(d["window"]), int(d["stride"]), 0.0)


def _smoothgrad_inputs(g: torch.Generator) -> Inputs:
    return {"x": _r(g, 3, 6, 6), "weight": _r(g, 3, 6, 6), "noise": 0.3 * _r(g, 8, 3, 6, 6)}


def _smoothgrad_call(fn: Callable, d: Inputs) -> object:
    w = d["weight"]

    def gradient(x: torch.Tensor) -> torch.Tensor:  # the gradient of sum(relu(w * x)): w where w * x > 0
        return w * ((w * x) > 0)

    return fn(gradient, d["x"], d["noise"])


def _jitter_inputs(g: torch.Generator) -> Inputs:
    return {
        "x": _r(g, 2, 3, 6, 7),
        "dx": torch.randint(-3, 4, (), generator=g),
        "dy": torch.randint(-3, 4, (), generator=g),
    }


def _fourier_inputs(g: torch.Generator) -> Inputs:
    return {"spectrum": _r(g, 3, 8, 5, 2), "decay": torch.tensor(1.0)}


def _words_inputs(g: torch.Generator) -> Inputs:
    return {"activations": _r(g, 16, 5, 6)}


def _dream_inputs(g: torch.Generator) -> Inputs:
    return {"x": torch.rand(1, 3, 6, 6, generator=g), "grad": _r(g, 1, 3, 6, 6), "lr": torch.tensor(0.05)}


def _unpool2x_inputs(g: torch.Generator) -> Inputs:
    return {"x": _r(g, 2, 4, 5, 3), "stride": torch.tensor(int(torch.randint(2, 4, (), generator=g)))}


def _gram_inputs(g: torch.Generator) -> Inputs:
    return {"features": _r(g, 2, 6, 5, 7).relu()}


def _content_inputs(g: torch.Generator) -> Inputs:
    return {"features": _r(g, 1, 6, 5, 5), "target": _r(g, 1, 6, 5, 5)}


def _style_inputs(g: torch.Generator) -> Inputs:
    f = _r(g, 1, 6, 5, 5).relu()
    t = _r(g, 1, 6, 9, 9).relu()
    return {"features": f, "target_gram": (t.flatten(2) @ t.flatten(2).transpose(1, 2) / 81)}


def _psnr_inputs(g: torch.Generator) -> Inputs:
    a = torch.rand(3, 8, 8, generator=g)
    return {"image": (a + 0.05 * _r(g, 3, 8, 8)).clamp(0, 1), "reference": a}


def _in_inputs(g: torch.Generator) -> Inputs:
    return {"x": 3 * _r(g, 2, 4, 5, 6) + 1, "gamma": _r(g, 4), "beta": _r(g, 4)}


# the warm-ups: one-line functions checked on small random tensors; an entry names a ``call`` only when the inputs
# are not simply the function's arguments in their order (the default, :func:`~.exercises.base.in_order`)
EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in [
        # ---- part I: looking at one image's path through the network (02-06)
        Exercise(
            "max_unpool",
            "02_deconvnet",
            "make a zero tensor of shape (C, H*W), write each pooled value at its switch index "
            "(scatter_ along dim 1), reshape to (C, H, W)",
            _unpool_inputs,
            lambda fn, d: fn(d["pooled"], d["switches"], tuple(d["size"].tolist())),
        ),
        Exercise(
            "deconvnet_relu_backward",
            "02_deconvnet",
            "the deconvnet passes the *signal coming back* through a ReLU: only the sign of grad_output matters",
            _relu_rule_inputs,
        ),
        Exercise(
            "class_activation_map",
            "03_cam",
            "M_c(x, y) = sum_k w[c, k] * f_k(x, y): one weighted sum over channels (torch.einsum or tensordot)",
            _cam_inputs,
        ),
        Exercise(
            "guided_relu_backward",
            "04_guided_backprop",
            "keep a gradient only where BOTH the forward input was positive (backprop) AND the gradient is "
            "positive (deconvnet)",
            _relu_rule_inputs,
        ),
        Exercise(
            "positive_template",
            "05_interpretable_cnns",
            "build a grid of row and column indices (torch.arange), the L1 distance |i - a| + |j - b| to mu, "
            "then tau * clamp(1 - beta * dist / n, min=-1)",
            _template_inputs,
            lambda fn, d: fn(int(d["n"]), tuple(d["mu"].tolist()), float(d["tau"]), float(d["beta"])),
        ),
        Exercise(
            "grad_cam_weights",
            "06_grad_cam",
            "alpha_k is the gradient of channel k averaged over all positions: a mean over the last two dims",
            _gradcam_inputs,
            lambda fn, d: fn(d["gradients"]),
            dims=("channel",),
            function="channel_alphas",
        ),
        Exercise(
            "grad_cam_map",
            "06_grad_cam",
            "weight each feature map by its alpha_k, sum over k, then keep the positive part (ReLU)",
            _gradcam_inputs,
        ),
        # ---- part II: the representation as a whole (07-11)
        Exercise(
            "total_variation",
            "07_inverting_representations",
            "differences with the right and the lower neighbour, padded with a zero column / row "
            "(torch.nn.functional.pad) so that both are (B, C, H, W); then the mean of (dx**2 + dy**2) ** (beta / 2)",
            _tv_inputs,
        ),
        Exercise(
            "nearest_neighbours",
            "08_feature_spaces",
            "Euclidean distances from the query to every row (torch.cdist or broadcasting), then the k smallest "
            "(topk with largest=False, or argsort)",
            _nn_inputs,
            dims=("rank",),
            atol=0,
            rtol=0,
            function="k_nearest",
        ),
        Exercise(
            "top_activating",
            "09_activation_analysis",
            "the score of an image for a channel is that channel's maximum over positions; sort the images by it",
            _top_inputs,
            dims=("rank",),
            atol=0,
            rtol=0,
        ),
        Exercise(
            "occlusion_map",
            "10_occlusion",
            "two loops over the top-left corners range(0, H - window + 1, stride) (and the same for W); "
            "each time clone the image, paint the square with fill, record score(image) - score(occluded)",
            _occlusion_inputs,
            _occlusion_call,
        ),
        Exercise(
            "smoothgrad",
            "11_saliency_sanity_checks",
            "call gradient(x + noise[i]) for every noise sample and average the results",
            _smoothgrad_inputs,
            _smoothgrad_call,
        ),
        # ---- part III: optimizing the input (12-14)
        Exercise(
            "jitter",
            "12_feature_visualization",
            "torch.roll with shifts=(dy, dx) over the height and width dimensions (2, 3)",
            _jitter_inputs,
            atol=0,
            rtol=0,
        ),
        Exercise(
            "fourier_image",
            "12_feature_visualization",
            "frequencies: torch.fft.fftfreq(H)[:, None] and torch.fft.rfftfreq(W)[None, :]; scale = "
            "1 / max(f, 1/max(H, W))**decay; then torch.fft.irfft2(complex spectrum * scale, s=(H, W), norm='ortho')",
            _fourier_inputs,
        ),
        Exercise(
            "dictionary_words",
            "13_semantic_dictionaries_fullgrad",
            "max over the channel dimension gives both the values and the argmax channels; the norm is "
            "torch.linalg.vector_norm over the same dimension",
            _words_inputs,
        ),
        Exercise(
            "dream_step",
            "14_deepdream",
            "divide the gradient by the mean of its absolute value (plus 1e-12), step, clamp to [0, 1]",
            _dream_inputs,
        ),
        # ---- part IV: generating images (15-21)
        Exercise(
            "unpool",
            "15_generating_chairs",
            "a zero tensor stride times larger in H and W; assign x to the slice [..., ::stride, ::stride]",
            _unpool2x_inputs,
        ),
        Exercise(
            "gram_matrix",
            "16_texture_synthesis",
            "reshape to (B, C, H*W), multiply by its own transpose (batched @), divide by H*W",
            _gram_inputs,
            dims=("image", "row", "column"),
        ),
        Exercise(
            "content_loss",
            "18_style_transfer",
            "sum of squared differences divided by the sum of squares of the target",
            _content_inputs,
            function="relative_content_loss",
        ),
        Exercise(
            "style_loss",
            "18_style_transfer",
            "Gram matrix of features (reuse your gram_matrix idea: F F^T / (H W)), then the relative squared error",
            _style_inputs,
            function="relative_style_loss",
        ),
        Exercise(
            "psnr",
            "20_super_resolution",
            "MSE = mean squared difference; PSNR = 10 * log10(1 / MSE) for images in [0, 1]",
            _psnr_inputs,
        ),
        Exercise(
            "instance_norm",
            "21_instance_normalization",
            "mean and (biased) variance over the spatial dims (2, 3) with keepdim=True, normalize with eps=1e-5, "
            "then gamma and beta reshaped to (1, C, 1, 1)",
            _in_inputs,
            atol=1e-5,
        ),
    ]
}
# the algorithm-level exercises (one module per lecture part): the student writes the method itself and the
# check runs it on the real zoo models
EXERCISES.update({e.name: e for e in ALGORITHM_EXERCISES})


# ----------------------------------------------------------------------------- checking
def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """cs231n's relative error: ``max |a - b| / max(1e-8, |a| + |b|)`` (elementwise, then the maximum)."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (a.abs() + b.abs()).clamp(min=1e-8)).max()) if a.numel() else 0.0


@dataclass
class CheckResult:
    """What :func:`check` found: ``status`` is "passed", "failed" or "not implemented".

    ``case``: the test case (1-based) that failed, if one did; ``seconds``: how long the whole check took.
    """

    name: str
    status: str
    message: str
    max_error: float = math.nan
    case: int | None = None
    seconds: float = math.nan

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed


_EXPECTED_CACHE: dict[Path, dict] = {}


def _load_expected(path: Path) -> dict:
    path = Path(path)
    if path not in _EXPECTED_CACHE:
        if not path.is_file():
            raise FileNotFoundError(
                f"the expected values of the homework checks are missing: {path}. "
                f"Run `{BUILD_COMMAND}` in the course folder (it computes them from the solved notebooks)."
            )
        _EXPECTED_CACHE[path] = torch.load(path, map_location="cpu", weights_only=True)
    return _EXPECTED_CACHE[path]


# ----------------------------------------------------------------------------- running the student's code
class _TimeUp(BaseException):
    """Raised inside the student's code when a test case runs past its time limit (a ``BaseException``, so
    that an ``except Exception`` in the student's code cannot swallow it)."""


def _run_with_alarm(func: Callable[[], object], limit: float) -> object:
    """``func()`` on the main thread, stopped by ``SIGALRM`` after ``limit`` s; the caller's handler and
    timer are restored."""
    armed = [True]

    def on_alarm(signum, frame):  # noqa: ARG001
        if armed[0]:
            raise _TimeUp

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.monotonic()
    try:
        return func()
    finally:
        try:
            armed[0] = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer_delay > 0:  # a timer of the caller was running: give it back what remains of it
                remaining = max(outer_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)


def _run_in_thread(func: Callable[[], object], limit: float) -> object:
    """``func()`` in a worker thread; past ``limit`` s the worker gets a ``_TimeUp`` at its next Python line
    (it only ever holds its own copies of the inputs, so it cannot change a later test case)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="homework-check", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(_TimeUp))
        worker.join(1.0)
        raise _TimeUp
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def _run_limited(func: Callable[[], object], limit: float) -> object:
    """``func()``, stopped with ``_TimeUp`` after ``limit`` seconds (SIGALRM on the main thread, else a thread)."""
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        return _run_with_alarm(func, limit)
    return _run_in_thread(func, limit)


class _BadReturn(Exception):
    """The student's function returned something that is not a result (None, a string, ...)."""


def _is_number(v: object) -> bool:
    return isinstance(v, (bool, int, float, np.number, np.bool_))


def _to_tensor(value: object, what: str) -> tuple[torch.Tensor, str]:
    """One returned value as a tensor, and a note when it had to be converted; ``_BadReturn`` if it cannot be."""
    if isinstance(value, torch.Tensor):
        return value, ""
    if value is None:
        raise _BadReturn(f"{what} None: a missing `return`?")
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype != object:
        return torch.from_numpy(np.array(value)), f"{what} a NumPy array (converted; return a torch.Tensor)"
    if _is_number(value):
        return torch.as_tensor(value), ""
    if isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
        kind = type(value).__name__
        return torch.as_tensor(value), f"{what} a Python {kind} of numbers (converted; return a torch.Tensor)"
    raise _BadReturn(f"{what} a {type(value).__name__}, expected a torch.Tensor")


def _outputs(out: object, n_expected: int) -> tuple[tuple[torch.Tensor, ...], str]:
    """The tensors in the student's return value and a note on any conversion."""
    if isinstance(out, (tuple, list)) and out and not all(_is_number(v) for v in out):
        converted = [
            _to_tensor(v, f"element {i} of the {type(out).__name__} your function returned is")
            for i, v in enumerate(out)
        ]
        if n_expected == 1:
            raise _BadReturn(
                f"your function returned a {type(out).__name__} of {len(out)} values, expected one tensor "
                "(torch.stack / torch.cat them, or return only the result)"
            )
        return tuple(t for t, _ in converted), next((n for _, n in converted if n), "")
    tensor, note = _to_tensor(out, "your function returned")
    return (tensor,), note


def _where(exc: BaseException) -> str:
    """`` (in f, line n: code)`` for the innermost frame of the student's code in ``exc``'s traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = str(Path(__file__).parent)
    mine = [f for f in frames if not f.filename.startswith(here) and not f.filename.endswith("threading.py")]
    if not mine:
        return ""
    f = mine[-1]
    return f" (in {f.name}, line {f.lineno}: {f.line.strip()})" if f.line else f" (in {f.name}, line {f.lineno})"


def _explain(exc: BaseException, limit: float) -> str:
    """One line on what went wrong in the student's code."""
    if isinstance(exc, _TimeUp):
        return f"took more than {limit:g} s: an endless loop? (each test case may take {limit:g} s)"
    if isinstance(exc, _BadReturn):
        return str(exc)
    if isinstance(exc, SystemExit):
        return (
            f"your function called exit() / sys.exit({exc.code!r}){_where(exc)}: "
            "a function should `return` its result, never exit"
        )
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt): if it ran too long, look for an endless loop"
    return f"your function raised {type(exc).__name__}: {exc}{_where(exc)}"


# ----------------------------------------------------------------------------- comparing with the expected values
_DIMS = {1: ("index",), 2: ("row", "column"), 3: ("channel", "row", "column"), 4: ("image", "channel", "row", "column")}


def _position(index: tuple[int, ...], dims: tuple[str, ...]) -> str:
    names = dims if len(dims) == len(index) else _DIMS.get(len(index), tuple(f"dim {d}" for d in range(len(index))))
    return ", ".join(f"{n} {i}" for n, i in zip(names, index))


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if [d for d in got if d != 1] == [d for d in want if d != 1]:
        return "an extra or a missing axis of size 1 (keepdim, squeeze, [None])?"
    if math.prod(got) == math.prod(want):
        return "the same number of values: a wrong reshape / permute / transpose?"
    if len(got) == len(want) - 1:
        return "one axis fewer: a sum / mean over one axis too many?"
    if len(got) == len(want) + 1:
        return "one axis more: a missing sum / mean over an axis?"
    diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    if len(got) == len(want) and len(diff) == 1:
        return f"dimension {diff[0]} has {got[diff[0]]} entries instead of {want[diff[0]]}: a range or slice off?"
    return ""


def _near_border(wrong: torch.Tensor) -> bool:
    """Whether all wrong values of a (..., H, W) mask lie in the outer quarter of the rows or columns."""
    if wrong.ndim < 2 or min(wrong.shape[-2:]) < 4:
        return False
    h, w = wrong.shape[-2:]
    bh, bw = max(1, h // 4), max(1, w // 4)
    inner = torch.zeros(h, w, dtype=torch.bool)
    inner[bh : h - bh, bw : w - bw] = True
    return bool(inner.any()) and not bool((wrong & inner).any())


def _value_hint(o: torch.Tensor, e: torch.Tensor, wrong: torch.Tensor, tol: float) -> str:
    """A guess at the kind of mistake from the pattern of the errors (``o``, ``e`` float64 of one shape)."""
    ee = float((e * e).sum())
    if ee > 0:
        c = float((o * e).sum()) / ee
        if abs(c - 1) > 1e-3 and torch.allclose(o, c * e, rtol=1e-4, atol=tol):
            if abs(c + 1) < 1e-3:
                return "the sign is flipped"
            return f"your values are {c:.4g} times the expected ones: a missing or extra factor (mean vs sum, H*W)?"
    d = (o - e).flatten()
    if d.numel() > 1 and torch.allclose(d, d[:1].expand_as(d), atol=tol):
        return f"your values are the expected ones {float(d[0]):+.3g}: a constant offset"
    if o.ndim >= 2 and o.shape[-1] == o.shape[-2] > 1 and torch.allclose(o.transpose(-1, -2), e, atol=tol):
        return "rows and columns are swapped: transposed?"
    if torch.equal(o.flatten().sort().values, e.flatten().sort().values):
        return "the right values in another order: sorting (e.g. nearest first)?"
    n_wrong, n = int(wrong.sum()), wrong.numel()
    if _near_border(wrong):
        return f"only values near the border are wrong ({n_wrong} of {n}): border handling (padding, first / last row)?"
    return f"{n_wrong} of {n} values are wrong" if n_wrong < n else ""


def _compare_one(ex: Exercise, o: torch.Tensor, e: torch.Tensor) -> tuple[bool, float, str]:
    """(equal within tolerance, max abs error, what is wrong) for one output tensor."""
    o = o.detach().cpu()
    if tuple(o.shape) != tuple(e.shape):
        hint = _shape_hint(tuple(o.shape), tuple(e.shape))
        return False, math.nan, f"shape {tuple(o.shape)}, expected {tuple(e.shape)}" + (f": {hint}" if hint else "")
    if not (e.is_floating_point() or e.is_complex()) and (o.is_floating_point() or o.is_complex()):
        return False, math.nan, f"dtype {o.dtype}, expected integers ({e.dtype}): indices, not values?"
    if e.numel() == 0:
        return True, 0.0, ""
    od, ed = o.double(), e.double()
    bad = ~torch.isfinite(od) & torch.isfinite(ed)
    if bad.any():
        idx = tuple(int(i) for i in bad.nonzero()[0])
        at = f" at {_position(idx, ex.dims)}" if idx else ""
        return False, math.nan, f"NaN or inf{at}: a division by zero, or log / sqrt of a value <= 0?"
    wrong = ~torch.isclose(od, ed, rtol=ex.rtol, atol=ex.atol)
    diff = (od - ed).abs()
    err = float(diff.max())
    if not wrong.any():
        return True, err, ""
    idx = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    at = f" at {_position(idx, ex.dims)}" if idx else ""
    hint = _value_hint(od, ed, wrong, tol=ex.atol + ex.rtol * float(ed.abs().max()))
    why = f"max error {err:.3g}{at} (yours {float(od[idx]):.4g}, expected {float(ed[idx]):.4g})"
    return False, err, why + (f": {hint}" if hint else "") + f"; rel error {rel_error(od, ed):.3g}"


def _compare(
    exercise: Exercise, outs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
) -> tuple[bool, float, str]:
    """(all outputs right, worst error, what is wrong with the first wrong output)."""
    if len(outs) != len(expected):
        return False, math.nan, f"returned {len(outs)} tensor(s), expected {len(expected)}"
    worst = 0.0
    for i, (o, e) in enumerate(zip(outs, expected)):
        ok, err, why = _compare_one(exercise, o, e)
        if not ok:
            return False, err, (f"output {i}: " if len(expected) > 1 else "") + why
        worst = max(worst, err)
    return True, worst, ""


# ----------------------------------------------------------------------------- the check
def _run_cases(ex: Exercise, fn: Callable, cases: list[dict], limit: float) -> CheckResult:
    """Every stored test case in turn; stops at the first one that does not pass."""
    worst, notes, n = 0.0, [], len(cases)
    for i, case in enumerate(cases, 1):
        inputs = {k: v.clone() for k, v in case["inputs"].items()}  # the student's code gets its own copies
        expected = tuple(case["output"])
        failed = f"{ex.name}: FAILED on test case {i}/{n}: "
        try:
            outs, note = _outputs(_run_limited(functools.partial(ex.call, fn, inputs), limit), len(expected))
        except NotImplementedError:
            return CheckResult(ex.name, "not implemented", f"{ex.name}: not implemented yet. Hint: {ex.hint}")
        except BaseException as exc:  # noqa: BLE001 -- the student's code: report, never stop the notebook
            return CheckResult(ex.name, "failed", failed + _explain(exc, limit), case=i)
        ok, err, why = _compare(ex, outs, expected)
        if not ok:
            return CheckResult(ex.name, "failed", failed + why, err, case=i)
        if any(not torch.equal(inputs[k], v) for k, v in case["inputs"].items()):
            return CheckResult(ex.name, "failed", failed + "your function modified its input in place", case=i)
        worst = max(worst, err)
        notes += [note] if note and note not in notes else []
    message = f"{ex.name}: passed {n}/{n} test cases (max abs error {worst:.2g})"
    return CheckResult(ex.name, "passed", message + "".join(f"; note: {m}" for m in notes), worst)


def check(
    name: str,
    fn: Callable,
    expected_path: str | Path = EXPECTED,
    verbose: bool = True,
    time_limit: float | None = None,
) -> CheckResult:
    """Run the student's ``fn`` on exercise ``name``'s fixed inputs and compare with the expected values.

    Inputs: ``name`` a key of :data:`EXERCISES`; ``fn`` the student's function; ``time_limit`` seconds per
    test case (default the exercise's, :data:`TIME_LIMIT`).
    Returns: a :class:`CheckResult` (truthy when passed); prints one line unless ``verbose=False``.
    Never raises because of the student's code: a stub (``NotImplementedError``) gives "not implemented
    yet" with the hint; an exception, ``None`` returned, ``sys.exit``, ``KeyboardInterrupt`` or a test case
    past the time limit (stopped) give a one-line "FAILED" naming the test case; a wrong result names the
    shape, or the largest error, where it is and a guess at the cause.
    """
    if not isinstance(name, str) or name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
    if not callable(fn):
        raise TypeError(
            f"check({name!r}, fn): fn must be your function (its name, not a call of it), got {type(fn).__name__}"
        )
    ex = EXERCISES[name]
    limit = ex.time_limit if time_limit is None else check_positive(time_limit, "time_limit")
    stored = _load_expected(Path(expected_path))
    if name not in stored:
        raise KeyError(f"{expected_path} has no expected values for {name!r}: rebuild them with `{BUILD_COMMAND}`")
    for model in ex.models:  # loaded once per process, outside the per-case time limit
        zoo(model)
    start = time.perf_counter()
    try:
        result = _run_cases(ex, fn, stored[name], float(limit))
    finally:  # a student's loss.backward() through a zoo model must not leave gradients on the shared model
        for model in ex.models:
            for p in zoo(model).net.parameters():
                p.grad = None
    result.seconds = time.perf_counter() - start
    if verbose:
        mark = {"passed": "\u2714", "failed": "\u2718", "not implemented": "\u2026"}[result.status]
        print(f"{mark} {result.message}")
    return result


if __name__ == "__main__":  # the builder is teachers' tooling in tools/ now; the old command keeps working
    import runpy
    import sys

    sys.argv[0] = str(ROOT / "tools" / "homework_build.py")
    runpy.run_path(sys.argv[0], run_name="__main__")
