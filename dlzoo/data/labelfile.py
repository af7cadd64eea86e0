"""Labels from a CSV file instead of class subfolders: `file,label` rows, which many data sets ship.

    labels.csv                     photos/
      file,label                     001.jpg
      001.jpg,cat                    002.jpg
      002.jpg,dog                    ...

The file paths are relative to a root folder: the CSV's own folder unless one is given
(`csv:labels.csv?root=photos`, `dlzoo finetune photos --labels labels.csv`). The listing this module
makes is the one `dlzoo.data.listing` makes for a folder of class subfolders, so the same scan,
decoders, stratified hash-of-path split and skip list follow (`dlzoo.data.scan`).

The first row is a header when it names its columns: the file column is the first named `file`,
`filename`, `path`, `image`, ... (else the first column), the label column the first named `label`,
`class`, `category`, `target` (else the second). A header naming `labels` or `tags` instead holds
several labels a file, separated by `|` (or by spaces when no row has `|`): a multi-label table.
Without a header (the first row's first cell is a file that exists) the first two columns are
file and label. A row whose file is missing, listed twice with different labels, or has no label is
skipped by name with the reason, as a bad image is.

Nothing here needs a backend.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import posixpath
import stat

from dlzoo.userfiles import IMAGE_MAX_BYTES

__all__ = ["LabelTable", "csv_source", "is_label_file", "parse_csv_source", "read_labels"]

FILE_COLUMNS = ("file", "filename", "file_name", "path", "filepath", "file_path", "image",
                "image_path", "img", "fname", "name", "image_id", "id")
LABEL_COLUMNS = ("label", "class", "class_name", "category", "target", "y")
MULTI_COLUMNS = ("labels", "tags", "classes", "categories")
MAX_BYTES = 512 << 20  # a label file read whole: far more than a million rows take


@dataclasses.dataclass
class LabelTable:
    """A label file read against its root: what the scan reads, and what it skips.

    Attributes:
        path: the CSV, absolute.
        root: the folder its file paths are relative to, absolute.
        class_names: every label named by a row, sorted.
        entries: `(relative path, label, bytes, path to open)` per usable row, sorted (the shape
            `dlzoo.data.listing.list_files` gives); for a multi-label table `label` is the row's
            labels joined by "|" (sorted).
        skipped: `(path as listed, reason)`.
        multi_label: whether the label column holds several labels a file.
        labels: relative path -> its labels (sorted tuple), for every entry.
    """

    path: str
    root: str
    class_names: list[str]
    entries: list[tuple[str, str, int, str]]
    skipped: list[tuple[str, str]]
    multi_label: bool = False
    labels: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def is_label_file(path) -> bool:
    """Whether `path` names an existing `.csv` file (a label file given where a folder may be)."""
    text = os.fspath(path)
    return isinstance(text, str) and text.lower().endswith(".csv") and os.path.isfile(text)


def csv_source(labels, root=None) -> str:
    """The source name of a label file: `csv:/abs/labels.csv`, with `?root=/abs/folder` when the
    paths are relative to another folder than the CSV's own."""
    path = os.path.abspath(os.fspath(labels))
    if root is None or os.path.abspath(os.fspath(root)) == os.path.dirname(path):
        return f"csv:{path}"
    return f"csv:{path}?root={os.path.abspath(os.fspath(root))}"


def parse_csv_source(arg: str) -> tuple[str, str | None]:
    """`(csv path, root or None)` of what follows `csv:` in a source name (`labels.csv` or
    `labels.csv?root=FOLDER`)."""
    path, sep, root = arg.rpartition("?root=")
    if not sep:
        return arg, None
    return path, root or None


def read_labels(path, root=None) -> LabelTable:
    """Reads the label file at `path`; paths in it are relative to `root` (default its folder).

    Raises:
        FileNotFoundError: no such CSV, or no such root folder.
        ValueError: not a CSV of file and label columns (not UTF-8 text, one column, no row),
            saying what was found and what to write.
    """
    path = os.path.abspath(os.fspath(path))
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file {path!r} does not exist; give a CSV of file,label rows")
    root = os.path.dirname(path) if root is None else os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root!r}: no such folder (the folder the paths in {name} are "
                                "relative to); give the folder that holds the images")
    rows = _rows(path)
    file_col, label_col, multi, start = _columns(rows, path, root)
    listed: dict[str, tuple[int, tuple[str, ...], str]] = {}  # rel -> (line, labels, as listed)
    skipped: list[tuple[str, str]] = []
    conflicts: set[str] = set()
    classes: set[str] = set()
    sep = "|" if multi and any("|" in r[label_col] for _, r in rows[start:]
                               if len(r) > label_col) else None
    for line, row in rows[start:]:
        if not any(cell.strip() for cell in row):
            continue
        shown = row[file_col].strip() if len(row) > file_col else ""
        if not shown:
            skipped.append((f"{name} line {line}", "no file name"))
            continue
        raw = row[label_col].strip() if len(row) > label_col else ""
        labels = tuple(sorted({x.strip() for x in raw.split(sep) if x.strip()})) if multi else (
            (raw,) if raw else ())
        if not labels and not multi:
            skipped.append((shown, f"no label ({name} line {line})"))
            continue
        rel = _relative(shown, root)
        classes.update(labels)
        if rel in listed:
            first_line, first_labels, _ = listed[rel]
            if first_labels != labels:
                conflicts.add(rel)
                skipped.append((shown, f"listed twice with different labels ({name} lines "
                                       f"{first_line} and {line}: {'|'.join(first_labels)!r}, "
                                       f"{'|'.join(labels)!r})"))
            continue
        listed[rel] = (line, labels, shown)
    entries = []
    for rel, (line, labels, shown) in listed.items():
        if rel in conflicts:
            continue
        fs_path = rel if os.path.isabs(rel) else os.path.join(root, *rel.split("/"))
        why, size = _file_problem(fs_path, name, line)
        if why is not None:
            skipped.append((shown, why))
            continue
        entries.append((rel, "|".join(labels), size, fs_path))
    entries.sort()
    skipped.sort()
    return LabelTable(path=path, root=root, class_names=sorted(classes), entries=entries,
                      skipped=skipped, multi_label=multi,
                      labels={e[0]: listed[e[0]][1] for e in entries})


def _rows(path) -> list[tuple[int, list[str]]]:
    """`(line number, cells)` of every row of the CSV (comma, semicolon or tab separated)."""
    name = os.path.basename(path)
    if os.path.getsize(path) > MAX_BYTES:
        raise ValueError(f"{path}: over {MAX_BYTES >> 20} MiB, too large for a label file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start}); a label file is a CSV of "
                         "file,label rows saved as UTF-8") from None
    if "\0" in text:
        raise ValueError(f"{path}: a binary file, not a CSV of file,label rows")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise ValueError(f"{path}: not a readable CSV (line {reader.line_num}: {e})") from None
    if not any(any(c.strip() for c in row) for _, row in rows):
        raise ValueError(f"{name}: no rows; a label file holds one file,label row per image")
    return [(n, row) for n, row in rows]


def _columns(rows, path, root) -> tuple[int, int, bool, int]:
    """`(file column, label column, multi-label, first data row)` from the first row."""
    name = os.path.basename(path)
    start = next(i for i, (_, row) in enumerate(rows) if any(c.strip() for c in row))
    head = [c.strip().lower() for c in rows[start][1]]
    if len(head) < 2:
        raise ValueError(
            f"{name}: line {rows[start][0]} has one column ({rows[start][1][:1]}); a label file "
            "has a file column and a label column, e.g. 'file,label' then '001.jpg,cat' (several "
            "labels a file: a 'labels' column, 'a|b')")
    known = set(FILE_COLUMNS + LABEL_COLUMNS + MULTI_COLUMNS)
    first_is_file = os.path.isfile(os.path.join(root, rows[start][1][0].strip()))
    if not first_is_file and any(h in known for h in head):
        file_col = next((i for i, h in enumerate(head) if h in FILE_COLUMNS), 0)
        label_col = next((i for i, h in enumerate(head) if i != file_col
                          and h in LABEL_COLUMNS + MULTI_COLUMNS), 1 if file_col == 0 else 0)
        return file_col, label_col, head[label_col] in MULTI_COLUMNS, start + 1
    if first_is_file:
        return 0, 1, False, start
    raise ValueError(
        f"{name}: the first row {rows[start][1][:3]} names no known columns and its first cell "
        f"is no file under {root}; start the CSV with a header such as 'file,label' (or "
        "'file,labels' for several labels a file), and give paths relative to "
        f"{'its folder' if root == os.path.dirname(path) else 'the image folder'}")


def _relative(shown: str, root: str) -> str:
    """A listed path as the scan names files: '/'-separated, relative to `root` when inside it."""
    text = shown.replace("\\", "/")
    if os.path.isabs(text):
        inside = os.path.relpath(text, root)
        if not inside.startswith(".."):
            return posixpath.normpath(inside.replace(os.sep, "/"))
        return text
    return posixpath.normpath(text)


def _file_problem(fs_path, name, line) -> tuple[str | None, int]:
    """`(reason, 0)` when the listed file cannot be read as an image file, else `(None, size)`."""
    try:
        st = os.stat(fs_path)
    except OSError as e:
        what = "not found" if isinstance(e, FileNotFoundError) else f"unreadable: {e.strerror or e}"
        return f"{what} (listed on {name} line {line})", 0
    if stat.S_ISDIR(st.st_mode):
        return f"a folder, not a file (listed on {name} line {line})", 0
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (device, socket or pipe)", 0
    if st.st_size > IMAGE_MAX_BYTES:
        return (f"{st.st_size:,} bytes, more than the {IMAGE_MAX_BYTES >> 20} MiB an image may "
                "have"), 0
    return None, st.st_size
