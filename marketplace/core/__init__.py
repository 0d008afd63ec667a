"""Cross-cutting pieces every domain uses: clock, calendar, money, audit, errors, auth."""
