"""The model store: versions appear whole or not at all, nothing pickled, the champion moves only on a better score."""

import json

import pytest

from genai_lab.ml.store import MANIFEST, ModelStore, folder_hash


def _write_weights(folder):
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")


def test_save_writes_a_version_with_its_manifest(tmp_path):
    store = ModelStore(root=str(tmp_path))
    stored = store.save("clf", _write_weights, {"metrics": {"f1": 0.5}})
    manifest = json.loads((stored.path / MANIFEST).read_text())
    assert manifest["name"] == "clf" and manifest["version"] == stored.version
    assert manifest["metrics"] == {"f1": 0.5} and manifest["disk_mb"] > 0 and manifest["created_at"]
    assert [m.version for m in store.versions("clf")] == [stored.version]
    assert store.get("clf", stored.version).manifest["metrics"]["f1"] == 0.5


def test_a_failed_write_leaves_no_version(tmp_path):
    store = ModelStore(root=str(tmp_path))

    def crash(folder):
        (folder / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        store.save("clf", crash, {})
    assert store.versions("clf") == []
    assert [p.name for p in (tmp_path / "clf").iterdir()] == []


def test_pickled_weights_are_refused(tmp_path):
    store = ModelStore(root=str(tmp_path))
    with pytest.raises(ValueError, match="pickled"):
        store.save("clf", lambda folder: (folder / "pytorch_model.bin").write_bytes(b"pickle"), {})
    assert store.versions("clf") == []


def test_champion_moves_only_when_beaten(tmp_path):
    store = ModelStore(root=str(tmp_path))
    first = store.save("clf", _write_weights, {})
    assert store.champion("clf") is None
    assert store.promote(first, 0.70, None, "f1") is True
    assert store.champion("clf").version == first.version

    worse = store.save("clf", _write_weights, {})
    assert store.promote(worse, 0.65, 0.70, "f1") is False
    tie = store.save("clf", _write_weights, {})
    assert store.promote(tie, 0.70, 0.70, "f1") is False
    assert store.champion("clf").version == first.version

    better = store.save("clf", _write_weights, {})
    assert store.promote(better, 0.75, 0.70, "f1") is True
    assert store.champion("clf").version == better.version
    assert store.champion_score("clf") == 0.75
    assert len(store.versions("clf")) == 4


def test_unknown_version_names_the_known_ones(tmp_path):
    store = ModelStore(root=str(tmp_path))
    stored = store.save("clf", _write_weights, {})
    with pytest.raises(FileNotFoundError, match=stored.version):
        store.get("clf", "v0")


def test_folder_hash_changes_with_content(tmp_path):
    _write_weights(tmp_path)
    before = folder_hash(tmp_path)
    assert folder_hash(tmp_path) == before
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert folder_hash(tmp_path) != before


def test_a_resumed_runs_cost_includes_the_killed_runs_time():
    from genai_lab.ml.cost import CostMeter

    fresh = CostMeter().stop()
    resumed = CostMeter().stop(earlier={"train_seconds": 100.0, "cpu_seconds": 180.0})
    assert resumed["train_seconds"] >= 100.0 and resumed["cpu_seconds"] >= 180.0
    assert resumed["energy_kwh"] >= 180.0 * 10.0 / 3.6e6 > fresh["energy_kwh"]  # 10 W per busy core, by default
    assert "gpu_seconds" not in fresh  # CPU training: nothing to price as GPU-hours
    on_gpus = CostMeter(gpus=2).stop(earlier={"train_seconds": 50.0})
    assert on_gpus["gpu_seconds"] >= 100.0  # two GPUs for the whole wall time, the killed run's included


def test_the_cost_counts_the_training_processes_cpu_and_memory():
    """Data-parallel training runs in child processes: their CPU seconds and resident memory are the run's too."""
    import subprocess
    import sys

    import psutil

    from genai_lab.ml.cost import CostMeter

    own_mb = psutil.Process().memory_info().rss / 1e6
    meter = CostMeter(interval_s=0.05)
    # a child that holds 200 MB and burns a second of CPU
    subprocess.run([sys.executable, "-c", "import time\nb = bytearray(200_000_000)\nb[::4096] = b'x' * len(b[::4096])\n"
                    "end = time.process_time() + 1.0\nwhile time.process_time() < end: pass"], check=True)
    cost = meter.stop()
    assert cost["cpu_seconds"] >= 0.9
    assert cost["peak_rss_mb"] >= own_mb + 150  # this process alone stays near own_mb
