"""Generic spiders, one per kind of source; each is driven by a config `Source`, not a site."""

from wirewatch.spiders.feed import FeedSpider
from wirewatch.spiders.listing import ListingSpider
from wirewatch.spiders.sitemap import SitemapSpider

SPIDERS = {"feed": FeedSpider, "sitemap": SitemapSpider, "listing": ListingSpider}

__all__ = ["SPIDERS", "FeedSpider", "ListingSpider", "SitemapSpider"]
