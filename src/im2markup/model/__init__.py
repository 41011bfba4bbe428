"""The networks: CNN encoder, row encoder, attention variants, decoders and baselines."""
