"""The WhatsApp channel: the Cloud API through pywa_async, its webhook journaled like every other channel."""

from bot.channels.whatsapp.channel import WhatsAppChannel

__all__ = ["WhatsAppChannel"]
