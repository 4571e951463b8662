"""The Content-Security-Policy (issue 17, finding 12), for the HTTP tests:
the header's directives, and what in a page the policy would refuse."""

from html.parser import HTMLParser

# What a strict policy must say (repair_flow/settings.py, CONTENT_SECURITY_POLICY).
REQUIRED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
# Sources that would let an injected script or style run, in any directive.
LOOSE = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:", "data:"}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict(response, header: str = "Content-Security-Policy"):
    """The response carries the site's strict policy, nothing looser."""
    assert header in response, f"{response.status_code} {response.get('Content-Type')}: no {header}"
    policy = directives(response[header])
    for name, sources in REQUIRED.items():
        assert policy.get(name) == sources, (name, response[header])
    for name, sources in policy.items():
        assert not LOOSE & set(sources), (name, response[header])


# Script types a browser runs; a JSON data block (`type="application/json"`) it does not.
_RUNNABLE = {"", "text/javascript", "module", "application/javascript"}


class _InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and (attrs.get("type") or "") in _RUNNABLE:
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.found.append(f"<style> at line {self.getpos()[0]}")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f'<{tag} {name}="..."> at line {self.getpos()[0]}')
            if name == "style":
                self.found.append(f'<{tag} style="{value}"> at line {self.getpos()[0]}')
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f'<{tag} {name}="{value}"> at line {self.getpos()[0]}')


def inline_code(html: str) -> list[str]:
    """Each inline script, event handler, style and javascript: URL in a page:
    what the policy refuses to run or apply."""
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found
