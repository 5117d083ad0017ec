"""`python -m bot` is the same as the `monev` command."""

from bot.cli import main

main()
