"""Homework: solution markers, the student-version generator and the checks (lecture_utils.homework)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from lecture_utils import homework, interpretable, optimize, style, upconv
from lecture_utils.homework import EXERCISES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _solution_cells() -> dict[str, str]:
    out = {}
    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                out[meta["grade_id"]] = cell.source
    return out


CELLS = _solution_cells()


def _solution(name: str):
    return homework.solution_function(CELLS[name], EXERCISES[name].function)


def _stub(name: str):
    return homework.solution_function(
        homework.student_source(CELLS[name], EXERCISES[name].hint), EXERCISES[name].function
    )


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    expected = out / "expected.pt"
    paths = homework.build(out, expected)
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
    cells = nbformat.read(path, as_version=4).cells
    idx = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == name)
    src = cells[idx].source
    assert src.count(homework.BEGIN_SOLUTION) == 1 and src.count(homework.END_SOLUTION) == 1
    assert f"def {ex.function}(" in src
    check = cells[idx + 1]
    assert check.metadata["nbgrader"]["grade"] and f'homework.check("{name}", {ex.function})' in check.source
    assert homework.BEGIN_HIDDEN in check.source, "the solved notebook asserts that its own check passes"
    assert cells[idx - 1].cell_type == "markdown", "the task is stated before the solution cell"


@pytest.mark.parametrize("name", list(EXERCISES))
def test_solutions_pass_their_checks(name, capsys):
    result = homework.check(name, _solution(name))
    assert result.passed and result.status == "passed"
    assert "passed 3/3" in capsys.readouterr().out


def test_expected_values_are_up_to_date(student):
    """data/homework/expected.pt is what the solutions in the notebooks compute now."""
    _, expected, _ = student
    fresh = torch.load(expected, weights_only=True)
    stored = torch.load(homework.EXPECTED, weights_only=True)
    assert set(fresh) == set(stored) == set(EXERCISES)
    for name in EXERCISES:
        assert len(fresh[name]) == len(stored[name]) == EXERCISES[name].cases
        for a, b in zip(fresh[name], stored[name]):
            for k in a["inputs"]:
                assert torch.equal(a["inputs"][k], b["inputs"][k]), (name, k)
            for x, y in zip(a["output"], b["output"]):
                assert torch.allclose(x.double(), y.double(), rtol=1e-6, atol=1e-7), name


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
    ours = homework._as_tensors(ex.call(_solution(name), {k: v.clone() for k, v in inputs.items()}))
    ref = homework._as_tensors(REFERENCES[name](inputs))
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


def test_wrong_answers_fail_with_the_error(capsys):
    def gram_sum(features):  # Gatys' plain sum: off by the factor H*W
        f = features.flatten(2)
        return f @ f.transpose(1, 2)

    r = homework.check("gram_matrix", gram_sum)
    assert r.status == "failed" and r.max_error > 0.1
    assert "wrong values: max abs error" in capsys.readouterr().out

    r = homework.check("gram_matrix", lambda f: f.flatten(2))
    assert r.status == "failed" and "shape" in r.message

    def crashes(grad_output, x):
        return grad_output * x[:, :2]  # a typical bug: shapes that do not broadcast

    r = homework.check("guided_relu_backward", crashes)
    assert r.status == "failed" and "raised" in r.message and "grad_output * x[:, :2]" in r.message

    r = homework.check("nearest_neighbours", lambda features, query, k: (features - query).norm(dim=1)[:k])
    assert r.status == "failed"

    def in_place(grad_output, x):
        return grad_output.clamp_(min=0)  # right values, but the caller's tensor changed

    r = homework.check("deconvnet_relu_backward", in_place)
    assert r.status == "failed" and "in place" in r.message

    # off in one element only, beyond the tolerance
    def almost(x, gamma, beta):
        y = F.instance_norm(x, weight=gamma, bias=beta)
        y[0, 0, 0, 0] += 1e-3
        return y

    assert homework.check("instance_norm", almost, verbose=False).status == "failed"
    assert homework.check("instance_norm", lambda x, gamma, beta: F.instance_norm(x, weight=gamma, bias=beta))


def test_check_bad_arguments(tmp_path):
    with pytest.raises(KeyError, match="unknown exercise 'gram'"):
        homework.check("gram", lambda f: f)
    with pytest.raises(TypeError, match="must be your function"):
        homework.check("gram_matrix", 3)
    with pytest.raises(FileNotFoundError, match="homework build"):
        homework.check("gram_matrix", lambda f: f, expected_path=tmp_path / "missing.pt")


def test_rel_error_is_cs231n_definition():
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.2])
    assert homework.rel_error(a, b) == pytest.approx(0.2 / 4.2)
    assert homework.rel_error(a, a) == 0


# ----------------------------------------------------------------------------- the student versions
def test_student_source_replaces_regions_and_keeps_indentation():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
    out = homework.student_source(src, "add y")
    assert out == "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError('Exercise: add y')"
    check = "r = check()\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS\nprint(r)"
    assert homework.student_source(check) == "r = check()\nprint(r)"
    with pytest.raises(ValueError, match="without"):
        homework.student_source("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        homework.student_source("x = 1\n### END SOLUTION\n")


def test_student_notebooks_contain_no_solution_text(student):
    out, _, paths = student
    assert [p.name for p in paths] == [p.name for p in SOURCES]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        for marker in (homework.BEGIN_SOLUTION, homework.END_SOLUTION, homework.BEGIN_HIDDEN, homework.END_HIDDEN):
            assert marker not in text, (path.name, marker)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        assert "widgets" not in nb.metadata
        solved = [n for n, e in EXERCISES.items() if path.name.startswith(e.notebook)]
        for name in solved:
            body = CELLS[name].split(homework.BEGIN_SOLUTION)[1].split(homework.END_SOLUTION)[0]
            for line in body.splitlines():
                if line.strip():
                    assert line.strip() not in text, (path.name, name, line)
            assert f"def {EXERCISES[name].function}(" in text and "Student version" in nb.cells[1].source


def test_student_notebooks_equal_solved_ones_outside_the_exercises(student):
    _, _, paths = student
    for src, dst in zip(SOURCES, paths):
        a = nbformat.read(src, as_version=4).cells
        b = [c for c in nbformat.read(dst, as_version=4).cells if "Student version" not in c.source]
        assert len(a) == len(b)
        for x, y in zip(a, b):
            if not x.metadata.get("nbgrader"):
                assert x.source == y.source


def test_cli_lists_and_builds(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    listed = subprocess.run(
        [sys.executable, "-m", "lecture_utils.homework", "list"], capture_output=True, text=True, env=env, check=True
    )
    assert all(name in listed.stdout for name in EXERCISES)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "lecture_utils.homework",
            "build",
            "--out",
            str(tmp_path),
            "--expected",
            str(tmp_path / "e.pt"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert f"{len(EXERCISES)} exercises" in built.stdout and (tmp_path / "e.pt").is_file()
    assert len(list((tmp_path / "notebooks").glob("*.ipynb"))) == len(SOURCES)


def test_student_notebooks_run_top_to_bottom_with_stubs(student):
    """nbval runs every student notebook (quick mode); the stubbed checks report, they do not stop the notebook."""
    out, _, paths = student
    with_exercises = [p for p in paths if any(p.name.startswith(e.notebook) for e in EXERCISES.values())]
    env = {**os.environ, "LECTURE_QUICK": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env"]
        + ["--nbval-cell-timeout=900", "--rootdir", str(out), *map(str, with_exercises)],
        capture_output=True,
        text=True,
        env=env,
        cwd=out,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
