"""The review app's locks: the access token, the CSRF check, the Host check and the headers of every response.

- Every request needs the token: in the URL once (`/?token=...`), which sets an HttpOnly, SameSite=Strict cookie and
  redirects to the same page without it; then from the cookie. Otherwise 403.
- The Host header must name this machine (`127.0.0.1`, `localhost`), so a web page cannot reach the app through a
  DNS name it controls (DNS rebinding).
- A state-changing request is a POST whose form carries the page's CSRF value; a POST whose Origin (or Fetch
  metadata) says another site sent it is refused as well.
- Every response forbids scripts, styles and frames from anywhere but the app itself (Content-Security-Policy), so
  even text that escaped escaping could not run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

HOSTS = frozenset({"127.0.0.1", "localhost"})
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send "Origin: null" with our own forms
    "Cache-Control": "no-store",
}
DENIED = (
    "<!DOCTYPE html><title>grade review: access denied</title>"
    "<p>Open the address that <code>grade review</code> printed (it carries the access token).</p>"
)


@dataclass(frozen=True)
class Guard:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def cookie(self) -> str:
        """The cookie's name: one per token, so two review servers on this machine keep theirs apart."""
        return "grader_review_" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def check(self, request: Request) -> Response | None:
        """None when the request may go on; else the response that refuses it (or sets the cookie)."""
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in HOSTS:
            return _denied("unknown host", 400)
        offered = request.query_params.get("token")
        if offered is not None and request.method == "GET":
            if not _same(offered, self.token):
                return _denied("wrong token")
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(request.url.path + ("?" + urlencode(rest) if rest else ""), status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            return secure(response)
        if not _same(request.cookies.get(self.cookie, ""), self.token):
            return _denied("no token")
        if request.method not in ("GET", "HEAD") and not self._same_site(request):
            return _denied("cross-site request")
        return None

    def check_form(self, form: dict[str, str]) -> Response | None:
        """A POST's CSRF value must be this page's."""
        if not _same(form.get("csrf", ""), self.csrf):
            return _denied("missing or wrong CSRF value")
        return None

    def _same_site(self, request: Request) -> bool:
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode(), expected.encode())


def _denied(reason: str, status: int = 403) -> Response:
    response = HTMLResponse(DENIED, status_code=status)
    response.headers["X-Denied"] = reason
    return secure(response)


def secure(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response
