"""The ground floor of scoring: the paper's text metrics (`text`), its image match
(`image_match`) and the stricter render check of pseudo-labels (`label_verifier`).

Pure functions of tokens and pixels; they import nothing else from the package, so data
building, serving, evaluation and training all use them without reaching up.
"""
