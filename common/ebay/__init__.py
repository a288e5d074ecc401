"""eBay: configuration, credentials, errors, models and the client. Import the module you use
(``from common.ebay.client import EbayClient``); this package re-exports nothing, so a function
that needs only the errors or models does not load httpx."""
