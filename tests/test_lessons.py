"""Every lesson runs, in fast mode, and reproduces its lecture numbers (so lessons never rot).

Each lesson is a script (``lessons/NN_topic.py``) that asserts its own results against the numbers
copied from the lecture slides; here it runs as a subprocess with ``MINISEGNET_FAST=1`` (training
shortened to a few iterations, figures written to a temporary folder by the Agg backend) and must
exit with status 0 and print the lines that prove the slide's numbers were reached.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
LESSONS = sorted(p.name for p in LESSONS_DIR.glob("[0-9][0-9]_*.py"))

# text each lesson must print (besides its own asserts): the slide numbers, as the lesson shows them
EXPECTED_OUTPUT = {
    "00_onehot_softmax_cross_entropy.py": [
        "cross entropy of the pixel: minisegnet 1.2040   derived from the slide 1.2040   OK",
        "argmax = class 1 = 'horse'",
    ],
    "01_neurons_activations.py": [
        "unit step        : minisegnet [0.0 0.0 0.5 1.0 1.0]",
        "Lesson 01 complete",
    ],
    "02_convolution_as_matrix.py": ["[[122 148]    [[122 148]", "F.conv_transpose2d(z, w)"],
    "03_transposed_convolution.py": [
        "['ax', 'ay', 'az+bx', 'by', 'bz', '0']",
        "[{'stride': 1, 'crop': 0, 'output_padding': 0}]",
        "[[-4 -6 -3 -6]    [[-4 -6 -3 -6]",
    ],
    "04_maxpool_unpool.py": ["[[0 0 2 0]    [[0 0 2 0]", "max 5 was at (row 1, col 1)"],
    "05_dilation_receptive_fields.py": [
        "receptive field (minisegnet.summary, max pools): minisegnet 284",
        "receptive field of 49 layers (summary): minisegnet 99",
    ],
    "06_one_by_one_convolution.py": [
        "bottleneck total: minisegnet 12,443,648   derived from the slide 12,443,648   OK",
        "5x5 conv, 192 -> 32: minisegnet 120,422,400",
    ],
    "07_losses_and_metrics.py": [
        "Dice coefficient: minisegnet 0.9368   derived from the slide 0.9368   OK",
        "Dice coefficient, squared sums: minisegnet 0.9938",
        "metrics.iou(probabilities, B): minisegnet 0.2727",
    ],
    "08_fcn_32s_16s_8s.py": ["pool1..pool5: [112, 56, 28, 14, 7]", "upsampling steps: 3"],
    "09_segnet_deconvnet_unpooling.py": ["fc6 output (the 7x7 pool5 collapsed): minisegnet [1 1]"],
    "10_unet_valid_same.py": [
        "output size: arithmetic 388   lecture 388   OK",
        "network output: minisegnet [  1   2 388 388]",
    ],
    "11_training_sgd_adam_overfitting.py": ["w after one SGD step: minisegnet [0.750 0.075]"],
    "19_sliding_window_fcn.py": [
        "sliding window == fully convolutional (max |difference|, float64): minisegnet 0",
        "mult-adds of the FCN on the 40x40 image (summary): minisegnet 6,799,968   arithmetic "
        "6,799,968   OK",
    ],
    "20_residual_blocks.py": [
        "derivative of x + sigmoid(x) at 0: minisegnet 1.2500   formula 1.2500   OK"
    ],
    "21_dense_blocks.py": ["channels into the classifier: minisegnet 256   formula 256   OK"],
    "22_crf_refinement.py": [
        "0 iterations returns the network's probabilities: minisegnet 0",
        "boundary accuracy",
    ],
}


# every slide error a lesson meets is flagged there by a line starting with "slide note:"
# (the course map in lessons/README.md lists them): lesson -> the deck each note names, in order
SLIDE_NOTES = {
    "00_onehot_softmax_cross_entropy.py": ["deck 000"],
    "03_transposed_convolution.py": ["deck 002", "deck 001", "deck 003", "deck 003"],
    "07_losses_and_metrics.py": ["deck 004", "deck 002"],
    "10_unet_valid_same.py": ["deck 004", "deck 004", "deck 002"],
}


def test_every_lesson_is_listed_in_the_readme():
    readme = (LESSONS_DIR / "README.md").read_text(encoding="utf-8")
    missing = [name for name in LESSONS if name not in readme]
    assert LESSONS, "no lessons found"
    assert not missing, f"lessons/README.md does not list {missing}"


def test_lessons_do_not_read_the_lecture_notes():
    # the numbers are copied into the lessons as literals: nothing reads ../shared at run time
    offenders = [
        name for name in LESSONS if "shared/" in (LESSONS_DIR / name).read_text(encoding="utf-8")
    ]
    assert not offenders, f"lessons referring to the shared lecture notes: {offenders}"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exercises():
    """lessons/exercises.py (the checker) and lessons/solutions/answers.py (the stored answers)."""
    return _load(LESSONS_DIR / "exercises.py", "lesson_exercises"), _load(
        LESSONS_DIR / "solutions" / "answers.py", "lesson_answers"
    )


def _wrong(answer):
    """A wrong answer of the same kind: another word, or the first number moved by 1."""
    if isinstance(answer, str):
        return "not " + answer
    import numpy as np

    a = np.array(answer, dtype=np.float64)
    a.reshape(-1)[0] += 1.0
    return a


def test_every_lesson_has_two_to_four_exercises_and_poses_them(exercises):
    checker, _ = exercises
    for lesson in LESSONS:
        number = lesson[:2]
        n = len(checker.lesson_exercises(number))
        assert 2 <= n <= 4, f"{lesson} has {n} exercises (2 to 4 wanted)"
        source = (LESSONS_DIR / lesson).read_text(encoding="utf-8")
        assert f'try_it_yourself("{number}")' in source, f"{lesson} does not pose its exercises"


def test_each_checker_accepts_the_stored_solution_and_rejects_a_wrong_one(exercises, capsys):
    checker, answers = exercises
    assert set(answers.ANSWERS) == set(checker.EXERCISES) == set(answers.WHY)
    for ex_id, answer in answers.ANSWERS.items():
        assert checker.check_answer(ex_id, answer) is True, f"{ex_id}: stored solution refused"
        assert checker.check_answer(ex_id, _wrong(answer)) is False, (
            f"{ex_id}: wrong answer accepted"
        )
    out = capsys.readouterr().out
    assert out.count("right!") == len(answers.ANSWERS)
    assert out.count("not quite") == len(answers.ANSWERS) and "Hint:" in out
    # the checker never prints the expected answer: no stored array appears in its output
    assert "[[4, 2, 14" not in out and "3211264" not in out and "3,211,264" not in out


def test_the_checker_refuses_an_unknown_exercise(exercises):
    checker, _ = exercises
    with pytest.raises(KeyError, match="no exercise '99.9'") as err:
        checker.check_answer("99.9", 1)
    listed = str(err.value).split("exercises are ")[1].rstrip("\"'").split(", ")
    assert listed == sorted(checker.EXERCISES)  # in lesson order, so a student finds theirs


def test_every_exercise_id_is_lesson_dot_number(exercises):
    checker, _ = exercises
    numbers = {name[:2] for name in LESSONS}
    for ex_id in checker.EXERCISES:
        assert re.fullmatch(r"\d\d\.\d", ex_id) and ex_id[:2] in numbers, ex_id


@pytest.fixture(scope="module")
def lesson_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future]]:
    """Start every lesson at once (a few at a time, one per core) and hand out the results: the
    lessons are independent scripts, so running them side by side keeps the suite short."""

    def run(lesson: str) -> subprocess.CompletedProcess:
        work = tmp_path_factory.mktemp(lesson[:2])
        env = dict(
            os.environ,
            MINISEGNET_FAST="1",
            MPLBACKEND="Agg",
            MINISEGNET_FIGURES=str(work / "figures"),
        )
        return subprocess.run(
            [sys.executable, str(LESSONS_DIR / lesson)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    futures = {lesson: pool.submit(run, lesson) for lesson in LESSONS}
    yield futures
    pool.shutdown(wait=True)


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_in_fast_mode(lesson: str, lesson_runs: dict[str, Future]) -> None:
    proc = lesson_runs[lesson].result()
    out = proc.stdout
    assert proc.returncode == 0, (
        f"{lesson} failed (exit {proc.returncode}):\n{out[-3000:]}\n{proc.stderr[-3000:]}"
    )
    assert "MISMATCH" not in out
    assert f"Lesson {lesson[:2]} complete" in out, f"{lesson} did not reach its last cell"
    assert "Try it yourself" in out and f'check_answer("{lesson[:2]}.1"' in out
    for text in EXPECTED_OUTPUT.get(lesson, []):
        assert text in out, f"{lesson}: expected to print {text!r}"
    notes = [line for line in out.splitlines() if line.startswith("slide note:")]
    decks = [re.match(r"slide note: (deck \d{3})", line).group(1) for line in notes]
    assert decks == SLIDE_NOTES.get(lesson, []), f"{lesson}: slide notes {notes}"


def test_run_all_runs_every_lesson_and_fails_when_one_does(tmp_path):
    """lessons/run_all.py (the CI entry point for full mode) finds every lesson, and a lesson
    that does not finish makes it exit 1 with the lesson named."""
    run_all = _load(LESSONS_DIR / "run_all.py", "lesson_run_all")
    assert [p.name for p in run_all.lessons([])] == LESSONS
    proc = subprocess.run(
        [
            sys.executable,
            str(LESSONS_DIR / "run_all.py"),
            "08",
            "--timeout",
            "1",
            "--keep-figures",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout and "failed: 08_fcn_32s_16s_8s.py" in proc.stdout
    assert run_all.main(["99"]) == 2
