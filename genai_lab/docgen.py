"""Writes the parts of `docs/` that the code already says, so they cannot drift from it.

`python -m genai_lab.docgen` rewrites the block between `<!-- generated:assets:start -->` and
`<!-- generated:assets:end -->` in `docs/lineage.md` from the asset definitions (keys, groups,
dependencies, descriptions); a test fails when the committed block differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINEAGE_DOC = Path(__file__).resolve().parents[1] / "docs" / "lineage.md"
BLOCK = re.compile(r"(<!-- generated:assets:start -->\n).*?(<!-- generated:assets:end -->)", re.S)


#: the assets the IO manager never stores: models go to the model store, reports to <home>/reports
_NOT_TABLES = {"finetuned_adapter": "model store", "slm_tokenizer": "model store", "slm_pretrained": "model store",
               "slm_classifier": "model store", "comparison_report": "report files", "opportunity_report": "report files"}


def _kind(node) -> str:
    kind = _NOT_TABLES.get(node.key.to_user_string(), "table")
    return f"{kind}, partitioned by dump" if node.partitions_def is not None else kind


def asset_table() -> str:
    from genai_lab.definitions import ASSET_GROUPS, defs, group_name

    graph = defs.resolve_asset_graph()
    order = {group_name(module): i for i, module in enumerate(ASSET_GROUPS)}
    nodes = sorted((graph.get(key) for key in graph.get_all_asset_keys()), key=lambda n: (order[n.group_name], _topological(graph)[n.key]))
    lines = ["| asset | group | kind | reads | what it holds |", "|---|---|---|---|---|"]
    for node in nodes:
        reads = ", ".join(f"`{k.to_user_string()}`" for k in sorted(node.parent_keys, key=lambda k: k.to_user_string())) or "—"
        description = " ".join((node.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{node.key.to_user_string()}` | {node.group_name} | {_kind(node)} | {reads} | {description} |")
    return "\n".join(lines) + "\n"


def _topological(graph) -> dict:
    order, seen = {}, set()

    def visit(key):
        if key in seen:
            return
        seen.add(key)
        for parent in sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string()):
            visit(parent)
        order[key] = len(order)

    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        visit(key)
    return order


def render(text: str) -> str:
    if not BLOCK.search(text):
        raise ValueError(f"{LINEAGE_DOC} has no <!-- generated:assets:start --> ... <!-- generated:assets:end --> block")
    return BLOCK.sub(lambda m: m.group(1) + asset_table() + m.group(2), text)


def main() -> int:
    LINEAGE_DOC.write_text(render(LINEAGE_DOC.read_text()))
    print(f"rewrote the asset table in {LINEAGE_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
