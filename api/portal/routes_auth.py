"""Sign-in, sign-out and the portal home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep, client_of
from api.deps import get_services as services
from api.portal.access import safe_next
from api.portal.csrf import check_csrf, check_signin_csrf, signin_token
from api.portal.form_fields import CsrfToken
from api.portal.web import HOME_FOR_ROLE, peek, redirect, render, set_session, store
from core.errors import NotAuthenticated, TooManyAttempts
from governance import audit
from governance.signin_guard import sign_in
from governance.users import Principal

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("")
def home(request: Request) -> Response:
    s = peek(request)
    me = s.principal if s else None
    homes = [] if me is None else [(url, f"{role.value.capitalize()} pages")
                                   for role, url in HOME_FOR_ROLE.items() if me.has(role)]
    return render(request, "home.html", {"title": "Welcome", "homes": homes})


@router.get("/signin")
def signin_form(request: Request, next: str | None = None,  # noqa: A002
                signed_out: bool = False) -> Response:
    return _form(request, next, signed_out=signed_out)


def _form(request: Request, next: str | None, *, error: str | None = None,  # noqa: A002
          status: int = 200, signed_out: bool = False) -> Response:
    context = {"title": "Sign in", "next": safe_next(next), "csrf": signin_token(request),
               "idle": services(request).settings.portal_idle_minutes,
               "signed_out": signed_out}
    if error:
        context["error"] = error
    return render(request, "signin.html", context, status=status)


@router.post("/signin")
def signin(request: Request, db: SessionDep, api_key: Annotated[str, Form(max_length=300)],
           csrf_token: CsrfToken = None,
           next: Annotated[str | None, Form(max_length=300)] = None) -> Response:  # noqa: A002
    check_signin_csrf(request, csrf_token)
    try:
        principal = sign_in(db, services(request).signin_guard, source=client_of(request.scope),
                            token=api_key, action="portal.signin")
    except TooManyAttempts as locked:
        return _form(request, next, error=str(locked), status=429)
    except NotAuthenticated:
        return _form(request, next, status=401,
                     error="That key was not accepted: check it was copied whole, or ask your "
                           "administrator for a new one.")
    # A fresh session id and CSRF token at every sign-in: an id someone planted in this
    # browser beforehand (session fixation) is dropped, never promoted.
    s = store(request).rotate(peek(request), principal)
    set_session(request, s)
    audit.append(db, actor=principal.name, role=",".join(sorted(principal.roles)),
                 action="portal.signin", target=f"key:{principal.key_id}", outcome="ok")
    db.commit()
    target = safe_next(next)
    if target == "/portal":
        target = next_home(principal)
    return redirect(request, target)


def next_home(principal: Principal) -> str:
    for role, url in HOME_FOR_ROLE.items():
        if principal.has(role):
            return url
    return "/portal"


@router.post("/signout")
def signout(request: Request, db: SessionDep,
            csrf_token: CsrfToken = None) -> Response:
    check_csrf(request, csrf_token)
    s = peek(request)
    if s is not None and s.principal is not None:
        audit.append(db, actor=s.principal.name, role=",".join(sorted(s.principal.roles)),
                     action="portal.signout", target=f"key:{s.principal.key_id}", outcome="ok")
        db.commit()
    store(request).drop(s)
    request.state.portal_session = None
    # No new session for the signed-out browser: the sign-in page says it (sessions are minted
    # only by signing in).
    return redirect(request, "/portal/signin?signed_out=true")
