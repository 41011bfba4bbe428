"""Handwritten formulas: synthetic handwriting renders, and the CROHME captions and test set."""
