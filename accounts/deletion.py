"""Deleting an account: every stored object goes, then the user's keyring key is destroyed.

Destroying the key is crypto-shredding: even a backup of the bucket or the database made before
the deletion holds nothing readable for this user afterwards.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser

from core.realtime import close_user_sockets
from embeds.actions import do_delete_embed
from embeds.keyring import get_keyring, key_name_for_user
from embeds.keyring.cache import data_keys
from embeds.models import Embed
from sharing.actions import delete_shares

logger = logging.getLogger(__name__)


def do_delete_account(user: AbstractBaseUser) -> None:
    user_id = user.pk
    delete_shares(user.shares.all())
    for embed in Embed.objects.filter(owner=user).iterator():
        do_delete_embed(embed)
    get_keyring().destroy(key_name_for_user(user_id))
    data_keys.forget_owner(user_id)  # no process keeps a key the destroyed one wrapped
    user.delete()  # also empties every process's API-key cache (accounts/api_key_cache.py)
    close_user_sockets(user_id)
    logger.info("accounts.account.deleted user=%s", user_id)
