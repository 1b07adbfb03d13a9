"""reCAPTCHA-style verification (also hCaptcha and Turnstile, which answer alike)."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("portcullis.captcha")


class SiteVerify:
    def __init__(self, secret: str, verify_url: str, timeout: float = 10):
        self._secret = secret
        self._url = verify_url
        self._timeout = timeout

    async def verify(self, response: str | None, client_address: str | None) -> bool:
        """True only when the verifier answers ``success: true``; any failure is a refusal."""
        if not response:
            return False
        form = {"secret": self._secret, "response": response}
        if client_address:
            form["remoteip"] = client_address
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.post(self._url, data=form)
            return answer.status_code == 200 and answer.json().get("success") is True
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            log.warning("captcha verification failed: %s", error)
            return False
