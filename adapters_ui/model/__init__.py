"""The base model and who may use it.

    base     resolve and load the base (hub id, folder, .gguf, embedded default), device, dtype, GGUF cache
    thread   the one thread that runs model work
    turns    TurnQueue: visitors take the model in turns, first come first served
    memory   memory in use and available (RAM or GPU)
    quiet    the one warning policy: known-harmless library warnings and progress bars
"""
