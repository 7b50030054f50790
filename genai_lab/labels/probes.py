"""The rating probes: one per dump, fitted on its own star ratings (never gold), kept in the model store."""

from __future__ import annotations

import logging

import polars as pl

from genai_lab.labels.functions import LabelSettings, ProbeEnsemble, RatingProbe, fit_rating_probe, probe_training_rows
from genai_lab.ml.store import ModelStore, code_version
from genai_lab.vocabulary import RATING_PROBE

log = logging.getLogger(__name__)

PROBE_FILE = "probe.safetensors"


def probe_store_name(dump_id: str) -> str:
    return f"{RATING_PROBE}@{dump_id}"


def fit_and_store_probes(models: ModelStore, reviews: pl.DataFrame, embeddings, settings: LabelSettings) -> ProbeEnsemble | None:
    """Fits each partition's rating probe and stores it for label_quality; a run over several partitions votes with all of them."""
    if embeddings is None:
        return None
    probes, weights = [], []
    for dump_id in reviews["dump_id"].unique().sort().to_list():
        rows = (reviews["dump_id"] == dump_id).to_numpy()
        probe = fit_rating_probe(embeddings[rows], reviews["rating"].filter(rows), settings)
        rated = int(probe_training_rows(embeddings[rows], reviews["rating"].filter(rows)).sum())
        if probe is None:
            log.info(f"{dump_id}: no rating probe, {rated:,} rated reviews (at least {settings.probe_min_rows} of two classes needed)")
            continue
        stored = models.save(probe_store_name(dump_id), lambda folder, probe=probe: probe.save(folder / PROBE_FILE), {
            "kind": RATING_PROBE, "dump_id": dump_id, "rated_reviews": rated, "base_model": settings.base_model,
            "embed_max_length": settings.embed_max_length, "code_version": code_version()})
        log.info(f"{dump_id}: rating probe fitted on {rated:,} rated reviews ({stored.path})")
        probes.append(probe)
        weights.append(rated)
    return ProbeEnsemble(probes, weights) if probes else None


def load_probe_ensemble(models: ModelStore, dump_ids, settings: LabelSettings) -> ProbeEnsemble | None:
    """The newest rating probe of every partition, weighted by its rated reviews; None when no partition has one."""
    probes, weights = [], []
    for dump_id in sorted(set(dump_ids)):
        versions = [v for v in models.versions(probe_store_name(dump_id))
                    if v.manifest.get("base_model") == settings.base_model and v.manifest.get("embed_max_length") == settings.embed_max_length]
        if versions:
            probes.append(RatingProbe.load(versions[-1].path / PROBE_FILE))
            weights.append(versions[-1].manifest["rated_reviews"])
    return ProbeEnsemble(probes, weights) if probes else None
