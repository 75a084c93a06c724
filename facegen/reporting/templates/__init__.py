"""The report pages' text, as Jinja2 templates, and the few filters that format their numbers.

The wording lives in the ``*.j2`` files beside this module so it can be read and edited as text;
the code around them only gathers numbers. HTML templates (``*.html.j2``) are autoescaped, since
run ids and group names come from files and folder names anyone can write; Markdown templates
are not, and are escaped when they are turned into HTML instead.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

MISSING = "–"
"""What every page prints for a figure the run did not record, or that is undefined."""


def as_number(value: Any) -> float | None:
    """The value as a number, or None when it is missing, not a number, or NaN (json's NaN is
    how metrics.json records an undefined figure). NumPy's numbers count, as pandas hands them
    out."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return None if math.isnan(value) else value


def pct(value: Any, digits: int = 1) -> str:
    number = as_number(value)
    return MISSING if number is None else f"{100 * number:.{digits}f}%"


def fixed(value: Any, digits: int = 3) -> str:
    """Floats to ``digits`` decimals; integers and text as they are, since an epoch count or a
    profile name has no decimals to round."""
    if isinstance(value, float):
        return MISSING if math.isnan(value) else f"{value:.{digits}f}"
    return MISSING if value is None or value == "" else str(value)


def count(value: Any) -> str:
    """Thousands separated, so 23,708 reads at a glance."""
    number = as_number(value)
    return MISSING if number is None else f"{number:,.0f}"


def p_value(value: Any) -> str:
    """Three decimals, but never "0.000": the smallest p of 2,000 draws is 1/2001."""
    number = as_number(value)
    if number is not None and number < 0.001:
        return "<0.001"
    return fixed(number)


def p_statement(value: Any) -> str:
    """ "= 0.054" or "< 0.001": a p-value to follow the letter p in a sentence."""
    text = p_value(value)
    return f"< {text[1:]}" if text.startswith("<") else f"= {text}"


def duration(seconds: Any) -> str:
    """Seconds for a smoke run, minutes or hours for a real one: "2,712 s" makes the reader
    divide."""
    number = as_number(seconds)
    if number is None:
        return MISSING
    if number < 120:
        return f"{number:.0f} s"
    return f"{number / 60:.0f} min" if number < 7200 else f"{number / 3600:.1f} h"


def words(value: Any) -> str:
    """A key as a person would write it: ``age_band`` reads "age band"."""
    return MISSING if value is None else str(value).replace("_", " ")


def splits_in_words(splits: Iterable[str]) -> str:
    """Audited splits as a reader names them: ``["val", "test"]`` reads "validation and test".

    The findings and the model card both name what a label audit covered; one spelling here
    keeps them from drifting apart."""
    return " and ".join("validation" if split == "val" else str(split) for split in splits)


def cell(value: Any) -> str:
    """Text safe inside a Markdown table, where a bare "|" would end the cell."""
    return MISSING if value is None else str(value).replace("|", "\\|")


def estimate(value: Any, low: Any = None, high: Any = None, *, percent: bool = False) -> str:
    """A figure with its 95% interval in one table cell: "0.917 [0.905, 0.927]", or with
    ``percent`` "91.7% [90.5%, 92.7%]". The figure alone where no interval was recorded, "–" where
    the figure itself is missing or undefined, and a count (an integer) with its thousands
    separated. Every table a person reads formats its figures here, so none drifts from another.
    """
    number = as_number(value)
    if number is None:
        return MISSING
    if isinstance(number, numbers.Integral):
        return count(number)
    shown = pct if percent else fixed
    text = shown(float(number))
    if as_number(low) is None or as_number(high) is None:
        return text
    return f"{text} [{shown(float(low))}, {shown(float(high))}]"


def interval(low: Any, high: Any) -> str:
    """Both ends in percent, or a single "–" when the run recorded no interval, rather than
    "– – –"."""
    if as_number(low) is None and as_number(high) is None:
        return MISSING
    return f"{pct(low)} – {pct(high)}"


@functools.cache
def environment() -> jinja2.Environment:
    """One environment for every page: loading from the package keeps the templates found when
    facegen is installed from a wheel, and StrictUndefined turns a misspelt name in a template
    into an error rather than a silently empty sentence. jinja2 is imported here, not at the top,
    so modules that only import this one cost the command line nothing until a page is written."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("facegen.reporting", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=pct,
        fixed=fixed,
        count=count,
        p_value=p_value,
        p_statement=p_statement,
        duration=duration,
        words=words,
        cell=cell,
    )
    env.globals.update(interval=interval, estimate=estimate, MISSING=MISSING)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
