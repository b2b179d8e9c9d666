"""CareCentre: an omnichannel contact-centre backend for municipal Customer Care teams."""

__version__ = "0.1.0"
