"""YAML loading that remembers line numbers, so every content error can name file and line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ContentError:
    """One problem in the content: where it is and what to do about it."""

    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning" if self.warning else "error"
        return f"{self.file}:{self.line}: {kind}: {self.message}"


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence from YAML that knows its line and the line of each item."""

    line: int = 0
    item_lines: list[int]


# libyaml's parser when PyYAML was built with it (about 15× faster to parse the content at start-up and
# /reload, bench/bench_startup.py); its nodes carry the same line marks.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type,unused-ignore]  # Any without types-PyYAML
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    # Keep every scalar that YAML would turn into a date, a bool or a number as it was written
    # where a string is wanted; pydantic converts on validation. Only plain strings go here.
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# YAML 1.1 reads `no`, `off`, `yes` as booleans: in content they are words (a Norwegian code,
# an option id), so booleans are only `true` and `false`.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    __import__("re").compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class YamlError(Exception):
    """A file could not be read as YAML."""

    def __init__(self, error: ContentError) -> None:
        super().__init__(str(error))
        self.error = error


def load_yaml(path: Path, root: Path | None = None) -> Any:
    """Read one YAML file; mappings and lists carry their line numbers."""
    name = display_name(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(ContentError(name, 1, f"cannot read the file ({exc})")) from exc
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        # The line where the broken construct starts (an unclosed quote or brace) is the one to fix;
        # the parser only notices the problem later, so that line is given as well.
        start, problem = exc.context_mark, exc.problem_mark
        mark = start or problem
        line = mark.line + 1 if mark else 1
        later = (
            f" (noticed at line {problem.line + 1})"
            if start and problem and problem.line != start.line
            else ""
        )
        raise YamlError(
            ContentError(
                name, line, f"this is not valid YAML: {exc.problem}{later}; check indentation and quotes"
            )
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlError(ContentError(name, 1, f"this is not valid YAML: {exc}")) from exc


def display_name(path: Path, root: Path | None) -> str:
    """The path shown in messages: relative to the content folder when possible."""
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def line_of(data: Any, loc: Sequence[int | str]) -> int:
    """The line of the deepest node of `data` that `loc` (a pydantic error location) reaches."""
    line = getattr(data, "line", 1) or 1
    node = data
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
        inner = getattr(node, "line", None)
        if inner and isinstance(node, LineDict):
            line = max(line, inner) if part != loc[-1] else line
    return line


def read_folder(root: Path, folder: str, errors: list[ContentError]) -> Iterator[tuple[Path, str, Any]]:
    """Every YAML file under root/folder, sorted: (path, name to show, data). Bad files become errors."""
    base = root / folder
    if not base.is_dir():
        return
    for path in sorted(p for p in base.rglob("*.yaml") if p.is_file()):
        try:
            data = load_yaml(path, root)
        except YamlError as exc:
            errors.append(exc.error)
            continue
        yield path, display_name(path, root), data


def validate(
    model: type[M], data: Any, file: str, errors: list[ContentError], prefix: tuple[Any, ...] = ()
) -> M | None:
    """Validate YAML data against a model; each problem becomes an error at its own line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
            given = err.get("input")
            # Say what was written when it is short (a misspelt id), so staff can find it at once.
            got = (
                f" (found {given!r})"
                if isinstance(given, str | int | float) and len(str(given)) <= 60
                else ""
            )
            errors.append(ContentError(file, line_of(data, loc), f"{where}: {err['msg']}{got}"))
        return None
