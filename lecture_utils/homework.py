"""Homework: exercises with automatic checks, and the student versions of the notebooks.

Every notebook ends with a *Homework* section. Each exercise there is three cells:

1. the task (markdown): what to compute, with the formula of the lecture;
2. the solution cell: ``def name(...):`` whose body lies between nbgrader's markers
   ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (cell metadata ``nbgrader.solution``);
3. the check cell: ``homework.check("name", name)`` compares the function with stored expected
   values on fixed inputs and prints pass / fail with the largest error (cs231n's ``rel_error``
   checks); an ``assert`` between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` makes the
   solved notebook fail loudly when a solution is wrong.

``python -m lecture_utils.homework build`` writes the student versions (solution regions replaced
by a ``NotImplementedError`` stub with a hint, hidden tests removed, outputs cleared) to
``build/student/`` and recomputes the expected values *from the solutions in the notebooks* on the
fixed inputs of :data:`EXERCISES`, into ``data/homework/expected.pt``. The checks read only that
file, so they work in the student versions, which contain no solution.

Teachers who use nbgrader can run it on the same notebooks: the markers and cell metadata follow
its conventions (solution cells, autograded test cells with hidden tests).
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = ["Exercise", "EXERCISES", "CheckResult", "check", "rel_error", "student_source", "build", "main"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ROOT / "data" / "homework" / "expected.pt"
STUDENT_DIR = ROOT / "build" / "student"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# what the solution cells may use without importing it themselves (the Homework section's first cell imports the same)
PRELUDE = "import math\nimport torch\nimport torch.nn.functional as F\n"

Inputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Exercise:
    """One exercise: the function ``function`` the student writes in notebook ``notebook``.

    ``make_inputs(g)`` builds the fixed inputs (named tensors) from a seeded generator; ``call(fn, inputs)``
    runs a candidate on them and returns a tensor (or a tuple of tensors). Outputs are compared with
    ``torch.allclose(out, expected, rtol, atol)``.
    """

    name: str
    notebook: str
    hint: str
    make_inputs: Callable[[torch.Generator], Inputs]
    call: Callable[[Callable, Inputs], object]
    rtol: float = 1e-5
    atol: float = 1e-6
    seed: int = 0
    cases: int = 3
    function: str = field(default="")

    def __post_init__(self) -> None:
        if not self.function:
            object.__setattr__(self, "function", self.name)


def _r(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64).float()


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
            lambda fn, d: fn(d["grad_output"], d["x"]),
        ),
        Exercise(
            "class_activation_map",
            "03_cam",
            "M_c(x, y) = sum_k w[c, k] * f_k(x, y): one weighted sum over channels (torch.einsum or tensordot)",
            _cam_inputs,
            lambda fn, d: fn(d["features"], d["fc_weight"], int(d["target"])),
        ),
        Exercise(
            "guided_relu_backward",
            "04_guided_backprop",
            "keep a gradient only where BOTH the forward input was positive (backprop) AND the gradient is "
            "positive (deconvnet)",
            _relu_rule_inputs,
            lambda fn, d: fn(d["grad_output"], d["x"]),
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
        ),
        Exercise(
            "grad_cam_map",
            "06_grad_cam",
            "weight each feature map by its alpha_k, sum over k, then keep the positive part (ReLU)",
            _gradcam_inputs,
            lambda fn, d: fn(d["features"], d["gradients"]),
        ),
        # ---- part II: the representation as a whole (07-11)
        Exercise(
            "total_variation",
            "07_inverting_representations",
            "differences with the right and the lower neighbour, padded with a zero column / row "
            "(torch.nn.functional.pad) so that both are (B, C, H, W); then the mean of (dx**2 + dy**2) ** (beta / 2)",
            _tv_inputs,
            lambda fn, d: fn(d["x"], float(d["beta"])),
        ),
        Exercise(
            "nearest_neighbours",
            "08_feature_spaces",
            "Euclidean distances from the query to every row (torch.cdist or broadcasting), then the k smallest "
            "(topk with largest=False, or argsort)",
            _nn_inputs,
            lambda fn, d: fn(d["features"], d["query"], int(d["k"])),
            atol=0,
            rtol=0,
        ),
        Exercise(
            "top_activating",
            "09_activation_analysis",
            "the score of an image for a channel is that channel's maximum over positions; sort the images by it",
            _top_inputs,
            lambda fn, d: fn(d["activations"], int(d["channel"]), int(d["k"])),
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
            lambda fn, d: fn(d["x"], int(d["dx"]), int(d["dy"])),
            atol=0,
            rtol=0,
        ),
        Exercise(
            "fourier_image",
            "12_feature_visualization",
            "frequencies: torch.fft.fftfreq(H)[:, None] and torch.fft.rfftfreq(W)[None, :]; scale = "
            "1 / max(f, 1/max(H, W))**decay; then torch.fft.irfft2(complex spectrum * scale, s=(H, W), norm='ortho')",
            _fourier_inputs,
            lambda fn, d: fn(d["spectrum"], float(d["decay"])),
        ),
        Exercise(
            "dictionary_words",
            "13_semantic_dictionaries_fullgrad",
            "max over the channel dimension gives both the values and the argmax channels; the norm is "
            "torch.linalg.vector_norm over the same dimension",
            _words_inputs,
            lambda fn, d: fn(d["activations"]),
        ),
        Exercise(
            "dream_step",
            "14_deepdream",
            "divide the gradient by the mean of its absolute value (plus 1e-12), step, clamp to [0, 1]",
            _dream_inputs,
            lambda fn, d: fn(d["x"], d["grad"], float(d["lr"])),
        ),
        # ---- part IV: generating images (15-21)
        Exercise(
            "unpool",
            "15_generating_chairs",
            "a zero tensor stride times larger in H and W; assign x to the slice [..., ::stride, ::stride]",
            _unpool2x_inputs,
            lambda fn, d: fn(d["x"], int(d["stride"])),
        ),
        Exercise(
            "gram_matrix",
            "16_texture_synthesis",
            "reshape to (B, C, H*W), multiply by its own transpose (batched @), divide by H*W",
            _gram_inputs,
            lambda fn, d: fn(d["features"]),
        ),
        Exercise(
            "content_loss",
            "18_style_transfer",
            "sum of squared differences divided by the sum of squares of the target",
            _content_inputs,
            lambda fn, d: fn(d["features"], d["target"]),
        ),
        Exercise(
            "style_loss",
            "18_style_transfer",
            "Gram matrix of features (reuse your gram_matrix idea: F F^T / (H W)), then the relative squared error",
            _style_inputs,
            lambda fn, d: fn(d["features"], d["target_gram"]),
        ),
        Exercise(
            "psnr",
            "20_super_resolution",
            "MSE = mean squared difference; PSNR = 10 * log10(1 / MSE) for images in [0, 1]",
            _psnr_inputs,
            lambda fn, d: fn(d["image"], d["reference"]),
        ),
        Exercise(
            "instance_norm",
            "21_instance_normalization",
            "mean and (biased) variance over the spatial dims (2, 3) with keepdim=True, normalize with eps=1e-5, "
            "then gamma and beta reshaped to (1, C, 1, 1)",
            _in_inputs,
            lambda fn, d: fn(d["x"], d["gamma"], d["beta"]),
            atol=1e-5,
        ),
    ]
}


# ----------------------------------------------------------------------------- checking
def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """cs231n's relative error: ``max |a - b| / max(1e-8, |a| + |b|)`` (elementwise, then the maximum)."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (a.abs() + b.abs()).clamp(min=1e-8)).max()) if a.numel() else 0.0


@dataclass
class CheckResult:
    """What :func:`check` found: ``status`` is "passed", "failed" or "not implemented"."""

    name: str
    status: str
    message: str
    max_error: float = math.nan

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
                "Run `python -m lecture_utils.homework build` in the course folder."
            )
        _EXPECTED_CACHE[path] = torch.load(path, map_location="cpu", weights_only=True)
    return _EXPECTED_CACHE[path]


def _as_tensors(out: object) -> tuple[torch.Tensor, ...]:
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, torch.Tensor) for o in out):
        return tuple(out)
    if isinstance(out, (int, float)) or (
        isinstance(out, (tuple, list)) and not any(isinstance(o, torch.Tensor) for o in out)
    ):
        return (torch.as_tensor(out),)
    raise TypeError(f"expected a tensor (or a tuple of tensors), got {type(out).__name__}")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if not f.filename.startswith(str(Path(__file__).parent))]
    if not mine:
        return ""
    f = mine[-1]
    return f" (in {f.name}, line {f.lineno}: {f.line.strip()})" if f.line else f" (in {f.name}, line {f.lineno})"


def _compare(
    exercise: Exercise, outs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
) -> tuple[bool, float, str]:
    if len(outs) != len(expected):
        return False, math.nan, f"returned {len(outs)} tensor(s), expected {len(expected)}"
    worst = 0.0
    for i, (o, e) in enumerate(zip(outs, expected)):
        which = f"output {i}: " if len(expected) > 1 else ""
        o = o.detach().cpu()
        if tuple(o.shape) != tuple(e.shape):
            return False, math.nan, f"{which}shape {tuple(o.shape)}, expected {tuple(e.shape)}"
        if e.dtype in (torch.int64, torch.int32, torch.bool) and o.is_floating_point():
            return False, math.nan, f"{which}dtype {o.dtype}, expected integer indices ({e.dtype})"
        err = float((o.double() - e.double()).abs().max()) if e.numel() else 0.0
        worst = max(worst, err)
        if not torch.allclose(o.double(), e.double(), rtol=exercise.rtol, atol=exercise.atol, equal_nan=False):
            return False, err, f"{which}wrong values: max abs error {err:.3g}, rel error {rel_error(o, e):.3g}"
    return True, worst, ""


def check(name: str, fn: Callable, expected_path: str | Path = EXPECTED, verbose: bool = True) -> CheckResult:
    """Run the student's ``fn`` on exercise ``name``'s fixed inputs and compare with the expected values.

    Inputs: ``name`` a key of :data:`EXERCISES`; ``fn`` the student's function.
    Returns: a :class:`CheckResult` (truthy when passed); prints one line unless ``verbose=False``.
    Never raises because of the student's code: a stub (``NotImplementedError``) gives "not implemented
    yet" with the hint, any other exception a one-line "failed" naming the line.
    """
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
    if not callable(fn):
        raise TypeError(f"check({name!r}, fn): fn must be your function, got {type(fn).__name__}")
    ex = EXERCISES[name]
    stored = _load_expected(Path(expected_path))
    if name not in stored:
        raise KeyError(
            f"{expected_path} has no expected values for {name!r}: "
            "rebuild them with `python -m lecture_utils.homework build`"
        )
    result = None
    worst = 0.0
    for i, case in enumerate(stored[name]):
        inputs = {k: v.clone() for k, v in case["inputs"].items()}
        try:
            out = ex.call(fn, inputs)
            outs = _as_tensors(out)
        except NotImplementedError:
            result = CheckResult(name, "not implemented", f"{name}: not implemented yet. Hint: {ex.hint}")
            break
        except Exception as exc:  # noqa: BLE001 -- the student's code: report, do not stop the notebook
            result = CheckResult(
                name, "failed", f"{name}: your function raised {type(exc).__name__}: {exc}{_where(exc)}"
            )
            break
        ok, err, why = _compare(ex, outs, tuple(case["output"]))
        if not ok:
            result = CheckResult(name, "failed", f"{name}: FAILED on test case {i + 1}/{len(stored[name])}: {why}", err)
            break
        if any(not torch.equal(inputs[k], v) for k, v in case["inputs"].items()):
            result = CheckResult(name, "failed", f"{name}: FAILED: your function modified its input in place")
            break
        worst = max(worst, err)
    if result is None:
        n = len(stored[name])
        result = CheckResult(name, "passed", f"{name}: passed {n}/{n} test cases (max abs error {worst:.2g})", worst)
    if verbose:
        mark = {"passed": "\u2714", "failed": "\u2718", "not implemented": "\u2026"}[result.status]
        print(f"{mark} {result.message}")
    return result


# ----------------------------------------------------------------------------- student versions
def _region_lines(lines: list[str], begin: str, end: str) -> list[tuple[int, int]]:
    """(start, stop) line indices of every begin ... end region (markers included)."""
    spans, start = [], None
    for i, line in enumerate(lines):
        s = line.strip()
        if s == begin:
            if start is not None:
                raise ValueError(f"nested {begin!r}")
            start = i
        elif s == end:
            if start is None:
                raise ValueError(f"{end!r} without {begin!r}")
            spans.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{begin!r} without {end!r}")
    return spans


def student_source(source: str, hint: str = "") -> str:
    """The student version of one cell's source: solution regions become a stub, hidden tests vanish.

    The stub keeps the indentation of the ``### BEGIN SOLUTION`` line:
    ``# YOUR CODE HERE`` then ``raise NotImplementedError(hint)``.
    """
    lines = source.split("\n")
    for a, b in reversed(_region_lines(lines, BEGIN_HIDDEN, END_HIDDEN)):
        del lines[a : b + 1]
    for a, b in reversed(_region_lines(lines, BEGIN_SOLUTION, END_SOLUTION)):
        indent = re.match(r"\s*", lines[a]).group(0)
        message = f"Exercise: {hint}" if hint else "Exercise: write your code here"
        lines[a : b + 1] = [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({message!r})"]
    return "\n".join(lines).rstrip("\n")


def _solution_cells(nb) -> dict[str, object]:
    """grade_id -> solution cell, for the cells nbgrader marks as solutions."""
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            out[meta["grade_id"]] = cell
    return out


def _hint_for(cell) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    ex = EXERCISES.get(grade_id)
    return ex.hint if ex else ""


def student_notebook(nb):
    """A copy of notebook ``nb`` for students: stubs, no hidden tests, no outputs, no widget state."""
    import nbformat

    nb = copy.deepcopy(nb)
    names = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    ]
    if names:
        listed = ", ".join(f"`{n}`" for n in names)
        note = (
            f"**Student version.** The functions {listed} in the *Homework* section at the end are yours to write; "
            "each check cell tells you whether your function is right. (Generated by "
            "`python -m lecture_utils.homework build` from the solved notebook.)"
        )
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(note))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = student_source(cell.source, _hint_for(cell))
        cell.outputs = []
        cell.execution_count = None
    nb.metadata.pop("widgets", None)
    return nb


def solution_function(cell_source: str, function: str) -> Callable:
    """Execute a solution cell (with :data:`PRELUDE`) and return the function it defines."""
    namespace: dict = {}
    exec(compile(PRELUDE + cell_source, f"<solution {function}>", "exec"), namespace)  # noqa: S102
    if function not in namespace or not callable(namespace[function]):
        raise ValueError(f"the solution cell does not define a function {function!r}")
    return namespace[function]


def compute_expected(notebooks: Sequence[Path]) -> dict[str, list[dict]]:
    """Expected outputs of every exercise, computed by the solutions found in ``notebooks``."""
    import nbformat

    cells = {}
    for path in notebooks:
        for grade_id, cell in _solution_cells(nbformat.read(path, as_version=4)).items():
            cells[grade_id] = (path, cell)
    missing = [n for n in EXERCISES if n not in cells]
    if missing:
        raise ValueError(f"no solution cell (nbgrader grade_id) for exercise(s) {missing}")
    expected = {}
    for name, ex in EXERCISES.items():
        path, cell = cells[name]
        if not path.name.startswith(ex.notebook):
            raise ValueError(f"exercise {name!r} belongs to {ex.notebook}, but its solution is in {path.name}")
        fn = solution_function(cell.source, ex.function)
        g = torch.Generator().manual_seed(ex.seed)
        cases = []
        for _ in range(ex.cases):
            inputs = ex.make_inputs(g)
            out = _as_tensors(ex.call(fn, {k: v.clone() for k, v in inputs.items()}))
            cases.append({"inputs": inputs, "output": [o.detach().cpu().contiguous() for o in out]})
        expected[name] = cases
    return expected


def build(
    out_dir: str | Path = STUDENT_DIR, expected_path: str | Path = EXPECTED, notebooks_dir: str | Path = NOTEBOOKS
) -> list[Path]:
    """Write the student notebooks into ``out_dir/notebooks`` and the expected values to ``expected_path``.

    Returns: the paths of the student notebooks.
    """
    import nbformat

    sources = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks NN_*.ipynb in {notebooks_dir}")
    expected = compute_expected(sources)
    expected_path = Path(expected_path)
    expected_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(expected, expected_path)
    _EXPECTED_CACHE.pop(expected_path, None)
    target = Path(out_dir) / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        nb = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, target / path.name)
        written.append(target / path.name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_utils.homework", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student notebooks and the expected values of the checks")
    b.add_argument("--out", default=str(STUDENT_DIR), help="folder for the student version (default build/student)")
    b.add_argument(
        "--expected", default=str(EXPECTED), help="where the expected values go (default data/homework/expected.pt)"
    )
    sub.add_parser("list", help="list the exercises")
    args = parser.parse_args(argv)
    if args.command == "list":
        for ex in EXERCISES.values():
            print(f"{ex.notebook:38s} {ex.name}")
        return 0
    written = build(args.out, args.expected)
    print(f"{len(EXERCISES)} exercises; expected values -> {args.expected}")
    print(f"{len(written)} student notebooks -> {Path(args.out) / 'notebooks'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
