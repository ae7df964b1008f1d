"""Sign-in, sign-out and the portal home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.deps import get_services as services
from api.portal.web import (
    HOME_FOR_ROLE,
    check_csrf,
    current,
    peek,
    redirect,
    render,
    safe_next,
    set_session,
    store,
)
from core.errors import NotAuthenticated
from governance import audit
from governance.users import KeyRefused, Principal, authenticate

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("")
def home(request: Request) -> Response:
    s = peek(request)
    me = s.principal if s else None
    homes = [] if me is None else [(url, f"{role.value.capitalize()} pages")
                                   for role, url in HOME_FOR_ROLE.items() if me.has(role)]
    return render(request, "home.html", {"title": "Welcome", "homes": homes})


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    current(request)  # the form needs a CSRF token, so this browser gets a session
    return render(request, "signin.html", {
        "title": "Sign in", "next": safe_next(next),
        "idle": services(request).settings.portal_idle_minutes})


@router.post("/signin")
def signin(request: Request, db: SessionDep, api_key: Annotated[str, Form(max_length=300)],
           csrf_token: Annotated[str | None, Form(max_length=100)] = None,
           next: Annotated[str | None, Form(max_length=300)] = None) -> Response:  # noqa: A002
    check_csrf(request, csrf_token)
    try:
        principal = authenticate(db, api_key)
    except NotAuthenticated as refused:
        db.rollback()
        if isinstance(refused, KeyRefused):
            audit.append(db, actor=refused.user_name, role="-", action="portal.signin",
                         target=f"key:{refused.key_id}", outcome=refused.code)
            db.commit()
        return render(request, "signin.html", {
            "title": "Sign in", "next": safe_next(next),
            "idle": services(request).settings.portal_idle_minutes,
            "error": "That key was not accepted: check it was copied whole, or ask your "
                     "administrator for a new one."}, status=401)
    db.rollback()
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
            csrf_token: Annotated[str | None, Form(max_length=100)] = None) -> Response:
    check_csrf(request, csrf_token)
    s = current(request)
    if s.principal is not None:
        audit.append(db, actor=s.principal.name, role=",".join(sorted(s.principal.roles)),
                     action="portal.signout", target=f"key:{s.principal.key_id}", outcome="ok")
        db.commit()
    store(request).drop(s)
    fresh = store(request).new()
    fresh.flash.append("You are signed out.")
    set_session(request, fresh)
    return redirect(request, "/portal/signin")
