"""Files sent in chat. Until the intake issue files them to items, they are stored as unfiled uploads."""

from __future__ import annotations

from bot.core import Reply
from bot.errors import DomainError
from bot.handling import Context, Registry
from bot.services import uploads
from storage.filestore import FileTooLargeError


async def receive_file(ctx: Context) -> Reply:
    """Check the size, stream the file into the store, then record it (the download happens before the lock)."""
    actor = ctx.request.actor
    if actor is None or not actor.is_registered:
        raise DomainError("unggah/belum_terdaftar")
    attachment = ctx.request.attachments[0]
    file_name = uploads.clean_file_name(attachment.file_name, fallback=f"berkas-{ctx.request.message_id}")
    limit_mb = ctx.services.settings.telegram_max_file_mb
    if attachment.size is not None and attachment.size > limit_mb * 1024 * 1024:
        raise DomainError("unggah/terlalu_besar", file_name=file_name, size=attachment.size, limit_mb=limit_mb)
    try:
        blob = await attachment.fetch(ctx.services.files)
    except FileTooLargeError:  # the platform did not say the size, or said it wrong
        raise DomainError(
            "unggah/terlalu_besar", file_name=file_name, size=limit_mb * 1024 * 1024 + 1, limit_mb=limit_mb
        ) from None
    received = await uploads.record_unfiled_upload(
        await ctx.session(),
        blob=blob,
        file_name=file_name,
        channel=ctx.request.channel,
        sender_external_id=ctx.request.sender_id,
        person_id=actor.person_id if actor else None,
        inbound_event_id=ctx.request.journal_id,
        now=ctx.now,
    )
    return ctx.reply(
        "unggah/diterima_sementara",
        file_name=received.file_name,
        size=received.size,
        sha_prefix=received.sha256[:8],
    )


def register(registry: Registry) -> None:
    registry.attachment = receive_file
