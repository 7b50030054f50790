"""`genai-lab` as a user runs it: a fresh home, the embedded default, a broken dump, a bad selection."""

import os
import subprocess
import sys

import duckdb
import polars as pl


def genai_lab(*args):
    env = {key: value for key, value in os.environ.items() if key not in ("DAGSTER_HOME", "GENAI_LAB_HOME", "GENAI_LAB_DUMPS")}
    return subprocess.run([sys.executable, "-m", "genai_lab.cli", *args], env=env, capture_output=True, text=True, timeout=600)


def test_run_on_an_empty_home_writes_the_default_dump_and_materializes_the_selection(tmp_path):
    # the prep group only: the labelling stages embed every review (minutes on 2 cores) and are tested on small data
    home = tmp_path / "home"
    result = genai_lab("run", "--home", str(home), "--select", "group:prep")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote the embedded default (20,000 synthetic reviews)" in result.stdout
    assert (home / "dumps" / "reviews_synthetic.csv").exists() and (home / "dagster" / "dagster.yaml").exists()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        raw = connection.execute("select count(*) from lab.raw_reviews").fetchone()[0]
        clean = connection.execute("select count(*) from lab.clean_reviews").fetchone()[0]
        rejected = connection.execute("select count(*) from lab.rejected_reviews").fetchone()[0]
    assert raw == 20_000 and clean + rejected == raw
    # a second run replaces the partition instead of appending to it
    again = genai_lab("run", "--select", "raw_reviews", "--home", str(home))
    assert again.returncode == 0, again.stderr[-3000:]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from lab.raw_reviews").fetchone()[0] == 20_000


def test_a_broken_dump_fails_with_one_paragraph_naming_file_and_line(tmp_path):
    home = tmp_path / "home"
    (home / "dumps").mkdir(parents=True)
    (home / "dumps" / "broken.csv").write_text('id,content,rating\n1,"never closed,5\n')
    result = genai_lab("run", "--home", str(home))
    assert result.returncode == 1
    assert "broken.csv, line 2: broken quoting" in result.stderr
    assert "Traceback" not in result.stderr.split("genai-lab run failed")[-1]


def test_an_unknown_selection_is_a_usage_error(tmp_path):
    result = genai_lab("run", "--select", "no_such_asset", "--home", str(tmp_path / "home"))
    assert result.returncode == 2 and "no_such_asset" in result.stderr


def test_synth_writes_a_dump_and_its_truth(tmp_path):
    result = genai_lab("synth", str(tmp_path / "s.jsonl"), "--rows", "300", "--seed", "4")
    assert result.returncode == 0, result.stderr
    assert pl.read_ndjson(tmp_path / "s.jsonl").height == 300
    assert pl.read_parquet(tmp_path / "s.truth.parquet").height == 300


def test_a_home_that_is_a_file_or_a_missing_dumps_folder_is_a_usage_error(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a home")
    result = genai_lab("run", "--home", str(a_file))
    assert result.returncode == 2 and f"home {a_file} is a file" in result.stderr and "Traceback" not in result.stderr
    typo = tmp_path / "dumsp"
    result = genai_lab("run", "--home", str(tmp_path / "home"), "--dumps", str(typo))
    assert result.returncode == 2 and f"--dumps {typo} is not a folder" in result.stderr
    assert not typo.exists()  # no synthetic default written into a mistyped folder
