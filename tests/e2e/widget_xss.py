"""A hostile answer for the widget: XSS payloads in every form a model could write them.

Each payload either calls ``alert`` (a dialog), sets ``window.__pwned``, or makes the browser
reach the attacker's server; none may. The unfinished code span and fence come last, so they
stay unfinished in the final render as they were in every partial one.
"""

from __future__ import annotations

import json
from pathlib import Path

BLNS = Path(__file__).parent / "widget_files" / "blns.json"

PAYLOADS = [
    # script and event handlers
    "<script>alert('script')</script>",
    "<script>fetch('{att}/script')</script>",
    "<img src=x onerror=\"window.__pwned='img-onerror';alert('img')\">",
    '<img src="{att}/html-image.png" alt="html image">',
    '<p onmouseover="alert(\'mouseover\')" onclick="window.__pwned=1">paragraph with handlers</p>',
    '<a href="https://ok.example/" onclick="alert(\'onclick\')" target="_self">'
    "handler on a good link</a>",
    "<body onload=alert('body')>",
    "<details open ontoggle=alert('toggle')><summary>details</summary></details>",
    "<input autofocus onfocus=alert('focus')>",
    "<button onclick=alert('button')>model button</button>",
    '<form action="{att}/form"><input type=submit value=send></form>',
    "<marquee onstart=alert('marquee')>marquee</marquee>",
    "<video src=\"{att}/video.mp4\" autoplay onerror=alert('video')></video>",
    '<audio src="{att}/audio.mp3" autoplay></audio>',
    '<object data="javascript:alert(\'object\')"></object><embed src="{att}/embed">',
    '<link rel=stylesheet href="{att}/style.css"><base href="{att}/">',
    '<meta http-equiv="refresh" content="0;url={att}/refresh">',
    "<style>@import url({att}/import.css); p {{ background: url({att}/bg.png) }}</style>",
    '<div style="background:url({att}/style-attr.png)">styled div</div>',
    '<table background="{att}/table-bg.png"><tr><td>cell</td></tr></table>',
    "<template><img src=x onerror=alert('template')></template>",
    # SVG and MathML
    "<svg onload=alert('svg')><circle r=10 /></svg>",
    "<svg><script>alert('svg-script')</script></svg>",
    "<svg><a xlink:href=\"javascript:alert('svg-link')\">"
    '<text x="0" y="20">svg link</text></a></svg>',
    "<svg><animate onbegin=alert('animate') attributeName=x dur=1s></svg>",
    '<svg><image href="{att}/svg-image.png" /></svg>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(\'math\')">'
    "math</maction></math>",
    # iframes
    "<iframe srcdoc=\"<script>parent.alert('srcdoc')</script>\"></iframe>",
    "<iframe srcdoc=\"&lt;img src=x onerror=parent.alert('srcdoc-entity')&gt;\"></iframe>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    # mXSS
    "<noscript><p title=\"</noscript><img src=x onerror=alert('noscript')>\"></noscript>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mglyph')></style>"
    "</mglyph></table></mtext></math>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert('form-mxss')>",
    "<svg></p><style><a id=\"</style><img src=1 onerror=alert('svg-style')>\">",
    "<scr<script>ipt>alert('split')</script>",
    "<<script>alert('double');//<</script>",
    '<IMG """><SCRIPT>alert("quotes")</SCRIPT>">',
    "<a href=\"javascript&colon;alert('html-colon')\">html named-entity link</a>",
    "<a href=\"&#106;avascript:alert('html-entity')\">html entity link</a>",
    "<a href=\" javascript:alert('leading-space')\">leading space link</a>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">html data link</a>',
    # Markdown links in every form
    "[inline link](javascript:alert('md-inline'))",
    "[spaced link](  javascript:alert('md-spaced')  )",
    "[angle link](<javascript:alert('md-angle')>)",
    "[titled link](javascript:alert('md-title') \"a title\")",
    "[upper-case link](JaVaScRiPt:alert('md-upper'))",
    "[vbscript link](vbscript:msgbox('md-vb'))",
    "[data link](data:text/html,<script>alert('md-data')</script>)",
    "[base64 data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[decimal entity link]"
    "(&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert('md-dec'))",
    "[hex entity link](&#x6A;avascript:alert('md-hex'))",
    "[named entity link](javascript&colon;alert('md-named'))",
    "[tab entity link](jav&#x09;ascript:alert('md-tab'))",
    "[reference link][evil] and [collapsed][] and [shortcut]",
    "[evil]: javascript:alert('md-ref')\n[collapsed]: vbscript:msgbox('md-collapsed')\n"
    "[shortcut]: data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "<javascript:alert('md-autolink')>",
    "![external image]({att}/markdown-image.png)",
    "![image with js](javascript:alert('md-image'))",
    "[![linked image]({att}/linked-image.png)](https://ok.example/)",
    # code spans
    "`closed code <img src=x onerror=alert('code')>`",
    "```html\n<script>alert('fenced')</script>\n```",
]
TAIL = [
    "```js\nunfinished fence <img src=x onerror=alert('fence-open')>",
]
UNFINISHED_SPAN = (
    "`unfinished code span <img src=x onerror=alert('span-open')> <script>alert(1)</script>"
)


def naughty_strings() -> list[str]:
    """npm's ``blns``: the Big List of Naughty Strings."""
    strings: list[str] = json.loads(BLNS.read_text(encoding="utf-8"))
    return strings


def xss_answer(attacker: str) -> str:
    """The hostile answer; ``attacker`` is the origin nothing may reach."""
    parts = [payload.format(att=attacker) for payload in PAYLOADS]
    naughty = [text for text in naughty_strings() if text.strip()]
    middle = "\n\n".join(parts) + "\n\n" + "\n".join(naughty)
    return f"Start of the answer [citation:1].\n\n{middle}\n\n{UNFINISHED_SPAN}\n\n{TAIL[0]}"
