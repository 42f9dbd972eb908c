"""Recommendation: the product index over checkout's catalog, its filters, ranking and reasons."""
