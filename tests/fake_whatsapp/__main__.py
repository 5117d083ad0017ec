"""`python -m tests.fake_whatsapp`: run the fake Cloud API standalone."""

from .standalone import main

raise SystemExit(main())
