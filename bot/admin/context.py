"""What the console and the admin API share at run time: the runtime (database, session store, clock),
the login limiter, the templates, and the cookie policy. Built once by `bot.admin.mount`.

The admin API is a mounted sub-application (so its OpenAPI description is its own), and a mounted app sees
itself as `request.app`; `sub.state.parent` points back at the main app, which owns the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from bot.admin.ratelimit import LoginLimiter

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

    from bot.runtime import Runtime


@dataclass
class AdminContext:
    templates: Jinja2Templates
    secure_cookies: bool  # PUBLIC_URL is https: cookies only ever travel encrypted
    limiter: LoginLimiter | None = None  # built on first use, closed with the runtime
    services: dict[str, Any] = field(default_factory=dict)  # lazily built helpers (the broadcast service)

    def login_limiter(self, runtime: Runtime) -> LoginLimiter:
        if self.limiter is None:
            self.limiter = LoginLimiter.build(
                runtime.settings.redis_url, key_prefix=f"{runtime.settings.redis_prefix}admin-login"
            )
            runtime.closers.append(self.limiter.close)
        return self.limiter


def main_app(request: Request) -> Any:
    app = request.app
    return getattr(app.state, "parent", None) or app


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = main_app(request).state.runtime
    return runtime


def admin_of(request: Request) -> AdminContext:
    ctx: AdminContext = main_app(request).state.admin
    return ctx
