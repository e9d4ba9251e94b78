"""Render ``:math:`` and ``.. math::`` as MathML when the HTML is built.

Browsers draw MathML natively (Chrome and Edge since 2023, Firefox and Safari for longer), so the pages need no
JavaScript and no network to show their formulas, work offline, follow the theme's colours in dark mode, and
stay readable by screen readers. The LaTeX is converted by docutils' own converter (docutils comes with
Sphinx); an expression it cannot convert is a build warning, so ``-W`` fails instead of shipping raw LaTeX.
"""

from docutils import nodes
from docutils.utils.math.latex2mathml import tex2mathml
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)


def _mathml(self, node, latex, block):
    try:
        return tex2mathml(latex, as_block=block)
    except SyntaxError as exc:
        logger.warning("cannot convert math %r to MathML: %s", latex, exc, location=node)
        return f"<code>{self.encode(latex)}</code>"


def visit_inline(self, node):
    self.body.append(_mathml(self, node, node.astext(), block=False))
    raise nodes.SkipNode


def visit_block(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node["number"]:  # a numbered equation (:label:) keeps its number and permalink
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    # Blank lines separate equations, as with the built-in renderers: they become the rows of one aligned
    # table, as a double backslash makes them inside one equation.
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    self.body.append(_mathml(self, node, r" \\ ".join(parts), block=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_inline, None), (visit_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
