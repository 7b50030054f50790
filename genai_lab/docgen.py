"""Writes the parts of `docs/` that the code already says, so they cannot drift from it.

`python -m genai_lab.docgen` rewrites two generated blocks (`<!-- generated:NAME:start -->` ...
`<!-- generated:NAME:end -->`): the asset table in `docs/lineage.md`, from the asset definitions
(keys, groups, dependencies, descriptions), and every setting in `docs/configuration.md`, from the
resources and their settings types (a field's `description`, else the `#:` comment above it). A
test fails when a committed block differs from what the code says.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
LINEAGE_DOC = DOCS / "lineage.md"
CONFIGURATION_DOC = DOCS / "configuration.md"


#: the assets the IO manager never stores: models go to the model store, reports to <home>/reports
_NOT_TABLES = {"rating_mil": "model store", "finetuned_adapter": "model store", "slm_tokenizer": "model store", "slm_pretrained": "model store",
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


def _field_comments(cls) -> dict[str, str]:
    """`#:` comment lines directly above each annotated field of a class or its bases, joined."""
    comments = {}
    for base in reversed(cls.__mro__):
        if base.__module__.startswith("genai_lab"):
            comments.update(_docstring_fields(base))
            comments.update(_own_field_comments(base))
    return comments


def _docstring_fields(cls) -> dict[str, str]:
    """`name: meaning` entries of a class docstring (continuation lines indented), as some settings types document fields."""
    fields, current = {}, None
    for line in (cls.__doc__ and inspect.cleandoc(cls.__doc__) or "").splitlines():
        entry = re.match(r"(\w+): (.+)", line)
        if entry and entry.group(1) in getattr(cls, "model_fields", {}):
            current = entry.group(1)
            fields[current] = entry.group(2)
        elif current and line.startswith((" ", "\t")) and line.strip():
            fields[current] += " " + line.strip()
        else:
            current = None
    return fields


def _own_field_comments(cls) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, row = [], node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#:"):
                above.insert(0, lines[row].strip()[2:].strip())
                row -= 1
            if above:
                comments[node.target.id] = " ".join(above)
    return comments


def _type_name(annotation) -> str:
    name = annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
    return name.replace("|", "\\|")


def _default(field) -> str:
    factory = field.default_factory
    if factory is not None and getattr(factory, "__module__", "") in ("genai_lab.resources", "genai_lab.environment"):
        return "from the environment"  # a machine's path or variable, not a default of the code
    if factory is not None:
        value = factory()
    else:
        value = field.default
    if isinstance(value, (list, tuple, dict, set, frozenset)) and len(value) > 6:
        return f"{type(value).__name__} of {len(value)}"
    return f"`{value!r}`".replace("|", "\\|")


def _is_settings(annotation) -> bool:
    from pydantic import BaseModel

    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _settings_section(path: str, cls, level: int) -> list[str]:
    doc = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
    lines = [f"{'#' * level} `{path}` ({cls.__name__})", "", *([doc, ""] if doc else [])]
    comments, nested, rows = _field_comments(cls), [], []
    for name, field in cls.model_fields.items():
        if _is_settings(field.annotation):
            nested.append((f"{path}.{name}", field.annotation))
            continue
        meaning = " ".join((field.description or comments.get(name, "")).split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |")
    if rows:
        lines += ["| field | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    for nested_path, nested_cls in nested:
        lines += _settings_section(nested_path, nested_cls, min(level + 1, 4))
    return lines


def settings_reference() -> str:
    from genai_lab.resources import lab_resources

    lines = [""]
    for key, resource in lab_resources(home="<home>").items():
        if key == "io_manager":
            continue
        lines += _settings_section(key, type(resource), 3)
    return "\n".join(lines) + "\n"


GENERATED = {"assets": (LINEAGE_DOC, asset_table), "settings": (CONFIGURATION_DOC, settings_reference)}


def render(name: str, text: str) -> str:
    block = re.compile(rf"(<!-- generated:{name}:start -->\n).*?(<!-- generated:{name}:end -->)", re.S)
    if not block.search(text):
        raise ValueError(f"no <!-- generated:{name}:start --> ... <!-- generated:{name}:end --> block")
    content = GENERATED[name][1]()
    return block.sub(lambda m: m.group(1) + content + m.group(2), text)


def main() -> int:
    for name, (doc, _) in GENERATED.items():
        doc.write_text(render(name, doc.read_text()))
        print(f"rewrote the generated {name} block of {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
