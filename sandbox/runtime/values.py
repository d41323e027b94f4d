"""A cell's code split into its body and a last expression, and how that
expression's value is shown (DataFrames as tables), bounded."""

import ast
import sys

VALUE_CHARS = 20000
VALUE_HTML_CHARS = 100000  # a DataFrame's HTML table, as a notebook shows it; longer, none is sent (cut HTML is broken HTML)


def split_last_expression(code, filename):
    """Compiles a cell; a final bare expression is split off to be evaluated and shown."""
    tree = ast.parse(code, filename=filename, mode="exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
        expression = ast.Expression(tree.body.pop().value)
        last = compile(expression, filename, "eval")
    body = compile(tree, filename, "exec") if tree.body else None
    return body, last


def render_value(value):
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        with pandas.option_context("display.max_rows", 40, "display.min_rows", 20, "display.max_columns", 30, "display.width", 160, "display.max_colwidth", 60):
            text = value.to_string(max_rows=40, min_rows=20) if isinstance(value, pandas.DataFrame) else repr(value)
            if isinstance(value, pandas.DataFrame) and len(value) > 40:
                text += "\n[%d rows x %d columns]" % value.shape
    else:
        try:
            text = repr(value)
        except Exception as error:
            text = "<repr failed: %s: %s>" % (type(error).__name__, error)
    if len(text) > VALUE_CHARS:
        half = VALUE_CHARS // 2
        text = "%s\n[... %d characters cut ...]\n%s" % (text[:half], len(text) - VALUE_CHARS, text[-half:])
    return text


def render_value_html(value):
    """A DataFrame's table as HTML, with the display bounds of render_value; None for anything else."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame):
        return None
    try:
        with pandas.option_context("display.max_rows", 40, "display.min_rows", 20, "display.max_columns", 30, "display.max_colwidth", 60):
            html = value._repr_html_()
    except Exception:
        return None
    return html if isinstance(html, str) and len(html) <= VALUE_HTML_CHARS else None
