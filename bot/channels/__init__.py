"""Channel adapters: each verifies → parses → builds an InboundMessage → hands it to the dispatcher →
renders the replies its own way. Telegram, WhatsApp, REST and console are peers."""
