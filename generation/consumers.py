"""The WebSocket consumer: a logged-in user's tabs receive their own events, nothing else.

Authentication is the session cookie (AuthMiddlewareStack); anonymous sockets are refused.
The consumer only forwards events from the user's group (see generation.events)."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import user_group


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_event(self, message: dict) -> None:
        await self.send_json({"type": message["event"], "payload": message["payload"]})
