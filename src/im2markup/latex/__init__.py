"""The ground floor of formulas: LaTeX tokens, the formula tree, the paper's normalized form,
compact LaTeX back out, and the safety check of untrusted formulas.

Pure text processing with no dependency on the rest of the package (nor on torch), so every
layer above can read and write formulas.
"""
