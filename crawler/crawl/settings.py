"""All Scrapy settings in one place. The network section of the config overrides a few."""

from __future__ import annotations

import ipaddress

from scrapy.settings import Settings

from wirewatch.crawler import __version__
from wirewatch.crawler.conf.sections import Network
from wirewatch.crawler.netguard import AddressPolicy

DEFAULTS = {
    "BOT_NAME": "wirewatch",
    # Never obey a site less than robots.txt asks.
    "ROBOTSTXT_OBEY": True,
    # Adapt the pace to each site's latency; stay at most PER_DOMAIN requests in flight per domain.
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 0.5,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "DOWNLOAD_DELAY": 0,
    # Fail fast on a stalled server; one retry for transient errors.
    "DOWNLOAD_TIMEOUT": 30,
    "RETRY_TIMES": 1,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
    # Size cap, applied to compressed and decompressed bodies alike.
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 0,
    "REDIRECT_MAX_TIMES": 5,
    "METAREFRESH_ENABLED": False,
    # No cookies, no cache: each crawl is a fresh, stateless visitor.
    "COOKIES_ENABLED": False,
    "HTTPCACHE_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "ERROR",
    "LOG_ENABLED": False,                       # we configure logging ourselves
    "LOG_INSTALL_ROOT_HANDLER": False,
    "STATS_DUMP": False,
    "ITEM_PIPELINES": {"wirewatch.crawler.crawl.pipeline.ArticlePipeline": 300},
    # Address guard before everything, so every request and redirect hop is checked.
    "DOWNLOADER_MIDDLEWARES": {
        "wirewatch.crawler.crawl.middlewares.AddressGuardMiddleware": 50,
        # robots.txt once per site and crawl, shared with the sitemap spider's discovery
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "wirewatch.crawler.crawl.robots.SharedRobotsMiddleware": 100,
        "wirewatch.crawler.crawl.middlewares.ConditionalGetMiddleware": 560,
        # basic auth from a source URL's user:password@, to that host only
        "wirewatch.crawler.crawl.middlewares.SourceAuthMiddleware": 570,
        # one limit per host across all the worker's spiders, right before the download
        "wirewatch.crawler.crawl.hostgate.HostGateMiddleware": 990,
    },
    "SPIDER_MIDDLEWARES": {},
    # No proxy from the environment: a proxy resolves the target itself, past the address guard.
    "HTTPPROXY_ENABLED": False,
    # Every connection's address is resolved and checked by the address guard's resolver.
    "TWISTED_DNS_RESOLVER": "wirewatch.crawler.crawl.resolver.GuardedResolver",
    "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None,
                   "scrapy.extensions.remote_control.RemoteControl": None,
                   "scrapy.extensions.logstats.LogStats": None,
                   "scrapy.extensions.memusage.MemoryUsage": None},
}


def address_policy(settings) -> AddressPolicy:
    """The address guard's policy, as build_settings wrote it (resolver and middleware read it)."""
    return AddressPolicy(settings.getbool("WIREWATCH_ALLOW_PRIVATE"), tuple(
        ipaddress.ip_network(net, strict=False) for net in settings.getlist("WIREWATCH_ALLOW")))


def build_settings(network: Network) -> Settings:
    settings = Settings(DEFAULTS)
    settings.setdict({
        "USER_AGENT": f"wirewatch/{__version__} (+{network.contact})",
        "AUTOTHROTTLE_ENABLED": network.autothrottle,
        "CONCURRENT_REQUESTS_PER_DOMAIN": network.per_domain,
        "DOWNLOAD_TIMEOUT": network.timeout,
        "DOWNLOAD_MAXSIZE": network.max_bytes,
        "REDIRECT_MAX_TIMES": network.max_redirects,
        "RETRY_TIMES": network.retries,
        "RETRY_ENABLED": network.retries > 0,
        "WIREWATCH_ALLOW_PRIVATE": network.allow_private,
        "WIREWATCH_ALLOW": list(network.allow),
        "WIREWATCH_NAMESERVERS": list(network.nameservers),
    }, priority="project")
    return settings
