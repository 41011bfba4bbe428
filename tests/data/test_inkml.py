"""The CROHME InkML reader on the real training archive and on documents with each quirk."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from im2markup.data.handwriting.inkml import (
    InkExpression,
    InkmlError,
    load_crohme2014_train_ink,
    parse_inkml,
)

_DOC = """<ink xmlns="http://www.w3.org/2003/InkML">
<annotation type="truth">$x^2$</annotation>
<annotation type="writer">W7</annotation>
<trace id="0">10 20 5, 11 22 6, 12 25 7</trace>
<trace id="1">30 5, 31 4</trace>
<traceGroup xml:id="9"><annotation type="truth">Segmentation</annotation>
  <traceGroup xml:id="10"><annotation type="truth">x</annotation>
    <traceView traceDataRef="0"/></traceGroup>
  <traceGroup xml:id="11"><annotation type="truth">2</annotation>
    <traceView traceDataRef="1"/></traceGroup>
</traceGroup>
</ink>"""


def test_parses_traces_writer_truth_and_symbols_of_any_channel_count() -> None:
    ink = parse_inkml(_DOC.encode(), "a-1", "HAMEX")
    assert ink.writer == "HAMEX:W7"
    assert ink.truth == "$x^2$"
    assert [t.shape for t in ink.traces] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(ink.traces[0][-1], [12.0, 25.0])
    assert [(s.label, s.traces) for s in ink.symbols] == [("x", (0,)), ("2", (1,))]
    assert ink.bounds() == (10.0, 4.0, 31.0, 25.0)


def test_writer_from_the_file_name_where_none_is_annotated() -> None:
    doc = _DOC.replace('<annotation type="writer">W7</annotation>', "")
    assert parse_inkml(doc.encode(), "200923-131-7", "MathBrush").writer == "MathBrush:200923-131"
    assert parse_inkml(doc.encode(), "form003-equation016", "extension").writer == (
        "extension:form003"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<ink><trace>1 2,", "not well-formed"),
        (b'<ink xmlns="http://www.w3.org/2003/InkML"></ink>', "no traces"),
        (b"<ink><trace>1 x, 2 3</trace></ink>", "not numeric"),
    ],
)
def test_unusable_documents_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(InkmlError, match=reason):
        parse_inkml(data, "bad")


def test_latin1_bytes_are_read() -> None:
    doc = _DOC.replace("$x^2$", "caf\xe9").encode("latin-1")
    assert parse_inkml(doc, "MfrDB0104").truth == "caf\xe9"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def loaded(shared_dir: Path) -> tuple[list[InkExpression], list[str]]:
    """The training inks and the warnings logged while reading them (read once: ~7 s)."""
    handler = _Collect()
    logger = logging.getLogger("im2markup.data.handwriting.inkml")
    logger.addHandler(handler)
    try:
        return load_crohme2014_train_ink(shared_dir), handler.messages
    finally:
        logger.removeHandler(handler)


@pytest.mark.shared_data
def test_reads_every_training_ink_but_the_empty_one(
    loaded: tuple[list[InkExpression], list[str]],
) -> None:
    inks, warnings = loaded
    assert len(inks) == 8835
    assert warnings == ["InkML TrainINKML/MfrDB/MfrDB3088.inkml left out: the file is empty"]
    assert "MfrDB3088" not in {ink.id for ink in inks}
    assert "MfrDB0104" in {ink.id for ink in inks}
    collections = Counter(ink.collection for ink in inks)
    assert collections["MathBrush"] == 2989 and collections["HAMEX"] == 2484
    assert sum(len(ink.symbols) for ink in inks) == 85802
    assert len({symbol.label for ink in inks for symbol in ink.symbols}) == 101
    # Every segmented symbol points at traces of its own expression.
    assert all(t < len(ink.traces) for ink in inks for s in ink.symbols for t in s.traces)
    assert 300 < len({ink.writer for ink in inks}) < 400
