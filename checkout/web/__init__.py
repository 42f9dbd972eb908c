"""The project's pages: the shop with its protocol inspector, the merchant's and operator's views."""
