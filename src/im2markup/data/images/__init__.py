"""Images: the paper's preprocessing and size buckets, load-time augmentation, and any user
image brought to the model's input scale (colour modes, grain, stroke weight)."""
