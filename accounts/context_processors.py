from django.http import HttpRequest

from .roles import AUDITOR, MODERATOR, REGULATOR, has_role


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "is_moderator": has_role(user, MODERATOR),
        "is_auditor": has_role(user, AUDITOR),
        "is_regulator": has_role(user, REGULATOR),
    }
