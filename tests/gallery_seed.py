"""``python -m tests.gallery_seed USERNAME COUNT``: give a user of a running stack COUNT gallery
images (``tests.factories.gallery_images``), in that stack's environment (``Stack.env``). The
browser test and bench/gallery.py seed a separate server process's database this way."""

from __future__ import annotations

import sys


def main(username: str, count: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from tests.factories import gallery_images

    owner = get_user_model().objects.get(username=username)
    print(len(gallery_images(owner, count)))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
