"""The SMS channel: Twilio Programmable Messaging.

Pure parts (no I/O): ``parse`` (inbound message webhook -> InboundMessage), ``status``
(delivery callbacks and their ordering), ``keywords`` and ``references`` (STOP/START/HELP/STATUS,
``#reference``), ``segments`` (GSM-7 / UCS-2 segment counting).

Network edge: ``sender`` (TwilioSmsSender, the outbox's Sender for SMS). What every Twilio channel
shares (signatures, form bodies, the HTTP client, media URLs and fetching) is in
:mod:`carecentre.twilio`.
"""
