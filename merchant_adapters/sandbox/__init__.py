"""Local emulators of the merchant platforms' APIs, for the offline default, demos and tests."""
