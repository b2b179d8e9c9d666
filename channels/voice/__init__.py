"""The phone channel: Twilio Voice.

An accessible bilingual phone menu whose wording and options are configuration
(``menu.toml``, checked by ``menu_config``), answered step by step with TwiML: ``webhooks``
(signed steps) → ``ivr`` and ``turns`` (what the caller hears next; no I/O) → ``callbacks``
(voicemail, callback requests, the call log, filed as messages built by ``call_messages``).
``click_to_call`` rings an agent, then a resident, through ``dialer`` (Twilio's Calls API).
Signatures, form bodies, the HTTP client and recording fetches are shared with SMS in
:mod:`carecentre.twilio`; the call's own record is :mod:`carecentre.call_log`.
"""
