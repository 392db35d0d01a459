"""`dvc plots show` that renders offline: an HTML template with vega, vega-lite and vega-embed inline.

DVC's default page loads the three scripts from a CDN, so it is blank on a machine without
internet. vl-convert-python (by the Vega authors, BSD-3) ships the same libraries; its
bundle sets window.vegaEmbed, which DVC's inline `vegaEmbed('#id', spec)` calls use. The
template is written at setup (`cycle-instruct plots-template`), not committed: it is ~900 KB
of generated JavaScript. `.dvc/config` points `plots.html_template` at it.
"""

from pathlib import Path

from .errors import UserError
from .records import atomic_path

DEFAULT_TEMPLATE = Path(".dvc") / "plots_offline.html"
VEGA_LITE_VERSION = "5.21"  # DVC's plot specs use the vega-lite v5 schema

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script type="text/javascript">
/* vega, vega-lite and vega-embed (BSD-3-Clause), bundled by vl-convert-python */
(function () {
%BUNDLE%
}).call(window);
    </script>
    <style>table { border-spacing: 15px; }</style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def write_offline_template(path=DEFAULT_TEMPLATE) -> Path:
    """Write the self-contained template; DVC fills {plot_divs} (a plain string replace)."""
    try:
        import vl_convert
    except ImportError:
        raise UserError("offline plots need the package vl-convert-python; run: pip install vl-convert-python")
    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)
    for marker in ("{plot_divs}", "{scripts}", "{refresh_tag}", "</script"):
        if marker in bundle:  # would break DVC's replace or end the script tag early
            raise UserError(f"the vega bundle of vl-convert-python contains {marker!r}; pin another vl-convert-python version")
    with atomic_path(path) as tmp:
        tmp.write_text(PAGE.replace("%BUNDLE%", bundle), encoding="utf-8")
    return Path(path)
