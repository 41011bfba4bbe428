"""Close variants of normalized formulas: spacing edits and look-alike spellings."""

from __future__ import annotations

from im2markup.latex.variants import close_variants, look_alike_variants, spacing_variants


def joined(variants) -> set[str]:
    return {" ".join(v) for v in variants}


def test_a_space_is_removed_changed_and_inserted_only_between_top_level_tokens():
    tokens = [
        r"\int",
        r"f",
        r"(",
        r"x",
        r")",
        r"\,",
        r"d",
        r"x",
        r"=",
        r"x",
        r"^",
        r"{",
        r"2",
        r"}",
    ]
    variants = joined(spacing_variants(tokens))
    assert r"\int f ( x ) d x = x ^ { 2 }" in variants
    assert r"\int f ( x ) \; d x = x ^ { 2 }" in variants
    assert r"\int f ( x ) \quad d x = x ^ { 2 }" in variants
    assert r"\int f ( x ) \, d x \, = x ^ { 2 }" in variants
    assert r"\int f ( x ) \, d \, x = x ^ { 2 }" in variants
    inside_group = [v for v in variants if "{ \\," in v or "\\, }" in v or "{ 2 \\," in v]
    assert not inside_group
    assert not any(v.startswith(r"\int f ( x ) \, d x = x \,") for v in variants)
    assert not any(r"\, \," in v or r"\, \;" in v for v in variants)


def test_no_space_is_put_where_it_would_become_an_argument():
    tokens = [r"\frac", r"{", r"a", r"}", r"{", r"b", r"}", r"+", r"\sqrt", r"{", r"c", r"}"]
    variants = joined(spacing_variants(tokens))
    assert not any(v.startswith(r"\frac \,") or r"\sqrt \," in v for v in variants)
    assert r"\frac { a } { b } \, + \sqrt { c }" in variants


def test_look_alikes_are_swapped_both_ways_as_a_whole():
    tokens = [r"\left(", r"a", r"\right)", r"+", r"f", r"^", r"{", r"\prime", r"}"]
    variants = joined(look_alike_variants(tokens))
    assert "( a ) + f ^ { \\prime }" in variants
    assert r"\left( a \right) + f ^ { ' }" in variants
    back = joined(look_alike_variants(["(", "a", ")", "+", "f", "^", "{", "'", "}"]))
    assert r"\left( a \right) + f ^ { ' }" in back and "( a ) + f ^ { \\prime }" in back


def test_close_variants_are_distinct_and_leave_out_the_formula_itself():
    tokens = [r"a", r"\,", r"b", r"=", r"c"]
    variants = close_variants(tokens)
    texts = [" ".join(v) for v in variants]
    assert len(texts) == len(set(texts)) and " ".join(tokens) not in texts
    assert "a b = c" in texts
