"""Run folders, the papermill pipeline, HTML pages, figures and the model card."""
