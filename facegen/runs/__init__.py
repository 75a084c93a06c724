"""A run's life: its folder and settings, the papermill pipeline, ``facegen train``'s run and the
manifest that records each. Pages, figures and the model card are drawn by ``reporting``, which
never imports this package."""
