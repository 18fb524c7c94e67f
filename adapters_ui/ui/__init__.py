"""The only package that imports gradio."""
