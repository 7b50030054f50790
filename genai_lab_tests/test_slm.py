"""The from-scratch arm's pieces: tokenizer, sizes, masking, pretraining that learns and resumes after a kill."""

import numpy as np
import pytest
import torch

from genai_lab.ml.slm import SIZES, SlmSettings, mask_tokens, model_config, pack_blocks, pretrain, pretrain_on_devices, train_tokenizer
from genai_lab.ml.training_loop import OptimizerSettings
from genai_lab_tests.conftest import kill_at_checkpoint
from genai_lab_tests.test_self_training import toy_pseudo_labels


@pytest.fixture(scope="module")
def texts():
    return toy_pseudo_labels(n=3000)["text"].to_list()


@pytest.fixture(scope="module")
def tokenizer(texts, tmp_path_factory):
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("slm_tokenizer")
    train_tokenizer(texts, 300, folder)
    return AutoTokenizer.from_pretrained(str(folder))


def test_tokenizer_is_a_standard_folder_that_knows_the_corpus(tokenizer):
    assert tokenizer.mask_token == "[MASK]" and tokenizer.pad_token_id == 0 and len(tokenizer) <= 300
    pair = tokenizer("love great app", "app")
    assert pair["input_ids"][0] == tokenizer.cls_token_id and pair["token_type_ids"][-1] == 1
    assert tokenizer.unk_token_id not in tokenizer("amazing perfect app")["input_ids"]  # corpus words are in the vocabulary


def test_sizes_grow_and_unknown_sizes_are_errors(tokenizer):
    params = [_count(model_config(size, tokenizer, 128)) for size in ("tiny", "mini", "small", "medium")]
    assert params == sorted(params) and len(set(params)) == 4
    with pytest.raises(ValueError, match="unknown SLM size"):
        SlmSettings(sizes=["tiny", "huge"]).ladder()
    assert SlmSettings().ladder() == ["mini"] and set(SIZES) >= {"tiny", "mini", "small"}


def test_the_activation_is_a_setting_and_a_misspelt_one_is_an_error(tokenizer):
    from transformers import BertModel

    model = BertModel(model_config("tiny", tokenizer, 128, "relu"))
    assert model.config.hidden_act == "relu" and isinstance(model.encoder.layer[0].intermediate.intermediate_act_fn, torch.nn.ReLU)
    assert model_config("tiny", tokenizer, 128).hidden_act == SlmSettings().hidden_act == "gelu"
    with pytest.raises(ValueError, match="unknown SLM activation 'rleu'"):
        model_config("tiny", tokenizer, 128, "rleu")


def _count(config) -> int:
    from transformers import BertForMaskedLM

    return sum(p.numel() for p in BertForMaskedLM(config).parameters())


def test_blocks_packed_a_few_texts_at_a_time_are_the_blocks_of_one_pass(tokenizer, texts):
    whole = pack_blocks(tokenizer, texts, 32, chunk=len(texts))
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    assert whole.shape == (sum(map(len, ids)) // 32, 32) and whole[0, 0] == tokenizer.cls_token_id
    assert np.array_equal(pack_blocks(tokenizer, texts, 32, chunk=3), whole)


def test_masking_leaves_special_tokens_and_labels_only_chosen_tokens(tokenizer, texts):
    blocks = torch.as_tensor(pack_blocks(tokenizer, texts, 32))
    inputs, labels = mask_tokens(blocks, tokenizer, 0.15, torch.Generator().manual_seed(0))
    chosen = labels != -100
    ordinary = blocks > tokenizer.mask_token_id  # the special tokens come first in the vocabulary
    assert 0.12 < chosen[ordinary].float().mean() < 0.18
    assert not chosen[blocks == tokenizer.cls_token_id].any()
    assert (labels[chosen] == blocks[chosen]).all()
    assert (inputs[chosen] == tokenizer.mask_token_id).float().mean() > 0.7
    assert (inputs[~chosen] == blocks[~chosen]).all()


def test_the_pretraining_schedule_is_the_lower_of_warm_up_and_a_decay_that_stops_at_a_floor():
    from genai_lab.ml.training_loop import warmup_capped_linear_decay

    assert warmup_capped_linear_decay(1.0, 0, 100, 10, 0.05) == pytest.approx(0.1)  # warming up
    assert warmup_capped_linear_decay(1.0, 50, 100, 10, 0.05) == pytest.approx(0.5)  # decaying from the first step
    assert warmup_capped_linear_decay(1.0, 99, 100, 10, 0.05) == pytest.approx(0.05)  # the floor


RESUMABLE_PRETRAINING = """
import sys
from pathlib import Path
from transformers import AutoTokenizer, BertForMaskedLM
import torch
from genai_lab.ml.slm import SlmSettings, model_config, pretrain
from genai_lab_tests.conftest import kill_at_checkpoint
from genai_lab_tests.test_self_training import toy_pseudo_labels
settings = SlmSettings.model_validate_json(Path(sys.argv[1]).read_text())
tokenizer = AutoTokenizer.from_pretrained(sys.argv[2])
torch.manual_seed(0)
pretrain(BertForMaskedLM(model_config("tiny", tokenizer, settings.max_length)), tokenizer, toy_pseudo_labels(n=3000)["text"].to_list(),
         settings, Path(sys.argv[3]))
"""


def test_pretraining_learns_and_resumes_after_a_kill(tokenizer, texts, tmp_path):
    from transformers import BertForMaskedLM

    settings = SlmSettings(size="tiny", max_length=32, optimizer=OptimizerSettings(batch_size=4), pretrain_steps=400, eval_every_steps=100,
                           checkpoint_every_steps=10, heldout_blocks=20, warmup_steps=10)
    (tmp_path / "settings.json").write_text(settings.model_dump_json())
    tokenizer.save_pretrained(str(tmp_path / "tokenizer"))
    work = tmp_path / "work"
    killed_at = kill_at_checkpoint(RESUMABLE_PRETRAINING, [str(tmp_path / "settings.json"), str(tmp_path / "tokenizer"), str(work)],
                                   work / "checkpoint" / "state.json", 30, tmp_path / "stderr")

    torch.manual_seed(0)
    model = BertForMaskedLM(model_config("tiny", tokenizer, settings.max_length))
    outcome = pretrain(model, tokenizer, texts, settings, work)
    assert outcome.resumed is True and outcome.steps == 400 and killed_at >= 30
    assert outcome.resumed_at_step >= killed_at  # the steps before the kill were not done again
    earlier = outcome.cost_before_resume  # carried into the manifest's cost (CostMeter.stop)
    assert earlier["train_seconds"] > 0 and earlier["cpu_seconds"] > 0
    assert 0.95 * 400 * 4 * 32 <= outcome.tokens <= 400 * 4 * 32
    history = outcome.history
    assert history[-1]["heldout_perplexity"] < history[0]["heldout_perplexity"] < len(tokenizer)  # it learned the corpus
    assert not work.exists()


def test_two_pretraining_processes_learn_one_model_from_a_batch_each(tokenizer, texts, tmp_path):
    """What several GPUs run, on two CPU processes (gloo): each step one batch per process, gradients averaged (the
    replicas are checked equal), the weights, tokens and progress of both back in this process."""
    from transformers import BertForMaskedLM

    settings = SlmSettings(size="tiny", max_length=32, optimizer=OptimizerSettings(batch_size=4), pretrain_steps=200, eval_every_steps=100,
                           heldout_blocks=20,
                           warmup_steps=10)
    torch.manual_seed(0)
    model = BertForMaskedLM(model_config("tiny", tokenizer, settings.max_length))
    initial = model.bert.embeddings.word_embeddings.weight.detach().clone()
    outcome = pretrain_on_devices(model, tokenizer, texts, settings, tmp_path / "work", processes=2)
    assert outcome.processes == 2 and outcome.steps == 200
    assert outcome.tokens == 200 * 2 * 4 * 32  # every step, a whole batch on each process
    history = outcome.history
    assert history[-1]["heldout_perplexity"] < history[0]["heldout_perplexity"] < len(tokenizer)
    assert not torch.equal(model.bert.embeddings.word_embeddings.weight, initial)  # the trained weights came back
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(("mixed_precision", "computes_in"), [("bf16", torch.bfloat16), ("no", torch.float32)])
def test_pretraining_computes_in_the_precision_of_the_accelerator_it_is_given(tokenizer, texts, tmp_path, mixed_precision, computes_in):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from transformers import BertForMaskedLM

    settings = SlmSettings(size="tiny", max_length=32, optimizer=OptimizerSettings(batch_size=4), pretrain_steps=3, eval_every_steps=100,
                           heldout_blocks=4, warmup_steps=1)
    torch.manual_seed(0)
    model = BertForMaskedLM(model_config("tiny", tokenizer, settings.max_length))
    seen = []
    query = model.bert.encoder.layer[0].attention.self.query
    hook = query.register_forward_hook(lambda module, args, output: seen.append(output.dtype) if module.training else None)
    AcceleratorState._reset_state()  # accelerate keeps one precision per process; this test asks for each in turn
    try:
        outcome = pretrain(model, tokenizer, texts, settings, tmp_path / "work", accelerator=Accelerator(cpu=True, mixed_precision=mixed_precision))
    finally:
        AcceleratorState._reset_state()
        hook.remove()
    assert outcome.steps == 3 and seen == [computes_in] * 3
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights, whatever the matrix products ran in
    assert model.forward.__func__ is BertForMaskedLM.forward  # handed back plain: no mixed-precision forward left on it


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_pretraining_runs_on_the_gpu_where_there_is_one(tokenizer, texts, tmp_path):
    from transformers import BertForMaskedLM

    from genai_lab.ml.slm import matmul_flops

    settings = SlmSettings(size="tiny", max_length=32, optimizer=OptimizerSettings(batch_size=16), pretrain_steps=200, eval_every_steps=100,
                           heldout_blocks=20,
                           warmup_steps=10)
    torch.manual_seed(0)
    model = BertForMaskedLM(model_config("tiny", tokenizer, settings.max_length))
    outcome = pretrain(model, tokenizer, texts, settings, tmp_path / "work")
    assert next(model.parameters()).device.type == "cuda"
    history = outcome.history
    assert history[-1]["heldout_perplexity"] < history[0]["heldout_perplexity"] < len(tokenizer)
    assert matmul_flops(seconds=0.5, device="cuda") > matmul_flops(seconds=0.5)  # the ceiling is the GPU's, not the CPU's
