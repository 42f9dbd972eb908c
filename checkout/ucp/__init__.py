"""The Universal Commerce Protocol (UCP) binding: discovery, the shopping checkout capability and
orders over REST, on the same checkout core as ACP."""
