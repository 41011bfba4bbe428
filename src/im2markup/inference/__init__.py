"""The one inference runtime: where a model runs (`device`), loading a model directory for
inference (`loading`: threads, int8 weights and bf16 convolutions, the decode settings saved
with the weights, the bundled models) and batched decoding with timing (`batches`).

Serving, evaluation and pseudo-labelling all load and decode through it.
"""
