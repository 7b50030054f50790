"""Combine labelling-function votes: a Dawid–Skene label model fitted by EM, and majority vote.

Votes are an int matrix (n rows x m sources), each entry a class index 0..K-1 or ``ABSTAIN``
(-1). The label model assumes sources are independent given the true class and learns, from the
votes alone (no labels), the class balance and for each source either a class-conditional
confusion matrix (P(vote | true class), K x K) or one accuracy (errors spread evenly over the
other classes). Abstentions carry no evidence by default; a source's accuracy is estimated on the
rows where it votes. Dirichlet pseudo-counts (a prior accuracy with a strength in rows) keep
rarely-voting sources and rare classes from degenerate estimates; EM starts from every source at
the prior accuracy (the first E-step is a majority vote).

Decisions use a uniform class prior by default (``uniform_decision``): EM tends to shrink a class
that few sources vote for (neutral) towards zero, and macro-F1 weighs every class equally.
``model_abstentions`` (abstaining as class evidence) is available but off: on our data it lets EM
swap classes (a cluster of "everyone abstains" rows becomes a class).

`combine` turns a votes frame into labels: the most probable class, its posterior as the
confidence, and ``abstained`` for rows below ``min_confidence`` or without any vote — such rows
are kept, marked, and carry no label.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from genai_lab.labels.functions import ABSTAIN, LABELS, LabelSettings

__all__ = ["LabelModel", "combine", "majority_vote", "vote_matrix"]


def vote_matrix(votes: pl.DataFrame, columns: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """The ``lf_*`` columns (or `columns`) of a votes frame as an (n, m) int8 matrix, and their names."""
    names = list(columns) if columns is not None else [c for c in votes.columns if c.startswith("lf_")]
    if not names:
        raise ValueError(f"no vote columns (lf_*) in {votes.columns}")
    return votes.select(pl.col(c).fill_null(ABSTAIN).cast(pl.Int8) for c in names).to_numpy().astype(np.int8), names


def majority_vote(votes: np.ndarray, n_classes: int = len(LABELS)) -> np.ndarray:
    """Plurality of the non-abstaining votes per row; ``ABSTAIN`` where no source votes or the top classes tie."""
    votes = np.asarray(votes)
    counts = np.stack([(votes == k).sum(axis=1) for k in range(n_classes)], axis=1)
    top = counts.max(axis=1)
    winners = (counts == top[:, None]).sum(axis=1)
    return np.where((top > 0) & (winners == 1), counts.argmax(axis=1), ABSTAIN).astype(np.int64)


class LabelModel:
    """Dawid–Skene EM over LF votes with abstentions.

    ``class_conditional``: a full confusion matrix per source (else one accuracy per source).
    ``prior_accuracy`` / ``prior_strength``: Dirichlet pseudo-counts per confusion row (the diagonal
    gets ``strength * accuracy``, each other cell ``strength * (1 - accuracy) / (K - 1)``); the
    class balance gets ``strength / K`` per class.
    ``fixed_balance``: keep this class balance instead of learning it. ``uniform_decision``:
    `predict_proba` uses a uniform prior (default). ``model_abstentions``: learn P(abstain | class).
    After `fit`: ``class_balance``, ``confusion`` (m, K, K), ``source_accuracies``,
    ``source_coverage``.
    """

    def __init__(self, n_classes: int = len(LABELS), *, class_conditional: bool = True, prior_accuracy: float = 0.7,
                 prior_strength: float = 5.0, iterations: int = 200, tolerance: float = 1e-6,
                 model_abstentions: bool = False, fixed_balance: Sequence[float] | None = None,
                 uniform_decision: bool = True,
                 source_names: Sequence[str] | None = None) -> None:
        if n_classes < 2:
            raise ValueError("n_classes must be >= 2")
        if not 1.0 / n_classes < prior_accuracy < 1.0:
            raise ValueError(f"prior_accuracy must lie in (1/K, 1), got {prior_accuracy}")
        self.n_classes = n_classes
        self.class_conditional = class_conditional
        self.model_abstentions = model_abstentions
        if fixed_balance is not None:
            fb = np.asarray(fixed_balance, np.float64)
            if fb.shape != (n_classes,) or (fb <= 0).any():
                raise ValueError(f"fixed_balance needs {n_classes} positive numbers, got {fixed_balance}")
            fixed_balance = (fb / fb.sum()).tolist()
        self.fixed_balance = fixed_balance
        self.uniform_decision = uniform_decision
        self.prior_accuracy = prior_accuracy
        self.prior_strength = prior_strength
        self.iterations = iterations
        self.tolerance = tolerance
        self.source_names = list(source_names) if source_names is not None else None
        self.class_balance: np.ndarray | None = None
        self.confusion: np.ndarray | None = None  # (m, K, K): P(vote = l | true class = k, votes)
        self.abstain: np.ndarray | None = None  # (m, K): P(source abstains | true class = k)
        self._accuracies: np.ndarray | None = None
        self._coverage: np.ndarray | None = None
        self.n_iter_ = 0

    @classmethod
    def from_settings(cls, settings: LabelSettings | None = None, source_names: Sequence[str] | None = None) -> LabelModel:
        s = settings or LabelSettings()
        return cls(len(LABELS), class_conditional=s.label_model_class_conditional, prior_accuracy=s.label_model_prior_accuracy,
                   prior_strength=s.label_model_prior_strength, iterations=s.label_model_iterations,
                   tolerance=s.label_model_tolerance, model_abstentions=s.label_model_abstentions,
                   uniform_decision=s.label_model_uniform_decision,
                   source_names=source_names)

    # ---------------------------------------------------------------------------------------------
    def _check(self, votes: np.ndarray) -> np.ndarray:
        votes = np.asarray(votes)
        if votes.ndim != 2:
            raise ValueError(f"votes must be a 2-d matrix (rows x sources), got shape {votes.shape}")
        bad = (votes < ABSTAIN) | (votes >= self.n_classes)
        if bad.any():
            raise ValueError(f"votes must lie in -1..{self.n_classes - 1}; found {np.unique(votes[bad]).tolist()}")
        if self.confusion is not None and votes.shape[1] != self.confusion.shape[0]:
            raise ValueError(f"votes have {votes.shape[1]} sources, the model was fitted on {self.confusion.shape[0]}")
        return votes.astype(np.int64)

    def _prior_row(self) -> np.ndarray:
        k = self.n_classes
        prior = np.full((k, k), self.prior_strength * (1.0 - self.prior_accuracy) / (k - 1))
        np.fill_diagonal(prior, self.prior_strength * self.prior_accuracy)
        return prior

    def _log_posterior(self, votes: np.ndarray, log_balance: np.ndarray, log_conf: np.ndarray) -> np.ndarray:
        n, m = votes.shape
        out = np.tile(log_balance, (n, 1))
        for j in range(m):
            voted = votes[:, j] >= 0
            if voted.any():
                out[voted] += log_conf[j][:, votes[voted, j]].T
            if self.model_abstentions and self.abstain is not None and (~voted).any():
                out[~voted] += np.log(self.abstain[j])[None, :]
        return out

    @staticmethod
    def _normalise(log_p: np.ndarray) -> np.ndarray:
        log_p = log_p - log_p.max(axis=1, keepdims=True)
        p = np.exp(log_p)
        return p / p.sum(axis=1, keepdims=True)

    def fit(self, votes: np.ndarray) -> LabelModel:
        """EM on the votes alone. Rows where no source votes are left out (they carry no evidence)."""
        votes = self._check(votes)
        self.confusion = None
        n, m = votes.shape
        k = self.n_classes
        votes = votes[(votes >= 0).any(axis=1)] if n else votes
        onehot = [(votes[:, j][:, None] == np.arange(k)[None, :]).astype(np.float64) for j in range(m)]
        prior = self._prior_row()
        # start: every source at the prior accuracy, uniform classes (= a majority vote)
        conf = np.tile(prior / prior.sum(axis=1, keepdims=True), (m, 1, 1)) if m else np.zeros((0, k, k))
        balance = np.asarray(self.fixed_balance) if self.fixed_balance is not None else np.full(k, 1.0 / k)
        voted = (votes >= 0).astype(np.float64)
        rate = voted.mean(axis=0) if len(votes) else np.ones(m)
        self.abstain = np.tile((1.0 - rate)[:, None], (1, k)).clip(1e-3, 1 - 1e-3) if m else np.zeros((0, k))
        previous = -np.inf
        self.n_iter_ = 0
        for it in range(self.iterations):
            log_post = self._log_posterior(votes, np.log(balance), np.log(conf))
            shift = log_post.max(axis=1, keepdims=True)
            loglik = float((shift[:, 0] + np.log(np.exp(log_post - shift).sum(axis=1))).sum()) if len(votes) else 0.0
            post = self._normalise(log_post) if len(votes) else np.zeros((0, k))
            # M-step
            if self.fixed_balance is None:
                balance = post.sum(axis=0) + self.prior_strength / k
                balance /= balance.sum()
            if self.model_abstentions:
                # P(abstain | class), pseudo-counts at the source's overall abstain rate
                voted_mass = post.T @ voted  # (K, m)
                total = post.sum(axis=0)[:, None]
                a = ((total - voted_mass) + self.prior_strength * (1.0 - rate)[None, :]) / (total + self.prior_strength)
                self.abstain = a.T.clip(1e-4, 1 - 1e-4)
            for j in range(m):
                counts = post.T @ onehot[j]  # (K true, K voted)
                if self.class_conditional:
                    rows = counts + prior
                    conf[j] = rows / rows.sum(axis=1, keepdims=True)
                else:
                    right = np.trace(counts) + self.prior_strength * self.prior_accuracy
                    total = counts.sum() + self.prior_strength
                    acc = right / total
                    conf[j] = np.full((k, k), (1.0 - acc) / (k - 1))
                    np.fill_diagonal(conf[j], acc)
            self.n_iter_ = it + 1
            if abs(loglik - previous) <= self.tolerance * max(1.0, abs(loglik)):
                break
            previous = loglik
        self.class_balance, self.confusion = balance, conf
        # accuracies: expected share of right votes where the source votes, under the posterior
        post = self._normalise(self._log_posterior(votes, np.log(balance), np.log(conf))) if len(votes) else np.zeros((0, k))
        self._accuracies = np.array([
            float((post * onehot[j]).sum() / onehot[j].sum()) if onehot[j].sum() else float("nan") for j in range(m)
        ])
        self._coverage = np.array([float((votes[:, j] >= 0).mean()) if len(votes) else 0.0 for j in range(m)])
        return self

    def predict_proba(self, votes: np.ndarray) -> np.ndarray:
        """Posterior class probabilities (n, K); rows without any vote get the prior.

        With ``uniform_decision`` the prior is uniform (the learned confusions, not the learned
        class balance, decide): the balanced decision that macro-F1 rewards, and a rare class
        (neutral) is not drowned by a prior EM learned from sources that seldom vote it.
        """
        if self.confusion is None or self.class_balance is None:
            raise RuntimeError("LabelModel.fit must run first")
        votes = self._check(votes)
        balance = np.full(self.n_classes, 1.0 / self.n_classes) if self.uniform_decision else self.class_balance
        return self._normalise(self._log_posterior(votes, np.log(balance), np.log(self.confusion)))

    def predict(self, votes: np.ndarray, min_confidence: float = 0.0) -> np.ndarray:
        """Most probable class; ``ABSTAIN`` where no source votes or the posterior is below `min_confidence`."""
        votes = self._check(votes)
        p = self.predict_proba(votes)
        keep = (votes >= 0).any(axis=1) & (p.max(axis=1) >= min_confidence)
        return np.where(keep, p.argmax(axis=1), ABSTAIN)

    # ---------------------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        m = 0 if self.confusion is None else self.confusion.shape[0]
        return self.source_names if self.source_names and len(self.source_names) == m else [f"source_{j}" for j in range(m)]

    @property
    def source_accuracies(self) -> dict[str, float]:
        """Source -> estimated accuracy on the rows where it votes (learned without labels)."""
        if self._accuracies is None:
            raise RuntimeError("LabelModel.fit must run first")
        return dict(zip(self._names(), (round(float(a), 4) for a in self._accuracies), strict=True))

    @property
    def source_coverage(self) -> dict[str, float]:
        """Source -> share of the (non-empty) training rows it voted on."""
        if self._coverage is None:
            raise RuntimeError("LabelModel.fit must run first")
        return dict(zip(self._names(), (round(float(c), 4) for c in self._coverage), strict=True))

    def to_dict(self) -> dict:
        if self.confusion is None:
            raise RuntimeError("LabelModel.fit must run first")
        return {
            "n_classes": self.n_classes, "class_conditional": self.class_conditional,
            "prior_accuracy": self.prior_accuracy, "prior_strength": self.prior_strength,
            "iterations": self.iterations, "tolerance": self.tolerance, "source_names": self._names(),
            "model_abstentions": self.model_abstentions, "abstain": self.abstain.tolist(),
            "fixed_balance": self.fixed_balance, "uniform_decision": self.uniform_decision,
            "class_balance": self.class_balance.tolist(), "confusion": self.confusion.tolist(),
            "accuracies": self._accuracies.tolist(), "coverage": self._coverage.tolist(), "n_iter": self.n_iter_,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LabelModel:
        model = cls(d["n_classes"], class_conditional=d["class_conditional"], prior_accuracy=d["prior_accuracy"],
                    prior_strength=d["prior_strength"], iterations=d["iterations"], tolerance=d["tolerance"],
                    model_abstentions=d.get("model_abstentions", False), fixed_balance=d.get("fixed_balance"),
                    uniform_decision=d.get("uniform_decision", True),
                    source_names=d["source_names"])
        model.abstain = np.asarray(d["abstain"], np.float64)
        model.class_balance = np.asarray(d["class_balance"], np.float64)
        model.confusion = np.asarray(d["confusion"], np.float64)
        model._accuracies = np.asarray(d["accuracies"], np.float64)
        model._coverage = np.asarray(d["coverage"], np.float64)
        model.n_iter_ = d.get("n_iter", 0)
        return model

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LabelModel:
        return cls.from_dict(json.loads(Path(path).read_text()))


def combine(votes_frame: pl.DataFrame, model: LabelModel, min_confidence: float | None = None) -> pl.DataFrame:
    """Labels from a votes frame (`review_votes` / `aspect_votes` output).

    Returns the frame's id and vote columns plus ``label`` (string, null where abstaining),
    ``label_index`` (Int8, -1 where abstaining), ``confidence`` (the posterior of the most probable
    class), ``p_negative`` / ``p_neutral`` / ``p_positive``, ``n_votes``, ``majority_label`` (the
    majority-vote baseline, null on ties / no votes) and ``abstained`` (no vote at all, or
    confidence below ``min_confidence``, default `LabelSettings().min_confidence`).
    """
    if min_confidence is None:
        min_confidence = LabelSettings().min_confidence
    names = model.source_names if model.source_names else None
    votes, names = vote_matrix(votes_frame, names)
    p = model.predict_proba(votes)
    best = p.argmax(axis=1)
    confidence = p.max(axis=1)
    n_votes = (votes >= 0).sum(axis=1)
    abstained = (n_votes == 0) | (confidence < min_confidence)
    index = np.where(abstained, ABSTAIN, best)
    majority = majority_vote(votes, model.n_classes)
    labels = np.array(LABELS + (None,), dtype=object)  # index -1 -> None
    extra = pl.DataFrame({
        "label": pl.Series(labels[index].tolist(), dtype=pl.String),
        "label_index": pl.Series(index, dtype=pl.Int8),
        "confidence": pl.Series(confidence, dtype=pl.Float64),
        **{f"p_{name}": pl.Series(p[:, k], dtype=pl.Float64) for k, name in enumerate(LABELS[: model.n_classes])},
        "n_votes": pl.Series(n_votes, dtype=pl.Int16),
        "majority_label": pl.Series(labels[majority].tolist(), dtype=pl.String),
        "abstained": pl.Series(abstained, dtype=pl.Boolean),
    })
    keep = [c for c in votes_frame.columns if not c.startswith("lf_")] + names
    return pl.concat([votes_frame.select(keep), extra], how="horizontal")
