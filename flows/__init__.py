"""Conversation flows and their Indonesian content (shared/design.md).

The public surface: `flows.engine.Engine` (with `TurnContext`, `TurnResult`, `FlowServices`),
`flows.replies` (Reply, Button, Event), and `flows.contribution.monthly_contribution` for anyone who needs
a contribution amount. Events are documented in flows/events.md, content in flows/content/README.md.
"""
