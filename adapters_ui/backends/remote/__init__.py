"""An OpenAI-compatible serving engine (vLLM): discovery, runtime adapter load/unload, streamed completions."""
