"""Portal layouts, sessions, languages and the shared page and API helpers."""
