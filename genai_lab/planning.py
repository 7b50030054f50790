"""What a corpus will cost before it is run: the projected time of each step, the disk, and the device.

Two halves. The arithmetic (`Rates`, `Budgets`, `project`) is pure: measured per-unit rates and the
settings' caps in, one `StepCost` per Dagster step out, so it is tested with fixed rates. The
measuring (`count_rows`, `measure_rates`) runs the pipeline's own code on a sample spread through
the dumps on this machine: prep on a few thousand rows, the base model's embeddings, each training
loop at two sizes (untrained weights of the trained shape: a step costs the same), scoring with the
models as they are served, and the market step itself. `genai-lab plan` joins them.

What the projection leaves out: the gold-set steps are projected from the gold rows found (none:
seconds of setup each, not projected), model loading and Dagster's own per-step overhead (seconds).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from genai_lab.labels.functions import boundary_pattern

if TYPE_CHECKING:
    import polars as pl

    from genai_lab.labels.rating_mil import RatingMilSettings

# ---- the arithmetic (pure) ---------------------------------------------------------------------

#: Dagster steps in the order a whole-graph run executes them (the clean/rejected multi-asset is one step)
STEPS = ("raw_reviews", "reviews", "review_quality", "clean_reviews_and_rejects", "text_quality", "aspect_mentions",
         "rating_mil", "pseudo_labels", "finetuned_adapter", "slm_tokenizer", "slm_pretrained", "slm_classifier", "review_predictions",
         "market_opportunities", "opportunity_report", "gold_labels", "label_quality", "review_type_quality",
         "adapter_evaluation", "slm_evaluation", "inference_timing", "model_evaluation", "comparison_report")
#: steps that run a model, on a GPU when there is one
MODEL_STEPS = frozenset({"rating_mil", "pseudo_labels", "finetuned_adapter", "slm_pretrained", "slm_classifier", "review_predictions",
                         "label_quality", "adapter_evaluation", "slm_evaluation", "inference_timing"})


@dataclass(frozen=True)
class Rates:
    """Seconds per unit measured on this machine, and the shape of the corpus measured on the sample."""

    #: per raw row: raw_reviews, reviews, review_quality, clean_reviews_and_rejects
    per_raw_row: dict[str, float]
    #: per clean review: text_quality, aspect_mentions, slm_tokenizer, market_opportunities, opportunity_report
    per_clean_row: dict[str, float]
    #: seconds a step costs whatever the corpus (fitted from timings at two sample sizes)
    fixed_s: dict[str, float]
    #: labelling functions (without embeddings) per labelled item (a clean review or an aspect mention)
    label_s_per_item: float
    embed_s_per_text: float
    adapter_train_s_per_row: float
    adapter_infer_s_per_row: float
    slm_train_s_per_row: float
    slm_infer_s_per_row: float
    slm_pretrain_s_per_token: float
    #: share of raw rows kept clean, aspect mentions per clean review, distinct embedded texts per clean review
    #: (its text and its aspect clauses), tokens per clean review (the SLM tokenizer's)
    clean_share: float
    mentions_per_clean: float
    embed_texts_per_clean: float
    tokens_per_clean: float
    #: warehouse bytes per raw row (every table), and the model store's bytes (independent of the corpus)
    warehouse_bytes_per_row: float
    model_store_bytes: float
    #: where the rates were measured (sample size, machine)
    note: str = ""
    #: the rating-MIL teacher: seconds per review trained on, per segment read, and distinct segments per clean review
    mil_train_s_per_review: float = 0.0
    mil_s_per_segment: float = 0.0
    segments_per_clean: float = 0.0
    #: floats per embedded text (the base model's hidden size): what a kept embedding pass stores per text
    embedding_width: int = 384
    #: the rating-MIL teacher's held-out scoring, per review (None: its segments at `mil_s_per_segment`)
    mil_held_out_s_per_review: float | None = None
    #: market_opportunities' embedding of a feature request (None: `embed_s_per_text`)
    market_embed_s_per_request: float | None = None
    #: feature requests per clean review (market_opportunities embeds them up to its cap); None: as many as the reviews
    requests_per_clean: float | None = None
    #: seconds per gold input of each arm's evaluation (gold sentences are shorter than reviews); None: the serving rate
    adapter_gold_s_per_row: float | None = None
    slm_gold_s_per_row: float | None = None


@dataclass(frozen=True)
class ArmBudget:
    """What a self-training arm trains on and scores, read from its `SelfTrainingSettings`."""

    rounds: int
    epochs_per_round: int
    min_train_rows: int
    max_train_rows: int
    train_rows_share: float
    pool_rows: int
    holdout_rows: int
    max_train_minutes: float | None

    @classmethod
    def of(cls, settings) -> ArmBudget:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def rows_per_round(self, candidates: float) -> int:
        # as SelfTrainingSettings.rows_per_round
        return min(self.max_train_rows, max(self.min_train_rows, round(self.train_rows_share * candidates)))


@dataclass(frozen=True)
class Budgets:
    """The caps the settings put on steps, so their cost does not grow with the corpus (read from the resources)."""

    adapter: ArmBudget
    slm: ArmBudget
    embed_max_minutes: float | None
    pretrain_minutes: float
    pretrain_epochs: float
    pretrain_steps: int | None
    pretrain_batch_blocks: int
    block_tokens: int
    serving_max_minutes: float | None
    timing_rows: int
    timing_passes: int
    gold_rows: int = 0
    #: of those, the sentiment rows the arms' evaluations score (None: all of them)
    gold_scored_rows: int | None = None
    #: market_opportunities embeds a sample of at most this many feature requests
    market_max_requests: int = 0
    #: the rating-MIL teacher's settings (its budget: reviews trained on, minutes, held-out reviews scored)
    rating_mil: RatingMilSettings | None = None
    #: whether pseudo_labels keeps its embedding pass in the model store (labeling.labels.keep_embedding_passes)
    keep_embedding_passes: bool = True

    @classmethod
    def from_resources(cls, resources: dict, gold_rows: int = 0, gold_scored_rows: int | None = None) -> Budgets:
        adapter, slm, labeling, insight, reporting = (resources[k] for k in ("adapter", "slm", "labeling", "insight", "reporting"))
        return cls(
            adapter=ArmBudget.of(adapter.training), slm=ArmBudget.of(slm.training),
            embed_max_minutes=labeling.labels.embed_max_minutes if labeling.labels.use_embeddings else 0.0,
            pretrain_minutes=slm.slm.pretrain_minutes, pretrain_epochs=slm.slm.pretrain_epochs, pretrain_steps=slm.slm.pretrain_steps,
            pretrain_batch_blocks=slm.slm.optimizer.batch_size, block_tokens=slm.slm.max_length,
            serving_max_minutes=insight.serving.max_minutes,
            timing_rows=reporting.timing.throughput_rows, timing_passes=reporting.timing.passes, gold_rows=gold_rows,
            gold_scored_rows=gold_scored_rows,
            market_max_requests=insight.opportunities.max_requests, rating_mil=labeling.rating_mil,
            keep_embedding_passes=labeling.labels.keep_embedding_passes and labeling.labels.use_embeddings,
        )


@dataclass(frozen=True)
class StepCost:
    step: str
    seconds: float
    #: how the number was reached, in words (units × rate, or the cap that binds)
    basis: str
    capped: bool = False
    model: bool = False


@dataclass(frozen=True)
class Plan:
    rows: int
    clean_rows: int
    steps: list[StepCost]
    warehouse_bytes: float
    model_store_bytes: float
    gpu: str | None
    served_arm: str
    notes: list[str] = field(default_factory=list)
    #: the model passes' kept batches (genai_lab.ml.resumable_pass): embeddings and predictions
    kept_pass_bytes: float = 0.0

    @property
    def total_seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def as_dict(self) -> dict:
        return asdict(self) | {"total_seconds": self.total_seconds}


def self_training_seconds(items: float, train_s_per_row: float, infer_s_per_row: float, budget: ArmBudget) -> tuple[float, bool, str]:
    """An arm's training step, as `self_train` runs it: each epoch trains the round's rows and then scores the
    held-out rows; each later round first labels a sample of the pool. The time cap is checked after each epoch
    and ends the run after the round in which it is spent, so a round is never cut: the first always runs whole."""
    per_round = min(items, budget.rows_per_round(items))
    epoch = per_round * train_s_per_row + min(items, budget.holdout_rows) * infer_s_per_row
    pool = min(items, budget.pool_rows) * infer_s_per_row
    cap = budget.max_train_minutes * 60 if budget.max_train_minutes is not None else float("inf")
    total, rounds_run, out_of_time = 0.0, 0, False
    for round_index in range(budget.rounds):
        if out_of_time:
            break
        total += pool if round_index else 0.0
        for _ in range(budget.epochs_per_round):
            total += epoch
            if total >= cap:
                out_of_time = True
                break
        rounds_run += 1
    capped = rounds_run < budget.rounds or (out_of_time and budget.epochs_per_round > 1)
    basis = (f"{rounds_run} of {budget.rounds} rounds x {budget.epochs_per_round} epoch x {per_round:,.0f} rows at {train_s_per_row * 1e3:.1f} ms"
             + (f" (the {budget.max_train_minutes:g}-min cap ends it after a whole round)" if capped else "")
             + f"; held-out and pool rows scored at {infer_s_per_row * 1e3:.1f} ms")
    return total, capped, basis


def _pseudo_labels_cost(clean: float, items: float, rates: Rates, budgets: Budgets) -> tuple[float, str, bool]:
    """Seconds of pseudo_labels: the embeddings (capped by the labelling settings) and the labelling functions."""
    texts = clean * rates.embed_texts_per_clean
    embed = texts * rates.embed_s_per_text
    capped = budgets.embed_max_minutes is not None and embed > budgets.embed_max_minutes * 60
    if capped:
        embed = budgets.embed_max_minutes * 60
    basis = (f"{texts:,.0f} texts embedded x {rates.embed_s_per_text * 1e3:.2f} ms"
             + (f" (capped at {budgets.embed_max_minutes:g} min)" if capped else "")
             + f" + {items:,.0f} items labelled x {rates.label_s_per_item * 1e6:.0f} us")
    return embed + items * rates.label_s_per_item, basis, capped


def _rating_mil_cost(clean: float, rates: Rates, budgets: Budgets) -> tuple[float, str, bool]:
    """Seconds of rating_mil: its capped training (the rated reviews taken as the clean ones) and its held-out scoring."""
    settings = budgets.rating_mil
    if settings is None:
        return 0.0, "not projected", False
    reviews = settings.reviews_to_train(round(clean)) * settings.epochs
    train = reviews * rates.mil_train_s_per_review
    capped = settings.max_train_minutes is not None and train > settings.max_train_minutes * 60
    train = min(train, settings.max_train_minutes * 60) if capped else train
    held_out = min(clean * settings.holdout_fraction, settings.holdout_reviews)
    if rates.mil_held_out_s_per_review is None:  # rates measured before the held-out scoring was timed on its own
        scoring, words = held_out * rates.segments_per_clean * rates.mil_s_per_segment, f"{held_out * rates.segments_per_clean:,.0f} held-out segments x {rates.mil_s_per_segment * 1e3:.2f} ms"
    else:
        scoring, words = held_out * rates.mil_held_out_s_per_review, f"{held_out:,.0f} held-out reviews x {rates.mil_held_out_s_per_review * 1e3:.1f} ms"
    basis = (f"{reviews:,} reviews trained x {rates.mil_train_s_per_review * 1e3:.0f} ms"
             + (f" (capped at {settings.max_train_minutes:g} min)" if capped else "") + f" + {words}")
    return train + scoring, basis, capped


def _pretrain_cost(clean: float, rates: Rates, budgets: Budgets) -> tuple[float, str, bool]:
    """Seconds of slm_pretrained: a fixed number of steps when set, else epochs over the corpus's tokens up to the minutes cap."""
    if budgets.pretrain_steps is not None:
        trained_tokens = budgets.pretrain_steps * budgets.pretrain_batch_blocks * budgets.block_tokens
        pretrain, capped, cap_words = trained_tokens * rates.slm_pretrain_s_per_token, False, f"{budgets.pretrain_steps:,} steps"
    else:
        trained_tokens = clean * rates.tokens_per_clean * budgets.pretrain_epochs
        pretrain = trained_tokens * rates.slm_pretrain_s_per_token
        capped = pretrain > budgets.pretrain_minutes * 60
        pretrain, cap_words = (budgets.pretrain_minutes * 60 if capped else pretrain), f"{budgets.pretrain_epochs:g} epoch"
    basis = (f"{trained_tokens:,.0f} tokens ({cap_words}) x {rates.slm_pretrain_s_per_token * 1e6:.1f} us"
             + (f", capped at {budgets.pretrain_minutes:g} min" if capped else ""))
    return pretrain, basis, capped


def _serving_cost(items: float, rates: Rates, budgets: Budgets) -> tuple[str, float, str]:
    """The arm that serves review_predictions, and its seconds: the adapter unless its projected pass is over the
    serving budget (then the faster SLM)."""
    adapter_pass = items * rates.adapter_infer_s_per_row
    over = budgets.serving_max_minutes is not None and adapter_pass > budgets.serving_max_minutes * 60
    served, rate = ("slm_classifier", rates.slm_infer_s_per_row) if over else ("finetuned_adapter", rates.adapter_infer_s_per_row)
    basis = (f"{items:,.0f} inputs x {rate * 1e3:.2f} ms ({served}"
             + (f": the adapter's {adapter_pass / 60:,.0f} min is over the {budgets.serving_max_minutes:g}-min serving budget)" if over else ")"))
    return served, items * rate, basis


def _gold_costs(rates: Rates, budgets: Budgets) -> list[tuple[str, float, str]]:
    """(step, seconds, basis) of the steps that score the gold rows."""
    gold = budgets.gold_rows
    gold_basis = f"{gold:,} gold rows" if gold else "no gold rows: setup only (not projected)"
    timed = budgets.timing_rows * budgets.timing_passes if gold else 0
    scored = gold if budgets.gold_scored_rows is None else budgets.gold_scored_rows
    scored_basis = f"{scored:,} sentiment gold rows" if gold else gold_basis
    return [
        ("gold_labels", 0.0, gold_basis),
        ("label_quality", gold * (rates.embed_s_per_text + rates.label_s_per_item), gold_basis),
        ("review_type_quality", gold * rates.label_s_per_item, gold_basis),
        ("adapter_evaluation", scored * (rates.adapter_gold_s_per_row or rates.adapter_infer_s_per_row), scored_basis),
        ("slm_evaluation", scored * (rates.slm_gold_s_per_row or rates.slm_infer_s_per_row), scored_basis),
        ("inference_timing", timed * (rates.adapter_infer_s_per_row + rates.slm_infer_s_per_row),
         f"{budgets.timing_passes} passes x {budgets.timing_rows} rows per arm" if gold else gold_basis),
    ]


def project(rows: int, rates: Rates, budgets: Budgets, gpu: str | None = None) -> Plan:
    """Projected seconds of each step for a corpus of `rows` raw reviews."""
    clean = rows * rates.clean_share
    mentions = clean * rates.mentions_per_clean
    items = clean + mentions  # labelled items: reviews and aspect mentions
    steps: list[StepCost] = []

    def add(step: str, seconds: float, basis: str, capped: bool = False) -> None:
        steps.append(StepCost(step, seconds, basis, capped, step in MODEL_STEPS))

    def fixed(step: str) -> tuple[float, str]:
        seconds = rates.fixed_s.get(step, 0.0)
        return seconds, (f" + {seconds:.1f} s fixed" if seconds >= 0.05 else "")

    for step, rate in rates.per_raw_row.items():
        extra, words = fixed(step)
        add(step, extra + rows * rate, f"{rows:,} rows x {rate * 1e6:.1f} us{words}")
    for step in ("text_quality", "aspect_mentions"):
        extra, words = fixed(step)
        add(step, extra + clean * rates.per_clean_row[step], f"{clean:,.0f} clean x {rates.per_clean_row[step] * 1e6:.1f} us{words}")

    seconds, basis, capped = _rating_mil_cost(clean, rates, budgets)
    add("rating_mil", seconds, basis, capped)
    seconds, basis, capped = _pseudo_labels_cost(clean, items, rates, budgets)
    segments = clean * rates.segments_per_clean
    add("pseudo_labels", seconds + segments * rates.mil_s_per_segment,
        basis + f" + {segments:,.0f} segments read by rating_mil x {rates.mil_s_per_segment * 1e3:.2f} ms", capped)
    seconds, capped, basis = self_training_seconds(items, rates.adapter_train_s_per_row, rates.adapter_infer_s_per_row, budgets.adapter)
    add("finetuned_adapter", seconds, basis, capped)
    add("slm_tokenizer", clean * rates.per_clean_row["slm_tokenizer"], f"{clean:,.0f} clean x {rates.per_clean_row['slm_tokenizer'] * 1e6:.1f} us")
    seconds, basis, capped = _pretrain_cost(clean, rates, budgets)
    add("slm_pretrained", seconds, basis, capped)
    seconds, capped, basis = self_training_seconds(items, rates.slm_train_s_per_row, rates.slm_infer_s_per_row, budgets.slm)
    add("slm_classifier", seconds, basis, capped)

    served, seconds, basis = _serving_cost(items, rates, budgets)
    add("review_predictions", seconds, basis)
    # feature requests are a share of the reviews, embedded up to the cap
    requests = min(clean * (1.0 if rates.requests_per_clean is None else rates.requests_per_clean), budgets.market_max_requests)
    extra, words = fixed("market_opportunities")
    per_request = rates.market_embed_s_per_request or rates.embed_s_per_text
    add("market_opportunities", extra + requests * per_request + clean * rates.per_clean_row["market_opportunities"],
        f"{requests:,.0f} feature requests embedded x {per_request * 1e3:.2f} ms + {clean:,.0f} clean x "
        f"{rates.per_clean_row['market_opportunities'] * 1e6:.1f} us{words}")
    add("opportunity_report", clean * rates.per_clean_row["opportunity_report"], "renders the report (not projected)")

    for step, seconds, basis in _gold_costs(rates, budgets):
        add(step, seconds, basis)
    add("model_evaluation", 0.0, "joins the evaluations (not projected)")
    add("comparison_report", 0.0, "renders the report (not projected)")
    order = {name: index for index, name in enumerate(STEPS)}
    steps.sort(key=lambda step: order.get(step.step, len(order)))
    return Plan(rows=rows, clean_rows=round(clean), steps=steps, warehouse_bytes=rows * rates.warehouse_bytes_per_row,
                model_store_bytes=rates.model_store_bytes, gpu=gpu, served_arm=served, notes=[rates.note] if rates.note else [],
                kept_pass_bytes=kept_pass_bytes(clean, items, rates, budgets))


def kept_pass_bytes(clean: float, items: float, rates: Rates, budgets: Budgets) -> float:
    """Disk the kept batches of the model passes take: a digest and float32 values per distinct input."""
    from genai_lab.ml.resumable_pass import DIGEST_BYTES

    embedded = clean * rates.embed_texts_per_clean * (DIGEST_BYTES + 4 * rates.embedding_width) if budgets.keep_embedding_passes else 0.0
    return embedded + items * (DIGEST_BYTES + 4 * 3)  # review_predictions: three class probabilities


def compare(plan: Plan, measured: dict[str, float], tolerance: float = 0.3) -> list[dict]:
    """Each step's projection against a measured run's seconds (step key -> seconds): the ratio and whether it is
    within `tolerance` (steps under 10 s both ways are counted as within: there the per-step overhead decides)."""
    rows = []
    for step in plan.steps:
        if step.step not in measured:
            continue
        seen = measured[step.step]
        ratio = step.seconds / seen if seen > 0 else float("inf")
        within = abs(ratio - 1) <= tolerance or (step.seconds < 10 and seen < 10)
        rows.append({"step": step.step, "projected_s": round(step.seconds, 1), "measured_s": round(seen, 1),
                     "ratio": round(ratio, 2), "within": within})
    return rows


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""  # not reached


def render(plan: Plan) -> str:
    """The plan as the text `genai-lab plan` prints."""
    width = max(len(step.step) for step in plan.steps)
    device = f"a GPU ({plan.gpu}) would run the model steps (marked *); the rates were measured on the CPU" if plan.gpu else \
        "no GPU: every step runs on the CPU"
    lines = [f"{plan.rows:,} raw reviews -> about {plan.clean_rows:,} clean; {device}.", ""]
    for step in plan.steps:
        mark = "*" if step.model and plan.gpu else " "
        lines.append(f"{step.step:<{width}} {mark} {format_duration(step.seconds):>9}   {step.basis}")
    lines += ["", f"{'total':<{width}}   {format_duration(plan.total_seconds):>9}",
              (f"disk: warehouse ~{format_bytes(plan.warehouse_bytes)}, model store ~{format_bytes(plan.model_store_bytes)} "
               f"+ ~{format_bytes(plan.kept_pass_bytes)} of kept model passes"),
              *plan.notes]
    return "\n".join(lines)


# ---- counting the dumps (cheap: Parquet metadata, line counts) ----------------------------------


def count_rows(path: Path) -> int:
    """Records of a dump without reading it into memory: Parquet's footer, a streaming count for CSV (its lines, less
    the header, where the file does not parse), newlines for JSON Lines, the parsed length for a single JSON document."""
    from genai_lab.ingest import dump_format

    fmt = dump_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if fmt == "json":
        from genai_lab.ingest import read_dump

        return read_dump(path, "count", b"count").height
    if fmt == "csv":
        import polars as pl

        try:  # quote-aware and fast: a record with a quoted line break counts once
            return pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True).select(pl.len()).collect().item()
        except pl.exceptions.PolarsError:
            pass  # a malformed file: count its lines
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(0, lines - 1) if fmt == "csv" else lines


def plan_gold(folder: Path) -> pl.DataFrame:
    """The gold rows the evaluation steps score: the home's gold files, else the synthetic truth they fall back to."""
    from genai_lab.labels.gold import load_gold_folder
    from genai_lab.labels.gold_scoring import synthetic_gold

    gold = load_gold_folder(folder) if Path(folder).is_dir() else None
    return gold if gold is not None and gold.height else synthetic_gold()


def count_gold_rows(gold: pl.DataFrame) -> tuple[int, int]:
    """(gold rows, of them the sentiment rows the arms' evaluations score)."""
    import polars as pl

    from genai_lab.ml.scoring import TASK_INPUTS

    return gold.height, gold.filter(pl.col("task").is_in(list(TASK_INPUTS))).height


# ---- measuring the rates on this machine (not pure) ----------------------------------------------


def _timed(function: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Seconds of a call, and its result. With `repeat` > 1 (model passes), the first call only warms up (it builds
    the CPU kernels for each new input shape, which a long pass builds once) and the median of the others counts,
    so one burst of another process's work does not decide the rate."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return (statistics.median(times[1:]) if repeat > 1 else times[0]), result


def _fit(units: tuple[int, int], seconds: tuple[float, float]) -> tuple[float, float]:
    """(fixed seconds, seconds per unit) through two timings at two sizes; per unit only when noise makes the slope negative."""
    (small, large), (t_small, t_large) = units, seconds
    if large <= small or t_large <= t_small:
        return 0.0, t_large / max(1, large)
    slope = (t_large - t_small) / (large - small)
    return max(0.0, t_large - slope * large), slope


def _sample_dump(path: Path, rows: int, folder: Path, records: int) -> Path:
    """`rows` records spread evenly through a dump of `records` (every k-th), in its own format, as a file read_dump
    can time. Not its first rows: a dump is often in date or app order, and on the shared dumps the first rows' texts
    are 20% shorter than the dump's (131 against 165 characters), which every per-text rate inherits."""
    import polars as pl

    from genai_lab.ingest import dump_format

    every = max(1, records // max(1, rows))
    out = folder / path.name
    fmt = dump_format(path)
    if fmt == "parquet":
        pl.scan_parquet(path).gather_every(every).head(rows).collect().write_parquet(out)
    elif fmt == "csv":
        scan = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy")
        try:
            scan.gather_every(every).head(rows).collect().write_csv(out)
        except pl.exceptions.PolarsError:  # a record the scanner cannot parse: its first rows, as read_dump reads them
            pl.read_csv(path, n_rows=rows, infer_schema=False, truncate_ragged_lines=True).write_csv(out)
    elif fmt == "jsonl":
        with open(path, "rb") as source, open(out, "wb") as target:
            for number, line in enumerate(source):
                if number // every >= rows:
                    break
                if number % every == 0:
                    target.write(line)
    else:
        document = json.loads(path.read_bytes())
        document = document if isinstance(document, list) else next(v for v in document.values() if isinstance(v, list))
        out.write_text(json.dumps(document[::every][:rows]))
    return out


def _directory_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _loop_seconds_per_unit(run: Callable[[int], float], sizes: tuple[int, int]) -> float:
    """Seconds per unit of a training loop, timed through the loop itself: `run(units)` trains on that many units and
    returns its seconds. A first run of the small size warms the kernels up; the slope through the two timed sizes
    leaves out what a run costs once (setup, the final evaluation). A bare optimizer step is not the rate: on the shared
    dumps the loops ran at 0.64-0.80 of their bare steps' rate (the SLM classifier 263 against 411 rows/s, pretraining
    16,200 against 20,200 tokens/s: clipping, the schedule, batching, checkpoints)."""
    run(sizes[0])
    return _fit(sizes, (run(sizes[0]), run(sizes[1])))[1]


def _self_training_seconds_per_row(model, tokenizer, inputs: ClassifierInputs, settings, work: Path) -> float:
    """Seconds per training row of `self_train` with this model: one round, one epoch of 3 and of 9 batches of rows
    labelled in turn, reviews and aspect pairs as round 0 mixes them."""
    import polars as pl

    from genai_lab.ml.self_training import self_train

    batch = settings.optimizer.batch_size
    candidates = pl.DataFrame({
        "item_id": [str(i) for i in range(len(inputs.texts))], "text": inputs.texts, "aspect": inputs.aspects,
        "label_index": [i % 3 for i in range(len(inputs.texts))], "confidence": [1.0] * len(inputs.texts),
        "level": ["review" if a is None else "aspect" for a in inputs.aspects], "app_category": ["plan"] * len(inputs.texts),
    }, schema_overrides={"aspect": pl.String})
    data = {"candidates": candidates, "holdout": candidates.clear(), "pool": candidates.clear(),
            "rated_holdout": candidates.clear().select("item_id", "text", "aspect", "label_index")}

    def run(rows: int) -> float:
        timed = settings.model_copy(update={"rounds": 1, "epochs_per_round": 1, "min_train_rows": rows, "max_train_rows": rows,
                                            "max_train_minutes": None})
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=work) as folder:
            self_train(model, tokenizer, data, timed, Path(folder) / "run")
        return time.perf_counter() - started

    return _loop_seconds_per_unit(run, (3 * batch, 9 * batch))


@dataclass(frozen=True)
class ClassifierInputs:
    """Inputs as the arms see them: a text, and an aspect term for an aspect-level item (None: a review)."""

    texts: list[str]
    aspects: list[str | None]

    @classmethod
    def of_items(cls, clean: pl.DataFrame, mentions: pl.DataFrame, count: int) -> ClassifierInputs:
        """A seeded sample of the pseudo-label items in the share they occur: reviews, and mentions (sentence, term)."""
        import polars as pl

        items = pl.concat([clean.select(pl.col("content").alias("text"), pl.lit(None, pl.String).alias("aspect")),
                           mentions.select(pl.col("sentence").alias("text"), pl.col("term").alias("aspect"))])
        picked = items.sample(n=min(count, items.height), seed=0, shuffle=True)
        return cls(picked["text"].to_list(), picked["aspect"].to_list())

    @classmethod
    def of_gold(cls, gold: pl.DataFrame, count: int) -> ClassifierInputs | None:
        """A seeded sample of the sentiment gold rows the evaluation steps score (None when there are none)."""
        import polars as pl

        from genai_lab.ml.scoring import TASK_INPUTS

        rows = gold.filter(pl.col("task").is_in(list(TASK_INPUTS)))
        if rows.height == 0:
            return None
        picked = rows.sample(n=min(count, rows.height), seed=0, shuffle=True)
        aspects = [term if TASK_INPUTS[task] else None for task, term in zip(picked["task"], picked["aspect_term"], strict=True)]
        return cls(picked["text"].to_list(), aspects)

    def scoring_seconds(self, model, tokenizer, batch_size: int, max_length: int) -> float:
        """Seconds per input of `predict_proba`, as review_predictions and the evaluations call it."""
        from genai_lab.ml.classifier import predict_proba

        elapsed, _ = _timed(lambda: predict_proba(model, tokenizer, self.texts, self.aspects, batch_size=batch_size,
                                                  max_length=max_length), 4)
        return elapsed / len(self.texts)


#: prep steps whose cost grows with the raw rows (the rest of the chain runs on the clean reviews)
_PER_RAW_STEPS = ("reviews", "review_quality", "clean_reviews_and_rejects")


def _sample_dumps(dumps: Sequence[Path], work: Path, sample_rows: int, counts: dict[str, int] | None) -> tuple[Sequence[Path], list[Path]]:
    """The dumps measured (the synthetic generator's when none) and their samples: rows spread through each, as many
    as its share of `counts` (counted here where missing) asks, at least 100."""
    if not dumps:
        from genai_lab.synth import write_dump

        dumps = [write_dump(work / "synthetic.csv", rows=sample_rows, seed=0)[0]]
    counts = {path.name: (counts or {}).get(path.name) or count_rows(path) for path in dumps}
    total = sum(counts.values())
    samples = [_sample_dump(path, max(100, round(sample_rows * counts[path.name] / total)), work, counts[path.name]) for path in dumps]
    return dumps, samples


def _read_samples(samples: Sequence[Path]) -> tuple[float, pl.DataFrame]:
    """Seconds of raw_reviews (read_dump) over the samples, and the rows read."""
    import polars as pl

    from genai_lab.ingest import read_dump

    read_dump(samples[0], "warmup", b"plan")
    seconds, frames = 0.0, []
    for path in samples:
        elapsed, frame = _timed(lambda path=path: read_dump(path, path.stem, b"plan"))
        seconds, frames = seconds + elapsed, [*frames, frame]
    return seconds, pl.concat(frames)


def _prep_chain(frame: pl.DataFrame, prep, labeling) -> tuple[dict[str, float], dict[str, pl.DataFrame]]:
    """Seconds of each prep step from reviews through aspect_mentions on `frame`, and the tables they make, keyed by
    the names the disk measure stores them under."""
    from genai_lab.prep import assess_quality, clean_and_reject, normalise_reviews, quality_counts, quality_scores
    from genai_lab.text.aspects import aspect_mentions as find_aspect_mentions
    from genai_lab.text.text_quality import text_quality as score_text_quality

    seconds: dict[str, float] = {}
    seconds["reviews"], typed = _timed(lambda: normalise_reviews(frame))
    seconds["review_quality"], quality = _timed(lambda: (q := assess_quality(typed, prep.rules, prep.language),
                                                         quality_scores(quality_counts(typed, q)))[0])
    seconds["clean_reviews_and_rejects"], (clean, rejected) = _timed(lambda: clean_and_reject(typed, quality, prep.rules))
    seconds["text_quality"], scored = _timed(lambda: score_text_quality(clean.select("review_id", "dump_id", "content"), prep.text_quality))
    seconds["aspect_mentions"], (mentions, _) = _timed(
        lambda: find_aspect_mentions(clean.select("review_id", "dump_id", "content"), labeling.aspects))
    return seconds, {"reviews": typed, "quality": quality, "clean": clean, "rejected": rejected, "scored": scored, "mentions": mentions}


def _measure_prep(raw: pl.DataFrame, read_seconds: float, prep, labeling,
                  log: Callable[[str], None]) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, pl.DataFrame]]:
    """Seconds per raw row and per clean review of the steps through aspect_mentions, their fixed seconds, and the
    tables the whole sample makes (which the disk measure stores)."""
    from genai_lab.prep import assess_quality, normalise_reviews

    n = raw.height
    per_raw = {"raw_reviews": read_seconds / n}
    per_clean: dict[str, float] = {}
    fixed: dict[str, float] = {}
    normalise_reviews(raw.head(100))
    assess_quality(normalise_reviews(raw.head(100)), prep.rules, prep.language)  # loads the language model
    # two sizes, so a step's fixed cost (models, lexicon mining) is not spread over a few thousand rows as if per row
    small_n = max(1, n // 4)
    small_seconds, small = _prep_chain(raw.head(small_n), prep, labeling)
    large_seconds, large = _prep_chain(raw, prep, labeling)
    for step in large_seconds:
        units = (small_n, n) if step in _PER_RAW_STEPS else (small["clean"].height, large["clean"].height)
        fixed[step], rate = _fit(units, (small_seconds[step], large_seconds[step]))
        (per_raw if step in _PER_RAW_STEPS else per_clean)[step] = rate
    log(f"prep: {n / (read_seconds + sum(large_seconds.values())):,.0f} raw rows/s through aspect_mentions; "
        f"{large['clean'].height:,} clean, {large['mentions'].height:,} aspect mentions")
    return per_raw, per_clean, fixed, large


def _measure_labelling(clean: pl.DataFrame, mentions: pl.DataFrame, settings,
                       log: Callable[[str], None]) -> tuple[float, float, int, pl.DataFrame, pl.Series]:
    """Seconds per labelled item of the labelling functions without embeddings, and per text of the embeddings of a
    sample of the texts they embed, the embeddings' width; with the reviews and those distinct texts."""
    import polars as pl

    from genai_lab.labels.functions import aspect_clauses, aspect_votes, review_votes
    from genai_lab.ml.embeddings import embed

    reviews = clean.select("review_id", "dump_id", "content", pl.col("rating").cast(pl.Int64))
    aspect_input = mentions.join(reviews.select("review_id", "rating"), on="review_id", how="left").select(
        pl.format("{}#{}", "review_id", pl.int_range(pl.len()).over("review_id")).alias("item_id"), pl.col("sentence").alias("text"),
        pl.col("term").alias("aspect_term"), pl.col("char_start").alias("aspect_from"), pl.col("char_end").alias("aspect_to"), "rating")
    plain = settings.model_copy(update={"use_embeddings": False})
    elapsed, clauses = _timed(lambda: (review_votes(reviews, plain), aspect_votes(aspect_input, plain), aspect_clauses(aspect_input, settings))[2])
    label_s_per_item = elapsed / max(1, reviews.height + aspect_input.height)
    texts = pl.concat([reviews["content"], clauses["clause"]]).unique(maintain_order=True)
    picked = texts.sample(n=min(256, len(texts)), seed=0, shuffle=True).to_list()
    elapsed, vectors = _timed(lambda: embed(picked, settings.base_model, batch_size=settings.embed_batch_size,
                                            max_length=settings.embed_max_length), 4)
    embed_s_per_text = elapsed / len(picked)
    log(f"embeddings: {1 / embed_s_per_text:,.0f} texts/s ({settings.base_model})")
    return label_s_per_item, embed_s_per_text, vectors.shape[1], reviews, texts


def _measure_adapter(adapter, serving, inputs: ClassifierInputs, gold: ClassifierInputs | None, work: Path,
                     log: Callable[[str], None]) -> tuple[float, float, float, int]:
    """The adapter arm, LoRA on the base model: seconds per row of a training step, of serving and of scoring the gold,
    and the bytes of its trained weights. The model is freed on return, before the SLM is built."""
    import torch

    from genai_lab.ml.lora import build_adapter_model
    from genai_lab.ml.precision import for_inference

    torch.manual_seed(0)
    model, tokenizer, _, _ = build_adapter_model(adapter.lora)
    train = adapter.training
    adapter_train = _self_training_seconds_per_row(model, tokenizer, inputs, train, work)
    adapter_bytes = sum(p.numel() for p in model.parameters() if p.requires_grad) * 4
    served = for_inference(model.merge_and_unload()).eval()  # as load_merged_adapter serves and evaluates it
    adapter_infer = inputs.scoring_seconds(served, tokenizer, serving.batch_size, serving.max_length)
    adapter_gold = gold.scoring_seconds(served, tokenizer, train.inference_batch_size, train.max_length) if gold else adapter_infer
    log(f"adapter: {1 / adapter_train:,.0f} rows/s training, {1 / adapter_infer:,.0f} rows/s inference")
    return adapter_train, adapter_infer, adapter_gold, adapter_bytes


def _measure_rating_mil(settings, boundary: str, reviews, work: Path, log: Callable[[str], None]) -> tuple[float, float, float, float]:
    """The rating-MIL teacher: seconds per review of its training loop and of its held-out scoring (the trained LoRA
    model, unmerged, as the step scores it), per segment read by pseudo_labels (merged), and its distinct segments
    per review."""
    import torch

    from genai_lab.labels.rating_mil import RatingMil, build_model, split_segments, train_rating_mil, training_reviews
    from genai_lab.ml.precision import for_inference

    torch.manual_seed(0)
    model, tokenizer = build_model(settings)
    data = training_reviews(reviews, settings.model_copy(update={"holdout_fraction": 0.5}))
    held_out = data["holdout"].head(64)
    timings: list[tuple[float, float]] = []  # (training seconds, held-out seconds)

    def run(count: int) -> float:
        timed = settings.model_copy(update={"epochs": 1, "max_train_minutes": None, "checkpoint_every_steps": 10**9})
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=work) as folder:
            result = train_rating_mil(model, tokenizer, {"train": data["train"].head(count), "holdout": held_out}, timed, boundary,
                                      Path(folder) / "run")
        timings.append((result.seconds, time.perf_counter() - started - result.seconds))
        return result.seconds

    batch = settings.optimizer.batch_size
    train_per_review = _loop_seconds_per_unit(run, (2 * batch, 6 * batch))
    held_out_per_review = statistics.median(seconds for _, seconds in timings) / max(1, held_out.height)
    model.encoder = model.encoder.merge_and_unload()
    scorer = RatingMil(for_inference(model).eval(), tokenizer, settings, boundary, 0.0)
    segments = split_segments(reviews["content"], boundary, settings.max_segments)["segment"].str.to_lowercase().unique()
    picked = segments.sample(n=min(512, len(segments)), seed=0).to_list()
    elapsed, _ = _timed(lambda: scorer._read(picked), 2)
    log(f"rating_mil: {1 / train_per_review:,.0f} reviews/s training, {1 / held_out_per_review:,.0f} held-out reviews/s, "
        f"{len(picked) / elapsed:,.0f} segments/s")
    return train_per_review, held_out_per_review, elapsed / len(picked), len(segments) / max(1, reviews.height)


def _measure_slm_pretraining(settings, tokenizer, corpus: list[str], work: Path) -> tuple[float, int, int, object]:
    """Seconds per token of pretraining, the sample's tokens and the SLM's bytes, and its config for the classifier.

    Timed through `pretrain` itself at two step counts (`_loop_seconds_per_unit`), so the rate carries what a step
    costs beside its matmuls (masking, clipping, the schedule). The held-out evaluations (a forward pass over the held-out blocks every
    `eval_every_steps`, about 1% of a run) are left out; the final one is in the fixed part the fit removes."""
    import torch
    from transformers import BertForMaskedLM

    from genai_lab.ml.slm import model_config, pack_blocks, pretrain

    config = model_config(settings.size, tokenizer, settings.max_length, settings.hidden_act)
    blocks = pack_blocks(tokenizer, corpus, settings.max_length)
    heldout = min(settings.heldout_blocks, max(1, len(blocks) // 10))

    def run(steps: int) -> float:
        torch.manual_seed(0)
        masked_lm = BertForMaskedLM(config)
        timed = settings.model_copy(update={"pretrain_steps": steps, "heldout_blocks": heldout, "eval_every_steps": 10**9,
                                            "checkpoint_every_steps": 10**9})
        with tempfile.TemporaryDirectory(dir=work) as folder:
            return pretrain(masked_lm, tokenizer, corpus, timed, Path(folder) / "run").seconds

    per_step = _loop_seconds_per_unit(run, (8, 32))
    parameters = sum(p.numel() for p in BertForMaskedLM(config).parameters())
    return per_step / (settings.optimizer.batch_size * settings.max_length), blocks.size, parameters * 4, config


def _measure_slm_classifier(config, tokenizer, training, serving, inputs: ClassifierInputs,
                            gold: ClassifierInputs | None, work: Path) -> tuple[float, float, float]:
    """Seconds per row of a training step, of serving and of scoring the gold, of a classifier of the SLM's shape
    (untrained: a step costs the same)."""
    from transformers import BertForSequenceClassification

    from genai_lab.ml.classifier import LABELS
    from genai_lab.ml.precision import for_inference

    config.num_labels = len(LABELS)
    classifier = BertForSequenceClassification(config)
    train = _self_training_seconds_per_row(classifier, tokenizer, inputs, training, work)
    served = for_inference(classifier).eval()  # as load_classifier serves and evaluates it
    infer = inputs.scoring_seconds(served, tokenizer, serving.batch_size, serving.max_length)
    on_gold = gold.scoring_seconds(served, tokenizer, training.inference_batch_size, training.max_length) if gold else infer
    return train, infer, on_gold


def _market_inputs(clean: pl.DataFrame, mentions: pl.DataFrame, review_types) -> pl.DataFrame:
    """`review_predictions` of the sample's reviews and mentions, with seeded random sentiment (the market's cost
    follows the counts, not which way they lean) and the rule detector's review types, as the step computes them."""
    import numpy as np
    import polars as pl

    from genai_lab.labels.review_types import detect_review_types
    from genai_lab.ml.serving import prediction_table

    reviews = clean.select("review_id", "dump_id", pl.lit("review").alias("level"), pl.lit(None, pl.Int64).alias("mention_index"),
                           pl.lit(None, pl.String).alias("aspect_term"), pl.lit(None, pl.String).alias("aspect_category"),
                           pl.col("content").alias("text"))
    aspects = mentions.join(clean.select("review_id", "dump_id"), on="review_id").select("review_id", "dump_id", pl.lit("aspect").alias("level"),
                              pl.int_range(pl.len()).over("review_id").cast(pl.Int64).alias("mention_index"),
                              pl.col("term").alias("aspect_term"), pl.col("category").alias("aspect_category"), pl.col("sentence").alias("text"))
    rows = pl.concat([reviews, aspects])
    probabilities = np.random.default_rng(0).dirichlet(np.ones(3), rows.height)
    return prediction_table(rows, probabilities, detect_review_types(rows["text"], review_types), "plan", "plan")


def _repeated(frame: pl.DataFrame, times: int) -> pl.DataFrame:
    """`frame` `times` over, each copy's review ids made its own."""
    import polars as pl

    return pl.concat([frame.with_columns(pl.col("review_id") + f"#{copy}") for copy in range(times)])


def _measure_market(clean: pl.DataFrame, mentions: pl.DataFrame, insight, labeling, requests_timed: int) -> tuple[float, float, float, float | None]:
    """(fixed seconds, seconds per clean review) of `market_opportunities` without its request embeddings; the feature
    requests per clean review it embeds, and the seconds per request of embedding them (None: the sample has none).

    Timed on the sample and on the sample four times over: a corpus grows in reviews over apps and aspects it mostly
    has already, and most of the step's work is per (app or category, aspect) group. Fitted between the sample and its
    half instead (fewer groups in the half), the non-embedding part came out 2.5x what the step took on the shared dumps:
    the non-embedding part took 18.7 s there, against 46 s projected. A corpus of far more apps has more groups than
    its sample shows; that part is not projected."""
    import numpy as np

    from genai_lab.insight.market import build_market
    from genai_lab.ml.embeddings import embed
    from genai_lab.text.text_quality import STOPWORDS

    settings = insight.opportunities
    width = 8  # the clusters' cost is the k-means over requests; vectors of any width show the embedding-free part

    def unembedded(texts: list[str]) -> np.ndarray:
        return np.random.default_rng(len(texts)).normal(size=(len(texts), width)).astype(np.float32)

    sizes, seconds, requests = [], [], None
    for times in (1, 4):
        part, part_mentions = _repeated(clean, times), _repeated(mentions, times)
        predictions = _market_inputs(part, part_mentions, labeling.review_types)
        elapsed, market = _timed(lambda predictions=predictions, part=part: build_market(predictions, part, unembedded, set(STOPWORDS), settings))
        sizes.append(part.height)
        seconds.append(elapsed)
        requests = requests if requests is not None else market.requests
    fixed, per_clean = _fit(tuple(sizes), tuple(seconds))
    # embedded at the market's own token budget: a seeded sample of the requests, as the step samples its own
    picked = requests["text"].sample(n=min(requests_timed, requests.height), seed=0).to_list()
    per_request = None
    if picked:
        elapsed, _ = _timed(lambda: embed(picked, model_name=labeling.labels.base_model, max_length=settings.embed_max_length), 2)
        per_request = elapsed / len(picked)
    return fixed, per_clean, requests.height / max(1, clean.height), per_request


def _warehouse_bytes(path: Path, tables: dict[str, pl.DataFrame], texts: pl.Series) -> int:
    """Bytes of a DuckDB file of the sample's tables, with labels and predictions as rows of the texts they label."""
    import duckdb
    import numpy as np
    import polars as pl

    labelled = pl.DataFrame({"text": texts, "label": np.zeros(len(texts), dtype=np.int8),
                             "confidence": np.random.default_rng(0).random(len(texts))})
    with duckdb.connect(str(path)) as connection:
        for name, frame in {**tables, "labels": labelled, "predictions": labelled}.items():
            connection.register("frame", frame.to_arrow())
            connection.execute(f"create table {name} as select * from frame")
            connection.unregister("frame")
        connection.execute("checkpoint")
    return path.stat().st_size


def measure_rates(dumps: Sequence[Path], resources: dict, *, sample_rows: int = 20000, counts: dict[str, int] | None = None,
                  gold: pl.DataFrame | None = None, inputs: int = 1024, log: Callable[[str], None] = print) -> Rates:
    """Times the pipeline's functions on a sample of the dumps (the embedded synthetic generator when none): rows
    spread through each dump, as many from each as its share of `counts` (file name -> rows) asks, at least 100. With
    `gold`, the arms' evaluation rates are timed on its sentiment rows. `inputs`: the classifier inputs (and gold
    rows, and feature requests) timed; scoring sorts them by length, so a few hundred pad far more than a long pass."""
    from genai_lab.ml.slm import train_tokenizer

    load = os.getloadavg()[0]
    prep, labeling, adapter, slm, insight = (resources[k] for k in ("prep", "labeling", "adapter", "slm", "insight"))
    with tempfile.TemporaryDirectory(prefix="genai-lab-plan-") as work:
        work = Path(work)
        dumps, samples = _sample_dumps(dumps, work, sample_rows, counts)
        read_seconds, raw = _read_samples(samples)
        n = raw.height
        log(f"measuring on {n:,} sample rows of {len(dumps)} dump(s)")
        per_raw, per_clean, fixed, tables = _measure_prep(raw, read_seconds, prep, labeling, log)
        clean, mentions = tables["clean"], tables["mentions"]
        m = max(1, clean.height)
        label_s_per_item, embed_s_per_text, embedding_width, reviews, texts = _measure_labelling(clean, mentions, labeling.labels, log)
        items = ClassifierInputs.of_items(clean, mentions, inputs)
        gold_inputs = ClassifierInputs.of_gold(gold, inputs) if gold is not None else None
        adapter_train, adapter_infer, adapter_gold, adapter_bytes = _measure_adapter(adapter, insight.serving, items, gold_inputs, work, log)
        mil_train, mil_held_out, mil_segment, segments_per_clean = _measure_rating_mil(labeling.rating_mil, boundary_pattern(labeling.labels),
                                                                                       reviews, work, log)

        corpus = reviews["content"].to_list()
        elapsed, slm_tokenizer = _timed(lambda: train_tokenizer(corpus, slm.slm.vocab_size, work / "tokenizer"))
        per_clean["slm_tokenizer"] = elapsed / m
        slm_pretrain, tokens, slm_bytes, config = _measure_slm_pretraining(slm.slm, slm_tokenizer, corpus, work)
        slm_train, slm_infer, slm_gold = _measure_slm_classifier(config, slm_tokenizer, slm.training, insight.serving, items, gold_inputs, work)
        log(f"SLM ({slm.slm.size}): {1 / slm_pretrain:,.0f} tokens/s pretraining, {1 / slm_train:,.0f} rows/s training, "
            f"{1 / slm_infer:,.0f} rows/s inference")

        fixed["market_opportunities"], per_clean["market_opportunities"], requests_per_clean, request_embed = _measure_market(
            clean, mentions, insight, labeling, inputs)
        per_clean["opportunity_report"] = 0.0
        warehouse_bytes_per_row = _warehouse_bytes(work / "sample.duckdb", {"raw": raw, **tables}, texts) / n
        # the store keeps the final weights (checkpoints are removed when training ends): the adapter's LoRA weights,
        # the SLM twice (pretrained, and fine-tuned as the classifier) and its tokenizer
        model_store_bytes = adapter_bytes + 2 * slm_bytes + _directory_bytes(work / "tokenizer")
    return Rates(
        per_raw_row=per_raw, per_clean_row=per_clean, fixed_s=fixed, label_s_per_item=label_s_per_item, embed_s_per_text=embed_s_per_text,
        adapter_train_s_per_row=adapter_train, adapter_infer_s_per_row=adapter_infer, slm_train_s_per_row=slm_train,
        slm_infer_s_per_row=slm_infer, slm_pretrain_s_per_token=slm_pretrain, clean_share=clean.height / n,
        mentions_per_clean=mentions.height / m, embed_texts_per_clean=len(texts) / m, tokens_per_clean=tokens / m,
        warehouse_bytes_per_row=warehouse_bytes_per_row, model_store_bytes=model_store_bytes, mil_train_s_per_review=mil_train,
        mil_s_per_segment=mil_segment, segments_per_clean=segments_per_clean, embedding_width=embedding_width,
        mil_held_out_s_per_review=mil_held_out, market_embed_s_per_request=request_embed, requests_per_clean=requests_per_clean, adapter_gold_s_per_row=adapter_gold if gold_inputs else None,
        slm_gold_s_per_row=slm_gold if gold_inputs else None,
        note=(f"rates measured on {n:,} sample rows of {len(dumps)} dump(s), at load average {load:.1f} on {os.cpu_count()} cores "
              "(a busier machine measures slower rates and runs slower too)"),
    )


def gpu_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
