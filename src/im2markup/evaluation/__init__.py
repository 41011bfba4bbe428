"""Evaluation as in the paper: BLEU, token and image edit distances, exact image match."""
