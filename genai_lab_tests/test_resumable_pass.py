"""Model passes that keep each finished batch: same values as one pass, a real kill resumes without redoing batches."""

import subprocess
import sys
import time

import numpy as np
import pytest

from genai_lab.ml.resumable_pass import content_digests, run_resumable_pass

KEYS = [f"text {i % 37}" for i in range(100)]  # 37 distinct keys, each repeated


def _vector(key: str) -> list[float]:
    """A value that identifies its key, so a row in the wrong place shows."""
    digest = content_digests([key])[0]
    return [digest[0] / 255, digest[1] / 255, len(key)]


def test_batched_kept_values_equal_one_pass_and_equal_keys_are_computed_once(tmp_path):
    calls = []

    def compute(rows):
        calls.append([KEYS[i] for i in rows])
        return np.array([_vector(KEYS[i]) for i in rows])

    whole = run_resumable_pass(KEYS, compute, width=3, folder=None, batch_rows=1000)
    batched = run_resumable_pass(KEYS, compute, width=3, folder=tmp_path / "kept", batch_rows=5)
    np.testing.assert_array_equal(whole.values, np.array([_vector(k) for k in KEYS], dtype=np.float32))
    np.testing.assert_array_equal(batched.values, whole.values)
    assert [len(c) for c in calls] == [37] + [5] * 7 + [2]
    assert len(list((tmp_path / "kept").glob("part-*.npz"))) == 8


def test_a_time_budget_leaves_whole_batches_and_nan_for_the_rest():
    result = run_resumable_pass(KEYS, lambda rows: np.ones((len(rows), 3)), width=3, folder=None, batch_rows=5, max_seconds=0.0)
    done = np.isfinite(result.values).all(axis=1)
    assert result.computed == 5 and 5 <= done.sum() < len(KEYS)  # the first batch always runs


def test_a_pass_killed_half_way_resumes_without_redoing_finished_batches(tmp_path):
    folder, log = tmp_path / "kept", tmp_path / "child.log"
    script = """
import sys, time
import numpy as np
from genai_lab.ml.resumable_pass import run_resumable_pass
keys = [f"text {i % 37}" for i in range(100)]
def compute(rows):
    time.sleep(0.3)
    return np.array([[len(keys[i]), 0, 0] for i in rows])
run_resumable_pass(keys, compute, width=3, folder=__import__("pathlib").Path(sys.argv[1]), batch_rows=4)
"""
    child = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None and len(list(folder.glob("part-*.npz"))) < 3:
        time.sleep(0.02)
    assert child.poll() is None, f"the pass ended before it could be killed: {log.read_text()[-2000:]}"
    child.kill()
    child.wait()
    finished = len(list(folder.glob("part-*.npz")))
    assert 3 <= finished < 10  # 37 distinct keys in batches of 4: 10 batches in all

    computed = []

    def compute(rows):
        computed.extend(KEYS[i] for i in rows)
        return np.array([[len(KEYS[i]), 0, 0] for i in rows])

    resumed = run_resumable_pass(KEYS, compute, width=3, folder=folder, batch_rows=4)
    assert resumed.reused == 4 * finished and resumed.computed == 37 - 4 * finished == len(set(computed)) == len(computed)
    np.testing.assert_array_equal(resumed.values[:, 0], [len(k) for k in KEYS])


def test_a_folder_of_another_width_is_a_clear_error(tmp_path):
    run_resumable_pass(KEYS[:3], lambda rows: np.zeros((len(rows), 2)), width=2, folder=tmp_path)
    with pytest.raises(ValueError, match="remove the folder"):
        run_resumable_pass(KEYS[:3], lambda rows: np.zeros((len(rows), 3)), width=3, folder=tmp_path)
