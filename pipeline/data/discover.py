"""The one video finder: which video files a user's arguments name.

folders (searched recursively) | video files | globs | text lists (one path a line, `path label ...`
annotation lines too) | CSVs with a `path` column | annotation files of any registered format
-> absolute, sorted paths without repeats. `vap score`, `vap check`, `vap summarize` and
`vap data reencode` all find their videos here, so they agree on what a folder holds.
"""

from __future__ import annotations

import csv
import glob
import os
from pathlib import Path

from pipeline.data.annotations import VIDEO_EXTENSIONS, split_list_line
from pipeline.errors import ConfigError


def is_video(path: Path) -> bool:
    """A file whose extension is a video container's (case-insensitive)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def videos_under(folder: Path) -> list[Path]:
    """Every video file below `folder`, sorted; a dangling or looping symbolic link with a video's name is
    listed too, so that it is reported as bad rather than passed over in silence."""
    return sorted(p for p in folder.rglob("*") if is_video(p) and (p.is_file() or p.is_symlink()))


def collect_inputs(inputs: list[str]) -> list[str]:
    """Absolute paths of the videos named by folders (recursive), globs, list files (one path a line,
    or `path label` annotation lists) and CSVs (a `path` column; relative paths are relative to the
    file), sorted and without repeats."""
    paths: set[str] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = videos_under(p)
        elif p.is_file() and is_video(p):
            found = [p]
        elif p.is_file() and p.suffix.lower() == ".csv":
            with open(p, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if "path" not in (reader.fieldnames or []):
                    raise ConfigError(f"{p}: a CSV of videos needs a 'path' column (has: {reader.fieldnames})")
                found = [p.parent / row["path"] for row in reader if row["path"].strip()]
        elif p.is_file():
            lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
            # a `path label [label ...]` annotation list works too: trailing integer labels are dropped
            found = [p.parent / split_list_line(ln)[0] for ln in lines if ln and not ln.startswith("#")]
        else:
            found = [Path(g) for g in glob.glob(item, recursive=True) if is_video(Path(g))]
            if not found:
                raise FileNotFoundError(f"{item}: no such file or folder, and no video matches it as a glob")
        paths.update(os.path.abspath(q) for q in found)
    return sorted(paths)


def collect_videos(source: Path, *, fmt: str | None = None, root: str | None = None) -> list[Path]:
    """Video files under a folder, one video file, or the videos an annotation file names (`fmt`: a
    registered annotation format; default `csv` for a .csv, else `list`)."""
    if source.is_dir():
        return videos_under(source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    if is_video(source):
        return [source]
    from pipeline.data.annotations import read_annotations

    fmt = fmt or ("csv" if source.suffix.lower() == ".csv" else "list")
    return [r.path for r in read_annotations(fmt, source, root=root).records]


def find_named_video(folder: Path, key: str, name: str | None, mapping: dict[str, str]) -> Path:
    """A dataset's video by its key: `folder/mapping[key]`, else `folder/<name>.*`, else `folder/<key>.*`."""
    if key in mapping:
        path = folder / mapping[key]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (--map entry of {key})")
        return path
    for stem in [s for s in (name, key) if s]:
        found = sorted(p for p in folder.glob(f"{glob.escape(stem)}.*") if p.is_file())
        if found:
            return found[0]
    raise FileNotFoundError(f"{folder}: no video for {key}" + (f" ({name}.*)" if name else "") + "; pass --map")
