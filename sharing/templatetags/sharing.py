"""``{% share_links %}``: the settings page's list of the user's share links."""

from __future__ import annotations

from django import template

from .. import actions
from ..models import Share

register = template.Library()


@register.inclusion_tag("sharing/settings_section.html", takes_context=True)
def share_links(context) -> dict:
    request = context["request"]
    actions.purge_expired()
    shares = Share.objects.filter(owner=request.user).select_related("embed")
    return {"shares": shares, "csrf_token": context.get("csrf_token")}
