"""A judge model: the prompts it reads (``templates``), how its replies are read (``parse``), and the
OpenAI-compatible endpoint it answers from (``client``). Knows no session, store or page."""
