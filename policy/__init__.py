"""Policy: the rules of the bureau's "three systems" (行政执法"三项制度") as pure functions and small types.

``docs/policy/RULES.md`` (with the Chinese original beside it) is the source; section numbers
in docstrings are the policy's.  Nothing here touches the database, the object store or the network:
the only I/O is reading the packaged working-day calendars (and an administrator's additions), so the
API, the CLI and the tests all ask the same functions the same questions.

- ``workdays``: the State Council working-day calendar and the 20-working-day update deadline (§二).
- ``takedown``: when a published result may come down (2 years for natural persons, else 5; §二).
- ``masking``: the public view of a decision, with personal data masked (§二, 作适当处理后公开).
- ``review``: the legal-review gate for major decisions (§四, 重大执法决定法制审核).
- ``lifecycle``: the disclosure record's states and the explained, attributed transitions between them.
- ``retention``: how long evidence is kept (calendar arithmetic only).
- ``restriction``: need to know for cases involving state or trade secrets or privacy (§三).
"""
