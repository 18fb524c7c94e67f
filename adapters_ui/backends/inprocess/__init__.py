"""transformers + PEFT in this process: a correct route per adapter type, resumable decoding, teacher forcing."""
