import numpy as np

from genai_lab.ml.budget import chunks_within


def test_chunks_stop_before_the_one_that_would_pass_the_budget():
    clock = [0.0]
    ran: list[int] = []

    def ten_seconds_each(index: int) -> None:
        ran.append(index)
        clock[0] += 10.0

    # after 3 chunks 30 s have gone and a fourth would end at 40 > 35
    assert chunks_within(6, ten_seconds_each, 35.0, clock=lambda: clock[0]) == 3
    assert ran == [0, 1, 2]
    ran.clear()
    assert chunks_within(6, ten_seconds_each, None, clock=lambda: clock[0]) == 6
    ran.clear()
    assert chunks_within(6, ten_seconds_each, 0.001, clock=lambda: clock[0]) == 1  # nothing timed before the first
    assert chunks_within(0, ten_seconds_each, 5.0, clock=lambda: clock[0]) == 0


def test_a_budgeted_embedding_pass_embeds_whole_chunks_of_random_texts_as_the_full_pass_would(monkeypatch, tiny_base_model, tmp_path):
    import genai_lab.ml.embeddings as embeddings
    from genai_lab.labels.functions import LabelSettings, _embed

    monkeypatch.setattr(embeddings, "BUDGET_CHUNK_TEXTS", 9)
    settings = LabelSettings(base_model=str(tiny_base_model), embed_batch_size=4, embed_max_length=32)
    texts = [f"review number {i} " + "word " * (i % 7) for i in range(45)]
    full = embeddings.embed(texts, model_name=str(tiny_base_model), batch_size=4, max_length=32)
    assert np.isfinite(full).all()
    budgeted = _embed(texts, settings, max_minutes=1e-9, folder=tmp_path)
    done = np.isfinite(budgeted).all(axis=1)
    assert done.sum() == 9  # 45 texts in 5 chunks of 9: the first always runs, then the budget is spent
    assert not done[:9].all()  # a random subset, not the first texts
    assert np.isnan(budgeted[~done]).all()
    np.testing.assert_allclose(budgeted[done], full[done], atol=2e-2)  # bf16 where the CPU has it: padding differs
    resumed = _embed(texts, settings, folder=tmp_path)  # no budget: the kept chunk is read, the other 36 texts embedded
    np.testing.assert_array_equal(resumed[done], budgeted[done])
    np.testing.assert_allclose(resumed, full, atol=2e-2)
