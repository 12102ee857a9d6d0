"""jcbot: the bot and workflow engine of JCM Joint Committees."""
__version__ = "0.1.0"
