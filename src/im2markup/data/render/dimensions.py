"""Put split TeX dimensions back together before typesetting.

The normalized form writes every letter and digit as its own token, so `\\hspace{0.5cm}`
becomes `\\hspace { 0 . 5 c m }`, which TeX rejects ("Illegal unit of measure"). In math
mode the spaces between these tokens are invisible, so joining a dimension that stands alone
in a group, an optional argument or after a skip primitive changes nothing else on the page.
(`\\raise 2 p t` is the same: TeX reads the dimension, not the spaces.)
"""

from __future__ import annotations

import re

_UNITS = "p t|m m|c m|e x|e m|i n|b p|p c|d d|c c|s p|m u"
_DIMENSION = rf"[-+]?(?: ?[0-9])*(?: ?\.)?(?: ?[0-9])+ (?:t r u e )?(?:{_UNITS})"
_NUMBER = r"[-+]?(?: ?[0-9])*(?: ?\.)?(?: ?[0-9])+"
_ALONE = re.compile(rf"(?<=[{{\[] )(?:{_DIMENSION})(?= [}}\]])")
_AFTER_SKIP = re.compile(
    rf"(\\(?:kern|mkern|hskip|vskip|mskip|unitlength|raise|lower|tabcolsep|arraycolsep) )"
    rf"({_DIMENSION})(?![a-z])"
)
_STRETCH = re.compile(rf"(\\arraystretch }} {{ )({_NUMBER})(?= }})")
# `\renewcommand { \arraystretch }`: the space token before the name would become the name.
_DEFINED_NAME = re.compile(r"(\\renewcommand) \{ (\\[A-Za-z]+) \}")


def join_dimensions(formula: str) -> str:
    """`\\hspace { 0 . 5 c m }` → `\\hspace { 0.5cm }`; everything else is left as it is."""
    formula = _ALONE.sub(lambda m: m.group(0).replace(" ", ""), formula)
    for pattern in (_AFTER_SKIP, _STRETCH):
        formula = pattern.sub(lambda m: m.group(1) + m.group(2).replace(" ", ""), formula)
    return _DEFINED_NAME.sub(r"\1{\2}", formula)
