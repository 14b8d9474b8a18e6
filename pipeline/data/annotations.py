"""Annotation formats: every way a video dataset says "this file, this label" -> one `Annotations`.

source file or folder -> registered reader (`list`, `csv`, `folder`, `ucf101`, `hmdb51`, `kinetics`,
`ssv2`) -> `Annotations(records, class_names)` -> datasets, or `to_list_file` for the plain format.
Readers check the text, not the disk: whether each video exists and decodes is the validation tool's
job, so a missing video never stops a listing. Any malformed line stops it with an `AnnotationError`
naming the file and line, because a silently skipped line is a silently wrong split.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.errors import AnnotationError
from pipeline.registry import Registry

UNLABELED = -1  # the label of a video whose annotation has none (Kinetics and SSv2 test sets)
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp"})
KINETICS_TEMPLATE = "{label}/{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"
KINETICS_UNLABELED_TEMPLATE = "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"

Label = int | tuple[int, ...]


@dataclass(frozen=True)
class VideoRecord:
    """One video (or one segment of one) and its label.

    `start`/`end` are the segment's seconds in the source video (Kinetics' YouTube times). In the usual
    Kinetics layout the file already holds just that segment, so they identify it; they are not an
    offset to seek to in the file.
    """

    path: Path  # absolute: root joined
    label: Label  # a tuple only in multi-label files; UNLABELED when the annotation has none
    video_id: str  # path relative to root, POSIX style (SSv2: the numeric id); stable across machines
    start: float | None = None
    end: float | None = None


@dataclass
class Annotations:
    """A split's records with the class names their labels index."""

    records: list[VideoRecord]
    class_names: list[str]  # index == label
    source: str  # the annotation file or folder it was read from

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multilabel(self) -> bool:
        return any(isinstance(r.label, tuple) for r in self.records)

    def __len__(self) -> int:
        return len(self.records)

    def save_class_names(self, path: str | os.PathLike[str]) -> Path:
        """One name per line, the file the `list` and `csv` readers pick up as `classes.txt`."""
        bad = [n for n in self.class_names if not n.strip() or "\n" in n or "\r" in n]
        if bad:
            raise ValueError(f"class names {bad!r} cannot be written one per line")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n}\n" for n in self.class_names), encoding="utf-8")
        return path

    def to_list_file(self, path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
        """Write `relative/path label [label ...]` lines, paths relative to `root` where they are under it.

        Every line is parsed back before writing, so a path the `list` reader would misread (one ending in
        a space and digits, starting with `#`, holding a newline) raises instead of corrupting the file.
        The class names are not written: `save_class_names(<folder>/classes.txt)` keeps them beside it.
        """
        root = _absolute(root)
        lines = []
        for r in self.records:
            try:
                rel = r.path.relative_to(root).as_posix()
            except ValueError:
                rel = r.path.as_posix()
            labels = r.label if isinstance(r.label, tuple) else (r.label,)
            line = f"{rel} {' '.join(str(k) for k in labels or (UNLABELED,))}"
            if "\n" in rel or "\r" in rel or rel.startswith("#") or split_list_line(line)[0] != rel:
                raise ValueError(f"{rel!r} cannot be written to a list file unambiguously")
            lines.append(line + "\n")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines), encoding="utf-8")
        return path


Reader = Callable[..., Annotations]
ANNOTATION_FORMATS: Registry[Reader] = Registry("annotation format")


def read_annotations(
    fmt: str,
    source: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    split: int = 1,
    subset: str = "train",
    class_names: list[str] | str | os.PathLike[str] | None = None,
    **options: Any,
) -> Annotations:
    """Read `source` with the reader registered as `fmt`.

    Each reader takes only the common arguments it has a use for (see its docstring); the others are
    ignored, so one config can carry `split`/`subset` for every format. Reader-specific `options` (the
    Kinetics `path_template`) must be known to the reader. `class_names` may be a list or a file
    (`load_class_names`). `root` (where the videos are) defaults to the annotation file's folder for
    `list`/`csv`/`kinetics`; `ucf101`, `hmdb51` and `ssv2` need it, since their files do not say.
    """
    reader = ANNOTATION_FORMATS.get(fmt)
    accepted = inspect.signature(reader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"annotation format {fmt!r} has no option {', '.join(map(repr, unknown))}")
    if class_names is not None and not isinstance(class_names, list):
        class_names = load_class_names(class_names)
    given = {"root": root, "split": split, "subset": subset, "class_names": class_names, **options}
    return reader(Path(source), **{k: v for k, v in given.items() if k in accepted})


def load_class_names(path: str | os.PathLike[str]) -> list[str]:
    """Class names from a text file (one per line, blanks skipped) or a JSON list or `{name: index}` map."""
    path = Path(path)
    numbered: list[tuple[int | None, str]]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(_read_text(path))
        except json.JSONDecodeError as e:
            raise AnnotationError(path, f"invalid JSON: {e.msg}", e.lineno) from None
        if isinstance(data, dict):
            return _names_from_index_map(path, data)
        if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
            raise AnnotationError(path, "expected a JSON list of names or a {name: index} object")
        numbered = [(None, name) for name in data]
    else:
        numbered = [(i, line.strip()) for i, line in enumerate(_lines(path), 1) if line.strip()]
    first_seen: dict[str, int | None] = {}
    for line, name in numbered:
        if name in first_seen:
            first = first_seen[name]
            where = f" (first on line {first})" if first is not None else ""
            raise AnnotationError(path, f"class {name!r} repeated{where}", line)
        first_seen[name] = line
    return list(first_seen)


# ---------------------------------------------------------------------------------------------- list, csv


_LIST_LINE = re.compile(r"(?P<path>.+?)(?P<labels>(?:\s+-?[0-9]+)+)\s*")


def split_list_line(line: str) -> tuple[str, list[int]]:
    """`a b.mp4 3 7` -> (`a b.mp4`, [3, 7]): the trailing integers are labels, the rest is the path."""
    m = _LIST_LINE.fullmatch(line.strip())
    if m is None:
        return line.strip(), []
    return m["path"], [int(t) for t in m["labels"].split()]


@ANNOTATION_FORMATS.register("list")
def read_list(source: Path, *, root: Path | None = None, class_names: list[str] | None = None) -> Annotations:
    """`relative/path.mp4 label` per line (several labels: multi-label); `#` comments, names from classes.txt.

    The labels are the trailing integer tokens, so paths may hold spaces but must not end in ` <digits>`.
    A file with any multi-label line gives every record a tuple. `-1` alone means unlabeled.
    """
    root = _absolute(root if root is not None else source.parent)
    entries: list[tuple[int, str, list[int]]] = []
    for n, line in enumerate(_lines(source), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rel, labels = split_list_line(line)
        if not labels:
            last = line.split()[-1]
            reason = f"label {last!r} is not an integer" if len(line.split()) > 1 else "no label after the path"
            raise AnnotationError(source, reason, n)
        if any(k < 0 for k in labels) and labels != [UNLABELED]:
            raise AnnotationError(source, f"labels {labels} are not all >= 0 (-1 alone means unlabeled)", n)
        entries.append((n, rel, labels))
    names = _names_for_int_labels(source, class_names, [(n, k) for n, _, ks in entries for k in ks])
    multilabel = any(len(ks) > 1 for _, _, ks in entries)
    records = []
    for _, rel, ks in entries:
        label: Label = tuple(ks) if multilabel else ks[0]
        records.append(_record(root, rel, () if label == (UNLABELED,) else label))
    return Annotations(records, names, str(source))


@ANNOTATION_FORMATS.register("csv")
def read_csv(source: Path, *, root: Path | None = None, class_names: list[str] | None = None) -> Annotations:
    """A CSV with a header: `path`, `label` (index or class name), optional `start`/`end` seconds.

    Labels are indices when every one is an integer, names otherwise; names are looked up in
    `class_names` (or a classes.txt beside the file), else the sorted unique names become the classes.
    """
    root = _absolute(root if root is not None else source.parent)
    rows = _csv_table(source, required=("path", "label"))
    for n, row in rows:
        if not row["label"] or not row["path"]:
            raise AnnotationError(source, f"empty {'label' if row['path'] else 'path'}", n)
    if all(_is_int(row["label"]) for _, row in rows):
        labels = [int(row["label"]) for _, row in rows]
        names = _names_for_int_labels(source, class_names, [(n, k) for (n, _), k in zip(rows, labels, strict=True)])
    else:
        names = class_names or _classes_beside(source) or sorted({row["label"] for _, row in rows})
        labels = [_index_of(source, n, row["label"], names, "class_names") for n, row in rows]
    records = []
    for (n, row), label in zip(rows, labels, strict=True):
        start, end = (_seconds(source, n, row, c) if row.get(c) else None for c in ("start", "end"))
        records.append(_record(root, row["path"], label, start=start, end=end))
    return Annotations(records, names, str(source))


# ------------------------------------------------------------------------------------------------ folder


@ANNOTATION_FORMATS.register("folder")
def read_folder(source: Path, *, class_names: list[str] | None = None) -> Annotations:
    """One sub-folder per class holding videos (searched recursively); class names sorted.

    Empty class folders still count as classes, so a train and a val folder index the same names.
    Hidden files and folders (`.DS_Store`, `._clip.mp4`) are skipped. `source` is also the root.
    """
    if not source.is_dir():
        raise AnnotationError(source, "no such folder" if not source.exists() else "not a folder")
    root = _absolute(source)
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = class_names or folders
    records = []
    for folder in folders:
        label = _index_of(root / folder, None, folder, names, "class_names")
        videos = [
            p
            for p in (root / folder).rglob("*")
            if p.suffix.lower() in VIDEO_EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
            and p.is_file()
        ]
        records += [_record(root, p.relative_to(root).as_posix(), label) for p in sorted(videos)]
    return Annotations(records, list(names), str(source))


# ----------------------------------------------------------------------------------- ucf101 and hmdb51


@ANNOTATION_FORMATS.register("ucf101")
def read_ucf101(source: Path, *, root: Path | None = None, split: int = 1, subset: str = "train") -> Annotations:
    """UCF101's `ucfTrainTestlist` folder: classInd.txt plus trainlist0{split}.txt / testlist0{split}.txt.

    Labels there are 1-based and the test lists have none; every label here is the 0-based classInd index,
    and the class folder of each path must agree with it (a mismatch means a wrong classInd.txt).
    """
    _check_split(source, split, subset)
    root = _need_root(root, "ucf101")
    class_file = source / "classInd.txt"
    names = []
    for n, line in enumerate(_lines(class_file), 1):
        if not line.strip():
            continue
        tokens = line.split(maxsplit=1)
        if tokens[0] != str(len(names) + 1) or len(tokens) != 2:
            raise AnnotationError(class_file, f"expected '{len(names) + 1} <ClassName>', found {line!r}", n)
        names.append(tokens[1].strip())
    by_folder = {name.casefold(): i for i, name in enumerate(names)}  # folders and classInd differ in case
    list_file = source / f"{subset}list0{split}.txt"
    records = []
    for n, line in enumerate(_lines(list_file), 1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) > 2 or (len(tokens) == 2 and not _is_int(tokens[1])):
            raise AnnotationError(list_file, f"expected '<Class>/<video>.avi [label]', found {line!r}", n)
        folder = PurePosixPath(tokens[0]).parent.name or None
        if folder is not None and folder.casefold() not in by_folder:
            raise AnnotationError(list_file, f"class {folder!r} not in classInd.txt", n)
        if len(tokens) == 2:
            label = int(tokens[1]) - 1
            if not 0 <= label < len(names):
                raise AnnotationError(list_file, f"label {tokens[1]} not in classInd.txt (1..{len(names)})", n)
            if folder is not None and by_folder[folder.casefold()] != label:
                reason = f"label {tokens[1]} is {names[label]!r} but the video is in folder {folder!r}"
                raise AnnotationError(list_file, reason, n)
        elif folder is None:
            raise AnnotationError(list_file, "no label and no class folder in the path", n)
        else:
            label = by_folder[folder.casefold()]
        records.append(_record(root, tokens[0], label))
    return Annotations(records, names, str(list_file))


@ANNOTATION_FORMATS.register("hmdb51")
def read_hmdb51(source: Path, *, root: Path | None = None, split: int = 1, subset: str = "train") -> Annotations:
    """HMDB51's split folder: `<class>_test_split{split}.txt` lines `video.avi 1|2|0` (train/test/unused).

    Videos are `root/<class>/<video.avi>`; class names are the file-name prefixes, sorted. Video names
    may start with `#` (`#20_Rhythm_clap_...`), so nothing here is a comment.
    """
    _check_split(source, split, subset)
    root = _need_root(root, "hmdb51")
    if not source.is_dir():
        raise AnnotationError(source, "no such folder" if not source.exists() else "not a folder")
    suffix = f"_test_split{split}.txt"
    by_name = {p.name[: -len(suffix)]: p for p in source.iterdir() if p.name.endswith(suffix)}
    by_name.pop("", None)
    if not by_name:
        raise AnnotationError(source, f"no <class>{suffix} files")
    names = sorted(by_name)  # by class name, not file name: "a_b_test..." sorts before "a_test..."
    files = [by_name[name] for name in names]
    wanted = {"train": "1", "test": "2"}[subset]
    records = []
    for label, (name, file) in enumerate(zip(names, files, strict=True)):
        for n, line in enumerate(_lines(file), 1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 2 or tokens[1] not in ("0", "1", "2"):
                raise AnnotationError(file, f"expected '<video>.avi 0|1|2', found {line.strip()!r}", n)
            if tokens[1] == wanted:
                records.append(_record(root, f"{name}/{tokens[0]}", label))
    return Annotations(records, names, str(source))


# ------------------------------------------------------------------------------------- kinetics, ssv2


@ANNOTATION_FORMATS.register("kinetics")
def read_kinetics(
    source: Path,
    *,
    root: Path | None = None,
    class_names: list[str] | None = None,
    path_template: str | None = None,
) -> Annotations:
    """A Kinetics CSV (`label,youtube_id,time_start,time_end,split[,is_cc]`; test files may lack `label`).

    Videos are at `root/<label>/<youtube_id>_<time_start:06d>_<time_end:06d>.mp4` (unlabeled rows: no
    label folder). `path_template` changes that; it may use {label}, {label_underscored}, {youtube_id},
    {time_start}, {time_end} and {split}. Class names: `class_names` (the published 400-name list keeps
    indices equal across splits), else the file's sorted unique labels.
    """
    root = _absolute(root if root is not None else source.parent)
    rows = _csv_table(source, required=("youtube_id", "time_start", "time_end"))
    names = class_names or sorted({row["label"] for _, row in rows if row.get("label")})
    records = []
    for n, row in rows:
        start, end = _seconds(source, n, row, "time_start"), _seconds(source, n, row, "time_end")
        name = row.get("label", "")
        label = _index_of(source, n, name, names, "class_names") if name else UNLABELED
        fields = {
            **row,
            "label_underscored": name.replace(" ", "_"),
            "time_start": int(start) if start.is_integer() else start,
            "time_end": int(end) if end.is_integer() else end,
        }
        if not name:
            fields.pop("label", None)  # so that a template asking for the label fails loudly
        template = path_template or (KINETICS_TEMPLATE if name else KINETICS_UNLABELED_TEMPLATE)
        try:
            rel = template.format(**fields)
        except (KeyError, ValueError, IndexError) as e:
            raise AnnotationError(source, f"path_template {template!r} does not fit this row ({e})", n) from None
        records.append(_record(root, rel, label, start=start, end=end))
    return Annotations(records, names, str(source))


@ANNOTATION_FORMATS.register("ssv2")
def read_ssv2(source: Path, *, root: Path | None = None, class_names: list[str] | None = None) -> Annotations:
    """Something-Something V2: a split JSON (`id`, `template`, ...; test: `id` only), videos `root/<id>.webm`.

    The label is the `template` looked up in labels.json beside the file (or the official
    something-something-v2-labels.json), whose keys are templates with the brackets removed; both sides
    are compared without brackets, spacing or case, so either spelling of the keys matches.
    """
    root = _need_root(root, "ssv2")
    if class_names is None:
        beside = [source.parent / f for f in ("labels.json", "something-something-v2-labels.json")]
        class_names = load_class_names(next((p for p in beside if p.is_file()), beside[0]))
    by_key: dict[str, int] = {}
    for i, name in enumerate(class_names):
        first = by_key.setdefault(_template_key(name), i)
        if first != i:
            raise AnnotationError(source, f"class names {class_names[first]!r} and {name!r} read the same")
    records = []
    for i, item in enumerate(_json_list(source)):
        if not isinstance(item, dict) or not isinstance(item.get("id"), (str, int)):
            raise AnnotationError(source, "expected an object with an 'id'", _json_item_line(source, i))
        template = item.get("template")
        key = _template_key(template) if isinstance(template, str) else None
        if template is None:
            label = UNLABELED
        elif key not in by_key:
            reason = f"template {template!r} not in the class names (labels.json)"
            raise AnnotationError(source, reason, _json_item_line(source, i))
        else:
            label = by_key[key]
        video_id = str(item["id"])
        records.append(VideoRecord(root / f"{video_id}.webm", label, video_id))
    return Annotations(records, list(class_names), str(source))


@functools.lru_cache(maxsize=1024)  # a few hundred templates, repeated over ~200k videos
def _template_key(text: str) -> str:
    return " ".join(text.replace("[", "").replace("]", "").split()).casefold()


# ------------------------------------------------------------------------------------------------ helpers


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().absolute()  # not resolve(): keep symlinked dataset folders as named


def _need_root(root: Path | None, fmt: str) -> Path:
    if root is None:
        raise ValueError(f"annotation format {fmt!r} needs root=<the folder holding the videos>")
    return _absolute(root)


def _check_split(source: Path, split: int, subset: str) -> None:
    if split not in (1, 2, 3):
        raise AnnotationError(source, f"split must be 1, 2 or 3, not {split!r}")
    if subset not in ("train", "test"):
        raise AnnotationError(source, f"subset must be 'train' or 'test', not {subset!r}")


def _record(root: Path, rel: str, label: Label, **times: float | None) -> VideoRecord:
    path = root / rel
    try:
        video_id = path.relative_to(root).as_posix()
    except ValueError:  # an absolute path outside root
        video_id = path.as_posix()
    return VideoRecord(path, label, video_id, **times)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise AnnotationError(path, "no such file")
    if not path.is_file():
        raise AnnotationError(path, "not a file")
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports start with a BOM
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise AnnotationError(path, f"not UTF-8 text ({e.reason})", line) from None


def _lines(path: Path) -> list[str]:
    # split on "\n" only, unlike str.splitlines, so line numbers agree with editors whatever the bytes
    return [line.rstrip("\r") for line in _read_text(path).split("\n")]


def _classes_beside(source: Path) -> list[str] | None:
    beside = source.parent / "classes.txt"
    return load_class_names(beside) if beside.is_file() else None


def _names_for_int_labels(source: Path, class_names: list[str] | None, labels: Iterable[tuple[int, int]]) -> list[str]:
    """`class_names`, else classes.txt beside `source`, else "0".."K-1"; every label must be in range."""
    labels = [(n, k) for n, k in labels if k != UNLABELED]
    names = class_names or _classes_beside(source)
    origin = "class_names" if class_names else "classes.txt"
    if names is None:
        return [str(k) for k in range(max((k for _, k in labels), default=-1) + 1)]
    for n, k in labels:
        if k >= len(names):
            raise AnnotationError(source, f"label {k} out of range: {origin} has {len(names)} classes", n)
    return list(names)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[0-9]+", text) is not None  # ASCII digits only: str.isdigit accepts "²"


def _index_of(source: Path, line: int | None, name: str, names: list[str], origin: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise AnnotationError(source, f"class {name!r} not in {origin}", line) from None


def _seconds(source: Path, line: int, row: dict[str, str], column: str) -> float:
    try:
        return float(row[column])
    except ValueError:
        raise AnnotationError(source, f"{column} {row[column]!r} is not a number", line) from None


def _csv_table(source: Path, *, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Each non-blank row as a dict keyed by the lower-cased header, with the line the row ends on."""
    reader = csv.reader(io.StringIO(_read_text(source), newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as e:
        raise AnnotationError(source, f"bad CSV ({e})", reader.line_num) from None
    if not rows:
        raise AnnotationError(source, "empty file: expected a header line")
    header_line, header = rows[0]
    header = [h.strip().lower() for h in header]
    for column in required:
        if column not in header:
            raise AnnotationError(source, f"no {column!r} column in the header {header}", header_line)
    table = []
    for n, row in rows[1:]:
        if len(row) != len(header):
            raise AnnotationError(source, f"expected {len(header)} fields, found {len(row)}", n)
        table.append((n, {h: cell.strip() for h, cell in zip(header, row, strict=True)}))
    return table


def _names_from_index_map(path: Path, data: dict[str, Any]) -> list[str]:
    """`{"Approaching something": "0", ...}` (SSv2's labels.json) -> names in index order."""
    try:
        by_index = {int(i): name for name, i in data.items()}
    except (TypeError, ValueError):
        raise AnnotationError(path, "expected {name: index} with integer indices") from None
    if sorted(by_index) != list(range(len(data))):
        raise AnnotationError(path, f"indices are not 0..{len(data) - 1}, each once")
    return [by_index[i] for i in range(len(data))]


_JSON_SPACE = re.compile(r"[ \t\r\n]*")


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return match.end() if match else pos


def _json_list(path: Path) -> list[Any]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise AnnotationError(path, f"invalid JSON: {e.msg}", e.lineno) from None
    if not isinstance(data, list):
        raise AnnotationError(path, "expected a JSON list")
    return data


def _json_item_line(path: Path, index: int) -> int:
    """The line item `index` of a valid top-level JSON list starts on: walked only to report an error."""
    text = _read_text(path)
    decoder = json.JSONDecoder()
    pos = _skip_space(text, _skip_space(text, 0) + 1)  # past "["
    for _ in range(index):
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)  # past ","
    return text.count("\n", 0, pos) + 1
