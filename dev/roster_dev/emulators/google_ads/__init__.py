"""Google Ads Customer Match over HTTPS (OAuth token endpoint, offline user data jobs, GAQL list sizes):
`with GoogleAdsEmulator() as google: google.create_user_list()`."""

from roster_dev.emulators.google_ads.server import MAX_IDENTIFIERS_PER_REQUEST, GoogleAdsEmulator

__all__ = ["MAX_IDENTIFIERS_PER_REQUEST", "GoogleAdsEmulator"]
