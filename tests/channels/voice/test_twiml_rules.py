"""The TwiML allow-list the voice tests check every answer against refuses what Twilio would."""

from __future__ import annotations

import pytest

from tests.channels.voice.twiml_rules import TwimlError, check_twiml

GOOD = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather action="https://c.test/v?a=1&amp;b=2" method="POST" numDigits="1" timeout="8" '
    'finishOnKey="" input="dtmf"><Say voice="Polly.Chantal" language="fr-CA">Bonjour</Say></Gather>'
    '<Redirect method="POST">https://c.test/v</Redirect>'
    '<Record action="https://c.test/r" maxLength="120" playBeep="true" transcribe="true" '
    'transcribeCallback="https://c.test/t" trim="trim-silence" finishOnKey="#"/>'
    '<Dial callerId="+16135550100" timeout="30"><Number>+16135550123</Number></Dial>'
    "<Enqueue>customer-care</Enqueue><Hangup/></Response>"
)


def test_good_twiml_passes() -> None:
    assert check_twiml(GOOD).tag == "Response"


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("<Response><Say>Hi</Say>", "well-formed"),
        ("<Twiml><Say>Hi</Say></Twiml>", "root"),
        ("<Response><Speak>Hi</Speak></Response>", "not a TwiML verb"),
        ("<Response><Gather><Record/></Gather></Response>", "may not be nested"),
        ("<Response><Say><Say>Hi</Say></Say></Response>", "may not be nested"),
        ('<Response><Say voice="Robot">Hi</Say></Response>', "not a valid value"),
        ('<Response><Gather numDigits="0"/></Response>', "not a valid value"),
        ('<Response><Gather finishOnKey="x"/></Response>', "not a valid value"),
        ('<Response><Gather action="/relative"/></Response>', "not a valid value"),
        ('<Response><Record transcribe="yes"/></Response>', "not a valid value"),
        ('<Response><Record maxLength="1"/></Response>', "not a valid value"),
        ('<Response><Record transcribeLanguage="fr"/></Response>', "no attribute"),
        ("<Response><Say></Say></Response>", "needs text"),
        ("<Response><Hangup>now</Hangup></Response>", "takes no text"),
        ("<Response><Dial/></Response>", "needs a number"),
        ("<Response><Dial><Number>613-555</Number></Dial></Response>", "not valid"),
        ("<Response><Redirect>menu</Redirect></Response>", "not valid"),
        ("<Response>stray<Hangup/></Response>", "takes no text"),
    ],
)
def test_what_twilio_would_refuse_is_refused(document: str, words: str) -> None:
    with pytest.raises(TwimlError, match=words):
        check_twiml(document)
