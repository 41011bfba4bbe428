"""LaTeX documents read from files, folders and arXiv-style bundles, without unpacking to disk.

A document is a main file (one with `\\documentclass` or the older `\\documentstyle`) together
with the files it pulls in with `\\input`/`\\include`, so that macros defined in a separate
`macros.tex` apply to the formulas of the paper that loads it, and to no other paper. Files that
no main file loads are documents of their own.

arXiv serves a paper either as a gzipped `.tex` file or as a gzipped tar of the whole source
tree, both often named just `.gz`; the content decides. Archives are untrusted: members are
read in memory with per-file, per-archive and member-count limits, and only `.tex` files are
read (links, devices and absolute or `..` paths are ignored, nothing is written anywhere).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 16 << 20
MAX_ARCHIVE_BYTES = 256 << 20
MAX_MEMBERS = 20_000
_TEX_SUFFIXES = (".tex", ".ltx")
_ARCHIVE_SUFFIXES = (".gz", ".tgz", ".tar")
_MAIN = re.compile(r"\\document(?:class|style)(?![A-Za-z])")
_INCLUDE = re.compile(r"\\(?:input|include|subfile)\s*\{\s*([^}]+?)\s*\}|\\input\s+([^\s{}\\]+)")


class SourceError(ValueError):
    """A source that cannot be read; the message names it and says why."""


@dataclass(frozen=True)
class Document:
    """The `.tex` texts of one paper: a single file, or every file of one bundle."""

    name: str
    texts: list[str]


def decode(data: bytes) -> str:
    """UTF-8 if it is, else Latin-1 (older arXiv sources), which accepts any byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_limited(stream: io.BufferedIOBase, limit: int, name: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise SourceError(f"{name}: larger than {limit} bytes")
    return data


def _safe_member(member: tarfile.TarInfo) -> bool:
    path = Path(member.name)
    return member.isfile() and not path.is_absolute() and ".." not in path.parts


def _stem(path: str) -> str:
    path = posixpath.normpath(path.replace("\\", "/"))
    return (
        path[: -len(posixpath.splitext(path)[1])] if path.lower().endswith(_TEX_SUFFIXES) else path
    )


def group_documents(name: str, files: dict[str, str]) -> list[Document]:
    """Split the `.tex` files of one bundle or folder (path → text) into documents."""
    stems = {_stem(path): path for path in files}
    mains = [path for path, text in files.items() if _MAIN.search(text)]
    used: set[str] = set()
    documents = []
    for main in mains:
        members, queue = [main], [main]
        while queue:
            current = queue.pop()
            folder = posixpath.dirname(current)
            for match in _INCLUDE.finditer(files[current]):
                target = match.group(1) or match.group(2)
                for candidate in (posixpath.join(folder, target), target):
                    path = stems.get(_stem(candidate))
                    if path is not None and path not in members:
                        members.append(path)
                        queue.append(path)
                        break
        used.update(members)
        documents.append(Document(f"{name}:{main}", [files[p] for p in members]))
    for path, text in files.items():
        if path not in used:
            documents.append(Document(f"{name}:{path}", [text]))
    return documents


def _tar_texts(data: bytes, name: str) -> dict[str, str]:
    texts, total = {}, 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise SourceError(f"{name}: more than {MAX_MEMBERS} members")
                if not _safe_member(member) or not member.name.lower().endswith(_TEX_SUFFIXES):
                    continue
                if member.size > MAX_FILE_BYTES:
                    raise SourceError(f"{name}: member {member.name} larger than {MAX_FILE_BYTES}")
                total += member.size
                if total > MAX_ARCHIVE_BYTES:
                    raise SourceError(f"{name}: more than {MAX_ARCHIVE_BYTES} bytes of .tex files")
                stream = tar.extractfile(member)
                if stream is not None:
                    texts[member.name] = decode(_read_limited(stream, MAX_FILE_BYTES, member.name))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise SourceError(f"{name}: unreadable archive ({error})") from error
    return texts


def read_documents(path: Path) -> list[Document]:
    """The documents of one source file (see the module docstring for what is accepted)."""
    name = str(path)
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise SourceError(f"{name}: larger than {MAX_ARCHIVE_BYTES} bytes")
    lower = path.name.lower()
    if lower.endswith(_TEX_SUFFIXES):
        with open(path, "rb") as stream:
            return [Document(name, [decode(_read_limited(stream, MAX_FILE_BYTES, name))])]
    if not lower.endswith(_ARCHIVE_SUFFIXES):
        raise SourceError(f"{name}: not a .tex file, .gz, .tar.gz, .tgz or .tar bundle")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                raw = _read_limited(stream, MAX_ARCHIVE_BYTES, name)
        except (OSError, EOFError, zlib.error) as error:
            raise SourceError(f"{name}: unreadable gzip ({error})") from error
    if _is_tar(raw):
        return group_documents(name, _tar_texts(raw, name))
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
    return [Document(name, [decode(raw)])]


def _is_tar(data: bytes) -> bool:
    return len(data) >= 512 and tarfile.is_tarfile(io.BytesIO(data))


def _folder_documents(folder: Path) -> Iterator[Document | SourceError]:
    files: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        lower = path.name.lower()
        if lower.endswith(_TEX_SUFFIXES):
            try:
                (document,) = read_documents(path)
                files[path.relative_to(folder).as_posix()] = document.texts[0]
            except (SourceError, OSError) as error:
                yield SourceError(f"{path}: {error}") if isinstance(error, OSError) else error
        elif lower.endswith(_ARCHIVE_SUFFIXES):
            yield from _file_documents(path)
    yield from group_documents(str(folder), files)


def _file_documents(path: Path) -> Iterator[Document | SourceError]:
    try:
        yield from read_documents(path)
    except SourceError as error:
        yield error
    except OSError as error:
        yield SourceError(f"{path}: {error}")


def iter_documents(sources: list[Path]) -> Iterator[Document | SourceError]:
    """Documents of files and folders (searched recursively), in sorted order.

    An unreadable source is yielded as its `SourceError` so that one bad file does not stop
    the others.
    """
    for source in sources:
        if source.is_dir():
            yield from _folder_documents(source)
        elif source.exists():
            yield from _file_documents(source)
        else:
            yield SourceError(f"{source}: no such file or folder")
