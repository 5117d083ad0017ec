"""spbe-monev-bot: SPBE monitoring and evaluation for Kota Pontianak, over chat."""

__version__ = "0.1.0"
