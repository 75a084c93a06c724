"""Where faces come from and what their labels mean: sources, quality, duplicates, split.

``facegen.load_dataset`` (``facegen.data.dataset``) is the one call that does all of it.
"""
