"""Merchant platforms (Etsy-style, Shopify-style) behind one interface that checkout depends on."""
