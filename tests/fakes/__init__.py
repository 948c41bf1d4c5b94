"""Local servers that speak third-party APIs (Telegram Bot API, Twilio), for tests and benchmarks."""
