"""Pseudo-labelling: a trained model reads the unlabeled shared images and a label is kept
only when its render shows what the image shows (`labelling`).

It sits beside `training`, above the inference runtime it decodes with; the file format it
writes belongs to the data layer (`data.corpus.pseudo_label_files`), which builds datasets
from it.
"""
