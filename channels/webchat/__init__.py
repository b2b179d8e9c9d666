"""Web chat for residents: the chat page, the one-tag embeddable widget, and the resumable
``/chat/ws`` socket (docs/chat-protocol.md). Its plugin is ``channels.webchat.plugin.plugin``."""
