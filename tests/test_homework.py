"""Homework: solution markers, the student-version generator (tools/homework_build.py) and the checks
(lecture_utils.homework): what a student's mistake gets as an answer, and what the student version must not show."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from lecture_utils import homework, interpretable, optimize, style, upconv
from lecture_utils.homework import EXERCISES
from tools import homework_build as hb

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = {p: nbformat.read(p, as_version=4) for p in SOURCES}


def _solution_cells() -> dict[str, tuple[str, str]]:
    """exercise -> (solution cell source, setup source of its Homework section)."""
    out = {}
    for nb in NOTEBOOKS.values():
        for i, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                out[meta["grade_id"]] = (cell.source, hb._setup_source(nb, i))
    return out


CELLS = _solution_cells()
FUNCTIONS = {name: hb.defined_function(src, EXERCISES[name].function) for name, (src, _) in CELLS.items()}


def _solution(name: str):
    src, setup = CELLS[name]
    return hb.solution_function(src, FUNCTIONS[name], setup)


def _stub(name: str):
    src, setup = CELLS[name]
    return hb.stub_function(src, FUNCTIONS[name], setup, EXERCISES[name].hint)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    expected = out / "expected.pt"
    paths = hb.build(out, expected)
    return out, expected, paths


# ----------------------------------------------------------------------------- the exercises themselves
def test_at_least_15_exercises_spread_over_all_parts():
    assert len(EXERCISES) >= 15
    numbers = {int(e.notebook[:2]) for e in EXERCISES.values()}
    parts = {"I": range(0, 7), "II": range(7, 12), "III": range(12, 15), "IV": range(15, 22)}
    for part, r in parts.items():
        assert numbers & set(r), f"no exercise in part {part}"
    assert set(CELLS) == set(EXERCISES), "every exercise has exactly one solution cell, and vice versa"


@pytest.mark.parametrize("name", list(EXERCISES))
def test_solution_sits_in_its_notebook_between_markers(name):
    ex = EXERCISES[name]
    path = next(p for p in SOURCES if p.name.startswith(ex.notebook))
    cells = NOTEBOOKS[path].cells
    idx = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == name)
    src = cells[idx].source
    assert src.count(homework.BEGIN_SOLUTION) == 1 and src.count(homework.END_SOLUTION) == 1
    assert f"def {FUNCTIONS[name]}(" in src
    check = cells[idx + 1]
    assert check.metadata["nbgrader"]["grade"] and f'homework.check("{name}", {FUNCTIONS[name]})' in check.source
    assert homework.BEGIN_HIDDEN in check.source, "the solved notebook asserts that its own check passes"
    assert cells[idx - 1].cell_type == "markdown", "the task is stated before the solution cell"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_nbgrader_metadata_is_what_nbgrader_expects(path):
    """nbgrader (schema 3): solution cells unlocked, autograded test cells locked with points, unique grade_ids,
    markers only where nbgrader looks for them (nbgrader itself is not a dependency of the course)."""
    assert hb.nbgrader_problems(NOTEBOOKS[path], path.name) == []


def test_nbgrader_problems_are_found():
    nb = nbformat.v4.new_notebook()
    meta = {"grade": False, "grade_id": "f", "locked": True, "schema_version": 3, "solution": True, "task": False}
    nb.cells = [
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n", metadata={"nbgrader": meta}),
        nbformat.v4.new_code_cell("assert f()\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"),
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {**meta, "grade": True, "solution": False}}),
    ]
    found = "\n".join(hb.nbgrader_problems(nb, "nb"))
    for phrase in ("must not be locked", "without", "without nbgrader metadata", "needs nbgrader.points", "repeated"):
        assert phrase in found, phrase


@pytest.mark.parametrize("name", list(EXERCISES))
def test_solutions_pass_their_checks(name, capsys):
    result = homework.check(name, _solution(name))
    assert result.passed and result.status == "passed"
    cases = EXERCISES[name].cases
    assert f"passed {cases}/{cases}" in capsys.readouterr().out
    assert result.seconds < EXERCISES[name].time_limit


def test_expected_values_are_up_to_date(student):
    """data/homework/expected.pt is what the solutions in the notebooks compute now."""
    _, expected, _ = student
    fresh = torch.load(expected, weights_only=True)
    stored = torch.load(homework.EXPECTED, weights_only=True)
    assert set(fresh) == set(stored) == set(EXERCISES)
    for name in EXERCISES:
        ex = EXERCISES[name]
        assert len(fresh[name]) == len(stored[name]) == ex.cases
        for a, b in zip(fresh[name], stored[name]):
            for k in a["inputs"]:  # inputs computed by a real network (feature maps) may differ in round-off
                x, y = a["inputs"][k], b["inputs"][k]
                same = torch.allclose(x, y, rtol=1e-5, atol=1e-6) if x.is_floating_point() else torch.equal(x, y)
                assert same, (name, k)
            for x, y in zip(a["output"], b["output"]):  # within the check's own tolerance (thread round-off)
                assert torch.allclose(x.double(), y.double(), rtol=ex.rtol, atol=ex.atol), name


# the solutions agree with independent references: the package's own implementations or torch
REFERENCES = {
    "max_unpool": lambda d: F.max_unpool2d(
        d["pooled"][None], d["switches"][None], 2, output_size=tuple(d["size"].tolist())
    )[0],
    "deconvnet_relu_backward": lambda d: torch.where(d["grad_output"] > 0, d["grad_output"], 0.0),
    "guided_relu_backward": lambda d: torch.where((d["grad_output"] > 0) & (d["x"] > 0), d["grad_output"], 0.0),
    "positive_template": lambda d: interpretable.positive_templates(int(d["n"]), float(d["tau"]), float(d["beta"]))[
        int(d["mu"][0]) * int(d["n"]) + int(d["mu"][1])
    ],
    "jitter": lambda d: d["x"][:, :, (torch.arange(d["x"].shape[2]) - d["dy"]) % d["x"].shape[2]][
        ..., (torch.arange(d["x"].shape[3]) - d["dx"]) % d["x"].shape[3]
    ],
    "unpool": lambda d: upconv.unpool2d(d["x"], int(d["stride"])),
    "gram_matrix": lambda d: style.gram_matrix(d["features"]),
    "instance_norm": lambda d: F.instance_norm(d["x"], weight=d["gamma"], bias=d["beta"], eps=1e-5),
    "style_loss": lambda d: style.style_loss({"l": d["target_gram"]})({"l": d["features"]}),
    "content_loss": lambda d: style.content_loss("l", d["target"])({"l": d["features"]}),
    "dictionary_words": lambda d: (d["activations"].argmax(0), d["activations"].amax(0), d["activations"].norm(dim=0)),
    "smoothgrad": lambda d: (d["weight"] * ((d["weight"] * (d["x"] + d["noise"])) > 0)).mean(0),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_solutions_agree_with_independent_references(name):
    ex = EXERCISES[name]
    inputs = ex.make_inputs(torch.Generator().manual_seed(1))
    ours = hb._as_tensors(ex.call(_solution(name), {k: v.clone() for k, v in inputs.items()}))
    ref = hb._as_tensors(REFERENCES[name](inputs))
    for a, b in zip(ours, ref):
        assert torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6), name


def test_fourier_and_dream_step_match_the_engine():
    spectrum = torch.randn(1, 3, 16, 9, 2)
    img = optimize.FFTImage(16, decay=1.0)
    img.spectrum.data.copy_(spectrum)
    ours = _solution("fourier_image")(spectrum[0], 1.0)
    assert torch.allclose(ours / 4, img.decorrelated()[0], atol=1e-6)  # the engine scales the spectrum by 1/4
    x, g = torch.rand(1, 3, 5, 5), torch.randn(1, 3, 5, 5)
    assert torch.allclose(_solution("dream_step")(x, g, 0.1), (x + 0.1 * g / g.abs().mean()).clamp(0, 1), atol=1e-6)


def test_total_variation_matches_inversion_regularizer():
    from lecture_utils import inversion

    x = torch.rand(1, 3, 9, 11)
    for beta in (1.0, 2.0):
        value = -float(inversion.tv_beta(beta=beta, weight=1.0)({optimize.INPUT: x}))
        ours = float(_solution("total_variation")(x, beta))
        # the engine divides the squared differences by V^2 (and offsets them by 1e-8 for beta < 2)
        assert ours == pytest.approx(value * inversion.V_RANGE**beta, rel=1e-3)


# ----------------------------------------------------------------------------- checks report, never crash
@pytest.mark.parametrize("name", list(EXERCISES))
def test_stubs_report_not_implemented_without_raising(name, capsys):
    result = homework.check(name, _stub(name))
    assert result.status == "not implemented" and not result
    out = capsys.readouterr().out
    assert "not implemented yet" in out and EXERCISES[name].hint in out and "Traceback" not in out


def _instance_norm(x, gamma, beta):
    return F.instance_norm(x, weight=gamma, bias=beta, eps=1e-5)


def test_wrong_values_name_the_case_the_place_and_a_likely_cause(capsys):
    def gram_sum(features):  # Gatys' plain sum: off by the factor H*W = 35
        f = features.flatten(2)
        return f @ f.transpose(1, 2)

    r = homework.check("gram_matrix", gram_sum)
    assert r.status == "failed" and r.case == 1 and r.max_error > 0.1
    out = capsys.readouterr().out
    assert "FAILED on test case 1/3" in out and "max error" in out and "at image 0, row 1, column 1" in out
    assert "35 times the expected ones" in out and "mean vs sum" in out

    def forgets_the_first_row(x, gamma, beta):  # right inside, wrong on the border
        y = _instance_norm(x, gamma, beta)
        y[:, 2, 0, :] = 0
        return y

    r = homework.check("instance_norm", forgets_the_first_row)
    assert r.status == "failed" and "channel 2, row 0, column" in r.message and "border handling" in r.message

    def nearest_last(features, query, k):  # the right neighbours, farthest first
        return (features - query).pow(2).sum(1).topk(k, largest=False).indices.flip(0)

    r = homework.check("nearest_neighbours", nearest_last)
    assert r.status == "failed" and "another order" in r.message

    r = homework.check("top_activating", lambda a, channel, k: a[:, channel].amax(dim=(1, 2)).topk(k).values)
    assert r.status == "failed" and "expected integers" in r.message and "indices, not values" in r.message

    r = homework.check("instance_norm", lambda x, gamma, beta: -_instance_norm(x, gamma, beta))
    assert "the sign is flipped" in r.message

    r = homework.check("instance_norm", lambda x, gamma, beta: _instance_norm(x, gamma, beta) / 0 * 0)
    assert r.status == "failed" and "NaN or inf at image 0, channel 0, row 0, column 0" in r.message

    def almost(x, gamma, beta):  # off in one element only, beyond the tolerance
        y = _instance_norm(x, gamma, beta)
        y[1, 3, 2, 3] += 1e-3
        return y

    r = homework.check("instance_norm", almost, verbose=False)
    assert (
        r.status == "failed"
        and "at image 1, channel 3, row 2, column 3" in r.message
        and "1 of 240 values" in r.message
    )
    assert homework.check("instance_norm", _instance_norm)


def test_wrong_shapes_say_what_differs():
    r = homework.check("gram_matrix", lambda f: f.flatten(2))
    assert r.status == "failed" and "shape (2, 6, 35), expected (2, 6, 6)" in r.message
    r = homework.check("grad_cam_weights", lambda g: g.mean(dim=(1, 2), keepdim=True))
    assert "shape (8, 1, 1), expected (8,)" in r.message and "axis of size 1" in r.message
    r = homework.check("grad_cam_map", lambda f, g: (g.mean(dim=(1, 2))[:, None, None] * f).relu())
    assert "one axis more" in r.message


def test_exceptions_name_the_line_and_never_escape():
    def crashes(grad_output, x):
        return grad_output * x[:, :2]  # a typical bug: shapes that do not broadcast

    r = homework.check("guided_relu_backward", crashes)
    assert r.status == "failed" and "raised RuntimeError" in r.message and "grad_output * x[:, :2]" in r.message

    def exits(grad_output, x):
        sys.exit(3)

    r = homework.check("guided_relu_backward", exits)
    assert r.status == "failed" and "sys.exit(3)" in r.message and "`return` its result" in r.message

    def interrupted(grad_output, x):
        raise KeyboardInterrupt

    r = homework.check("guided_relu_backward", interrupted)
    assert r.status == "failed" and "interrupted (KeyboardInterrupt)" in r.message


def test_return_values_that_are_not_tensors():
    def no_return(features):
        features.flatten(2) @ features.flatten(2).transpose(1, 2) / 35

    r = homework.check("gram_matrix", no_return)
    assert r.status == "failed" and "returned None: a missing `return`?" in r.message and "TypeError" not in r.message

    r = homework.check("instance_norm", lambda x, gamma, beta: _instance_norm(x, gamma, beta).numpy())
    assert r.passed and "NumPy array (converted; return a torch.Tensor)" in r.message

    r = homework.check("psnr", lambda a, b: float(10 * torch.log10(1 / (a - b).pow(2).mean())))
    assert r.passed, r.message  # a Python number for a scalar is fine

    r = homework.check("instance_norm", lambda x, gamma, beta: list(_instance_norm(x, gamma, beta)))
    assert r.status == "failed" and "a list of 2 values, expected one tensor" in r.message

    r = homework.check("instance_norm", lambda x, gamma, beta: "done")
    assert r.status == "failed" and "returned a str, expected a torch.Tensor" in r.message

    def words(a):
        return a.argmax(0), None, a.norm(dim=0)

    r = homework.check("dictionary_words", words)
    assert r.status == "failed" and "element 1 of the tuple your function returned is None" in r.message

    def in_place(grad_output, x):
        return grad_output.clamp_(min=0)  # right values, but the caller's tensor changed

    r = homework.check("deconvnet_relu_backward", in_place)
    assert r.status == "failed" and "in place" in r.message


def _forever(*args):
    while True:
        pass


def _forever_swallowing(*args):
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # a student's broad except must not swallow the time limit
            pass


@pytest.mark.parametrize("fn", [_forever, _forever_swallowing, lambda *a: time.sleep(60)])
def test_an_endless_loop_is_stopped_on_the_main_thread(fn):
    handler = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    r = homework.check("gram_matrix", fn, time_limit=0.3, verbose=False)
    assert time.perf_counter() - start < 5
    assert r.status == "failed" and r.case == 1
    assert "took more than 0.3 s: an endless loop?" in r.message
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert homework.check("gram_matrix", _solution("gram_matrix"), verbose=False)


def test_the_callers_timer_survives_a_check():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 2.0)
        homework.check("gram_matrix", _forever, time_limit=0.2, verbose=False)
        delay, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0.5 < delay < 2.0, "the caller's timer runs on with what remained of it"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not fired


def test_an_endless_loop_off_the_main_thread_is_stopped_and_changes_nothing_later():
    """In a worker thread there is no SIGALRM: the runaway case is stopped by an exception raised in its thread,
    and it only ever held its own copies of the inputs."""
    ticks, results = [], []

    def runaway(grad_output, x):
        while True:
            grad_output.mul_(2)  # mutates its (private) copy
            ticks.append(1)

    def in_thread():
        results.append(homework.check("deconvnet_relu_backward", runaway, time_limit=0.3, verbose=False))
        results.append(homework.check("deconvnet_relu_backward", _solution("deconvnet_relu_backward"), verbose=False))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(20)
    assert not t.is_alive() and len(results) == 2
    assert results[0].status == "failed" and "took more than 0.3 s: an endless loop?" in results[0].message
    assert results[1].passed, results[1].message
    n = len(ticks)
    time.sleep(0.3)
    assert len(ticks) == n, "the timed-out function still runs"
    assert not [w for w in threading.enumerate() if w.name == "homework-check"]


def test_check_bad_arguments(tmp_path):
    with pytest.raises(KeyError, match="unknown exercise 'gram'"):
        homework.check("gram", lambda f: f)
    with pytest.raises(TypeError, match="must be your function"):
        homework.check("gram_matrix", 3)
    with pytest.raises(FileNotFoundError, match="make homework"):
        homework.check("gram_matrix", lambda f: f, expected_path=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="time_limit"):
        homework.check("gram_matrix", lambda f: f, time_limit=0)
    with pytest.raises(TypeError, match="time_limit"):
        homework.check("gram_matrix", lambda f: f, time_limit="5")


def test_rel_error_is_cs231n_definition():
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.2])
    assert homework.rel_error(a, b) == pytest.approx(0.2 / 4.2)
    assert homework.rel_error(a, a) == 0


# ----------------------------------------------------------------------------- the solutions check (make homework)
def test_solutions_table_passes_every_solution_and_flags_every_stub(student):
    _, expected, _ = student
    rows = hb.solutions_table(expected_path=expected)
    assert [r.name for r in rows] == list(EXERCISES)
    assert all(r.ok for r in rows), [r.message for r in rows if not r.ok]
    assert all(r.seconds < EXERCISES[r.name].time_limit for r in rows)
    table = hb.format_table(rows)
    assert (
        table.count("| passes | not implemented |") == len(EXERCISES) and f"all {len(EXERCISES)} checks pass" in table
    )
    broken = hb.format_table([hb.Row("x", "00_nb", "failed", "passed", 0.1, "x: FAILED")])
    assert "**FAILED**" in broken and "**PASSED**" in broken and "1 of 1 exercises are WRONG" in broken


# ----------------------------------------------------------------------------- the student versions
def test_student_source_replaces_regions_and_keeps_indentation():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
    out = hb.student_source(src, "add y")
    assert out == "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError('Exercise: add y')"
    check = "r = check()\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS\nprint(r)"
    assert hb.student_source(check) == "r = check()\nprint(r)"
    with pytest.raises(ValueError, match="without"):
        hb.student_source("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        hb.student_source("x = 1\n### END SOLUTION\n")


def _solution_body(name: str, notebook: str | None = None) -> list[str]:
    """The lines of exercise ``name``'s solution; with ``notebook`` (a file name) only those that the solved
    notebook does not show anyway outside its exercise cells (a generic line such as ``with torch.no_grad():``,
    or a line of the package's own code the notebook prints, gives nothing of the solution away)."""
    body = CELLS[name][0].split(homework.BEGIN_SOLUTION)[1].split(homework.END_SOLUTION)[0]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if notebook is None:
        return lines
    nb = NOTEBOOKS[ROOT / "notebooks" / notebook]
    shown = "\n".join(
        text
        for c in nb.cells
        if "nbgrader" not in c.metadata
        for text in [c.source, *(_output_text(o) for o in c.get("outputs", []))]
    )
    return [line for line in lines if line not in shown]


def test_student_notebooks_contain_no_solution_text(student):
    out, _, paths = student
    assert [p.name for p in paths] == [p.name for p in SOURCES]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)  # code and markdown
        # the stubs' hints (raise NotImplementedError("Exercise: ...")) are meant to be read: not a leak
        text = "\n".join(line for line in text.splitlines() if "NotImplementedError(" not in line)
        for marker in (homework.BEGIN_SOLUTION, homework.END_SOLUTION, homework.BEGIN_HIDDEN, homework.END_HIDDEN):
            assert marker not in text, (path.name, marker)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        assert "widgets" not in nb.metadata
        for name in [n for n, e in EXERCISES.items() if path.name.startswith(e.notebook)]:
            for line in _solution_body(name, path.name):
                assert line not in text, (path.name, name, line)
            assert f"def {FUNCTIONS[name]}(" in text and "Student version" in nb.cells[1].source


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_no_cell_prints_the_source_of_a_solution(path):
    """`inspect.getsource(fastnet.instance_norm)` in notebook 21 hands the student the answer to `instance_norm`."""
    solutions = {name: src for name, (src, _) in CELLS.items()}
    assert hb.source_leak_problems(NOTEBOOKS[path], solutions, path.name) == []


def test_source_printers_are_found():
    solutions = {"instance_norm": CELLS["instance_norm"][0]}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import inspect\nfrom lecture_utils import fastnet\nimport torch.nn.functional as G"),
        nbformat.v4.new_code_cell("print(inspect.getsource(fastnet.instance_norm))"),
        nbformat.v4.new_code_cell("fastnet.instance_norm??"),
        nbformat.v4.new_code_cell("print(inspect.getsource(G.relu))\nprint(fastnet.instance_norm(x))"),
    ]
    found = hb.source_leak_problems(nb, solutions, "nb")
    assert [p.split(":")[0] for p in found] == ["nb cell 1", "nb cell 2"], found


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_exercise_functions_have_names_of_their_own(path):
    """The student's function must not replace a name the rest of the notebook uses (06: the imported
    `grad_cam_weights`; 08: `nearest_neighbours`, which the widget calls) or be replaced by it."""
    assert hb.shadowing_problems(NOTEBOOKS[path], path.name) == []


def test_shadowing_is_found():
    meta = {"grade": False, "grade_id": "knn", "locked": False, "schema_version": 3, "solution": True, "task": False}
    check = {**meta, "grade": True, "grade_id": "knn_check", "locked": True, "solution": False, "points": 1}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline\nfrom lecture_utils.neighbours import nearest_neighbours"),
        nbformat.v4.new_code_cell("def draw(q):\n    return nearest_neighbours(emb, [q])"),
        nbformat.v4.new_code_cell("def nearest_neighbours(f, q, k):\n    pass", metadata={"nbgrader": meta}),
        nbformat.v4.new_code_cell('homework.check("knn", nearest_neighbours)', metadata={"nbgrader": check}),
        nbformat.v4.new_code_cell("print(fastnet.nearest_neighbours)"),  # an attribute is not the name
    ]
    (problem,) = hb.shadowing_problems(nb, "nb")
    assert "`nearest_neighbours`" in problem and "cell(s) [0, 1]" in problem


def test_student_notebooks_equal_solved_ones_outside_the_exercises(student):
    _, _, paths = student
    for src, dst in zip(SOURCES, paths):
        a = NOTEBOOKS[src].cells
        b = [c for c in nbformat.read(dst, as_version=4).cells if "Student version" not in c.source]
        assert len(a) == len(b)
        for x, y in zip(a, b):
            if not x.metadata.get("nbgrader"):
                assert x.source == y.source


def test_cli_lists_builds_and_checks_the_solutions(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tool = str(ROOT / "tools" / "homework_build.py")
    listed = subprocess.run([sys.executable, tool, "list"], capture_output=True, text=True, env=env, check=True)
    assert all(name in listed.stdout for name in EXERCISES)
    built = subprocess.run(
        [sys.executable, tool, "build", "--out", str(tmp_path), "--expected", str(tmp_path / "e.pt")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert f"{len(EXERCISES)} exercises" in built.stdout and (tmp_path / "e.pt").is_file(), built.stderr
    assert len(list((tmp_path / "notebooks").glob("*.ipynb"))) == len(SOURCES)
    assert "| exercise | notebook | with the solution | with the stub |" in built.stdout
    assert built.returncode == 0, built.stdout[-3000:]
    assert (tmp_path / "solutions_check.md").read_text().count("| passes | not implemented |") == len(EXERCISES)


def test_old_command_forwards_to_the_tool():
    proc = subprocess.run(
        [sys.executable, "-m", "lecture_utils.homework", "list"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert all(name in proc.stdout for name in EXERCISES)


def test_student_notebooks_run_top_to_bottom_and_show_no_solution(student, monkeypatch):
    """Every student notebook with exercises runs top to bottom (quick mode) with the stubs: the checks report,
    they do not stop the notebook; and no output shows a line of a solution (e.g. a printed source)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out, _, paths = student
    monkeypatch.setenv("LECTURE_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    leaks, errors = [], []
    for path in [p for p in paths if any(p.name.startswith(e.notebook) for e in EXERCISES.values())]:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        try:
            client.execute()
        except CellExecutionError as exc:
            errors.append(f"{path.name}: {str(exc)[-1500:]}")
            continue
        shown = "\n".join(_output_text(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        for name in [n for n, e in EXERCISES.items() if path.name.startswith(e.notebook)]:
            assert "not implemented yet" in shown, (path.name, name)
            leaks += [
                (path.name, name, line) for line in _solution_body(name, path.name) if len(line) > 12 and line in shown
            ]
    assert not errors, "\n\n".join(errors)
    assert not leaks, leaks


def _output_text(output) -> str:
    if "text" in output:
        return output["text"]
    data = output.get("data", {})
    return "\n".join(str(data[k]) for k in ("text/plain", "text/html", "text/markdown") if k in data)
