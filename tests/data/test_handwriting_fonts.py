"""The installed handwriting fonts, and how a formula's hand is drawn from them."""

from __future__ import annotations

import numpy as np
import pytest

from im2markup.data.handwriting.fonts import CATALOGUE, available_fonts
from im2markup.data.handwriting.template import choose_fonts, hand_switch, preamble


@pytest.fixture(scope="module")
def fonts():
    try:
        return available_fonts()
    except (RuntimeError, OSError) as error:
        pytest.skip(f"handwriting fonts unavailable: {error}")


def test_catalogued_fonts_are_found_with_plausible_metrics(fonts) -> None:
    assert {f.path.name for f in fonts} <= set(CATALOGUE)
    for font in fonts:
        assert font.path.is_file()
        # Measured by FreeType: an "x" is shorter than an "H" in every font with real lower case.
        assert 0.2 < font.x_height < 1.0 and 0.3 < font.cap_height < 1.2, font.name
        if "lower" in font.roles:
            assert font.x_height < font.cap_height, font.name
        assert "+" in font.operators and "-" not in font.operators


def test_each_font_only_takes_its_roles(fonts) -> None:
    rng = np.random.default_rng(0)
    choices = [choose_fonts(rng, fonts) for _ in range(400)]
    lower = {c.lower for c in choices}
    upper = {c.upper for c in choices}
    assert lower == {i for i, f in enumerate(fonts) if "lower" in f.roles}
    assert upper == {i for i, f in enumerate(fonts) if "upper" in f.roles}
    share_small = np.mean([c.small_operators for c in choices])
    assert 0.6 < share_small < 0.8
    again = np.random.default_rng(0)
    assert [choose_fonts(again, fonts) for _ in range(400)] == choices


def test_every_switch_refers_to_a_macro_of_the_preamble(fonts) -> None:
    head = preamble(fonts)
    rng = np.random.default_rng(1)
    for _ in range(50):
        for macro in hand_switch(choose_fonts(rng, fonts)).split("\\")[1:]:
            name = macro.strip()
            assert f"\\def\\{name}{{" in head, name
