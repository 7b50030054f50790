"""The one precision switch: bf16 where the hardware does it natively, fp32 otherwise or when asked."""

import contextlib

import pytest
import torch

from genai_lab.ml import precision
from genai_lab.ml.parallel import training_gpus


def test_the_switch_forces_either_format_and_rejects_a_typo(monkeypatch):
    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    assert precision.use_bf16("cpu") is False
    assert isinstance(precision.autocast("cpu"), contextlib.nullcontext)
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    assert precision.use_bf16("cpu") is True
    with precision.autocast("cpu"):
        assert torch.nn.functional.linear(torch.ones(2, 4), torch.ones(3, 4)).dtype == torch.bfloat16
    monkeypatch.setenv(precision.PRECISION_ENV, "bf61")
    with pytest.raises(ValueError, match="GENAI_LAB_PRECISION"):
        precision.use_bf16("cpu")


def test_auto_follows_the_cpu(monkeypatch):
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    assert precision.use_bf16("cpu") is precision.cpu_has_fast_bf16()
    accelerator = precision.training_accelerator()
    assert training_gpus() == (torch.cuda.device_count() if torch.cuda.is_available() else 0)  # one process per GPU
    if not torch.cuda.is_available():
        assert accelerator.mixed_precision == ("bf16" if precision.cpu_has_fast_bf16() else "no")


def test_an_inference_model_is_cast_once_only_under_bf16(monkeypatch):
    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    layer = precision.for_inference(torch.nn.Linear(4, 3))
    assert layer.weight.dtype == torch.float32
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    layer = precision.for_inference(layer)
    assert layer.weight.dtype == torch.bfloat16
    assert layer(torch.ones(2, 4, dtype=torch.bfloat16)).shape == (2, 3)


def test_embeddings_agree_in_either_format(monkeypatch):
    from genai_lab.ml.embeddings import embed

    texts = ["The app crashes every time I open it.", "Love the new dark mode!", "It has a calendar view."]
    monkeypatch.setenv(precision.PRECISION_ENV, "fp32")
    fp32 = embed(texts, max_length=32)
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    bf16 = embed(texts, max_length=32)
    assert fp32.dtype == bf16.dtype == "float32"
    assert (fp32 * bf16).sum(axis=1).min() > 0.999


def test_the_accelerator_trains_in_the_dtype_the_matmul_ceiling_is_measured_in(monkeypatch):
    from accelerate.state import AcceleratorState

    for choice, dtype, mixed in (("bf16", torch.bfloat16, "bf16"), ("fp32", torch.float32, "no")):
        monkeypatch.setenv(precision.PRECISION_ENV, choice)
        assert precision.training_dtype("cpu") == dtype
        AcceleratorState._reset_state()  # accelerate keeps one precision per process
        try:
            accelerator = precision.training_accelerator()
            assert accelerator.mixed_precision == mixed
        finally:
            AcceleratorState._reset_state()
