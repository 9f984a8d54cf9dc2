#!/usr/bin/env python3
"""Keep only the woff2 sources in the vendored katex.min.css (see assets/vendor/katex/README.md)."""
import pathlib
import re

css = pathlib.Path(__file__).resolve().parent.parent / "assets/vendor/katex/katex.min.css"
text = css.read_text()
text = re.sub(r',url\(fonts/[^)]*\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", text)
css.write_text(text)
print(f"{css}: {text.count('.woff2)')} woff2 sources, "
      f"{text.count('.woff)') + text.count('.ttf)')} others")
