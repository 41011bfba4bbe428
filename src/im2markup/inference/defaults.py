"""Decoding defaults that no saved model sets, kept free of torch for the command line.

The beam width and the longest output travel with each model (`model.config.DecodeConfig`);
how many images share a batch is a matter of speed and memory, chosen here once.
"""

BATCH_SIZE = 16
"""Images of one size decoded together."""
