"""The lineage is a contract: every asset key, group, dependency and check, as `asset_graph.json` records it.

A change to the graph fails here until the snapshot is rewritten on purpose:
`python -m genai_lab_tests.test_asset_graph` writes the current graph to the snapshot.
"""

import json
import re
import sys
from pathlib import Path

import pytest

from genai_lab.definitions import ASSET_GROUPS, defs, group_name

SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def current_graph() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets[key.to_user_string()] = {"group": node.group_name, "deps": sorted(k.to_user_string() for k in node.parent_keys),
                                        "partitioned": node.partitions_def is not None}
    checks = sorted(f"{check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys)
    return {"assets": assets, "checks": checks}


def test_the_asset_graph_is_the_snapshot():
    assert current_graph() == json.loads(SNAPSHOT.read_text())


def test_every_asset_is_in_the_group_of_its_module():
    graph = defs.resolve_asset_graph()
    groups = {group_name(module) for module in ASSET_GROUPS}
    for key in graph.get_all_asset_keys():
        assert graph.get(key).group_name in groups


def test_no_module_imports_an_asset_module():
    # asset modules only wire: what two modules share lives in the library packages
    root = Path(__file__).resolve().parents[1]
    imports_an_asset_module = re.compile(r"^\s*(from genai_lab\.assets|import genai_lab\.assets)", re.M)
    importers = [path.relative_to(root).as_posix() for folder in ("genai_lab", "benchmarks") for path in (root / folder).rglob("*.py")
                 if imports_an_asset_module.search(path.read_text()) and path.name != "definitions.py"]
    assert importers == []


@pytest.mark.parametrize("block", ["assets", "settings"])
def test_the_generated_docs_say_what_the_code_says(block):
    from genai_lab.docgen import GENERATED, render

    doc = GENERATED[block][0]
    assert render(block, doc.read_text()) == doc.read_text(), f"{doc.name} is out of date: run `python -m genai_lab.docgen`"


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(current_graph(), indent=1, sort_keys=True) + "\n")
    sys.exit(0)
