"""The training formulas and the datasets built from them: LaTeX sources and mining, the shared
corpora, cleaning, recombining, the held-out split, the build and its manifest."""
