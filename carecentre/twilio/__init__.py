"""What every Twilio channel (SMS, voice) shares, channel-neutral.

- ``signature``: checking ``X-Twilio-Signature`` on a webhook against the configured public URL;
- ``form``: decoding the raw form bodies Twilio posts, strictly and purely;
- ``http_client``: a twilio ``AsyncHttpClient`` on aiohttp that never retries a POST;
- ``media_urls``: which media URLs may be fetched with the account's credentials;
- ``media_fetch``: the background fetcher of one channel's media (pictures, recordings).
"""
