"""wirewatch: crawl defence news, flag North Korea-Russia military aid reports, alert analysts."""

__version__ = "0.1.0"
