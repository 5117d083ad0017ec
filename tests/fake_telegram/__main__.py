"""`python -m tests.fake_telegram`: run the fake Bot API standalone."""

from .standalone import main

raise SystemExit(main())
