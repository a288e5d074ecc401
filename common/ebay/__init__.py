"""eBay: configuration, credentials, errors, models, a transport and one module per API (see
docs/architecture.md). Import the module you use (``from common.ebay.browse import BrowseApi``,
``from common.ebay.client import EbayClient``); this package re-exports nothing, so a function
that needs only the errors or models does not load httpx."""
