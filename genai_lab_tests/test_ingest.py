import json

import polars as pl
import pytest

from genai_lab.ingest import RAW_SCHEMA, DumpError, list_dump_files, read_dump, read_dump_file
from genai_lab.paths import dump_id_for

KEY = b"test-key"


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_the_four_export_layouts_map_onto_one_schema(tmp_path):
    csv_canonical = write(tmp_path, "a.csv", "id,app_id,app_name,category,author,rating,title,content,date,vote_count,vote_sum\n"
                                             "1,x,X,Finance,bob,5,T,Great app for budgets,2021-01-02T03:04:05Z,2,1\n")
    csv_scraper = write(tmp_path, "b.csv", "review_id,app_id,app_name,userName,rating,review,date,voteCount,voteSum\n"
                                           "2,x,X,amy,4,Works well enough,2022-01-01T00:00:00Z,,\n")
    jsonl = write(tmp_path, "c.jsonl", json.dumps({"id": "3", "appId": "x", "appName": "X", "author": "cy", "score": 3,
                                                   "content": "It is fine", "updated": "2024-01-01T04:02:51Z", "voteCount": None}) + "\n")
    parquet = tmp_path / "d.parquet"
    pl.DataFrame({"id": ["4"], "app": ["x"], "Rating": [2], "Comment": ["Too many ads here"]}).write_parquet(parquet)
    frames = [read_dump(path, dump_id_for(path), KEY) for path in (csv_canonical, csv_scraper, jsonl, parquet)]
    for frame in frames:
        assert frame.schema == pl.Schema(RAW_SCHEMA)
    combined = pl.concat(frames)
    assert combined["content"].to_list() == ["Great app for budgets", "Works well enough", "It is fine", "Too many ads here"]
    assert combined["rating"].to_list() == ["5", "4", "3", "2"]
    assert combined["date"].to_list()[:3] == ["2021-01-02T03:04:05Z", "2022-01-01T00:00:00Z", "2024-01-01T04:02:51Z"]
    assert combined["app_id"].to_list() == ["x"] * 4
    assert combined["parse_error"].null_count() == 4


def test_authors_are_pseudonymised_with_a_keyed_hash(tmp_path):
    path = write(tmp_path, "a.csv", "id,author,rating,content\n1,alice,5,hello there all\n2,alice,4,again and again\n3,bob,3,other person here\n")
    frame = read_dump(path, "a", KEY)
    assert "alice" not in frame["author"].to_list()
    assert frame["author"][0] == frame["author"][1] != frame["author"][2]
    assert read_dump(path, "a", b"another key")["author"][0] != frame["author"][0]


def test_duplicate_or_missing_source_ids_get_unique_review_ids(tmp_path):
    path = write(tmp_path, "a.csv", "id,rating,content\n7,5,first text here\n7,4,second text here\n,3,third text here\n")
    frame = read_dump(path, "a", KEY)
    assert frame["review_id"].n_unique() == 3
    assert frame["source_id"].to_list() == ["7", "7", None]


def test_ragged_csv_records_are_kept_with_their_parse_error(tmp_path):
    path = write(tmp_path, "a.csv", 'id,content,rating\n1,hello there friend,5,extra\n2,"multi\nline text",4\n3,short\n')
    frame = read_dump(path, "a", KEY)
    assert frame.height == 3
    assert frame["parse_error"][0].startswith("line 2: 4 fields, expected 3")
    assert frame["parse_error"][1] is None and frame["content"][1] == "multi\nline text"
    assert frame["parse_error"][2].startswith("line 5: 2 fields")


def test_invalid_json_lines_are_kept_with_their_parse_error(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"content":"good one","score":5}\n{broken\n[1,2]\n{"content":"b","score":"4"}\n')
    frame = read_dump(path, "a", KEY)
    assert frame.height == 4
    assert frame["parse_error"].to_list()[1].startswith("line 2: invalid JSON")
    assert frame["parse_error"].to_list()[2] == "line 3: a JSON list, expected an object"
    assert frame["rating"].to_list() == ["5", None, None, "4"]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.csv", b"", "empty file"),
    ("header_only.csv", b"id,content,rating\n", "no records"),
    ("broken_quote_header.csv", b'id,"content,rating\n1,hello,5\n', "line 1: broken quoting in the header"),
    ("no_content.csv", b"id,text2,rating\n1,a,5\n", "no column for content (the file has: id, text2, rating)"),
    ("no_rating.jsonl", b'{"content":"x"}\n', "no column for rating"),
    # bytes that are neither UTF-8 nor cp1252, one in the header: no column names to place any record by
    ("bad_header_byte.csv", b"id,cont\x81ent,rating\n1,b\x81d,5\n", "line 1: the header line is not text: byte 0x81 is not valid UTF-8"),
    ("bad.json", b'[{"content":"a","rating":5},\n{"content": oops}]', "line 2: invalid JSON"),
    ("reviews.xlsx", b"PK\x03\x04", "unknown dump format '.xlsx'"),
    ("bad.parquet", b"PAR1garbage", "not a readable Parquet file"),
])
def test_unreadable_files_raise_an_error_naming_file_line_and_expectation(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(DumpError) as error:
        read_dump(path, "a", KEY)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)
    assert "expected" in str(error.value)


def test_one_unbalanced_quote_costs_one_record_not_the_file(tmp_path):
    # Before: the whole file failed with "line 3: broken quoting". Now the record is rejected with its line.
    records = [f"{n},review number {n} is fine,{n % 5 + 1}" for n in range(1, 21)]
    records[9] = '10,"this one opens a quote and never closes it,4'
    records[14] = '15,"quoted, with a comma",3'  # a later quote the broken one would pair with
    path = write(tmp_path, "a.csv", "id,content,rating\n" + "\n".join(records) + "\n")
    frame = read_dump(path, "a", KEY)
    assert frame.height == 20
    bad = frame.filter(pl.col("parse_error").is_not_null())
    assert bad.height == 1
    assert bad["parse_error"][0].startswith("line 11: broken quoting")
    assert bad["content"][0] is None and bad["record_number"][0] == 10
    good = frame.filter(pl.col("parse_error").is_null())
    assert good["source_id"].to_list() == [str(n) for n in range(1, 21) if n != 10]
    assert good.filter(pl.col("source_id") == "15")["content"][0] == "quoted, with a comma"


def test_a_file_in_which_no_record_parses_still_fails(tmp_path):
    path = write(tmp_path, "a.csv", b'id,content,rating\n1,"unclosed quote,5\n')
    with pytest.raises(DumpError, match=r"a.csv, line 2: broken quoting .*no record of the file could be parsed: 1 tried"):
        read_dump(path, "a", KEY)
    with pytest.raises(DumpError, match=r"line 1: invalid JSON .*2 tried"):
        read_dump(write(tmp_path, "b.jsonl", "{oops\n[1]\n"), "b", KEY)


def test_a_quote_broken_at_the_end_of_the_file_costs_its_record(tmp_path):
    path = write(tmp_path, "a.csv", b'id,content,rating\n1,"hello,5\n2,world,4\n')
    frame = read_dump(path, "a", KEY)
    assert frame["parse_error"][0].startswith("line 2: broken quoting (unexpected end of data)")
    assert frame["parse_error"][1] is None and frame["content"][1] == "world"


def test_rejected_records_reach_rejected_reviews_with_rule_parse_error(tmp_path):
    from genai_lab.prep import assess_quality, clean_and_reject, normalise_reviews
    from genai_lab.text.language import LanguageSettings
    from genai_lab.text.rules import RuleSettings

    path = write(tmp_path, "a.csv", 'id,content,rating,date\n1,a perfectly fine review of this app,5,2022-01-01\n'
                                    '2,"broken quote review here,4,2022-01-02\n3,another fine review of the app,4,2022-01-03\n')
    typed = normalise_reviews(read_dump(path, "a", KEY))
    clean, rejected = clean_and_reject(typed, assess_quality(typed, RuleSettings(), LanguageSettings()), RuleSettings())
    assert clean.height + rejected.height == typed.height == 3
    assert rejected.filter(pl.col("review_id") == "a~r2")["reject_rule"].to_list() == ["parse_error"]
    assert "1" in clean["review_id"].to_list()


def test_a_cp1252_export_is_read_as_cp1252_and_flagged(tmp_path):
    text = "id,content,rating\n1,Nice café – works offline,5\n2,plain ascii review,4\n"
    path = write(tmp_path, "a.csv", text.encode("cp1252"))
    reading = read_dump_file(path, "a", KEY)
    assert reading.encoding == "cp1252" and reading.legacy_encoding
    assert reading.frame["content"].to_list() == ["Nice café – works offline", "plain ascii review"]
    assert reading.parse_errors == 0
    assert read_dump_file(write(tmp_path, "b.csv", text.encode()), "b", KEY).encoding == "utf-8"
    # the same for JSON Lines and a latin-1 file (identical to cp1252 above 0x9f)
    jsonl = write(tmp_path, "c.jsonl", '{"content":"café au lait","rating":5}\n'.encode("cp1252"))
    assert read_dump_file(jsonl, "c", KEY).encoding == "cp1252"
    latin = write(tmp_path, "d.csv", "id,content,rating\n1,caf\xe9 ok,5\n".encode("latin-1"))
    assert read_dump(latin, "d", KEY)["content"].to_list() == ["café ok"]


def test_a_byte_that_is_neither_utf8_nor_cp1252_costs_its_record(tmp_path):
    # 0x81 is undefined in cp1252, so the file is UTF-8 with one bad record: that record is rejected, with its line
    data = "id,content,rating\n1,déjà vu in UTF-8,5\n2,bad \x81 byte here,4\n3,fine again,3\n".encode().replace(b"\xc2\x81", b"\x81")
    path = write(tmp_path, "a.csv", data)
    frame = read_dump(path, "a", KEY)
    assert frame["parse_error"].to_list() == [None, "line 3: byte 0x81 is not valid UTF-8 (and the file is not cp1252 text)", None]
    assert frame["content"].to_list() == ["déjà vu in UTF-8", None, "fine again"]
    # a UTF-8 file with one stray cp1252 byte stays UTF-8 (its other text is UTF-8): only that record is rejected
    mixed = write(tmp_path, "b.jsonl", '{"content":"naïve","rating":5}\n'.encode() + b'{"content":"caf\xe9","rating":4}\n'
                  + '{"content":"ünïcödé ok","rating":3}\n'.encode())
    frame = read_dump(mixed, "b", KEY)
    assert frame["parse_error"].to_list() == [None, "line 2: byte 0xe9 is not valid UTF-8 (and the file is not cp1252 text)", None]
    # in a single JSON document a bad byte inside a string costs its element; one outside a string breaks the document
    document = write(tmp_path, "c.json", b'[{"content":"ok","rating":5},{"content":"x\x81y","rating":4}]')
    assert read_dump(document, "c", KEY)["parse_error"].to_list() == [None, "element 1: byte 0x81 is not valid UTF-8 (and the file is not cp1252 text)"]
    with pytest.raises(DumpError, match="invalid JSON"):
        read_dump(write(tmp_path, "d.json", b'[{"content":"ok","rating":5}\x81]'), "d", KEY)


def test_utf16_with_bom_is_read(tmp_path):
    path = write(tmp_path, "a.csv", "id,content,rating\n1,héllo there you,5\n".encode("utf-16"))
    assert read_dump(path, "a", KEY)["content"].to_list() == ["héllo there you"]


def test_dump_ids_are_safe_partition_keys():
    assert dump_id_for("appstore_reviews_dump_01_until_2021.csv") == "appstore_reviews_dump_01_until_2021"
    assert dump_id_for("x'; DROP TABLE t;--.csv") == "x_drop_table_t"
    assert dump_id_for("2024 reviews.jsonl") == "d_2024_reviews"


def test_dump_listing_skips_truth_hidden_and_partial_files(tmp_path):
    for name in ("a.csv", "a.truth.parquet", ".hidden.csv", "b.jsonl.part", "c.parquet"):
        write(tmp_path, name, b"x")
    assert [p.name for p in list_dump_files(tmp_path)] == ["a.csv", "c.parquet"]


def test_two_files_on_one_partition_key_are_an_error_naming_both(tmp_path):
    from genai_lab.resources import HomeResource

    (tmp_path / "dumps").mkdir()
    (tmp_path / "dumps" / "Reviews 2024.csv").write_text("content,rating\nok,5\n")
    (tmp_path / "dumps" / "reviews_2024.parquet").write_bytes(b"")
    with pytest.raises(DumpError) as error:
        HomeResource(home=str(tmp_path)).dump_files()
    assert "reviews_2024" in str(error.value) and "Reviews 2024.csv" in str(error.value) and "reviews_2024.parquet" in str(error.value)
