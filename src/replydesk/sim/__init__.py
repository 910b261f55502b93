"""The provider simulator (``replydesk sim``): one loopback HTTP server that speaks the subset of
EmailBison, GHL, Unipile and Slack our clients use, with fault switches and a request log, plus
a webhook traffic generator (``replydesk sim traffic``). A development and test tool: the
service never imports it. See docs/simulator.md."""
