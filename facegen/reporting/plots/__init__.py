"""One function per figure, grouped by the page that shows it; import them from here."""

from facegen.reporting.plots.data import (
    age_histogram,
    crosstab_heatmap,
    label_distributions,
    split_balance,
)
from facegen.reporting.plots.evaluation import (
    confusion_matrix_plot,
    intersection_heatmap,
    reliability_diagram,
    roc_pr_curves,
    subgroup_accuracy,
)
from facegen.reporting.plots.faces import (
    doubted_faces,
    error_gallery,
    face_grid,
    preprocessing_steps,
    subgroup_face_grid,
)
from facegen.reporting.plots.style import display_name, label, set_style
from facegen.reporting.plots.training import training_curves

__all__ = [
    "age_histogram",
    "confusion_matrix_plot",
    "crosstab_heatmap",
    "display_name",
    "doubted_faces",
    "error_gallery",
    "face_grid",
    "intersection_heatmap",
    "label",
    "label_distributions",
    "preprocessing_steps",
    "reliability_diagram",
    "roc_pr_curves",
    "set_style",
    "split_balance",
    "subgroup_accuracy",
    "subgroup_face_grid",
    "training_curves",
]
