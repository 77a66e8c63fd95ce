"""The bodies Alpha Vantage answers instead of data, all of them with HTTP 200.

Wording after ../shared/docs/alphavantage.md (the API's messages as clients have
recorded them). The real daily-quota message can name the caller's key; these never do.
Note that the burst body mentions the 25-per-day limit too: a client must test for the
burst phrases before the daily-quota phrase.
"""

from __future__ import annotations

_PREMIUM = "https://www.alphavantage.co/premium/"
_CLAIM_KEY = "https://www.alphavantage.co/support/#api-key"

FAILURE_BODIES: dict[str, dict] = {
    "invalid_symbol": {
        "Error Message": (
            "Invalid API call. Please retry or visit the documentation "
            "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
        )
    },
    "invalid_key": {
        "Error Message": (
            f"the parameter apikey is invalid or missing. Please claim your free API key on "
            f"({_CLAIM_KEY}). It should take less than 20 seconds."
        )
    },
    "daily_quota": {
        "Information": (
            "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests "
            f"per day. Please subscribe to any of the premium plans at {_PREMIUM} to "
            "instantly remove all daily rate limits."
        )
    },
    "burst": {
        "Information": (
            "Thank you for using Alpha Vantage! Please consider spreading out your free API "
            "requests more sparingly (1 request per second). You may subscribe to any of the "
            f"premium plans at {_PREMIUM} to lift the free key rate limit (25 requests per "
            "day), raise the per-second burst limit, and instantly unlock all premium endpoints"
        )
    },
    "burst_legacy": {
        "Note": (
            "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per "
            f"minute and 500 calls per day. Please visit {_PREMIUM} if you would like to "
            "target a higher API call frequency."
        )
    },
    "premium_full": {
        "Information": (
            "Thank you for using Alpha Vantage! The outputsize=full parameter value is a "
            f"premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of "
            f"the premium plans at {_PREMIUM} to instantly unlock all premium features"
        )
    },
    "premium_endpoint": {
        "Information": (
            "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe "
            f"to any of the premium plans at {_PREMIUM} to instantly unlock all premium "
            "endpoints"
        )
    },
    "demo_key": {
        "Information": (
            "The **demo** API key is for demo purposes only. Please claim your free API key "
            f"at ({_CLAIM_KEY}) to explore our full API offerings. It takes fewer than 20 "
            "seconds."
        )
    },
    "empty": {},
}
