"""The SMS channel: Twilio Programmable Messaging.

Pure parts (no I/O): ``signature`` (X-Twilio-Signature), ``form`` (raw form bodies), ``parse``
(inbound message webhook -> InboundMessage), ``status`` (delivery callbacks and their ordering),
``keywords`` and ``references`` (STOP/START/HELP/STATUS, ``#reference``), ``segments`` (GSM-7 /
UCS-2 segment counting), ``media`` (which media URLs may be fetched).

Network edge: ``sender`` (TwilioSmsSender, the outbox's Sender for SMS) over ``twilio_http``.
"""
