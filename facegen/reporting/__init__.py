"""Presentation: HTML pages, figures, tables, their templates, the model card and the sentences
each page states. Run folders and the pipeline that fills them are ``runs``; this package never
imports it."""
