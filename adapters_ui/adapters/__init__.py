"""What gets attached, and from where.

    validation      checks before attach: name, folder, config, weights (safe .bin), targets, tensors
    files           bytes on disk, weights headers, full-model size
    registry        the one record of attached adapters: validate -> attach -> list -> detach, with rollback
    sources/        folders (the adapter directory), zips (safe unpacking), uploads, the Hub
    bundle          every attached adapter in one folder or .zip, attached all or none
    mix, merge      a weighted mix of LoRA adapters; one adapter merged into a copy of the base
    training        fine-tune one adapter on prompt/response pairs
    weight_effects  what an adapter changes in the base's weights (analysis/weights.py holds the records)
    demo, preview   the shipped demo set; what the page shows before the model has loaded
"""
