"""The local model store: `<root>/<name>/<version>/` folders with a manifest, and a champion per name.

A version folder holds what `save_pretrained` writes (safetensors only), the tokenizer, and
`manifest.json` (base model and its hash, data version, code version, settings, metrics, cost,
creation time). Versions are written under a temporary name and renamed into place, so a run that
dies leaves no half-written version. `champion.json` names the version that serves; it moves only
through `promote`, and only when the candidate's score beats the champion's.

Nothing here unpickles: weights are safetensors, everything else is JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from genai_lab.paths import resolve_home

MANIFEST = "manifest.json"
CHAMPION = "champion.json"
WORK = "_work"  # per-name scratch: checkpoints of unfinished training runs
PASSES = "_passes"  # finished batches of model passes over the corpus (genai_lab.ml.resumable_pass)


def code_version() -> str:
    """Package version plus the git commit of the checkout it runs from, when there is one."""
    from genai_lab import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def folder_hash(folder: str | Path, suffixes: tuple[str, ...] = (".safetensors", ".json", ".txt", ".model")) -> str:
    """SHA-256 over the model files of a folder (names and contents), so a changed base model gets a new hash."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes):
        digest.update(str(path.relative_to(root)).encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def folder_mb(folder: str | Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def _write_json(path: Path, payload: Any) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(temporary, path)  # atomic: readers see the old or the new file, never half of one


@dataclass(frozen=True)
class StoredModel:
    name: str
    version: str
    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text())


class ModelStore(ConfigurableResource):
    """Versioned model folders under `<home>/models` (or `root`), with a champion pointer per model name."""

    root: str = Field(default="", description="Folder of the store (default: <home>/models).")

    @property
    def folder(self) -> Path:
        return Path(self.root).expanduser().resolve() if self.root else resolve_home() / "models"

    def work_dir(self, name: str) -> Path:
        """Scratch space of a model name (checkpoints of unfinished runs); never a version."""
        path = self.folder / name / WORK
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pass_dir(self, pass_name: str, *identity: object) -> Path:
        """The folder of a resumable pass's finished batches: one per pass and `identity` (the model version and every
        setting that changes its output), so a new model or setting never reads another's results."""
        key = hashlib.blake2b("\x1f".join(map(str, identity)).encode(), digest_size=8).hexdigest()
        return self.folder / PASSES / pass_name / key

    def versions(self, name: str) -> list[StoredModel]:
        base = self.folder / name
        if not base.exists():
            return []
        found = [StoredModel(name, p.name, p) for p in base.iterdir() if p.is_dir() and (p / MANIFEST).exists()]
        return sorted(found, key=lambda m: m.version)

    def get(self, name: str, version: str) -> StoredModel:
        path = self.folder / name / version
        if not (path / MANIFEST).exists():
            known = [m.version for m in self.versions(name)]
            raise FileNotFoundError(f"model store {self.folder}: no version '{version}' of '{name}' (versions: {known or 'none'})")
        return StoredModel(name, version, path)

    def save(self, name: str, write, manifest: dict[str, Any]) -> StoredModel:
        """Calls `write(folder)` on a fresh temporary folder, adds the manifest and moves it into place as a new version."""
        base = self.folder / name
        base.mkdir(parents=True, exist_ok=True)
        created = dt.datetime.now(dt.UTC)
        version = created.strftime("v%Y%m%dT%H%M%S%fZ")
        staging = base / f".staging-{version}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            write(staging)
            pickled = [p.name for p in staging.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")]
            if pickled:
                raise ValueError(f"model store: refusing pickled files {pickled}; save weights as safetensors")
            _write_json(staging / MANIFEST, {**manifest, "name": name, "version": version, "created_at": created.isoformat(),
                                             "disk_mb": folder_mb(staging)})
            os.replace(staging, base / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return StoredModel(name, version, base / version)

    def champion(self, name: str) -> StoredModel | None:
        pointer = self.folder / name / CHAMPION
        if not pointer.exists():
            return None
        return self.get(name, json.loads(pointer.read_text())["version"])

    def champion_pointer(self, name: str) -> dict[str, Any] | None:
        pointer = self.folder / name / CHAMPION
        return json.loads(pointer.read_text()) if pointer.exists() else None

    def champion_score(self, name: str) -> float | None:
        return (self.champion_pointer(name) or {}).get("score")

    def promote(self, candidate: StoredModel, score: float, champion_score: float | None, metric: str,
                holdout_digest: str | None = None) -> bool:
        """Makes `candidate` the champion when it beats `champion_score` (the champion scored on the same data).

        `champion_score` None means there is no champion (or it cannot be compared): the candidate wins.
        Whichever serves afterwards keeps its score on these held-out rows (`holdout_digest`) in the pointer's
        `holdout_scores`, so champions of different arms can be compared on rows they were both scored on.
        """
        pointer_path = self.folder / candidate.name / CHAMPION
        now = dt.datetime.now(dt.UTC).isoformat()
        if champion_score is not None and not score > champion_score:
            pointer = self.champion_pointer(candidate.name)
            if pointer is not None and holdout_digest:
                pointer.setdefault("holdout_scores", {})[holdout_digest] = {"score": champion_score, "at": now}
                _write_json(pointer_path, pointer)
            return False
        _write_json(pointer_path, {
            "version": candidate.version, "score": score, "metric": metric, "previous_score": champion_score, "promoted_at": now,
            "holdout_scores": {holdout_digest: {"score": score, "at": now}} if holdout_digest else {}})
        return True
