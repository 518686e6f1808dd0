"""The domain: what the bot knows about, with no I/O — content models, the session, events, effects,
scoring, recommending, referrals, dose plans and the clock type."""
